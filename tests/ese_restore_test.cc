// Restore of an ESE-style set (what an ESE agent streams through the C API:
// the database files and logs under their own names, no manifest.json),
// through both doors: `jetback restore` and the C entry points
// JetExternalRestore2 / JetRestoreInstance. One scenario table of damaged
// sets (ese-semantics.md section 5.1) runs through every door.

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "jetback/esent.h"
#include "jetback/instance.h"
#include "jetback/status.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"
#include "tests/ese_restore_c_test.h"

namespace jetback::testing {
namespace {

namespace fs = std::filesystem;
using Rows = std::map<std::string, std::string>;

constexpr unsigned long kBufferSize = 64 * 1024;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// name -> bytes of every file in a directory.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    files[e.path().filename().string()] = ReadAll(e.path().string());
  }
  return files;
}

std::vector<std::string> SplitMulti(const std::vector<char>& multi) {
  std::vector<std::string> out;
  for (const char* p = multi.data(); *p != '\0'; p += std::strlen(p) + 1) {
    out.push_back(p);
  }
  return out;
}

// An ESE agent: streams every database, then every log, through the C API
// into `out` under their file names. `while_open` runs once the first
// database is open and before it is read (the backup is then fuzzy).
// Returns the live database paths the daemon listed.
std::vector<std::string> StreamEseSet(const std::string& server,
                                      const std::string& instance,
                                      const std::string& out,
                                      const std::function<void()>& while_open) {
  fs::create_directories(out);
  JET_INSTANCE inst = 0;
  EXPECT_EQ(JetConnectInstance(server.c_str(), instance.c_str(), &inst), 0);
  std::unique_ptr<char, decltype(&free)> buffer(
      static_cast<char*>(aligned_alloc(4096, kBufferSize)), &free);
  auto copy_out = [&](const std::string& path) {
    JET_HANDLE h = 0;
    unsigned long lo = 0, hi = 0, got = 0;
    EXPECT_EQ(JetOpenFileInstance(inst, path.c_str(), &h, &lo, &hi), 0);
    if (while_open && path.size() > 4 &&
        path.compare(path.size() - 4, 4, ".log") != 0) {
      while_open();
    }
    std::ofstream file(out + "/" + fs::path(path).filename().string(),
                       std::ios::binary);
    do {
      ASSERT_EQ(JetReadFileInstance(inst, h, buffer.get(), kBufferSize, &got),
                0);
      file.write(buffer.get(), got);
    } while (got != 0);
    EXPECT_EQ(JetCloseFileInstance(inst, h), 0);
  };
  EXPECT_EQ(JetBeginExternalBackupInstance(inst, 0), 0);
  unsigned long cb = 0;
  EXPECT_EQ(JetGetAttachInfoInstance(inst, nullptr, 0, &cb), 0);
  std::vector<char> names(cb + 1, '\0');
  EXPECT_EQ(JetGetAttachInfoInstance(inst, names.data(), cb, &cb), 0);
  const std::vector<std::string> databases = SplitMulti(names);
  for (const std::string& db : databases) copy_out(db);
  EXPECT_EQ(JetGetLogInfoInstance(inst, nullptr, 0, &cb), 0);
  names.assign(cb + 1, '\0');
  EXPECT_EQ(JetGetLogInfoInstance(inst, names.data(), cb, &cb), 0);
  for (const std::string& log : SplitMulti(names)) copy_out(log);
  EXPECT_EQ(JetEndExternalBackupInstance(inst), 0);
  EXPECT_EQ(JetDisconnectInstance(inst), 0);
  return databases;
}

// The rows of table "t" of a restored database, opened by the engine with
// a fresh log directory (a clean database needs none of its own).
Rows RowsOf(const std::string& db_path, const std::string& scratch) {
  InstanceRegistry registry;
  InstanceOptions options;
  options.name = "check";
  options.log_dir = scratch + "/logs";
  options.system_dir = scratch + "/system";
  fs::create_directories(options.log_dir);
  fs::create_directories(options.system_dir);
  auto instance = registry.Create(options);
  EXPECT_TRUE(instance.ok()) << instance.status();
  if (!instance.ok() || !(*instance)->Init().ok()) return {};
  auto db = (*instance)->AttachDatabase(db_path);
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return {};
  Rows rows;
  auto txn = (*db)->Begin();
  EXPECT_TRUE(txn->Scan("t", "", "",
                        [&](absl::string_view k, absl::string_view v) {
                          rows[std::string(k)] = std::string(v);
                          return true;
                        })
                  .ok());
  txn.reset();
  EXPECT_TRUE((*instance)->Term(TermMode::kComplete).ok());
  return rows;
}

