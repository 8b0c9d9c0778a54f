// The C++ client against a real jetbackd: exact JET_ERR results (with the
// reason and initiator of a stop), ReadFile by offset, and a whole backup.

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "jetback/status.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

// The absl::Status overload (daemon_test_util has a grpc::Status one).
using ::jetback::JetErrOf;

class ClientApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = DaemonProcess::Start(dir_.path(), DaemonConfig(dir_.path()));
    ASSERT_NE(daemon_, nullptr);
    ClientOptions options;
    options.server = "unix:" + daemon_->socket_path();
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    v1::Operation op;
    op.set_kind(v1::Operation::KIND_PUT);
    op.set_table("t");
    op.set_key("k");
    op.set_value(std::string(3000, 'v'));
    ASSERT_TRUE(client_->Transact("demo", "", {op}).ok());
  }

  // Reads [offset, offset+length) of an open file into a string.
  std::string Read(const BackupRef& b, uint64_t offset, uint64_t length,
                   ReadFileResult* result = nullptr) {
    std::string data;
    auto read = client_->ReadFile(b, 0, offset, length,
                                  [&](uint64_t, absl::string_view chunk) {
                                    data.append(chunk.data(), chunk.size());
                                    return absl::OkStatus();
                                  });
    EXPECT_TRUE(read.ok()) << read.status();
    if (result != nullptr && read.ok()) *result = *read;
    return data;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientApiTest, ExactJetErrs) {
  EXPECT_EQ(JetErrOf(client_->BeginBackup("nosuch", 0).status()),
            jet::JET_errInvalidParameter);
  EXPECT_EQ(JetErrOf(client_->BeginBackup("demo", 0x10).status()),
            jet::JET_errInvalidGrbit);
  EXPECT_EQ(JetErrOf(client_->GetAttachInfo({"demo", "bogus"}).status()),
            jet::JET_errNoBackup);
  auto begun = client_->BeginBackup("demo", 0);
  ASSERT_TRUE(begun.ok()) << begun.status();
  EXPECT_EQ(JetErrOf(client_->BeginBackup("demo", 0).status()),
            jet::JET_errBackupInProgress);
  const BackupRef b{"demo", begun->backup_id()};
  EXPECT_EQ(JetErrOf(client_->GetAttachInfo({"demo", "other-id"}).status()),
            jet::JET_errNoBackup);
  EXPECT_EQ(JetErrOf(client_->EndBackup(b, 0).status()),
            jet::JET_errInvalidParameter);
  EXPECT_EQ(JetErrOf(client_->OpenFile(b, "").status()),
            jet::JET_errInvalidParameter);
  EXPECT_EQ(JetErrOf(client_->CloseFile(b, 0).status()),
            jet::JET_errInvalidParameter);
  EXPECT_EQ(JetErrOf(client_->TruncateLog(b).status()),
            jet::JET_errInvalidBackupSequence);

  auto dbs = client_->GetAttachInfo(b);
  ASSERT_TRUE(dbs.ok());
  ASSERT_FALSE(dbs->empty());
  ASSERT_TRUE(client_->OpenFile(b, dbs->front()).ok());
  EXPECT_EQ(JetErrOf(client_->OpenFile(b, dbs->front()).status()),
            jet::JET_errOutOfMemory);

  auto stopped = client_->StopBackup("demo", "disk swap");
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE(stopped->backup_was_running());
  auto read = client_->ReadFile(
      b, 0, 0, 0, [](uint64_t, absl::string_view) { return absl::OkStatus(); });
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(JetErrOf(read.status()), jet::JET_errBackupAbortByServer);
  EXPECT_EQ(JetReasonOf(read.status()), "disk swap");
  EXPECT_FALSE(JetInitiatorOf(read.status()).empty());
  EXPECT_FALSE(IsTransportError(read.status()));
  EXPECT_EQ(JetErrOf(client_->GetLogInfo(b).status()),
            jet::JET_errBackupAbortByServer);
  EXPECT_TRUE(client_->CloseFile(b, 0).ok());
  auto ended = client_->EndBackup(b, 0x1);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->outcome(), v1::BACKUP_OUTCOME_ABORTED);
  EXPECT_EQ(ended->abort_jet_err(), jet::JET_errBackupAbortByServer);
  EXPECT_EQ(ended->reason(), "disk swap");
  EXPECT_EQ(JetErrOf(client_->StopBackup("nosuch", "").status()),
            jet::JET_errInvalidParameter);
}

