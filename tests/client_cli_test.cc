// The `jetback` CLI against a real jetbackd: backup -> verify -> restore
// gives the data as of the backup (full and incremental chain); a stop or
// Ctrl-C during a backup ends it with the documented exit code and leaves
// no complete-looking set; bad input gets clear messages and non-zero exits
// without overwriting anything.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

namespace fs = std::filesystem;
using Rows = std::map<std::string, std::string>;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = DaemonProcess::Start(dir_.path(), DaemonConfig(dir_.path()));
    ASSERT_NE(daemon_, nullptr);
    server_ = "unix:" + daemon_->socket_path();
    ClientOptions options;
    options.server = server_;
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }

  CliResult Cli(std::vector<std::string> args, const std::string& server = "") {
    args.insert(args.begin(), {"--server", server.empty() ? server_ : server});
    return RunCli(dir_.path(), args);
  }

  std::unique_ptr<CliProcess> StartCli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server_});
    return std::make_unique<CliProcess>(dir_.path(), args);
  }

  std::string Path(const std::string& name) { return dir_.path() + "/" + name; }

  void Put(const Rows& rows) {
    std::vector<v1::Operation> ops = PutOperations(rows);
    ASSERT_TRUE(client_->Transact("demo", "", ops).ok());
  }

  static Rows Batch(const std::string& prefix, int n, size_t value_size = 16) {
    Rows rows;
    for (int i = 0; i < n; ++i) {
      rows[absl::StrCat(prefix, i)] =
          std::string(value_size, static_cast<char>('a' + i % 26));
    }
    return rows;
  }

  static Rows ParseScan(const std::string& out) {
    Rows rows;
    for (absl::string_view line :
         absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      std::vector<std::string> kv =
          absl::StrSplit(line, absl::MaxSplits('\t', 1));
      if (kv.size() == 2) rows[kv[0]] = kv[1];
    }
    return rows;
  }

  // Serves the restored databases in `restored` from a second daemon and
  // returns the rows of table "t" through `jetback scan`.
  Rows RowsOfRestored(const std::string& restored) {
    TempDir dir2;
    std::string config = DaemonConfig(dir2.path());
    const std::string name_line = "name = \"demo\"\n";
    config.replace(
        config.find(name_line), name_line.size(),
        absl::StrCat(name_line, "data_dir = \"", restored, "\"\nlog_dir = \"",
                     dir2.path(), "/logs\"\nsystem_dir = \"", dir2.path(),
                     "/system\"\n"));
    auto daemon2 = DaemonProcess::Start(dir2.path(), config);
    EXPECT_NE(daemon2, nullptr);
    if (daemon2 == nullptr) return {};
    CliResult scan = Cli({"scan", "--instance", "demo", "--table", "t"},
                         "unix:" + daemon2->socket_path());
    EXPECT_EQ(scan.exit_code, 0) << scan.err << daemon2->Log();
    return ParseScan(scan.out);
  }

  // Enough data that a backup at --max-rate 256 KiB/s takes seconds.
  void MakeDatabaseLarge() {
    for (int batch = 0; batch < 4; ++batch) {
      Put(Batch(absl::StrCat("big", batch, "-"), 50, 4000));
    }
  }

  bool BackupRunning() {
    auto status = client_->GetBackupStatus("demo");
    return status.ok() && status->phase() != v1::BACKUP_PHASE_NONE &&
           status->bytes_done() > 0;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::string server_;
  std::unique_ptr<Client> client_;
};

