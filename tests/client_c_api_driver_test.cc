// Runs the C-compiled scenario of tests/client_c_api_test.c against a real
// jetbackd.

#include "gtest/gtest.h"
#include "jetback/client.h"
#include "tests/client_c_api_test.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

TEST(ClientCApiTest, WholeBackupThroughTheEseStyleCApi) {
  TempDir dir;
  auto daemon = DaemonProcess::Start(dir.path(), DaemonConfig(dir.path()));
  ASSERT_NE(daemon, nullptr);
  const std::string server = "unix:" + daemon->socket_path();
  {
    ClientOptions options;
    options.server = server;
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    v1::Operation op;
    op.set_kind(v1::Operation::KIND_PUT);
    op.set_table("t");
    op.set_key("k");
    op.set_value(std::string(1000, 'v'));
    ASSERT_TRUE((*client)->Transact("demo", "", {op}).ok());
  }
  char message[512];
  EXPECT_EQ(RunCApiBackup(server.c_str(), "demo", message, sizeof(message)), 0)
      << message << "\n"
      << daemon->Log();
}

}  // namespace
}  // namespace jetback::testing
