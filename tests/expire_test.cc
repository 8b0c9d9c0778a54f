// `jetback expire` on a directory repository of real sets: a real jetbackd
// backs up full, incremental, incremental, full, incremental, full into
// ROOT/h/demo/NAME (start times then moved back 50 ... 5 days in the
// manifests); each test expires a copy. Deletion order and reasons come
// from the --output json report, parsed; what is left is checked on disk
// and by restoring a kept chain.

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/repo/backup_set.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;
using google::protobuf::Value;

struct Planned {
  std::string label;  // f1, i1, ...
  bool incremental;
  int days_ago;
};
const Planned kSets[] = {{"f1", false, 50}, {"i1", true, 45}, {"i2", true, 40},
                         {"f2", false, 30}, {"i3", true, 20}, {"f3", false, 5}};

class ExpireTest : public ::testing::Test {
 protected:
  // The six sets, made once; label -> set id.
  static void SetUpTestSuite() {
    made_ = new TempDir();
    ids_ = new std::map<std::string, std::string>();
    const std::string root = made_->path() + "/repo";
    auto daemon =
        DaemonProcess::Start(made_->path(), DaemonConfig(made_->path()));
    ASSERT_NE(daemon, nullptr);
    const std::string server = "unix:" + daemon->socket_path();
    ClientOptions options;
    options.server = server;
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    int row = 0;
    for (const Planned& p : kSets) {
      std::vector<v1::Operation> ops;
      for (int i = 0; i < 20; ++i, ++row) {
        v1::Operation op;
        op.set_kind(v1::Operation::KIND_PUT);
        op.set_table("t");
        op.set_key(absl::StrCat("k", row));
        op.set_value(std::string(500, 'a' + row % 26));
        ops.push_back(op);
      }
      ASSERT_TRUE((*client)->Transact("demo", "", ops).ok());
      const absl::Time started = absl::Now() - absl::Hours(24 * p.days_ago);
      const std::string name = absl::StrCat(
          absl::FormatTime("%Y%m%dT%H%M%SZ", started, absl::UTCTimeZone()),
          p.incremental ? "-incremental" : "-full");
      const std::string dir = absl::StrCat(root, "/h/demo/", name);
      std::vector<std::string> args = {"--server",   server,           "backup",
                                       "--instance", "demo",           "--out",
                                       dir,          "--truncate-logs"};
      if (p.incremental) args.push_back("--incremental");
      CliResult r = RunCli(made_->path(), args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      // Move the set back in time, as if made days_ago.
      auto m = repo::ReadManifest(dir);
      ASSERT_TRUE(m.ok()) << m.status();
      m->set_started_at(
          absl::FormatTime(absl::RFC3339_sec, started, absl::UTCTimeZone()));
      m->set_finished_at(m->started_at());
      ASSERT_TRUE(repo::WriteManifest(dir, *m).ok());
      (*ids_)[p.label] = "h/demo/" + name;
    }
  }
  static void TearDownTestSuite() {
    delete made_;
    delete ids_;
  }

  void SetUp() override {
    ASSERT_EQ(ids_->size(), 6u);
    repo_ = dir_.path() + "/repo";
    fs::copy(made_->path() + "/repo", repo_, fs::copy_options::recursive);
  }

  std::string Id(const std::string& label) { return ids_->at(label); }
  std::string Dir(const std::string& label) { return repo_ + "/" + Id(label); }
  CliResult Cli(const std::vector<std::string>& args) {
    return RunCli(dir_.path(), args);
  }
  // The labels whose sets are still on disk, in kSets order.
  std::vector<std::string> Left() {
    std::vector<std::string> left;
    for (const Planned& p : kSets) {
      if (fs::exists(Dir(p.label) + "/manifest.json")) left.push_back(p.label);
    }
    return left;
  }
  std::vector<std::string> LabelsOf(const Value& list) {
    std::vector<std::string> out;
    for (const Value& v : list.list_value().values()) {
      for (const auto& [label, id] : *ids_) {
        if (id == v.string_value()) out.push_back(label);
      }
    }
    return out;
  }
  // `expire --output json ARGS` parsed; fails the test if it is not JSON.
  Struct ExpireJson(std::vector<std::string> args, int want_exit = 0) {
    args.insert(args.begin(), {"--output", "json", "expire", "--repo", repo_});
    CliResult r = Cli(args);
    EXPECT_EQ(r.exit_code, want_exit) << r.err << r.out;
    Struct report;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(r.out, &report).ok())
        << r.out;
    return report;
  }
  // The report's entry for `label`.
  Struct Entry(const Struct& report, const std::string& label) {
    for (const Value& v : report.fields().at("sets").list_value().values()) {
      if (v.struct_value().fields().at("id").string_value() == Id(label)) {
        return v.struct_value();
      }
    }
    ADD_FAILURE() << label << " not in the report";
    return Struct();
  }