TEST_F(CliTest, BackupVerifyRestoreGivesTheDataAsOfTheBackup) {
  Rows before = Batch("k", 40);
  Put(before);
  CliResult put = Cli(
      {"put", "--instance", "demo", "--table", "t", "cli-key", "cli-value"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  before["cli-key"] = "cli-value";
  CliResult get = Cli({"get", "--instance", "demo", "--table", "t", "cli-key"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "cli-value\n");

  CliResult backup =
      Cli({"backup", "--instance", "demo", "--out", Path("full")});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_NE(backup.out.find("saved at " + Path("full")), std::string::npos)
      << backup.out;
  EXPECT_TRUE(fs::exists(Path("full/manifest.json")));
  EXPECT_TRUE(fs::exists(Path("full/demo.edb")));
  Put({{"after-backup", "x"}});  // must not come back

  CliResult verify = Cli({"verify", Path("full")});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  CliResult deep = Cli({"verify", "--deep", Path("full")});
  EXPECT_EQ(deep.exit_code, 0) << deep.err;

  CliResult restore = Cli({"restore", Path("full"), "--to", Path("restored")});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(RowsOfRestored(Path("restored")), before);
}

TEST_F(CliTest, IncrementalChainRestoresToTheLastIncremental) {
  Rows rows = Batch("a", 30);
  Put(rows);
  CliResult full = Cli({"backup", "--instance", "demo", "--out", Path("full"),
                        "--truncate-logs"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  Rows more = Batch("b", 30);
  Put(more);
  rows.insert(more.begin(), more.end());
  CliResult inc =
      Cli({"--output", "json", "backup", "--instance", "demo", "--out",
           Path("inc1"), "--incremental", "--truncate-logs"});
  ASSERT_EQ(inc.exit_code, 0) << inc.err;
  EXPECT_NE(inc.out.find("\"kind\":\"incremental\""), std::string::npos)
      << inc.out;
  EXPECT_FALSE(fs::exists(Path("inc1/demo.edb")));  // logs only
  Put({{"after-incremental", "x"}});

  EXPECT_EQ(Cli({"verify", Path("inc1")}).exit_code, 0);
  CliResult restore =
      Cli({"--output", "json", "restore", Path("full"), "--incremental",
           Path("inc1"), "--to", Path("restored")});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(RowsOfRestored(Path("restored")), rows);
  // The replay of the incremental's logs is measured and reported.
  EXPECT_NE(restore.out.find("\"log_bytes_replayed\":"), std::string::npos)
      << restore.out;
  EXPECT_EQ(restore.out.find("\"log_bytes_replayed\":0,"), std::string::npos)
      << restore.out;

  // An incremental alone is not a restore starting point.
  CliResult bad = Cli({"restore", Path("inc1"), "--to", Path("r2")});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("-1003"), std::string::npos) << bad.err;
}

// Point-in-time restore through a real jetbackd: rows committed at known
// times after a full backup, then an incremental; `--until` a time between
// two commits and `--until-generation` give exactly the rows before them.
// Row by row, naming keys only (the filler values are long).
void ExpectSameRows(const Rows& got, const Rows& want) {
  std::vector<std::string> got_keys, want_keys;
  for (const auto& [k, v] : got) got_keys.push_back(k);
  for (const auto& [k, v] : want) want_keys.push_back(k);
  EXPECT_EQ(got_keys, want_keys);
  EXPECT_TRUE(got == want) << "same keys, different values";
}

TEST_F(CliTest, RestoreUntilTimeOrGenerationStopsBetweenTwoCommits) {
  Rows base = Batch("base", 10);
  Put(base);
  CliResult full = Cli({"backup", "--instance", "demo", "--out", Path("full"),
                        "--truncate-logs"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  // Commits one row; returns its log generation and, in *after, a time at
  // or after its commit time and before the next commit's.
  auto put = [&](const Rows& rows, absl::Time* after) -> uint32_t {
    std::vector<v1::Operation> ops = PutOperations(rows);
    auto done = client_->Transact("demo", "", ops);
    EXPECT_TRUE(done.ok()) << done.status();
    const absl::Time t = absl::Now();
    if (after != nullptr) *after = t;
    while (absl::ToUnixMicros(absl::Now()) <= absl::ToUnixMicros(t)) {
    }
    return done.ok() ? done->commit_generation() : 0;
  };
  absl::Time after_a, after_b;
  const uint32_t gen_a = put({{"a", "1"}}, &after_a);
  // Filler until the log rolls, so a later generation exists.
  Rows in_gen_a = {{"a", "1"}}, before_b = {{"a", "1"}};
  for (int i = 0; i < 30; ++i) {
    Rows filler = Batch(absl::StrCat("fill", i, "-"), 8, 4000);
    const uint32_t gen = put(filler, nullptr);
    before_b.insert(filler.begin(), filler.end());
    if (gen != gen_a) break;
    in_gen_a.insert(filler.begin(), filler.end());
  }
  const uint32_t gen_b = put({{"b", "2"}}, &after_b);
  ASSERT_GT(gen_b, gen_a);
  put({{"c", "3"}}, nullptr);
  CliResult inc = Cli({"backup", "--instance", "demo", "--out", Path("inc"),
                       "--incremental", "--truncate-logs"});
  ASSERT_EQ(inc.exit_code, 0) << inc.err;

  // Between b and c, by time (RFC 3339, microseconds).
  const std::string until =
      absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", after_b, absl::UTCTimeZone());
  CliResult by_time =
      Cli({"--output", "json", "restore", Path("full"), "--incremental",
           Path("inc"), "--until", until, "--to", Path("r-time")});
  ASSERT_EQ(by_time.exit_code, 0) << by_time.err;
  EXPECT_NE(by_time.out.find("\"point\":{\"reached\":true,\"generation\":" +
                             std::to_string(gen_b)),
            std::string::npos)
      << by_time.out;
  EXPECT_NE(by_time.out.find("\"transactions_skipped\":1,"), std::string::npos)
      << by_time.out;
  // The replay's log copies are gone from the target: the default layout
  // of an instance there (jetbackd: DATA/logs) starts on an empty log dir.
  EXPECT_NE(by_time.out.find("\"logs_removed\":"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(Path("r-time/logs")));
  Rows want = base;
  want.insert(before_b.begin(), before_b.end());
  want["b"] = "2";
  ExpectSameRows(RowsOfRestored(Path("r-time")), want);

  // Just after a: b and c are not there.
  CliResult at_a = Cli(
      {"restore", Path("full"), "--incremental", Path("inc"), "--until",
       absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", after_a, absl::UTCTimeZone()),
       "--to", Path("r-a")});
  ASSERT_EQ(at_a.exit_code, 0) << at_a.err;
  EXPECT_NE(at_a.out.find("point reached: generation " + std::to_string(gen_a)),
            std::string::npos)
      << at_a.out;
  // b's generation and those after it: none of it restored, and said so.
  EXPECT_NE(at_a.out.find(absl::StrCat("; generations ", gen_a + 1, "-")),
            std::string::npos)
      << at_a.out;
  EXPECT_NE(at_a.out.find("none of their transactions was restored"),
            std::string::npos)
      << at_a.out;
  EXPECT_TRUE(fs::is_empty(Path("r-a/logs")));
  Rows want_a = base;
  want_a["a"] = "1";
  ExpectSameRows(RowsOfRestored(Path("r-a")), want_a);

  // By generation: every commit of gen_a, none after.
  CliResult by_gen =
      Cli({"restore", Path("full"), "--incremental", Path("inc"),
           "--until-generation", std::to_string(gen_a), "--to", Path("r-gen")});
  ASSERT_EQ(by_gen.exit_code, 0) << by_gen.err;
  Rows want_gen = base;
  want_gen.insert(in_gen_a.begin(), in_gen_a.end());
  ExpectSameRows(RowsOfRestored(Path("r-gen")), want_gen);

  // Beyond the end: everything, and the point was not reached.
  CliResult beyond =
      Cli({"restore", Path("full"), "--incremental", Path("inc"), "--until",
           "2100-01-01T00:00:00Z", "--to", Path("r-all")});
  ASSERT_EQ(beyond.exit_code, 0) << beyond.err;
  EXPECT_NE(beyond.out.find("point not reached"), std::string::npos)
      << beyond.out;
  EXPECT_NE(beyond.out.find("0 skipped"), std::string::npos) << beyond.out;

  // Before what the full backup's copy needs; bad times; both bounds.
  CliResult early =
      Cli({"restore", Path("full"), "--incremental", Path("inc"), "--until",
           "2001-09-09T01:46:40Z", "--to", Path("r-early")});
  EXPECT_NE(early.exit_code, 0);
  EXPECT_NE(early.err.find("-553"), std::string::npos) << early.err;
  CliResult bad = Cli(
      {"restore", Path("full"), "--until", "yesterday", "--to", Path("r-bad")});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("-1003"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("RFC 3339"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(Path("r-bad")));
  CliResult both = Cli({"restore", Path("full"), "--until", until,
                        "--until-generation", "3", "--to", Path("r-both")});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("-1003"), std::string::npos) << both.err;
}

TEST_F(CliTest, StopDuringBackupExitsFourWithReason) {
  MakeDatabaseLarge();
  auto backup = StartCli({"backup", "--instance", "demo", "--out",
                          Path("stopped"), "--max-rate", "262144"});
  ASSERT_TRUE(WaitUntil([&] { return BackupRunning(); }));
  CliResult stop =
      Cli({"stop", "--instance", "demo", "--reason", "maintenance window"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_NE(stop.out.find("stopped backup"), std::string::npos) << stop.out;

  CliResult result = backup->Wait();
  EXPECT_EQ(result.exit_code, 4) << result.err;
  // One line: which backup, who and why, each said once.
  auto count = [&](const std::string& what) {
    int n = 0;
    for (size_t at = result.err.find(what); at != std::string::npos;
         at = result.err.find(what, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("\n"), 1) << result.err;
  EXPECT_EQ(count("-801"), 1) << result.err;
  EXPECT_EQ(count("maintenance window"), 1) << result.err;
  EXPECT_EQ(count(absl::StrCat("stopped by uid:", ::getuid(),
                               ": maintenance window")),
            1)
      << result.err;
  EXPECT_EQ(count("jetback: backup "), 1) << result.err;
  EXPECT_FALSE(fs::exists(Path("stopped/manifest.json")));
  EXPECT_FALSE(fs::exists(Path("stopped")));  // created by it, removed again
  // The backup was ended: a new one runs to completion.
  EXPECT_FALSE(BackupRunning());
  CliResult again = Cli({"backup", "--instance", "demo", "--out", Path("ok")});
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST_F(CliTest, CtrlCEndsTheBackupWithAbortAndKeepsNothing) {
  MakeDatabaseLarge();
  fs::create_directory(Path("interrupted"));  // existing empty dir stays
  auto backup = StartCli({"backup", "--instance", "demo", "--out",
                          Path("interrupted"), "--max-rate", "262144"});
  ASSERT_TRUE(WaitUntil([&] { return BackupRunning(); }));
  backup->Signal(SIGINT);
  CliResult result = backup->Wait();
  EXPECT_EQ(result.exit_code, 130) << result.err;
  EXPECT_NE(result.err.find("EndBackup(abort)"), std::string::npos)
      << result.err;
  EXPECT_TRUE(fs::is_empty(Path("interrupted")));
  auto status = client_->GetBackupStatus("demo");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->phase(), v1::BACKUP_PHASE_NONE);
}

TEST_F(CliTest, BadInputGetsClearErrorsAndOverwritesNothing) {
  Put(Batch("k", 5));
  CliResult unknown =
      Cli({"backup", "--instance", "nosuch", "--out", Path("x")});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("JET_errInvalidParameter (-1003)"),
            std::string::npos)
      << unknown.err;
  EXPECT_FALSE(fs::exists(Path("x")));

  CliResult unreachable =
      Cli({"instances"}, "unix:" + Path("no-such-daemon.sock"));
  EXPECT_EQ(unreachable.exit_code, 3);
  EXPECT_NE(unreachable.err.find("-1090"), std::string::npos)
      << unreachable.err;

  fs::create_directory(Path("busy"));
  std::ofstream(Path("busy/keep")) << "precious";
  CliResult busy = Cli({"backup", "--instance", "demo", "--out", Path("busy")});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.err.find("-504"), std::string::npos) << busy.err;
  EXPECT_EQ(ReadFileOrEmpty(Path("busy/keep")), "precious");
  EXPECT_FALSE(BackupRunning());

  CliResult missing =
      Cli({"get", "--instance", "demo", "--table", "t", "no-such-key"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("-1601"), std::string::npos) << missing.err;

  CliResult usage = Cli({"backup", "--instance", "demo"});  // no --out
  EXPECT_EQ(usage.exit_code, 1);
}

TEST_F(CliTest, RestoreIntoARunningInstanceNamesItsOwner) {
  Put(Batch("k", 10));
  ASSERT_EQ(
      Cli({"backup", "--instance", "demo", "--out", Path("set")}).exit_code, 0);
  Put({{"after-backup", "kept"}});
  // The live database keeps changing (checkpoints); what restore must not
  // do is add, remove or replace any file in the directory.
  auto listing = [&] {
    std::map<std::string, uint64_t> inodes;
    for (const auto& entry : fs::directory_iterator(Path("demo"))) {
      struct stat st {};
      ::stat(entry.path().c_str(), &st);
      inodes[entry.path().filename().string()] = st.st_ino;
    }
    return inodes;
  };
  const std::map<std::string, uint64_t> before = listing();
  ASSERT_TRUE(before.count("demo.edb"));

  CliResult restore = Cli({"restore", Path("set"), "--to", Path("demo")});
  EXPECT_EQ(restore.exit_code, 2);  // a JET error
  EXPECT_NE(restore.err.find("-1032"), std::string::npos) << restore.err;
  EXPECT_NE(restore.err.find(absl::StrCat("pid ", daemon_->pid(),
                                          " (jetbackd), instance demo")),
            std::string::npos)
      << restore.err;
  EXPECT_EQ(listing(), before);
  CliResult get =
      Cli({"get", "--instance", "demo", "--table", "t", "after-backup"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "kept\n");
}

TEST_F(CliTest, TamperedSetFailsVerifyNamingTheFile) {
  Put(Batch("k", 20));
  ASSERT_EQ(
      Cli({"backup", "--instance", "demo", "--out", Path("set")}).exit_code, 0);
  ASSERT_EQ(Cli({"verify", Path("set")}).exit_code, 0);
  const uint64_t size = fs::file_size(Path("set/demo.edb"));
  {
    std::fstream f(Path("set/demo.edb"),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put('\x5a');
  }
  CliResult verify = Cli({"verify", Path("set")});
  EXPECT_EQ(verify.exit_code, 5);
  EXPECT_NE(verify.err.find("demo.edb"), std::string::npos) << verify.err;

  // Restore refuses a damaged set, and never touches a non-empty target.
  fs::create_directory(Path("target"));
  std::ofstream(Path("target/keep")) << "precious";
  CliResult restore = Cli({"restore", Path("set"), "--to", Path("target")});
  EXPECT_NE(restore.exit_code, 0);
  EXPECT_EQ(ReadFileOrEmpty(Path("target/keep")), "precious");

  // Without its manifest the directory is checked as an ESE-style set
  // (files and logs only), which still finds the damage.
  fs::remove(Path("set/manifest.json"));
  CliResult incomplete = Cli({"verify", Path("set")});
  EXPECT_EQ(incomplete.exit_code, 5);
  EXPECT_NE(incomplete.out.find("no manifest.json"), std::string::npos)
      << incomplete.out;
  EXPECT_NE(incomplete.err.find("demo.edb"), std::string::npos)
      << incomplete.err;
}

TEST_F(CliTest, BothBinariesPrintTheirVersionAndRevision) {
  const CliResult cli = RunCli(dir_.path(), {"--version"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const std::string prefix = "jetback 0.1.0 (git ";
  ASSERT_EQ(cli.out.substr(0, prefix.size()), prefix) << cli.out;
  const std::string revision =
      cli.out.substr(prefix.size(), cli.out.find(')') - prefix.size());
  EXPECT_FALSE(revision.empty());
  // The daemon was built from the same tree: the same line but its name.
  const std::string log = Path("version.out");
  const int rc =
      std::system(absl::StrCat(JETBACKD_PATH, " --version >", log).c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 0);
  EXPECT_EQ(ReadFileOrEmpty(log),
            absl::StrCat("jetbackd 0.1.0 (git ", revision, ")\n"));
}

// The command jetback-backup@.service runs (systemd's %-specifiers
// expanded as systemd does for instance "demo"): a set named after the
// instance and the time, which verifies; without JETBACK_BACKUP_DIR a clear
// error.
TEST_F(CliTest, ScheduledBackupUnitCommandMakesASet) {
  std::string command;
  {
    std::ifstream unit(JETBACK_BUILD_DIR
                       "/systemd/verify/jetback-backup@demo.service");
    std::string line;
    while (std::getline(unit, line)) {
      if (line.rfind("ExecStart=", 0) == 0) command = line.substr(10);
    }
  }
  ASSERT_FALSE(command.empty());
  command = absl::StrReplaceAll(command, {{"%%", "%"}, {"%i", "demo"}});
  std::ofstream(Path("unit.sh")) << command << "\n";
  Put(Batch("k", 20));
  fs::create_directory(Path("sets"));
  const std::string env = absl::StrCat("JETBACK_SERVER='", server_, "' ");
  const std::string run =
      absl::StrCat(env, "JETBACK_BACKUP_DIR='", Path("sets"), "' sh ",
                   Path("unit.sh"), " >", Path("unit.out"), " 2>&1");
  ASSERT_EQ(WEXITSTATUS(std::system(run.c_str())), 0)
      << ReadFileOrEmpty(Path("unit.out"));
  std::vector<std::string> sets;
  for (const auto& e : fs::directory_iterator(Path("sets"))) {
    sets.push_back(e.path().filename().string());
  }
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].rfind("demo-", 0), 0u) << sets[0];
  EXPECT_EQ(sets[0].back(), 'Z') << sets[0];
  EXPECT_EQ(Cli({"verify", Path("sets/" + sets[0])}).exit_code, 0);

  const std::string unset = absl::StrCat(env, "sh ", Path("unit.sh"), " >",
                                         Path("unset.out"), " 2>&1");
  EXPECT_EQ(WEXITSTATUS(std::system(unset.c_str())), 1);
  EXPECT_NE(ReadFileOrEmpty(Path("unset.out")).find("JETBACK_BACKUP_DIR"),
            std::string::npos);
}

TEST_F(CliTest, StatusInstancesHealthAndData) {
  CliResult health = Cli({"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_NE(health.out.find("SERVING"), std::string::npos);
  CliResult instances = Cli({"instances"});
  EXPECT_EQ(instances.exit_code, 0) << instances.err;
  EXPECT_NE(instances.out.find("demo"), std::string::npos);
  CliResult status = Cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("no backups running"), std::string::npos)
      << status.out;

  ASSERT_EQ(
      Cli({"put", "--instance", "demo", "--table", "t", "p1", "v1"}).exit_code,
      0);
  ASSERT_EQ(
      Cli({"put", "--instance", "demo", "--table", "t", "p2", "v2"}).exit_code,
      0);
  ASSERT_EQ(
      Cli({"put", "--instance", "demo", "--table", "t", "q", "v3"}).exit_code,
      0);
  CliResult scan =
      Cli({"scan", "--instance", "demo", "--table", "t", "--prefix", "p"});
  EXPECT_EQ(ParseScan(scan.out), (Rows{{"p1", "v1"}, {"p2", "v2"}}));
  EXPECT_EQ(
      Cli({"delete", "--instance", "demo", "--table", "t", "p1"}).exit_code, 0);
  scan = Cli({"scan", "--instance", "demo", "--table", "t"});
  EXPECT_EQ(ParseScan(scan.out), (Rows{{"p2", "v2"}, {"q", "v3"}}));
  // A table created on first put.
  EXPECT_EQ(Cli({"put", "--instance", "demo", "--table", "fresh", "a", "b"})
                .exit_code,
            0);
  CliResult get = Cli({"get", "--instance", "demo", "--table", "fresh", "a"});
  EXPECT_EQ(get.out, "b\n");
}

}  // namespace
}  // namespace jetback::testing