// A set streamed from a real jetbackd with committed data, made once per
// test: `set_` (several log generations, the database copied while rows
// were committed), a second backup's set `set2_` of the same database, a
// plain copy of the live database and a log of another instance with a
// generation inside `set_`'s range.
class EseRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DaemonConfigOptions config;
    config.instances = {"demo", "other"};
    daemon_ =
        DaemonProcess::Start(dir_.path(), DaemonConfig(dir_.path(), config));
    ASSERT_NE(daemon_, nullptr);
    server_ = "unix:" + daemon_->socket_path();
    ClientOptions options;
    options.server = server_;
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);

    Put("demo", Batch("before", 30, 100));
    expected_ = Batch("before", 30, 100);
    // Committed while the database is being copied: more than two log
    // files' worth, so the copy needs logs past its first generation.
    const std::vector<std::string> live =
        StreamEseSet(server_, "demo", Path("set"), [&] {
          for (int i = 0; i < 3; ++i) {
            Rows during = Batch(absl::StrCat("during", i, "-"), 50, 4000);
            Put("demo", during);
            expected_.insert(during.begin(), during.end());
          }
        });
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(live.size(), 1u);
    db_name_ = fs::path(live[0]).filename().string();
    live_db_ = live[0];
    Put("demo", {{"after-backup", "must not come back"}});

    for (const auto& e : fs::directory_iterator(Path("set"))) {
      auto gen =
          format::ParseArchiveLogName("E00", e.path().filename().string());
      if (!gen.has_value()) continue;
      low_ = low_ == 0 ? *gen : std::min(low_, *gen);
      high_ = std::max(high_, *gen);
    }
    ASSERT_GE(high_, low_ + 2) << "want at least three logs";

    StreamEseSet(server_, "demo", Path("set2"), {});
    ASSERT_FALSE(HasFailure());
    fs::copy_file(live[0], Path("plain.edb"));  // never streamed
    MakeForeignLog(low_ + 1);
  }

  // Rolls the other instance's log (each GetLogInfo does) until generation
  // `gen` is an archive log, then streams just that log.
  void MakeForeignLog(uint32_t gen) {
    JET_INSTANCE inst = 0;
    ASSERT_EQ(JetConnectInstance(server_.c_str(), "other", &inst), 0);
    const std::string want = format::ArchiveLogName("E00", gen);
    std::unique_ptr<char, decltype(&free)> buffer(
        static_cast<char*>(aligned_alloc(4096, kBufferSize)), &free);
    for (int round = 0; round <= static_cast<int>(gen) + 2; ++round) {
      Put("other", {{absl::StrCat("o", round), "x"}});
      ASSERT_EQ(JetBeginExternalBackupInstance(inst, 0), 0);
      unsigned long cb = 0;
      ASSERT_EQ(JetGetLogInfoInstance(inst, nullptr, 0, &cb), 0);
      std::vector<char> names(cb + 1, '\0');
      ASSERT_EQ(JetGetLogInfoInstance(inst, names.data(), cb, &cb), 0);
      for (const std::string& log : SplitMulti(names)) {
        if (fs::path(log).filename() != want) continue;
        JET_HANDLE h = 0;
        unsigned long lo = 0, hi = 0, got = 0;
        ASSERT_EQ(JetOpenFileInstance(inst, log.c_str(), &h, &lo, &hi), 0);
        std::ofstream file(Path("foreign.log"), std::ios::binary);
        do {
          ASSERT_EQ(
              JetReadFileInstance(inst, h, buffer.get(), kBufferSize, &got), 0);
          file.write(buffer.get(), got);
        } while (got != 0);
        ASSERT_EQ(JetCloseFileInstance(inst, h), 0);
      }
      ASSERT_EQ(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort), 0);
      if (fs::exists(Path("foreign.log"))) break;
    }
    ASSERT_EQ(JetDisconnectInstance(inst), 0);
    ASSERT_TRUE(fs::exists(Path("foreign.log")));
  }

  void Put(const std::string& instance, const Rows& rows) {
    std::vector<v1::Operation> ops = PutOperations(rows);
    ASSERT_TRUE(client_->Transact(instance, "", ops).ok());
  }

  static Rows Batch(const std::string& prefix, int n, size_t value_size) {
    Rows rows;
    for (int i = 0; i < n; ++i) {
      rows[absl::StrCat(prefix, i)] =
          std::string(value_size, static_cast<char>('a' + i % 26));
    }
    return rows;
  }

  std::string Path(const std::string& name) const {
    return dir_.path() + "/" + name;
  }
  std::string LogName(uint32_t gen) const {
    return format::ArchiveLogName("E00", gen);
  }

  // A fresh copy of the set to damage.
  std::string CopySet(const std::string& name) {
    const std::string to = Path(name);
    fs::copy(Path("set"), to);
    return to;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::string server_;
  std::unique_ptr<Client> client_;
  Rows expected_;
  std::string db_name_;
  std::string live_db_;  // the daemon's database file
  uint32_t low_ = 0, high_ = 0;
};

