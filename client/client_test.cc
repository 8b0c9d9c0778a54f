// Offline behaviour of the C++ client: address parsing, TLS option checks,
// and the documented JET_ERR of a bare transport failure. The daemon-facing
// calls are tested against a real jetbackd in tests/client_api_test.cc.

#include "jetback/client.h"

#include <stdlib.h>

#include "client/cli/output.h"
#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback {
namespace {

TEST(ClientTest, RejectsMalformedServerAddresses) {
  for (const char* server :
       {"localhost:1234", "unix:", "tcp:hostonly", "http://x:1"}) {
    ClientOptions options;
    options.server = server;
    auto client = Client::Connect(options);
    ASSERT_FALSE(client.ok()) << server;
    EXPECT_EQ(JetErrOf(client.status()), jet::JET_errInvalidParameter)
        << server;
  }
}

TEST(ClientTest, TlsOptionsAreChecked) {
  ClientOptions options;
  options.server = "unix:/tmp/x.sock";
  options.tls_ca = "/nonexistent/ca.pem";
  EXPECT_EQ(JetErrOf(Client::Connect(options).status()),
            jet::JET_errInvalidParameter);  // TLS on a unix socket

  options.server = "tcp:127.0.0.1:1";
  EXPECT_EQ(JetErrOf(Client::Connect(options).status()),
            jet::JET_errInvalidParameter);  // unreadable CA file

  options.tls_ca.clear();
  options.tls_cert = "/nonexistent/cert.pem";
  EXPECT_EQ(JetErrOf(Client::Connect(options).status()),
            jet::JET_errInvalidParameter);  // cert without key
}

TEST(ClientTest, UnreachableDaemonIsInstanceUnavailable) {
  ClientOptions options;
  options.server = "unix:/nonexistent-jetback-dir/jetbackd.sock";
  options.call_timeout = absl::Seconds(5);
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto instances = (*client)->ListInstances();
  ASSERT_FALSE(instances.ok());
  EXPECT_EQ(JetErrOf(instances.status()), jet::JET_errInstanceUnavailable);
  EXPECT_TRUE(IsTransportError(instances.status()));
  EXPECT_EQ(cli::ExitCodeFor(instances.status()), cli::kExitUnreachable);

  auto begun = (*client)->BeginBackup("demo", 0);
  EXPECT_EQ(JetErrOf(begun.status()), jet::JET_errInstanceUnavailable);
  auto read = (*client)->ReadFile(
      {"demo", "x"}, 0, 0, 0,
      [](uint64_t, absl::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(JetErrOf(read.status()), jet::JET_errInstanceUnavailable);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable);
}

TEST(ClientTest, DaemonAnswersAreNotTransportErrors) {
  absl::Status stopped =
      BackupStoppedStatus("00ff", "maintenance window", "uid:0");
  EXPECT_FALSE(IsTransportError(stopped));
  EXPECT_EQ(cli::ExitCodeFor(stopped), cli::kExitStopped);
  const std::string text = cli::DescribeError(stopped);
  // One line that says which backup, who and why, each once.
  EXPECT_EQ(text,
            "JET_errBackupAbortByServer (-801): backup 00ff stopped by "
            "uid:0: maintenance window")
      << text;
  // A status whose message lacks them still shows reason and initiator.
  const std::string bare = cli::DescribeError(JetStatusWithReason(
      jet::JET_errBackupAbortByServer, "stopped", "maintenance", "uid:0"));
  EXPECT_NE(bare.find("reason: maintenance"), std::string::npos) << bare;
  EXPECT_NE(bare.find("stopped by: uid:0"), std::string::npos) << bare;
  EXPECT_EQ(cli::ExitCodeFor(JetStatus(jet::JET_errInvalidParameter)),
            cli::kExitJetError);
}

TEST(ClientTest, DefaultServerFollowsStateDir) {
  const char* old = getenv("JETBACK_STATE_DIR");
  std::string saved = old != nullptr ? old : "";
  setenv("JETBACK_STATE_DIR", "/var/lib/jb", 1);
  EXPECT_EQ(DefaultServer(), "unix:/var/lib/jb/jetbackd.sock");
  unsetenv("JETBACK_STATE_DIR");
  EXPECT_EQ(DefaultServer(), "unix:./jetback-state/jetbackd.sock");
  if (old != nullptr) setenv("JETBACK_STATE_DIR", saved.c_str(), 1);
}

TEST(ClientTest, JsonStringEscapes) {
  EXPECT_EQ(cli::JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

}  // namespace
}  // namespace jetback
