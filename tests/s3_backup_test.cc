// `jetback` with an S3 repository: a real jetbackd backing up into the test
// cluster's radosgw. Full + incremental sets, `sets list`, `verify --deep`
// and a restore of the chain from the bucket with the data compared; a stop
// during the upload leaves no set and no incomplete multipart upload; wrong
// credentials and a missing bucket are clear errors.

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/s3_client.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"
#include "tests/rgw_test_util.h"

namespace jetback::testing {
namespace {

namespace fs = std::filesystem;
using Rows = std::map<std::string, std::string>;

class S3BackupTest : public ::testing::Test {
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
    bucket_ = TestBucketName();
    absl::Status made = s3_.CreateBucket(bucket_);
    ASSERT_TRUE(made.ok()) << made;
    repo_ = absl::StrCat("s3://", bucket_, "/fleet");
  }

  CliResult Cli(std::vector<std::string> args, const std::string& server = "",
                std::vector<std::string> env = RgwEnvStrings()) {
    args.insert(args.begin(), {"--server", server.empty() ? server_ : server});
    return RunCli(dir_.path(), args, env);
  }

  std::string Path(const std::string& name) { return dir_.path() + "/" + name; }

  void Put(const Rows& rows) {
    std::vector<v1::Operation> ops;
    for (const auto& [k, v] : rows) {
      v1::Operation op;
      op.set_kind(v1::Operation::KIND_PUT);
      op.set_table("t");
      op.set_key(k);
      op.set_value(v);
      ops.push_back(op);
    }
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

  // Serves the restored databases from a second daemon; rows of table "t".
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
    Rows rows;
    for (absl::string_view line :
         absl::StrSplit(scan.out, '\n', absl::SkipEmpty())) {
      std::vector<std::string> kv =
          absl::StrSplit(line, absl::MaxSplits('\t', 1));
      if (kv.size() == 2) rows[kv[0]] = kv[1];
    }
    return rows;
  }

  // The "id" fields of `sets list --output json`.
  std::vector<std::string> ListedIds() {
    CliResult list = Cli({"--output", "json", "sets", "list", "--repo", repo_});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    std::vector<std::string> ids;
    std::regex id_re("\"id\":\"([^\"]*)\"");
    for (auto it =
             std::sregex_iterator(list.out.begin(), list.out.end(), id_re);
         it != std::sregex_iterator(); ++it) {
      ids.push_back((*it)[1]);
    }
    return ids;
  }