// ---- the doors --------------------------------------------------------------

struct Range {
  uint32_t low = 0, high = 0;  // 0: from the logs present
};

// Runs one restore of the set in `set_dir` into a new directory under
// `work`; returns the JET_ERR. A failed restore may change neither the set
// nor a destination: each door checks what it must leave alone.
class Door {
 public:
  virtual ~Door() = default;
  virtual std::string name() const = 0;
  virtual bool takes_range() const { return true; }
  virtual JetErr Run(const std::string& set_dir, const std::string& work,
                     Range range, std::string* detail) = 0;
};

class CliDoor : public Door {
 public:
  explicit CliDoor(std::string dir) : dir_(std::move(dir)) {}
  std::string name() const override { return "jetback restore"; }
  JetErr Run(const std::string& set_dir, const std::string& work, Range range,
             std::string* detail) override {
    std::vector<std::string> args = {"restore", set_dir, "--to",
                                     work + "/target"};
    if (range.low != 0) {
      args.insert(args.end(), {"--gen-low", absl::StrCat(range.low)});
    }
    if (range.high != 0) {
      args.insert(args.end(), {"--gen-high", absl::StrCat(range.high)});
    }
    CliResult r = RunCli(dir_, args);
    *detail = r.out + r.err;
    if (r.exit_code == 0) return 0;
    EXPECT_EQ(r.exit_code, 2) << r.err;
    // "JET_errX (-NNN): message": the number after the first '('.
    const size_t open = r.err.find(" (-");
    if (open == std::string::npos) return 1;  // no JET_ERR named
    EXPECT_FALSE(fs::exists(work + "/target") &&
                 !fs::is_empty(work + "/target"))
        << "a failed restore wrote into its target";
    return std::atoi(r.err.c_str() + open + 2);
  }

 private:
  std::string dir_;
};

// The agent's layout for JetExternalRestore2: logs stay in the set
// directory, the database files are put where they are to be restored
// (<work>/dbs), mapped by rgrstmap.
class ExternalRestoreDoor : public Door {
 public:
  std::string name() const override { return "JetExternalRestore2"; }
  JetErr Run(const std::string& set_dir, const std::string& work, Range range,
             std::string* detail) override {
    const std::string dbs = work + "/dbs";
    fs::create_directories(dbs);
    std::vector<std::string> news;
    for (const auto& e : fs::directory_iterator(set_dir)) {
      const std::string name = e.path().filename().string();
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0) {
        continue;
      }
      fs::rename(e.path(), dbs + "/" + name);
      news.push_back(dbs + "/" + name);
    }
    std::vector<JET_RSTMAP_A> map;
    for (std::string& path : news) {
      map.push_back({path.data(), path.data()});
    }
    const auto before_dbs = Snapshot(dbs);
    const auto before_logs = Snapshot(set_dir);
    JET_LOGINFO info;
    std::memset(&info, 0, sizeof(info));
    info.cbSize = sizeof(info);
    info.ulGenLow = range.low;
    info.ulGenHigh = range.high;
    std::string log_path = work + "/restore-logs";
    std::string chk_path = work + "/restore-chk";
    const JET_ERR err = JetExternalRestore2(
        chk_path.data(), log_path.data(), map.data(),
        static_cast<long>(map.size()), const_cast<char*>(set_dir.c_str()),
        &info, nullptr, nullptr, nullptr, nullptr);
    EXPECT_EQ(Snapshot(set_dir), before_logs) << "backup log dir changed";
    if (err != 0) {
      EXPECT_EQ(Snapshot(dbs), before_dbs) << "a failed restore changed a db";
    }
    *detail = dbs;
    return err;
  }
};

