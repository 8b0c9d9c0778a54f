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
#include "client/repo/repository.h"
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
                std::vector<std::string> env = {}) {
    args.insert(args.begin(), {"--server", server.empty() ? server_ : server});
    return RunCli(dir_.path(), args, env.empty() ? env_ : env);
  }

  void ChainRoundTrip(const std::string& repo,
                      const std::vector<std::string>& flags);

  // Set names have one-second resolution: two backups of one kind, host
  // and instance need different seconds.
  static void AwaitNextSecond() {
    const std::string now = repo::NewSetName("x");
    ASSERT_TRUE(WaitUntil([&] { return repo::NewSetName("x") != now; }));
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
  std::vector<std::string> ListedIds(const std::string& repo = "") {
    CliResult list = Cli({"--output", "json", "sets", "list", "--repo",
                          repo.empty() ? repo_ : repo});
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
  std::vector<std::string> env_ = RgwEnvStrings();  // of the CLI
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
  // lands seconds before the file ends (uncompressed: these rows would
  // shrink below one part).
  for (int batch = 0; batch < 60; ++batch) {
    Put(Batch(absl::StrCat("big", batch, "-"), 50, 4000));
  }
  CliProcess backup(
      dir_.path(),
      {"--server", server_, "backup", "--instance", "demo", "--repo", repo_,
       "--part-size", "5", "--max-rate", "2097152", "--compress", "none"},
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
       "--part-size", "5", "--max-rate", "2097152", "--compress", "none"},
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

  CliProcess backup(dir_.path(),
                    {"--server", server_, "backup", "--instance", "demo",
                     "--repo", "s3://killed/fleet", "--part-size", "5",
                     "--max-rate", "2097152", "--compress", "none"},
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

// Writes the repository key files the encryption tests use.
std::string WriteKeyFile(const std::string& path, const std::string& hex) {
  std::ofstream(path) << hex << "\n";
  return path;
}

const char kKeyA[] =
    "6a65746261636b2d746573742d6b65792d612d33322d62797465732d2d2d2d2d";
const char kKeyB[] =
    "6a6574626163562d746573742d6b65792d622d33322d62797465732d2d2d2d2d";

// Full, incremental, incremental into `repo`; each incremental records the
// set it continues, and `restore --repo URL --set LAST` finds the chain.
// Run with compression (the default) and encryption on.
void S3BackupTest::ChainRoundTrip(const std::string& repo,
                                  const std::vector<std::string>& flags) {
  Rows rows = Batch("c", 40, 300);
  Put(rows);
  std::vector<std::string> full_args = {
      "--output", "json", "backup", "--instance", "demo",
      "--repo",   repo,   "--host", "h",          "--truncate-logs"};
  full_args.insert(full_args.end(), flags.begin(), flags.end());
  CliResult full = Cli(full_args);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  std::vector<std::string> inc_ids;
  for (int i = 0; i < 2; ++i) {
    if (i > 0) AwaitNextSecond();
    Rows more = Batch(absl::StrCat("inc", i, "-"), 20, 300);
    Put(more);
    rows.insert(more.begin(), more.end());
    std::vector<std::string> args = {
        "--output",       "json", "backup", "--instance", "demo",
        "--repo",         repo,   "--host", "h",          "--incremental",
        "--truncate-logs"};
    args.insert(args.end(), flags.begin(), flags.end());
    CliResult inc = Cli(args);
    ASSERT_EQ(inc.exit_code, 0) << inc.err;
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(inc.out, m, std::regex("\"set\":\"([^\"]*)\"")))
        << inc.out;
    inc_ids.push_back(m[1]);
  }
  Put({{"after-backups", "x"}});  // must not come back
  std::vector<std::string> ids = ListedIds(repo);
  ASSERT_EQ(ids.size(), 3u);
  std::vector<std::string> key_flags;  // what verify and restore take
  for (size_t i = 0; i + 1 < flags.size(); i += 2) {
    if (flags[i] == "--key-file") key_flags = {flags[i], flags[i + 1]};
  }

  std::vector<std::string> restore = {
      "restore", "--repo", repo, "--set", inc_ids[1], "--to", Path("restored")};
  restore.insert(restore.end(), key_flags.begin(), key_flags.end());
  CliResult restored = Cli(restore);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_TRUE(absl::StrContains(restored.out, "(3 sets")) << restored.out;
  EXPECT_EQ(RowsOfRestored(Path("restored")), rows);

  std::vector<std::string> verify = {"verify", "--deep", "--repo", repo,
                                     ids[0]};
  verify.insert(verify.end(), key_flags.begin(), key_flags.end());
  CliResult verified = Cli(verify);
  EXPECT_EQ(verified.exit_code, 0) << verified.err << verified.out;
}

TEST_F(S3BackupTest, IncrementalSetRestoresItsChainFromTheBucket) {
  ChainRoundTrip(repo_, {});
  // Stored compressed by default: the manifest says so.
  auto objects = s3_.ListObjects(bucket_, "fleet/h/demo/");
  ASSERT_TRUE(objects.ok()) << objects.status();
  int manifests = 0;
  for (const S3Object& o : *objects) {
    if (!absl::EndsWith(o.key, "/manifest.json")) continue;
    ++manifests;
    auto json = s3_.GetObject(bucket_, o.key);
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_TRUE(absl::StrContains(*json, "\"codec\": \"zstd\"")) << *json;
    if (absl::StrContains(o.key, "-incremental/")) {
      EXPECT_TRUE(absl::StrContains(*json, "\"base_set\": \"h/demo/")) << *json;
    }
  }
  EXPECT_EQ(manifests, 3);
}

TEST_F(S3BackupTest, IncrementalSetRestoresItsChainFromADirectory) {
  ChainRoundTrip(Path("repo"), {});
}

TEST_F(S3BackupTest, EncryptedCompressedChainRoundTripsInTheBucket) {
  ChainRoundTrip(repo_, {"--key-file", WriteKeyFile(Path("a.key"), kKeyA),
                         "--compress", "zstd:3"});
}

TEST_F(S3BackupTest, EncryptedCompressedChainRoundTripsInADirectory) {
  // The key from the environment this time.
  std::vector<std::string> env = RgwEnvStrings();
  env.push_back(absl::StrCat("JETBACK_REPO_KEY=", kKeyA));
  env_ = env;
  ChainRoundTrip(Path("repo"), {});
  // Without the key: refused, naming the key id, nothing restored.
  env_ = RgwEnvStrings();
  std::vector<std::string> ids = ListedIds(Path("repo"));
  CliResult no_key = Cli({"restore", "--repo", Path("repo"), "--set", ids[0],
                          "--to", Path("nokey")});
  EXPECT_EQ(no_key.exit_code, 2) << no_key.err;
  EXPECT_TRUE(absl::StrContains(no_key.err, "-1907")) << no_key.err;
  EXPECT_FALSE(fs::exists(Path("nokey")));
}

// Damage to an encrypted set in the bucket: each row one way, each refused
// with -1018 naming the file, and nothing restored.
TEST_F(S3BackupTest, TamperedTruncatedSwappedAndWrongKeyAreRefused) {
  Put(Batch("t", 40, 300));
  const std::string key_a = WriteKeyFile(Path("a.key"), kKeyA);
  CliResult full = Cli({"--output", "json", "backup", "--instance", "demo",
                        "--repo", repo_, "--host", "h", "--key-file", key_a});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(full.out, m, std::regex("\"set\":\"([^\"]*)\"")));
  const std::string id = m[1];
  const std::string prefix = absl::StrCat("fleet/", id, "/");
  auto objects = s3_.ListObjects(bucket_, prefix);
  ASSERT_TRUE(objects.ok()) << objects.status();
  std::string db, log;
  for (const S3Object& o : *objects) {
    if (absl::EndsWith(o.key, ".edb")) db = o.key;
    if (absl::EndsWith(o.key, ".log")) log = o.key;
  }
  ASSERT_FALSE(db.empty());
  ASSERT_FALSE(log.empty());
  const std::string db_bytes = *s3_.GetObject(bucket_, db);
  const std::string log_bytes = *s3_.GetObject(bucket_, log);
  auto name_of = [](const std::string& key) {
    return key.substr(key.rfind('/') + 1);
  };

  struct Row {
    std::string name;
    std::function<void()> damage;
    std::string key_file;
    std::string expect;  // in stderr
  };
  const std::string key_b = WriteKeyFile(Path("b.key"), kKeyB);
  std::vector<Row> rows = {
      {"flipped byte",
       [&] {
         std::string s = db_bytes;
         s[s.size() / 2] ^= 0x10;
         ASSERT_TRUE(s3_.PutObject(bucket_, db, s).ok());
       },
       key_a, absl::StrCat("-1018): s3://", bucket_, "/", db)},
      {"truncated",
       [&] {
         ASSERT_TRUE(s3_.PutObject(bucket_, db,
                                   db_bytes.substr(0, db_bytes.size() - 20))
                         .ok());
       },
       key_a, name_of(db)},
      {"swapped",
       [&] {
         ASSERT_TRUE(s3_.PutObject(bucket_, db, log_bytes).ok());
         ASSERT_TRUE(s3_.PutObject(bucket_, log, db_bytes).ok());
       },
       key_a, "authentication failed"},
      {"wrong key", [] {}, key_b, "was encrypted with key id"},
  };
  int n = 0;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    ASSERT_TRUE(s3_.PutObject(bucket_, db, db_bytes).ok());
    ASSERT_TRUE(s3_.PutObject(bucket_, log, log_bytes).ok());
    row.damage();
    const std::string to = Path(absl::StrCat("to", ++n));
    CliResult restore = Cli({"restore", "--repo", repo_, "--set", id, "--to",
                             to, "--key-file", row.key_file});
    EXPECT_EQ(restore.exit_code, 2) << restore.err;
    EXPECT_TRUE(absl::StrContains(restore.err, row.expect)) << restore.err;
    EXPECT_TRUE(absl::StrContains(restore.err,
                                  row.name == "wrong key" ? "-1907" : "-1018"))
        << restore.err;
    EXPECT_FALSE(fs::exists(to + "/" + name_of(db)));
    CliResult verify =
        Cli({"verify", "--repo", repo_, id, "--key-file", row.key_file});
    EXPECT_NE(verify.exit_code, 0) << verify.out;
  }
  // Undamaged, with the right key, it restores: the rows above were the
  // damage, not the set.
  ASSERT_TRUE(s3_.PutObject(bucket_, db, db_bytes).ok());
  ASSERT_TRUE(s3_.PutObject(bucket_, log, log_bytes).ok());
  CliResult ok = Cli({"restore", "--repo", repo_, "--set", id, "--to",
                      Path("good"), "--key-file", key_a});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

// Key rotation: sets made with the old key restore with it, new sets use
// the new key, and each refuses the other's key.
TEST_F(S3BackupTest, KeyRotationOldSetsRestoreWithTheOldKey) {
  Rows rows = Batch("r", 30, 200);
  Put(rows);
  const std::string key_a = WriteKeyFile(Path("a.key"), kKeyA);
  const std::string key_b = WriteKeyFile(Path("b.key"), kKeyB);
  const std::string repo = Path("repo");
  ASSERT_EQ(Cli({"backup", "--instance", "demo", "--repo", repo, "--host", "h",
                 "--key-file", key_a})
                .exit_code,
            0);
  std::vector<std::string> old_ids = ListedIds(repo);
  ASSERT_EQ(old_ids.size(), 1u);
  Rows more = Batch("s", 10, 200);
  Put(more);
  Rows all = rows;
  all.insert(more.begin(), more.end());
  AwaitNextSecond();
  ASSERT_EQ(Cli({"backup", "--instance", "demo", "--repo", repo, "--host", "h",
                 "--key-file", key_b})
                .exit_code,
            0);
  std::vector<std::string> ids = ListedIds(repo);
  ASSERT_EQ(ids.size(), 2u);
  CliResult old_wrong = Cli({"restore", "--repo", repo, "--set", ids[0], "--to",
                             Path("x"), "--key-file", key_b});
  EXPECT_EQ(old_wrong.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(
      old_wrong.err,
      absl::StrCat("set ", ids[0], " was encrypted with key id")))
      << old_wrong.err;
  CliResult old_ok = Cli({"restore", "--repo", repo, "--set", ids[0], "--to",
                          Path("old"), "--key-file", key_a});
  ASSERT_EQ(old_ok.exit_code, 0) << old_ok.err;
  EXPECT_EQ(RowsOfRestored(Path("old")), rows);
  CliResult new_ok = Cli({"restore", "--repo", repo, "--set", ids[1], "--to",
                          Path("new"), "--key-file", key_b});
  ASSERT_EQ(new_ok.exit_code, 0) << new_ok.err;
  EXPECT_EQ(RowsOfRestored(Path("new")), all);
}

// A set written before the codecs and base_set (format_version 1, none of
// the new fields) still verifies and restores, its incremental chain found
// by id order.
TEST_F(S3BackupTest, OldFormatSetsStillVerifyAndRestore) {
  Rows rows = Batch("o", 30, 200);
  Put(rows);
  const std::string repo = Path("repo");
  ASSERT_EQ(Cli({"backup", "--instance", "demo", "--repo", repo, "--host", "h",
                 "--compress", "none", "--truncate-logs"})
                .exit_code,
            0);
  Rows more = Batch("p", 10, 200);
  Put(more);
  rows.insert(more.begin(), more.end());
  ASSERT_EQ(Cli({"backup", "--instance", "demo", "--repo", repo, "--host", "h",
                 "--compress", "none", "--incremental"})
                .exit_code,
            0);
  std::vector<std::string> ids = ListedIds(repo);
  ASSERT_EQ(ids.size(), 2u);
  // Rewrite both manifests as the previous jetback wrote them.
  std::regex new_fields(
      "\\s*\"(base_set|codec|stored_size|stored_xxh3_128|manifest_mac)\": "
      "[^,\\n]*,?");
  for (const std::string& id : ids) {
    const std::string path = absl::StrCat(repo, "/", id, "/manifest.json");
    std::string json = ReadFileOrEmpty(path);
    ASSERT_TRUE(absl::StrContains(json, "\"format_version\": 2")) << json;
    json = std::regex_replace(json, new_fields, "");
    json = std::regex_replace(json, std::regex("\"format_version\": 2"),
                              "\"format_version\": 1");
    ASSERT_FALSE(absl::StrContains(json, "codec")) << json;
    std::ofstream(path, std::ios::trunc) << json;
  }
  CliResult verify = Cli({"verify", "--deep", "--repo", repo, ids[0]});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  CliResult restore = Cli(
      {"restore", "--repo", repo, "--set", ids[1], "--to", Path("restored")});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(RowsOfRestored(Path("restored")), rows);

  // Given a key, a set that is not encrypted is refused (nothing
  // authenticates it), in a repository and as a directory, unless
  // --allow-unencrypted says plain sets are expected.
  const std::string key = WriteKeyFile(Path("k.key"), kKeyA);
  for (const std::vector<std::string>& where :
       {std::vector<std::string>{"--repo", repo, "--set", ids[1]},
        std::vector<std::string>{absl::StrCat(repo, "/", ids[0])}}) {
    std::vector<std::string> args = {"restore"};
    args.insert(args.end(), where.begin(), where.end());
    args.insert(args.end(), {"--key-file", key, "--to", Path("refused")});
    CliResult refused = Cli(args);
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_TRUE(absl::StrContains(refused.err, "-1907")) << refused.err;
    EXPECT_TRUE(absl::StrContains(refused.err, "not encrypted")) << refused.err;
    EXPECT_FALSE(std::filesystem::exists(Path("refused/logs")));
    args.push_back("--allow-unencrypted");
    args[args.size() - 2] = Path(absl::StrCat("accepted", where.size()));
    CliResult accepted = Cli(args);
    ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
  }
}

// `backup --out DIR` stays plain by default; asked to, it compresses and
// encrypts, and `verify` / `restore DIR` decode it with the key.
TEST_F(S3BackupTest, OutDirectoryCompressedAndEncryptedVerifiesAndRestores) {
  Rows rows = Batch("u", 30, 300);
  Put(rows);
  const std::string key = WriteKeyFile(Path("a.key"), kKeyA);
  CliResult plain =
      Cli({"backup", "--instance", "demo", "--out", Path("plain")});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_FALSE(absl::StrContains(ReadFileOrEmpty(Path("plain/manifest.json")),
                                 "\"codec\": \"zstd\""));
  CliResult enc = Cli({"backup", "--instance", "demo", "--out", Path("enc"),
                       "--compress", "zstd:5", "--key-file", key});
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  const std::string manifest = ReadFileOrEmpty(Path("enc/manifest.json"));
  EXPECT_TRUE(absl::StrContains(manifest, "\"codec\": \"zstd\"")) << manifest;
  EXPECT_TRUE(absl::StrContains(manifest, "\"manifest_mac\": \"")) << manifest;
  EXPECT_FALSE(absl::StrContains(manifest, kKeyA));
  CliResult verify = Cli({"verify", "--deep", Path("enc"), "--key-file", key});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  CliResult no_key = Cli({"verify", Path("enc")});
  EXPECT_NE(no_key.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(no_key.err, "-1907")) << no_key.err;
  CliResult restore = Cli(
      {"restore", Path("enc"), "--to", Path("restored"), "--key-file", key});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(RowsOfRestored(Path("restored")), rows);
  // A flipped byte in a stored file: verify fails naming the file.
  std::string db_name;
  for (const auto& e : fs::directory_iterator(Path("enc"))) {
    if (e.path().extension() == ".edb") db_name = e.path().filename();
  }
  ASSERT_FALSE(db_name.empty());
  std::string bytes = ReadFileOrEmpty(Path("enc/" + db_name));
  bytes[bytes.size() / 3] ^= 0x04;
  std::ofstream(Path("enc/" + db_name), std::ios::binary | std::ios::trunc)
      << bytes;
  CliResult bad = Cli({"verify", Path("enc"), "--key-file", key});
  EXPECT_EQ(bad.exit_code, 5) << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, db_name)) << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "-1018")) << bad.err;
}

}  // namespace
}  // namespace jetback::testing
