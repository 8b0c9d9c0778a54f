#include "daemon/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "jetback/status.h"

namespace jetback::daemon {
namespace {

constexpr char kMinimal[] = R"(
state_dir = "/var/lib/jetback"
[[instances]]
name = "a"
databases = ["a.edb"]
)";

TEST(ConfigTest, MinimalFileGetsDefaults) {
  absl::StatusOr<DaemonConfig> c = ParseConfig(kMinimal, "test.toml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->listeners.size(), 1u);
  EXPECT_EQ(c->listeners[0].kind, ListenerConfig::Kind::kUnix);
  EXPECT_EQ(c->listeners[0].address, "/var/lib/jetback/jetbackd.sock");
  EXPECT_EQ(c->socket_mode, 0660u);
  EXPECT_EQ(c->chunk_size, 1u << 20);
  ASSERT_EQ(c->instances.size(), 1u);
  EXPECT_EQ(c->instances[0].data_dir, "/var/lib/jetback/a");
  EXPECT_EQ(c->instances[0].log_dir, "/var/lib/jetback/a/logs");
  EXPECT_EQ(c->instances[0].page_size, 8192u);
  // ESE's page-read retries: 17 reads, 100 ms x n before the n-th retry
  // (13.6 s in all).
  EXPECT_EQ(c->instances[0].page_read_attempts, 17);
  EXPECT_EQ(c->instances[0].page_read_backoff, absl::Milliseconds(100));
}

TEST(ConfigTest, PageReadRetriesPerInstance) {
  absl::StatusOr<DaemonConfig> c = ParseConfig(
      "[[instances]]\nname = \"a\"\npage_read_attempts = 3\n"
      "page_read_backoff_ms = 5\n[[instances]]\nname = \"b\"\n",
      "t.toml", "/s");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->instances[0].page_read_attempts, 3);
  EXPECT_EQ(c->instances[0].page_read_backoff, absl::Milliseconds(5));
  EXPECT_EQ(c->instances[1].page_read_attempts, 17);
}

TEST(ConfigTest, MetricsEndpointIsOffUnlessSet) {
  absl::StatusOr<DaemonConfig> c = ParseConfig(kMinimal, "t", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_listen, "");
  c = ParseConfig(
      std::string(kMinimal) + "[metrics]\nlisten = \"127.0.0.1:0\"\n", "t", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:0");
}

TEST(ConfigTest, TheShippedExampleParses) {
  std::ifstream in(EXAMPLE_CONFIG);
  std::stringstream text;
  text << in.rdbuf();
  ASSERT_FALSE(text.str().empty());
  absl::StatusOr<DaemonConfig> c = ParseConfig(text.str(), EXAMPLE_CONFIG, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->instances.size(), 1u);
  EXPECT_EQ(c->metrics_listen, "");  // off unless set
}

TEST(ConfigTest, StateDirOverrideWins) {
  absl::StatusOr<DaemonConfig> c = ParseConfig(kMinimal, "t", "/tmp/x");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->instances[0].data_dir, "/tmp/x/a");
}

TEST(ConfigTest, FullFile) {
  absl::StatusOr<DaemonConfig> c = ParseConfig(R"(
listen = ["unix:/run/jetbackd/jetbackd.sock", "tcp:0.0.0.0:7443"]
chunk_size = 262144
lease_ms = 5000
[unix_socket]
mode = "0600"
[tls]
cert = "s.pem"
key = "s.key"
client_ca = "ca.pem"
[roles]
read = ["uid:0", "gid:0"]
stop = ["cert:ops"]
data = []
[limits]
max_streams = 4
reader_nice = 19
background_threads = 3
[[instances]]
name = "a"
page_size = 4096
log_file_size = 131072
circular_logging = true
base_name = "E01"
databases = ["a.edb", "b.edb"]
[[instances]]
name = "b"
log_dir = "/logs/b"
)",
                                               "t", "/s");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->listeners.size(), 2u);
  EXPECT_EQ(c->listeners[1].kind, ListenerConfig::Kind::kTcp);
  EXPECT_EQ(c->listeners[1].address, "0.0.0.0:7443");
  EXPECT_EQ(c->socket_mode, 0600u);
  EXPECT_EQ(c->chunk_size, 262144u);
  EXPECT_EQ(c->lease, absl::Seconds(5));
  EXPECT_EQ(c->max_streams, 4);
  EXPECT_EQ(c->reader_nice, 19);
  EXPECT_EQ(c->background_threads, 3);
  EXPECT_EQ(c->roles.stop, std::vector<std::string>{"cert:ops"});
  EXPECT_TRUE(c->instances[0].circular_logging);
  EXPECT_EQ(c->instances[0].page_size, 4096u);
  EXPECT_EQ(c->instances[1].log_dir, "/logs/b");
}