class RestoreInstanceDoor : public Door {
 public:
  std::string name() const override { return "JetRestoreInstance"; }
  bool takes_range() const override { return false; }
  JetErr Run(const std::string& set_dir, const std::string& work, Range range,
             std::string* detail) override {
    const auto before = Snapshot(set_dir);
    const std::string dest = work + "/dest";
    const JET_ERR err =
        JetRestoreInstance(0, set_dir.c_str(), dest.c_str(), nullptr);
    EXPECT_EQ(Snapshot(set_dir), before) << "backup dir changed";
    if (err != 0 && fs::exists(dest)) {
      EXPECT_TRUE(fs::is_empty(dest)) << "a failed restore left files";
    }
    *detail = dest;
    return err;
  }
};

// ---- success ----------------------------------------------------------------

TEST_F(EseRestoreTest, CliRestoresTheSetAnEseAgentStreamed) {
  CliResult verify = RunCli(dir_.path(), {"verify", Path("set")});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.out.find("ESE-style"), std::string::npos) << verify.out;
  CliResult deep = RunCli(dir_.path(), {"verify", "--deep", Path("set")});
  EXPECT_EQ(deep.exit_code, 0) << deep.err;
  EXPECT_NE(deep.out.find("trial restore passed"), std::string::npos)
      << deep.out;
  // The range checks need the trial restore: plain verify reads files only.
  CliResult deep_short = RunCli(
      dir_.path(),
      {"verify", "--deep", Path("set"), "--gen-high", absl::StrCat(low_)});
  EXPECT_EQ(deep_short.exit_code, 5) << deep_short.err;
  EXPECT_NE(deep_short.err.find("-553"), std::string::npos) << deep_short.err;

  CliResult restore =
      RunCli(dir_.path(), {"restore", Path("set"), "--to", Path("restored")});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  // Says how it took the set and which generations it replayed.
  EXPECT_NE(restore.out.find("treated as an ESE-style set"), std::string::npos)
      << restore.out;
  EXPECT_NE(restore.out.find(absl::StrCat("logs ", low_, "-", high_)),
            std::string::npos)
      << restore.out;
  EXPECT_EQ(RowsOf(Path("restored/" + db_name_), Path("check")), expected_);
  CliResult json = RunCli(dir_.path(), {"--output", "json", "restore",
                                        Path("set"), "--to", Path("r2")});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find(absl::StrCat("\"ese_set\":true,\"gen_low\":", low_,
                                       ",\"gen_high\":", high_)),
            std::string::npos)
      << json.out;

  // An ESE-style set has no incremental sets: its directory holds every log.
  CliResult chain =
      RunCli(dir_.path(), {"restore", Path("set"), "--incremental",
                           Path("set2"), "--to", Path("x")});
  EXPECT_EQ(chain.exit_code, 1) << chain.err;
  // A running instance's directory is refused, naming its owner.
  const std::string live_dir = fs::path(live_db_).parent_path().string();
  CliResult busy =
      RunCli(dir_.path(), {"restore", Path("set"), "--to", live_dir});
  EXPECT_EQ(busy.exit_code, 2) << busy.err;
  EXPECT_NE(busy.err.find("-1032"), std::string::npos) << busy.err;
  EXPECT_NE(busy.err.find(absl::StrCat("pid ", daemon_->pid())),
            std::string::npos)
      << busy.err;
  // --gen-low/--gen-high are for ESE-style sets only.
  fs::create_directories(Path("manifest-set"));
  std::ofstream(Path("manifest-set/manifest.json")) << "{}";
  CliResult misuse = RunCli(dir_.path(), {"restore", Path("manifest-set"),
                                          "--to", Path("x"), "--gen-low", "1"});
  EXPECT_EQ(misuse.exit_code, 1) << misuse.err;
}

JET_SNT g_events[64];
JET_SNPROG g_last_progress;
int g_event_count = 0;

JET_ERR RecordProgress(JET_SESID, JET_SNP snp, JET_SNT snt, void* pv) {
  EXPECT_EQ(snp, static_cast<JET_SNP>(JET_snpRestore));
  if (g_event_count < 64) g_events[g_event_count++] = snt;
  if (snt == JET_sntProgress) {
    g_last_progress = *static_cast<JET_SNPROG*>(pv);
  }
  return 0;
}