  bool BackupRunning() {
    auto status = client_->GetBackupStatus("demo");
    return status.ok() && status->phase() != v1::BACKUP_PHASE_NONE;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::string server_;
  std::unique_ptr<Client> client_;
  S3Client s3_{RgwConfig()};
  std::string bucket_, repo_;
};

TEST_F(S3BackupTest, FullAndIncrementalToBucketListVerifyRestore) {
  Rows rows = Batch("a", 40);
  Put(rows);
  CliResult full = Cli({"backup", "--instance", "demo", "--repo", repo_,
                        "--host", "host-a", "--truncate-logs"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_TRUE(absl::StrContains(
      full.out, absl::StrCat("saved at s3://", bucket_, "/fleet/host-a/demo/")))
      << full.out;
  Rows more = Batch("b", 25);
  Put(more);
  rows.insert(more.begin(), more.end());
  CliResult inc = Cli({"backup", "--instance", "demo", "--repo", repo_,
                       "--host", "host-a", "--incremental"});
  ASSERT_EQ(inc.exit_code, 0) << inc.err;
  Put({{"after-backups", "x"}});  // must not come back

  std::vector<std::string> ids = ListedIds();
  ASSERT_EQ(ids.size(), 2u);
  // Same second or not, "full" sorts before "incremental" only by time;
  // find each by its kind suffix.
  std::string full_id, inc_id;
  for (const std::string& id : ids) {
    EXPECT_TRUE(absl::StartsWith(id, "host-a/demo/")) << id;
    (absl::EndsWith(id, "-full") ? full_id : inc_id) = id;
  }
  ASSERT_TRUE(absl::EndsWith(full_id, "-full")) << full_id;
  ASSERT_TRUE(absl::EndsWith(inc_id, "-incremental")) << inc_id;
  CliResult json = Cli({"--output", "json", "sets", "list", "--repo", repo_});
  EXPECT_TRUE(absl::StrContains(
      json.out, absl::StrCat("\"base_full\":\"", full_id, "\"")))
      << json.out;  // the incremental's chain starts at the full
  CliResult text = Cli({"sets", "list", "--repo", repo_, "--host", "host-a"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(absl::StrContains(text.out, full_id)) << text.out;
  CliResult other = Cli({"sets", "list", "--repo", repo_, "--host", "host-b"});
  EXPECT_EQ(other.exit_code, 0) << other.err;
  EXPECT_FALSE(absl::StrContains(other.out, full_id)) << other.out;

  CliResult verify = Cli({"verify", "--deep", "--repo", repo_, full_id});
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;
  CliResult verify_inc = Cli({"verify", "--repo", repo_, inc_id});
  EXPECT_EQ(verify_inc.exit_code, 0) << verify_inc.err << verify_inc.out;

  CliResult restore = Cli({"restore", "--repo", repo_, full_id, "--incremental",
                           inc_id, "--to", Path("restored")});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(RowsOfRestored(Path("restored")), rows);

  // No multipart upload was left behind by any of it.
  auto uploads = s3_.ListMultipartUploads(bucket_, "");
  ASSERT_TRUE(uploads.ok()) << uploads.status();
  EXPECT_TRUE(uploads->empty());
}

TEST_F(S3BackupTest, StopDuringUploadLeavesNoSetAndNoUpload) {
  // ~12 MiB of database: parts of 5 MiB, paced at 2 MiB/s so the stop
  // lands seconds before the file ends.
  for (int batch = 0; batch < 60; ++batch) {
    Put(Batch(absl::StrCat("big", batch, "-"), 50, 4000));
  }
  CliProcess backup(
      dir_.path(),
      {"--server", server_, "backup", "--instance", "demo", "--repo", repo_,
       "--part-size", "5", "--max-rate", "2097152"},
      RgwEnvStrings());
  // A real multipart upload in progress: the first part went out.
  ASSERT_TRUE(WaitUntil([&] {
    auto uploads = s3_.ListMultipartUploads(bucket_, "fleet/");
    return uploads.ok() && !uploads->empty();
  }));
  CliResult stop = Cli({"stop", "--instance", "demo", "--reason", "s3 test"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  CliResult result = backup.Wait();
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "s3 test")) << result.err;

  auto uploads = s3_.ListMultipartUploads(bucket_, "");
  ASSERT_TRUE(uploads.ok()) << uploads.status();
  EXPECT_TRUE(uploads->empty()) << uploads->size() << " incomplete uploads";
  auto objects = s3_.ListObjects(bucket_, "");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_TRUE(objects->empty())
      << objects->size() << " objects, first " << (*objects)[0].key;
  EXPECT_TRUE(ListedIds().empty());
  EXPECT_FALSE(BackupRunning());
}

TEST_F(S3BackupTest, WrongSecretAndMissingBucketAreClearErrors) {
  std::vector<std::string> env = RgwEnvStrings();
  for (std::string& e : env) {
    if (absl::StartsWith(e, "AWS_SECRET_ACCESS_KEY=")) {
      e = "AWS_SECRET_ACCESS_KEY=wrong";
    }
  }
  CliResult wrong =
      Cli({"backup", "--instance", "demo", "--repo", repo_}, "", env);
  EXPECT_EQ(wrong.exit_code, 2) << wrong.err;
  EXPECT_TRUE(absl::StrContains(wrong.err, "SignatureDoesNotMatch"))
      << wrong.err;
  EXPECT_TRUE(absl::StrContains(wrong.err, "-1907")) << wrong.err;
  EXPECT_FALSE(BackupRunning());

  CliResult missing = Cli({"backup", "--instance", "demo", "--repo",
                           absl::StrCat("s3://", bucket_, "-none/x")});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.err, "NoSuchBucket")) << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.err, bucket_ + "-none")) << missing.err;
  EXPECT_FALSE(BackupRunning());

  auto objects = s3_.ListObjects(bucket_, "");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_TRUE(objects->empty());
}

TEST_F(S3BackupTest, CtrlCDuringUploadLeavesNoSetAndNoUpload) {
  for (int batch = 0; batch < 60; ++batch) {
    Put(Batch(absl::StrCat("big", batch, "-"), 50, 4000));
  }
  CliProcess backup(
      dir_.path(),
      {"--server", server_, "backup", "--instance", "demo", "--repo", repo_,
       "--part-size", "5", "--max-rate", "2097152"},
      RgwEnvStrings());
  ASSERT_TRUE(WaitUntil([&] {
    auto uploads = s3_.ListMultipartUploads(bucket_, "fleet/");
    return uploads.ok() && !uploads->empty();
  }));
  backup.Signal(SIGINT);
  CliResult result = backup.Wait();
  EXPECT_EQ(result.exit_code, 130) << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "EndBackup(abort)")) << result.err;
  auto uploads = s3_.ListMultipartUploads(bucket_, "");
  ASSERT_TRUE(uploads.ok()) << uploads.status();
  EXPECT_TRUE(uploads->empty()) << uploads->size() << " incomplete uploads";
  auto objects = s3_.ListObjects(bucket_, "");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_TRUE(objects->empty());
  EXPECT_FALSE(BackupRunning());
}