TEST_F(ClientApiTest, WholeBackupAndReadsByOffset) {
  auto begun = client_->BeginBackup("demo", 0, "client_api_test");
  ASSERT_TRUE(begun.ok()) << begun.status();
  const BackupRef b{"demo", begun->backup_id()};
  auto status = client_->GetBackupStatus("demo");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->backup_id(), b.backup_id);
  EXPECT_EQ(status->client_name(), "client_api_test");
  auto listed = client_->ListBackups();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);

  auto dbs = client_->GetAttachInfo(b);
  ASSERT_TRUE(dbs.ok());
  for (const std::string& db : *dbs) {
    auto opened = client_->OpenFile(b, db);
    ASSERT_TRUE(opened.ok()) << opened.status();
    const uint64_t page = opened->page_size();
    ReadFileResult whole_result;
    const std::string whole = Read(b, 0, 0, &whole_result);
    EXPECT_EQ(whole.size(), opened->size());
    EXPECT_TRUE(whole_result.reached_end);
    EXPECT_EQ(whole_result.xxh3_128.size(), 16u);
    EXPECT_TRUE(whole_result.sha256.empty());  // not asked for
    // Any page-aligned range can be read again. Pages may have been flushed
    // in between (the copy is fuzzy, as ESE's is), so compare lengths and
    // the trailer page, which is built once and cached.
    EXPECT_EQ(Read(b, 3 * page, 2 * page).size(), 2 * page);
    const std::string tail = Read(b, 2 * page, 0);
    ASSERT_EQ(tail.size(), whole.size() - 2 * page);
    EXPECT_EQ(tail.substr(tail.size() - page),
              whole.substr(whole.size() - page));
    auto misaligned = client_->ReadFile(
        b, 0, page + 1, 0,
        [](uint64_t, absl::string_view) { return absl::OkStatus(); });
    EXPECT_EQ(JetErrOf(misaligned.status()), jet::JET_errInvalidParameter);
    auto closed = client_->CloseFile(b, 0);
    ASSERT_TRUE(closed.ok());
    EXPECT_TRUE(closed->complete());
  }
  auto logs = client_->GetLogInfo(b);
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(logs->files_size(),
            static_cast<int>(logs->gen_high() - logs->gen_low() + 1));
  for (const std::string& log : logs->files()) {
    auto opened = client_->OpenFile(b, log);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_TRUE(opened->is_log());
    EXPECT_EQ(Read(b, 0, 0).size(), opened->size());
    ASSERT_TRUE(client_->CloseFile(b, 0).ok());
  }
  auto truncate_info = client_->GetTruncateLogInfo(b);
  ASSERT_TRUE(truncate_info.ok());
  ASSERT_TRUE(client_->TruncateLog(b).ok());
  auto ended = client_->EndBackup(b, 0x1);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->outcome(), v1::BACKUP_OUTCOME_SUCCEEDED);
  EXPECT_EQ(ended->slot(), v1::BACKUP_SLOT_FULL);

  auto instances = client_->ListInstances();
  ASSERT_TRUE(instances.ok());
  ASSERT_EQ(instances->size(), 1u);
  ASSERT_GE(instances->front().databases_size(), 1);
  EXPECT_EQ(instances->front().databases(0).full_gen_low(), logs->gen_low());
  auto health = client_->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
}

TEST_F(ClientApiTest, ReadFileResumesAfterTransportBreak) {
  // A database of several chunks (the test daemon sends 64 KiB chunks).
  for (int batch = 0; batch < 4; ++batch) {
    std::vector<v1::Operation> ops;
    for (int i = 0; i < 50; ++i) {
      v1::Operation op;
      op.set_kind(v1::Operation::KIND_PUT);
      op.set_table("t");
      op.set_key(absl::StrCat("r", batch, "-", i));
      op.set_value(std::string(4000, static_cast<char>('a' + i % 26)));
      ops.push_back(op);
    }
    ASSERT_TRUE(client_->Transact("demo", "", ops).ok());
  }
  auto begun = client_->BeginBackup("demo", 0);
  ASSERT_TRUE(begun.ok());
  const BackupRef b{"demo", begun->backup_id()};
  auto dbs = client_->GetAttachInfo(b);
  ASSERT_TRUE(dbs.ok());
  auto opened = client_->OpenFile(b, dbs->front());
  ASSERT_TRUE(opened.ok());
  ASSERT_GT(opened->size(), 4u * 65536);

  // The same backup through a proxy that breaks the connection once, after
  // the first chunk arrived.
  UnixProxy proxy(dir_.path() + "/proxy.sock", daemon_->socket_path());
  ClientOptions options;
  options.server = "unix:" + dir_.path() + "/proxy.sock";
  auto via_proxy = Client::Connect(options);
  ASSERT_TRUE(via_proxy.ok());
  std::string data;
  auto read = (*via_proxy)
                  ->ReadFile(
                      b, 0, 0, 0,
                      [&](uint64_t, absl::string_view chunk) {
                        data.append(chunk.data(), chunk.size());
                        if (proxy.cuts() == 0) proxy.CutAll();
                        return absl::OkStatus();
                      },
                      nullptr, ReadFileOptions{.sha256 = true});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_GE(read->resumes, 1);
  EXPECT_TRUE(read->reached_end);
  // Pages of a hot database may change between reads, so the stitched
  // stream is checked for completeness and order, not against an earlier
  // read: every byte once, the digest over exactly what was delivered, and
  // the daemon counts the file as copied.
  EXPECT_EQ(data.size(), opened->size());
  EXPECT_EQ(read->bytes, opened->size());
  EXPECT_EQ(read->sha256, Sha256(data));
  EXPECT_EQ(read->xxh3_128, Xxh3_128(data));
  const uint64_t page = opened->page_size();
  EXPECT_EQ(data.substr(0, page), data.substr(page, page));  // header copies
  auto closed = client_->CloseFile(b, 0);
  ASSERT_TRUE(closed.ok());
  EXPECT_TRUE(closed->complete());
  ASSERT_TRUE(client_->EndBackup(b, 0x2).ok());
}