TEST_F(EseRestoreTest, ExternalRestore2RestoresInPlace) {
  // The agent's restore layout: databases where they belong, logs apart.
  fs::create_directories(Path("live"));
  fs::copy_file(Path("set/" + db_name_), Path("live/" + db_name_));
  const auto logs_before = Snapshot(Path("set"));
  std::string db = Path("live/" + db_name_);
  JET_RSTMAP_A map = {db.data(), db.data()};
  JET_LOGINFO info;
  std::memset(&info, 0, sizeof(info));
  info.cbSize = sizeof(info);
  std::strcpy(info.szBaseName, "E00");
  std::string logs = Path("set"), restore_logs = Path("restore-logs");
  g_event_count = 0;
  ASSERT_EQ(
      JetExternalRestore2(nullptr, restore_logs.data(), &map, 1, logs.data(),
                          &info, nullptr, nullptr, nullptr, RecordProgress),
      0);
  EXPECT_EQ(RowsOf(db, Path("check")), expected_);
  EXPECT_EQ(Snapshot(Path("set")), logs_before);
  // Nothing left behind in the working directory.
  EXPECT_TRUE(fs::is_empty(restore_logs));
  ASSERT_GE(g_event_count, 3);
  EXPECT_EQ(g_events[0], static_cast<JET_SNT>(JET_sntBegin));
  EXPECT_EQ(g_events[1], static_cast<JET_SNT>(JET_sntProgress));
  EXPECT_EQ(g_events[g_event_count - 1], static_cast<JET_SNT>(JET_sntComplete));
  EXPECT_EQ(g_event_count, static_cast<int>(high_ - low_ + 1) + 2);
  EXPECT_EQ(g_last_progress.cbStruct, sizeof(JET_SNPROG));
  EXPECT_EQ(g_last_progress.cunitDone, high_ - low_ + 1);
  EXPECT_EQ(g_last_progress.cunitTotal, high_ - low_ + 1);

  // JetExternalRestore with the generations given, no map: the databases
  // of the backup directory land in szLogPath.
  std::string out = Path("out");
  ASSERT_EQ(JetExternalRestore(nullptr, out.data(), nullptr, 0, logs.data(),
                               low_, high_, nullptr),
            0);
  EXPECT_EQ(RowsOf(out + "/" + db_name_, Path("check2")), expected_);
}

TEST_F(EseRestoreTest, RestoreInstanceRestoresIntoTheDestination) {
  g_event_count = 0;
  ASSERT_EQ(JetRestoreInstance(JET_instanceNil, Path("set").c_str(),
                               Path("dest").c_str(), RecordProgress),
            0);
  EXPECT_EQ(RowsOf(Path("dest/" + db_name_), Path("check")), expected_);
  EXPECT_EQ(g_events[g_event_count - 1], static_cast<JET_SNT>(JET_sntComplete));
  // Only the database lands there; the staging directory is gone.
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(Path("dest"))) {
    names.insert(e.path().filename().string());
  }
  EXPECT_EQ(names, std::set<std::string>({db_name_}));
}

TEST_F(EseRestoreTest, RestoreFromC) {
  char message[256];
  EXPECT_EQ(RunCRestore(Path("set").c_str(), Path("dest").c_str(), message,
                        sizeof(message)),
            0)
      << message;
  EXPECT_EQ(RowsOf(Path("dest/" + db_name_), Path("check")), expected_);
}

// ---- the scenario table -----------------------------------------------------

struct Scenario {
  std::string name;
  // Damages a copy of the set (its directory).
  std::function<void(const std::string& set)> damage;
  // The range to give (from the set's low/high); null: none.
  std::function<Range(uint32_t low, uint32_t high)> range;
  JetErr expected;
  std::string names_file;  // the message must name it (CLI door)
};