// Each bad file must fail with -1003 and name the offending key.
struct BadCase {
  const char* toml;
  const char* key;
};

TEST(ConfigTest, ErrorsNameTheKey) {
  const BadCase cases[] = {
      {"[[instances]]\nname = \"a\"\npage_size = 5000\n",
       "instances[0].page_size"},
      {"[[instances]]\nname = \"a\"\n[[instances]]\nname = \"b\"\nbase_name = "
       "\"EE\"\n",
       "instances[1].base_name"},
      {"[[instances]]\nname = \"a\"\ndatabases = [\"../x.edb\"]\n",
       "instances[0].databases[0]"},
      {"[[instances]]\nname = \"a\"\npagesize = 4096\n",
       "instances[0].pagesize: unknown key"},
      {"listen = [\"http://x\"]\n[[instances]]\nname = \"a\"\n", "listen[0]"},
      {"listen = [\"tcp:h:1\"]\n[[instances]]\nname = \"a\"\n", "tls"},
      {"chunk_size = 1000\n[[instances]]\nname = \"a\"\n", "chunk_size"},
      {"[roles]\nread = [\"bob\"]\n[[instances]]\nname = \"a\"\n",
       "roles.read[0]"},
      {"[unix_socket]\nmode = \"rw\"\n[[instances]]\nname = \"a\"\n",
       "unix_socket.mode"},
      {"state_dir = \"/x\"\n", "instances"},
      {"[[instances]]\nname = \"a\"\n[[instances]]\nname = \"a\"\n",
       "instances[1].name"},
      {"[[instances]]\nname = \"a\"\ncircular_logging = \"yes\"\n",
       "instances[0].circular_logging"},
      {"[limits]\nreader_nice = -5\n[[instances]]\nname = \"a\"\n",
       "limits.reader_nice"},
      {"[metrics]\nlisten = \"localhost:9464\"\n[[instances]]\nname = "
       "\"a\"\n",
       "metrics.listen"},
      {"[metrics]\nport = 9464\n[[instances]]\nname = \"a\"\n",
       "metrics.port: unknown key"},
      {"[[instances]]\nname = \"a\"\npage_read_attempts = 0\n",
       "instances[0].page_read_attempts"},
      {"[[instances]]\nname = \"a\"\npage_read_backoff_ms = -1\n",
       "instances[0].page_read_backoff_ms"},
      {"[[instances]\n", "t.toml:1"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<DaemonConfig> parsed = ParseConfig(c.toml, "t.toml", "/s");
    ASSERT_FALSE(parsed.ok()) << c.toml;
    EXPECT_EQ(JetErrOf(parsed.status()), jet::JET_errInvalidParameter);
    EXPECT_NE(parsed.status().message().find(c.key), absl::string_view::npos)
        << "want key '" << c.key << "' in: " << parsed.status().message();
  }
}

TEST(ConfigTest, DefaultHasDemoInstance) {
  DaemonConfig c = DefaultConfig("/s");
  ASSERT_EQ(c.instances.size(), 1u);
  EXPECT_EQ(c.instances[0].name, "demo");
  EXPECT_EQ(c.instances[0].databases, std::vector<std::string>{"demo.edb"});
  EXPECT_EQ(c.listeners[0].address, "/s/jetbackd.sock");
  EXPECT_FALSE(c.roles.stop.empty());
}

TEST(ConfigTest, FileNames) {
  EXPECT_TRUE(CheckFileName("demo.edb").ok());
  for (absl::string_view bad :
       {absl::string_view(""), absl::string_view(".."),
        absl::string_view("a/b"), absl::string_view("../a"),
        absl::string_view("a\0b", 3)}) {
    EXPECT_EQ(JetErrOf(CheckFileName(bad)), jet::JET_errInvalidName) << bad;
  }
}

}  // namespace
}  // namespace jetback::daemon