TEST_F(S3BackupTest, SetsUploadsListsAndAbortsStaleUploads) {
  // What a backup cut off from the store leaves: an upload with a part.
  auto id = s3_.CreateMultipartUpload(bucket_, "fleet/h/demo/x-full/demo.edb");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(s3_.UploadPart(bucket_, "fleet/h/demo/x-full/demo.edb", *id, 1,
                             "part one")
                  .ok());
  auto outside = s3_.CreateMultipartUpload(bucket_, "elsewhere/object");
  ASSERT_TRUE(outside.ok()) << outside.status();

  CliResult listed = Cli({"sets", "uploads", "--repo", repo_});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(absl::StrContains(listed.out, "fleet/h/demo/x-full/demo.edb"))
      << listed.out;
  EXPECT_FALSE(absl::StrContains(listed.out, "elsewhere")) << listed.out;

  CliResult aborted = Cli({"sets", "uploads", "--repo", repo_, "--abort"});
  EXPECT_EQ(aborted.exit_code, 0) << aborted.err;
  auto left = s3_.ListMultipartUploads(bucket_, "");
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 1u);  // only the one outside the repository
  EXPECT_EQ((*left)[0].key, "elsewhere/object");
  EXPECT_TRUE(
      s3_.AbortMultipartUpload(bucket_, "elsewhere/object", *outside).ok());
}

TEST_F(S3BackupTest, EndpointFlagStandsInForTheVariable) {
  std::vector<std::string> env;
  std::string endpoint;
  for (const std::string& e : RgwEnvStrings()) {
    if (absl::StartsWith(e, "AWS_ENDPOINT_URL=")) {
      endpoint = e.substr(e.find('=') + 1);
    } else {
      env.push_back(e);
    }
  }
  CliResult with_flag =
      Cli({"sets", "list", "--repo", repo_, "--endpoint", endpoint}, "", env);
  EXPECT_EQ(with_flag.exit_code, 0) << with_flag.err;
  CliResult without = Cli({"sets", "list", "--repo", repo_}, "", env);
  EXPECT_NE(without.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(without.err, "AWS_ENDPOINT_URL is not set"))
      << without.err;
}