class EseRestoreScenarioTest : public EseRestoreTest {
 protected:
  void Flip(const std::string& path, uint64_t offset) {
    std::string bytes = ReadAll(path);
    ASSERT_LT(offset, bytes.size());
    bytes[offset] ^= 0x5a;
    WriteAll(path, bytes);
  }
  std::vector<Scenario> Scenarios() {
    const uint32_t mid = low_ + 1;
    const std::string db = db_name_;
    return {
        {"missing log",
         [this, mid](const std::string& set) {
           fs::remove(set + "/" + LogName(mid));
         },
         nullptr, jet::JET_errFileNotFound, LogName(mid)},
        {"another instance's log",
         [this, mid](const std::string& set) {
           fs::copy_file(Path("foreign.log"), set + "/" + LogName(mid),
                         fs::copy_options::overwrite_existing);
         },
         nullptr, jet::JET_errGivenLogFileHasBadSignature, LogName(mid)},
        {"log chain broken",
         [this, mid](const std::string& set) {
           const std::string path = set + "/" + LogName(mid);
           std::string bytes = ReadAll(path);
           auto header = format::DecodeLogHeader(
               absl::MakeConstSpan(bytes.data(), format::kLogBlockSize));
           ASSERT_TRUE(header.ok());
           header->prev_create_time_us += 1;
           ASSERT_TRUE(
               format::EncodeLogHeader(
                   *header, absl::MakeSpan(bytes.data(), format::kLogBlockSize))
                   .ok());
           WriteAll(path, bytes);
         },
         nullptr, jet::JET_errGivenLogFileIsNotContiguous, LogName(mid)},
        {"log block damaged",
         [this, mid](const std::string& set) {
           Flip(set + "/" + LogName(mid), format::kLogBlockSize + 40);
         },
         nullptr, jet::JET_errLogFileCorrupt, LogName(mid)},
        {"database never streamed",
         [this, db](const std::string& set) {
           fs::copy_file(Path("plain.edb"), set + "/" + db,
                         fs::copy_options::overwrite_existing);
         },
         nullptr, jet::JET_errRestoreOfNonBackupDatabase, db},
        {"trailer page altered",
         [this, db](const std::string& set) {
           const std::string path = set + "/" + db;
           Flip(path, fs::file_size(path) - 8192 + 200);
         },
         nullptr, jet::JET_errBadPatchPage, db},
        {"trailer of another backup",
         [this, db](const std::string& set) {
           const std::string other = ReadAll(Path("set2/" + db));
           std::string bytes = ReadAll(set + "/" + db);
           const size_t page = 8192;
           bytes.replace(bytes.size() - page, page,
                         other.substr(other.size() - page));
           WriteAll(set + "/" + db, bytes);
         },
         nullptr, jet::JET_errDatabasePatchFileMismatch, db},
        {"page damaged",
         [this, db](const std::string& set) {
           Flip(set + "/" + db, 3 * 8192 + 100);
         },
         nullptr, jet::JET_errReadVerifyFailure, db},
        {"genLow above what the database needs", nullptr,
         [](uint32_t low, uint32_t high) {
           return Range{low + 1, high};
         },
         jet::JET_errStartingRestoreLogTooHigh, db},
        {"genHigh below what the database needs", nullptr,
         [](uint32_t low, uint32_t high) {
           return Range{low, low};
         },
         jet::JET_errEndingRestoreLogTooLow, db},
        {"empty generation range", nullptr,
         [](uint32_t low, uint32_t high) {
           return Range{high, low};
         },
         jet::JET_errInvalidParameter, ""},
    };
  }
};

TEST_F(EseRestoreScenarioTest, EveryScenarioThroughEveryDoor) {
  CliDoor cli(dir_.path());
  ExternalRestoreDoor external;
  RestoreInstanceDoor instance;
  int run = 0;
  for (const Scenario& s : Scenarios()) {
    for (Door* door : std::vector<Door*>{&cli, &external, &instance}) {
      if (s.range && !door->takes_range()) continue;
      SCOPED_TRACE(absl::StrCat(s.name, " through ", door->name()));
      const std::string work = Path(absl::StrCat("run", run++));
      fs::create_directories(work);
      const std::string set = work + "/set";
      fs::copy(Path("set"), set);
      if (s.damage) s.damage(set);
      ASSERT_FALSE(HasFatalFailure());  // the damage itself failed
      const Range range = s.range ? s.range(low_, high_) : Range{};
      std::string detail;
      EXPECT_EQ(door->Run(set, work, range, &detail), s.expected) << detail;
      if (door == &cli && !s.names_file.empty()) {
        EXPECT_NE(detail.find(s.names_file), std::string::npos) << detail;
      }
    }
  }
}