  static TempDir* made_;
  static std::map<std::string, std::string>* ids_;
  TempDir dir_;
  std::string repo_;
};
TempDir* ExpireTest::made_ = nullptr;
std::map<std::string, std::string>* ExpireTest::ids_ = nullptr;

using Labels = std::vector<std::string>;

TEST_F(ExpireTest, KeepTwoFullThenOne) {
  Struct report = ExpireJson({"--keep-full", "2"});
  EXPECT_TRUE(report.fields().at("ok").bool_value());
  // f1's chain, newest first, its full set last.
  EXPECT_EQ(LabelsOf(report.fields().at("deleted")),
            (Labels{"i2", "i1", "f1"}));
  EXPECT_EQ(Left(), (Labels{"f2", "i3", "f3"}));
  Struct i3 = Entry(report, "i3");
  EXPECT_EQ(i3.fields().at("action").string_value(), "keep");
  EXPECT_EQ(i3.fields().at("chain").string_value(), Id("f2"));
  EXPECT_TRUE(absl::StrContains(
      Entry(report, "i1").fields().at("reason").string_value(),
      "builds on deleted full set"));
  // The kept chain still restores.
  CliResult restored =
      Cli({"restore", "--repo", repo_, Id("f2"), "--incremental", Id("i3"),
           "--to", dir_.path() + "/restored"});
  EXPECT_EQ(restored.exit_code, 0) << restored.err;

  report = ExpireJson({"--keep-full", "1"});
  EXPECT_EQ(LabelsOf(report.fields().at("deleted")), (Labels{"i3", "f2"}));
  EXPECT_EQ(Left(), (Labels{"f3"}));
  // Nothing more to do: idempotent.
  report = ExpireJson({"--keep-full", "1"});
  EXPECT_EQ(report.fields().at("deleted").list_value().values_size(), 0);
}

TEST_F(ExpireTest, KeepDaysKeepsChainsWithYoungSets) {
  // i3 is 20 days old: f2's chain stays; f1's newest set is 40 days old.
  Struct report = ExpireJson({"--keep-full", "1", "--keep-days", "25"});
  EXPECT_EQ(LabelsOf(report.fields().at("deleted")),
            (Labels{"i2", "i1", "f1"}));
  EXPECT_EQ(Left(), (Labels{"f2", "i3", "f3"}));
  EXPECT_TRUE(absl::StrContains(
      Entry(report, "f2").fields().at("reason").string_value(),
      "is younger than 25 days"));
  // 42 days reaches i2: f1 (50 days old) stays with its chain.
  report = ExpireJson({"--keep-full", "1", "--keep-days", "42"});
  EXPECT_EQ(report.fields().at("deleted").list_value().values_size(), 0);
  EXPECT_EQ(Left().size(), 3u);
}