TEST_F(ClientApiTest, DataRoundTrip) {
  auto value = client_->Get("demo", "", "t", "k");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, std::string(3000, 'v'));
  EXPECT_EQ(JetErrOf(client_->Get("demo", "", "t", "missing").status()),
            jet::JET_errRecordNotFound);
  EXPECT_EQ(JetErrOf(client_->Get("demo", "", "no_table", "k").status()),
            jet::JET_errObjectNotFound);
  v1::ScanRequest scan;
  scan.set_instance("demo");
  scan.set_table("t");
  int rows = 0;
  ASSERT_TRUE(client_
                  ->Scan(scan,
                         [&](const v1::Row& row) {
                           EXPECT_EQ(row.key(), "k");
                           ++rows;
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_EQ(rows, 1);
}

// The library's TCP + mutual TLS path end to end: a whole file read over
// TLS matches its digest; without a client certificate nothing gets through;
// TLS options on a Unix socket are a usage error.
TEST(ClientTlsTest, WholeFileOverMutualTlsAndRefusalsWithout) {
  TempDir dir;
  const std::string d = dir.path();
  ASSERT_TRUE(MakeTlsFiles(d, "test-agent"));
  DaemonConfigOptions config;
  config.tcp = "127.0.0.1:0";
  config.tables =
      absl::StrCat("[tls]\ncert = \"", d, "/localhost.pem\"\nkey = \"", d,
                   "/localhost.key\"\nclient_ca = \"", d, "/ca.pem\"\n");
  config.roles =
      absl::StrCat("read = [\"cert:test-agent\", \"uid:", ::getuid(),
                   "\"]\nstop = []\ndata = [\"uid:", ::getuid(), "\"]\n");
  auto daemon = DaemonProcess::Start(d, DaemonConfig(d, config));
  ASSERT_NE(daemon, nullptr);
  // The ready line names the port the TCP listener got.
  const std::string log = daemon->Log();
  const size_t at = log.find("tcp:127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << log;
  const size_t port_at = at + std::string("tcp:127.0.0.1:").size();
  const std::string port = log.substr(
      port_at, log.find_first_not_of("0123456789", port_at) - port_at);

  ClientOptions tls;
  // An IP literal: the certificate names it too, and no resolver (c-ares)
  // gets involved.
  tls.server = "tcp:127.0.0.1:" + port;
  tls.tls_ca = d + "/ca.pem";
  tls.tls_cert = d + "/test-agent.pem";
  tls.tls_key = d + "/test-agent.key";
  auto client = Client::Connect(tls);
  ASSERT_TRUE(client.ok()) << client.status();
  auto begun = (*client)->BeginBackup("demo", 0, "tls test");
  ASSERT_TRUE(begun.ok()) << begun.status();
  const BackupRef b{"demo", begun->backup_id()};
  auto dbs = (*client)->GetAttachInfo(b);
  ASSERT_TRUE(dbs.ok() && !dbs->empty());
  auto opened = (*client)->OpenFile(b, dbs->front());
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::string data;
  auto read = (*client)->ReadFile(b, opened->handle(), 0, 0,
                                  [&](uint64_t, absl::string_view piece) {
                                    data.append(piece.data(), piece.size());
                                    return absl::OkStatus();
                                  });
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(data.size(), opened->size());
  EXPECT_EQ(read->xxh3_128, Xxh3_128(data));
  ASSERT_TRUE((*client)->CloseFile(b, opened->handle()).ok());
  ASSERT_TRUE((*client)->EndBackup(b, 0x2).ok());  // abort: only a test

  ClientOptions no_cert = tls;
  no_cert.tls_cert.clear();
  no_cert.tls_key.clear();
  auto anonymous = Client::Connect(no_cert);
  ASSERT_TRUE(anonymous.ok());
  absl::Status refused = (*anonymous)->ListBackups().status();
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(IsTransportError(refused)) << refused;

  ClientOptions unix_tls = tls;
  unix_tls.server = "unix:" + daemon->socket_path();
  EXPECT_EQ(JetErrOf(Client::Connect(unix_tls).status()),
            jet::JET_errInvalidParameter);
}

}  // namespace
}  // namespace jetback::testing