TEST_F(EseRestoreTest, BadArgumentsOfTheCEntryPoints) {
  std::string logs = Path("set"), work = Path("work");
  std::string db = Path("live.edb");
  fs::copy_file(Path("set/" + db_name_), db);
  JET_RSTMAP_A map = {db.data(), db.data()};
  JET_LOGINFO info;
  std::memset(&info, 0, sizeof(info));
  info.cbSize = sizeof(info);
  JET_LOGINFO bad_size = info;
  bad_size.cbSize = 1;
  std::string target = "demo", path = Path("t");
  const JET_ERR kInvalid = jet::JET_errInvalidParameter;

  EXPECT_EQ(JetExternalRestore2(nullptr, work.data(), &map, 1, logs.data(),
                                nullptr, nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  EXPECT_EQ(JetExternalRestore2(nullptr, work.data(), &map, 1, logs.data(),
                                &bad_size, nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  EXPECT_EQ(JetExternalRestore2(nullptr, work.data(), &map, 15, logs.data(),
                                &info, nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  EXPECT_EQ(JetExternalRestore2(nullptr, work.data(), &map, -1, logs.data(),
                                &info, nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  EXPECT_EQ(JetExternalRestore2(nullptr, work.data(), nullptr, 1, logs.data(),
                                &info, nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  // Target paths: both or neither; not with a name; a name alone names an
  // instance that is not running here.
  EXPECT_EQ(JetExternalRestore2(nullptr, work.data(), &map, 1, logs.data(),
                                &info, nullptr, path.data(), nullptr, nullptr),
            kInvalid);
  EXPECT_EQ(
      JetExternalRestore2(nullptr, work.data(), &map, 1, logs.data(), &info,
                          target.data(), path.data(), path.data(), nullptr),
      kInvalid);
  EXPECT_EQ(
      JetExternalRestore2(nullptr, work.data(), &map, 1, logs.data(), &info,
                          target.data(), nullptr, nullptr, nullptr),
      jet::JET_errBadRestoreTargetInstance);
  EXPECT_EQ(JetExternalRestore2(nullptr, nullptr, &map, 1, logs.data(), &info,
                                nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  EXPECT_EQ(JetExternalRestore2(nullptr, work.data(), &map, 1, nullptr, &info,
                                nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  std::strcpy(info.szBaseName, "E0");
  EXPECT_EQ(JetExternalRestore2(nullptr, work.data(), &map, 1, logs.data(),
                                &info, nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  info.szBaseName[0] = '\0';
  // Restoring in place inside the backup directory would modify it.
  std::string in_set = Path("set/" + db_name_);
  JET_RSTMAP_A in_set_map = {in_set.data(), in_set.data()};
  EXPECT_EQ(
      JetExternalRestore2(nullptr, work.data(), &in_set_map, 1, logs.data(),
                          &info, nullptr, nullptr, nullptr, nullptr),
      kInvalid);
  EXPECT_EQ(JetExternalRestore(nullptr, work.data(), &map, 1, logs.data(), -1,
                               0, nullptr),
            kInvalid);
  // None of that touched the database to restore.
  EXPECT_EQ(ReadAll(db), ReadAll(Path("set/" + db_name_)));

  // JetRestoreInstance: offline only, both directories required.
  JET_INSTANCE connected = 0;
  ASSERT_EQ(JetConnectInstance(server_.c_str(), "demo", &connected), 0);
  EXPECT_EQ(
      JetRestoreInstance(connected, logs.c_str(), Path("d").c_str(), nullptr),
      kInvalid);
  EXPECT_EQ(JetDisconnectInstance(connected), 0);
  EXPECT_EQ(JetRestoreInstance(0, nullptr, Path("d").c_str(), nullptr),
            kInvalid);
  EXPECT_EQ(JetRestoreInstance(0, logs.c_str(), "", nullptr), kInvalid);
  // Restoring into the backup directory itself would modify it.
  const auto set_before = Snapshot(logs);
  EXPECT_EQ(JetRestoreInstance(0, logs.c_str(), logs.c_str(), nullptr),
            kInvalid);
  EXPECT_EQ(JetExternalRestore2(nullptr, logs.data(), nullptr, 0, logs.data(),
                                &info, nullptr, nullptr, nullptr, nullptr),
            kInvalid);
  EXPECT_EQ(Snapshot(logs), set_before);
  EXPECT_FALSE(fs::exists(Path("d")));
  // A directory with no logs at all.
  fs::create_directories(Path("empty"));
  EXPECT_EQ(
      JetRestoreInstance(0, Path("empty").c_str(), Path("d").c_str(), nullptr),
      jet::JET_errFileNotFound);
}

}  // namespace
}  // namespace jetback::testing