TEST_F(ExpireTest, DryRunDeletesNothing) {
  auto files = [&] {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(repo_))
      n += e.is_regular_file();
    return n;
  };
  const size_t before = files();
  CliResult r =
      Cli({"expire", "--repo", repo_, "--keep-full", "1", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t would = 0;
  for (size_t at = 0;
       (at = r.out.find("would delete ", at)) != std::string::npos; ++at) {
    ++would;
  }
  EXPECT_EQ(would, 5u + 1u) << r.out;  // five lines and the summary
  EXPECT_TRUE(absl::StrContains(r.out, "dry run: would delete 5 of 6 sets"))
      << r.out;
  EXPECT_EQ(files(), before);
  EXPECT_EQ(Left().size(), 6u);
  Struct report = ExpireJson({"--keep-full", "1", "--dry-run"});
  EXPECT_TRUE(report.fields().at("dry_run").bool_value());
  EXPECT_EQ(LabelsOf(report.fields().at("delete_order")),
            (Labels{"i2", "i1", "f1", "i3", "f2"}));
  EXPECT_EQ(report.fields().at("deleted").list_value().values_size(), 0);
  EXPECT_EQ(Left().size(), 6u);
}

TEST_F(ExpireTest, NewestVerifiedFullSetIsKept) {
  CliResult v = Cli({"verify", "--repo", repo_, Id("f1")});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  const std::string f1_record = Dir("f1") + ".verified.json";
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(f1_record), "\"ok\":true"));
  // The record is beside the set, not in it: verify still passes.
  EXPECT_EQ(Cli({"verify", "--repo", repo_, Id("f1")}).exit_code, 0);
  // f2 damaged: its verify fails and says so in its record.
  for (const auto& e : fs::directory_iterator(Dir("f2"))) {
    if (e.path().extension() == ".edb") {
      std::ofstream(e.path(), std::ios::app) << "x";
    }
  }
  EXPECT_EQ(Cli({"verify", "--repo", repo_, Id("f2")}).exit_code, 5);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(Dir("f2") + ".verified.json"),
                                "\"ok\":false"));

  Struct report = ExpireJson({"--keep-full", "1"});
  EXPECT_EQ(LabelsOf(report.fields().at("deleted")), (Labels{"i3", "f2"}));
  EXPECT_EQ(Left(), (Labels{"f1", "i1", "i2", "f3"}));
  EXPECT_TRUE(absl::StrContains(
      Entry(report, "f1").fields().at("reason").string_value(),
      "the newest verified full set"));
  EXPECT_FALSE(fs::exists(Dir("f2") + ".verified.json"));  // removed with f2
  EXPECT_TRUE(fs::exists(f1_record));
  // --keep-full 0 keeps exactly the verified chain.
  report = ExpireJson({"--keep-full", "0"});
  EXPECT_EQ(LabelsOf(report.fields().at("deleted")), (Labels{"f3"}));
  EXPECT_EQ(Left(), (Labels{"f1", "i1", "i2"}));
}

TEST_F(ExpireTest, WithNothingVerifiedTheNewestFullStays) {
  Struct report = ExpireJson({"--keep-full", "0"});
  EXPECT_EQ(Left(), (Labels{"f3"}));
  EXPECT_EQ(Entry(report, "f3").fields().at("reason").string_value(),
            "the newest full set (none is verified)");
}

TEST_F(ExpireTest, FiltersByHostAndInstance) {
  // Another host's sets are not touched by --host h.
  fs::create_directories(repo_ + "/other");
  fs::copy(repo_ + "/h", repo_ + "/other", fs::copy_options::recursive);
  Struct report = ExpireJson({"--keep-full", "1", "--host", "h"});
  EXPECT_EQ(report.fields().at("deleted").list_value().values_size(), 5);
  size_t other = 0;
  for (const auto& e : fs::directory_iterator(repo_ + "/other/demo")) {
    other += fs::exists(e.path() / "manifest.json");
  }
  EXPECT_EQ(other, 6u);
  report = ExpireJson({"--keep-full", "1", "--instance", "nope"});
  EXPECT_EQ(report.fields().at("sets").list_value().values_size(), 0);
}

TEST_F(ExpireTest, BadInputIsAClearError) {
  CliResult r = Cli({"expire", "--repo", repo_, "--keep-full", "-1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = Cli({"expire", "--repo", repo_});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // --keep-full is required
  r = Cli({"expire", "--repo", dir_.path() + "/none", "--keep-full", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "-1811")) << r.err;
  // An unreadable verify record stops the run before anything is deleted.
  std::ofstream(Dir("f1") + ".verified.json") << "garbage";
  r = Cli({"expire", "--repo", repo_, "--keep-full", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, Id("f1"))) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "-1003")) << r.err;
  EXPECT_EQ(Left().size(), 6u);
}

}  // namespace
}  // namespace jetback::testing