TEST_F(S3BackupTest, ProfileFilesGiveKeysRegionAndEndpoint) {
  std::map<std::string, std::string> rgw = RgwEnv();
  fs::create_directories(Path("aws"));
  {
    std::ofstream credentials(Path("aws/credentials"));
    credentials << "[default]\naws_access_key_id = nobody\n\n[jb]\n"
                << "aws_access_key_id = " << rgw["AWS_ACCESS_KEY_ID"] << "\n"
                << "aws_secret_access_key = " << rgw["AWS_SECRET_ACCESS_KEY"]
                << "\n";
    std::ofstream config(Path("aws/config"));
    config << "[profile jb]\nregion = " << rgw["AWS_REGION"]
           << "\nendpoint_url = " << rgw["AWS_ENDPOINT_URL"] << "\n";
  }
  std::vector<std::string> env = {
      "AWS_SHARED_CREDENTIALS_FILE=" + Path("aws/credentials"),
      "AWS_CONFIG_FILE=" + Path("aws/config"), "AWS_PROFILE=jb"};
  CliResult listed = Cli({"sets", "list", "--repo", repo_}, "", env);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  // The default profile has no secret: the message says where it looked.
  env.back() = "AWS_PROFILE=default";
  env.push_back("AWS_ENDPOINT_URL=" + rgw["AWS_ENDPOINT_URL"]);
  CliResult missing = Cli({"sets", "list", "--repo", repo_}, "", env);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(
      absl::StrContains(missing.err, "AWS_SECRET_ACCESS_KEY is not set"))
      << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.err, Path("aws/credentials")))
      << missing.err;
}

// A cluster of its own (the shared one must survive): radosgw SIGKILLed
// while a part is in flight.
TEST_F(S3BackupTest, RadosgwKilledMidUploadIsAClearError) {
  for (int batch = 0; batch < 60; ++batch) {
    Put(Batch(absl::StrCat("big", batch, "-"), 50, 4000));
  }
  const std::string cluster = Path("rgw2");
  const std::string script = JETBACK_RGW_CLUSTER;
  ASSERT_EQ(
      std::system((script + " start " + cluster + " 17490 >/dev/null").c_str()),
      0);
  struct StopCluster {
    std::string cmd;
    ~StopCluster() { std::system(cmd.c_str()); }
  } stop_cluster{script + " stop " + cluster};
  std::vector<std::string> env = RgwEnvStrings();
  for (std::string& e : env) {
    if (absl::StartsWith(e, "AWS_ENDPOINT_URL=")) {
      e = "AWS_ENDPOINT_URL=http://127.0.0.1:17490";
    }
  }
  S3Config config = RgwConfig();
  config.endpoint = "http://127.0.0.1:17490";
  S3Client s3(config);
  ASSERT_TRUE(s3.CreateBucket("killed").ok());

  CliProcess backup(
      dir_.path(),
      {"--server", server_, "backup", "--instance", "demo", "--repo",
       "s3://killed/fleet", "--part-size", "5", "--max-rate", "2097152"},
      env);
  ASSERT_TRUE(WaitUntil([&] {
    auto uploads = s3.ListMultipartUploads("killed", "fleet/");
    return uploads.ok() && !uploads->empty();
  }));
  const pid_t rgw = std::stoi(ReadFileOrEmpty(cluster + "/run/client.rgw.pid"));
  ASSERT_EQ(::kill(rgw, SIGKILL), 0);
  CliResult result = backup.Wait();
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "-1022")) << result.err;
  EXPECT_TRUE(absl::StrContains(
      result.err, "S3 endpoint http://127.0.0.1:17490 unreachable"))
      << result.err;
  EXPECT_FALSE(BackupRunning());  // ended on the daemon all the same
}

// The same commands against a directory repository (file:///DIR).
TEST_F(S3BackupTest, DirectoryRepositoryBackupListVerifyRestoreDelete) {
  Rows rows = Batch("d", 30);
  Put(rows);
  const std::string repo = "file://" + Path("repo");
  CliResult full =
      Cli({"backup", "--instance", "demo", "--repo", repo, "--host", "h1"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  CliResult list = Cli({"--output", "json", "sets", "list", "--repo", repo});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(list.out, m,
                                std::regex("\"id\":\"(h1/demo/[^\"]*-full)\"")))
      << list.out;
  const std::string id = m[1];
  EXPECT_TRUE(fs::exists(Path("repo/" + id + "/manifest.json")));
  CliResult verify = Cli({"verify", "--deep", "--repo", repo, id});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  CliResult restore =
      Cli({"restore", "--repo", Path("repo"), id, "--to", Path("restored")});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(RowsOfRestored(Path("restored")), rows);
  CliResult del = Cli({"sets", "delete", "--repo", repo, id});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_FALSE(fs::exists(Path("repo/" + id)));
  CliResult gone = Cli({"verify", "--repo", repo, id});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(gone.err, "-1811")) << gone.err;
}

}  // namespace
}  // namespace jetback::testing
