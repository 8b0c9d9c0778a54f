// `jetback expire` on an S3 repository in the test cluster's radosgw: a real
// full and incremental set from jetbackd (verified with `verify --repo`, so
// the record object lands beside the set), then newer sets written straight
// into the bucket (a full set with an incremental one, and a newest full
// set), then expire with --dry-run, --keep-full 1 and --keep-full 0; the
// objects left in the bucket are checked.

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/repo/backup_set.h"
#include "client/s3_client.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"
#include "tests/rgw_test_util.h"

namespace jetback::testing {
namespace {

using google::protobuf::Struct;

class S3ExpireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = DaemonProcess::Start(dir_.path(), DaemonConfig(dir_.path()));
    ASSERT_NE(daemon_, nullptr);
    server_ = "unix:" + daemon_->socket_path();
    bucket_ = TestBucketName();
    ASSERT_TRUE(s3_.CreateBucket(bucket_).ok());
    repo_ = absl::StrCat("s3://", bucket_, "/fleet");
  }

  CliResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server_});
    return RunCli(dir_.path(), args, RgwEnvStrings());
  }

  void Put(int from) {
    ClientOptions options;
    options.server = server_;
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    std::vector<v1::Operation> ops;
    for (int i = from; i < from + 20; ++i) {
      v1::Operation op;
      op.set_kind(v1::Operation::KIND_PUT);
      op.set_table("t");
      op.set_key(absl::StrCat("k", i));
      op.set_value(std::string(300, 'v'));
      ops.push_back(op);
    }
    ASSERT_TRUE((*client)->Transact("demo", "", ops).ok());
  }

  // A set written straight into the bucket: one file and its manifest,
  // started `hours_ahead` hours from now.
  std::string FakeSet(const std::string& kind, uint32_t low, uint32_t high,
                      int hours_ahead) {
    const absl::Time t = absl::Now() + absl::Hours(hours_ahead);
    const std::string name = absl::StrCat(
        absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone()), "-", kind);
    const std::string prefix = absl::StrCat("fleet/h/demo/", name, "/");
    repo::Manifest m;
    m.set_format_version(1);
    m.set_instance("demo");
    m.set_kind(kind);
    m.set_gen_low(low);
    m.set_gen_high(high);
    m.set_started_at(
        absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()));
    m.set_finished_at(m.started_at());
    auto* f = m.add_files();
    f->set_name("E00.log");
    f->set_kind("log");
    f->set_size(5);
    f->set_xxh3_128("00000000000000000000000000000000");  // not the bytes'
    EXPECT_TRUE(s3_.PutObject(bucket_, prefix + "E00.log", "12345").ok());
    auto json = repo::ManifestToJson(m);
    EXPECT_TRUE(json.ok());
    EXPECT_TRUE(s3_.PutObject(bucket_, prefix + "manifest.json", *json).ok());
    return "h/demo/" + name;
  }

  std::vector<std::string> Keys() {
    auto objects = s3_.ListObjects(bucket_, "fleet/");
    EXPECT_TRUE(objects.ok()) << objects.status();
    std::vector<std::string> keys;
    for (const S3Object& o : *objects) keys.push_back(o.key.substr(6));
    return keys;
  }
  bool HasSet(const std::string& id) {
    for (const std::string& k : Keys()) {
      if (k == id + "/manifest.json") return true;
    }
    return false;
  }
  bool HasKey(const std::string& key) {
    std::vector<std::string> keys = Keys();
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  }
  bool AnyUnder(const std::string& id) {
    for (const std::string& k : Keys()) {
      if (absl::StartsWith(k, id + "/")) return true;
    }
    return false;
  }

  Struct ExpireJson(std::vector<std::string> args) {
    args.insert(args.begin(), {"--output", "json", "expire", "--repo", repo_});
    CliResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    Struct report;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(r.out, &report).ok())
        << r.out;
    return report;
  }
  static std::vector<std::string> Strings(const Struct& s, const char* key) {
    std::vector<std::string> out;
    for (const auto& v : s.fields().at(key).list_value().values()) {
      out.push_back(v.string_value());
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::string server_, bucket_, repo_;
  S3Client s3_{RgwConfig()};
};

TEST_F(S3ExpireTest, ChainsDryRunVerifiedAndDeletionOrder) {
  Put(0);
  CliResult full = Cli({"backup", "--instance", "demo", "--repo", repo_,
                        "--host", "h", "--truncate-logs"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  Put(100);
  CliResult inc = Cli({"backup", "--instance", "demo", "--repo", repo_,
                       "--host", "h", "--incremental", "--truncate-logs"});
  ASSERT_EQ(inc.exit_code, 0) << inc.err;
  std::string real_full, real_inc;
  uint32_t high = 0;
  for (const std::string& k : Keys()) {
    if (!absl::EndsWith(k, "/manifest.json")) continue;
    const std::string id = k.substr(0, k.size() - strlen("/manifest.json"));
    (absl::EndsWith(id, "-full") ? real_full : real_inc) = id;
    auto m = repo::ManifestFromJson(*s3_.GetObject(bucket_, "fleet/" + k), k);
    ASSERT_TRUE(m.ok());
    high = std::max(high, m->gen_high());
  }
  ASSERT_FALSE(real_full.empty());
  ASSERT_FALSE(real_inc.empty());

  CliResult v = Cli({"verify", "--repo", repo_, real_full});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  const std::string full_record = real_full + ".verified.json";
  ASSERT_TRUE(HasKey(full_record));
  auto record = s3_.GetObject(bucket_, "fleet/" + full_record);
  ASSERT_TRUE(record.ok());
  EXPECT_TRUE(absl::StrContains(*record, "\"ok\":true")) << *record;

  // Newer sets: f2 + i2 (a day ahead), f3 (two days ahead).
  const std::string f2 = FakeSet("full", high + 1, high + 2, 24);
  const std::string i2 = FakeSet("incremental", high + 3, high + 4, 25);
  const std::string f3 = FakeSet("full", high + 5, high + 5, 48);
  // f3's verify fails (its digest is not its bytes' one): recorded as such.
  EXPECT_EQ(Cli({"verify", "--repo", repo_, f3}).exit_code, 5);
  auto f3_record = s3_.GetObject(bucket_, "fleet/" + f3 + ".verified.json");
  ASSERT_TRUE(f3_record.ok());
  EXPECT_TRUE(absl::StrContains(*f3_record, "\"ok\":false"));

  const std::vector<std::string> before = Keys();
  Struct report = ExpireJson({"--keep-full", "1", "--dry-run"});
  EXPECT_EQ(Strings(report, "delete_order"),
            (std::vector<std::string>{i2, f2}));
  EXPECT_TRUE(Strings(report, "deleted").empty());
  EXPECT_EQ(Keys(), before);

  // Kept: f3 (newest) and the real chain (newest verified full set).
  report = ExpireJson({"--keep-full", "1"});
  EXPECT_EQ(Strings(report, "deleted"), (std::vector<std::string>{i2, f2}));
  EXPECT_FALSE(AnyUnder(f2));
  EXPECT_FALSE(AnyUnder(i2));
  EXPECT_TRUE(HasSet(real_full));
  EXPECT_TRUE(HasSet(real_inc));
  EXPECT_TRUE(HasSet(f3));
  EXPECT_TRUE(HasKey(full_record));

  // --keep-full 0: only the verified chain stays; f3 goes with its record.
  report = ExpireJson({"--keep-full", "0"});
  EXPECT_EQ(Strings(report, "deleted"), (std::vector<std::string>{f3}));
  EXPECT_FALSE(AnyUnder(f3));
  EXPECT_FALSE(HasKey(f3 + ".verified.json"));
  EXPECT_TRUE(HasSet(real_full));
  EXPECT_TRUE(HasSet(real_inc));

  // What is left still restores.
  CliResult restored =
      Cli({"restore", "--repo", repo_, real_full, "--incremental", real_inc,
           "--to", dir_.path() + "/restored"});
  EXPECT_EQ(restored.exit_code, 0) << restored.err;
}

}  // namespace
}  // namespace jetback::testing
