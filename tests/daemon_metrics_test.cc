// jetbackd's Prometheus endpoint, scraped by a real Prometheus (Debian's
// prometheus package) that the test starts: after a full backup and a
// stopped one, PromQL through Prometheus's HTTP API gives the counters.
// Also the endpoint itself (format, 404/405) and the config key.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"

extern char** environ;

namespace jetback::testing {
namespace {

// GET http://127.0.0.1:port<path>; returns the status line and body, or ""
// when nothing answered.
std::string HttpGet(int port, const std::string& path,
                    const std::string& method = "GET") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    const std::string request = absl::StrCat(
        method, " ", path,
        " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (::write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n;
      while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return response;
}

// A port nothing listens on right now (bound, read, released).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t len = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
  ::close(fd);
  return ntohs(address.sin_port);
}

// The port jetbackd logged ("metrics listening" port=N), 0 if none.
int MetricsPort(const std::string& log) {
  const size_t at = log.find("msg=\"metrics listening\"");
  if (at == std::string::npos) return 0;
  const size_t p = log.find("port=", at);
  int port = 0;
  if (p == std::string::npos ||
      !absl::SimpleAtoi(log.substr(p + 5, log.find_first_of(" \n", p) - p - 5),
                        &port)) {
    return 0;
  }
  return port;
}

// The value of `series` (name and labels, as rendered) on a /metrics page;
// -1 when absent.
double SampleValue(const std::string& page, const std::string& series) {
  const size_t at = page.find("\n" + series + " ");
  double value = -1;
  if (at == std::string::npos) return value;
  const size_t start = at + series.size() + 2;
  if (!absl::SimpleAtod(page.substr(start, page.find('\n', start) - start),
                        &value)) {
    return -1;
  }
  return value;
}

// The value of the one sample a PromQL instant query returns ("" if none).
std::string QueryValue(int prometheus_port, const std::string& promql) {
  std::string encoded;
  for (unsigned char c : promql) {
    if (std::isalnum(c) || c == '_') {
      encoded.push_back(static_cast<char>(c));
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      encoded += hex;
    }
  }
  const std::string response =
      HttpGet(prometheus_port, "/api/v1/query?query=" + encoded);
  // ..."value":[1733112000.123,"1"]...
  const size_t value = response.find("\"value\":[");
  if (value == std::string::npos) return "";
  const size_t open = response.find('"', response.find(',', value));
  const size_t close = response.find('"', open + 1);
  if (open == std::string::npos || close == std::string::npos) return "";
  return response.substr(open + 1, close - open - 1);
}

class Prometheus {
 public:
  Prometheus(const std::string& dir, int target_port) : port_(FreePort()) {
    const std::string config = dir + "/prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\n"
                          << "scrape_configs:\n  - job_name: jetbackd\n"
                          << "    static_configs:\n"
                          << "      - targets: ['127.0.0.1:" << target_port
                          << "']\n";
    std::vector<std::string> args = {
        "/usr/bin/prometheus", "--config.file=" + config,
        "--storage.tsdb.path=" + dir + "/tsdb",
        absl::StrCat("--web.listen-address=127.0.0.1:", port_),
        "--log.level=warn"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    log_ = dir + "/prometheus.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    if (::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(),
                      environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Prometheus() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool WaitReady() {
    return pid_ > 0 &&
           WaitUntil(
               [&] {
                 return absl::StrContains(HttpGet(port_, "/-/ready"), " 200 ");
               },
               absl::Seconds(60));
  }
  int port() const { return port_; }
  std::string Log() const { return ReadFileOrEmpty(log_); }

 private:
  int port_;
  pid_t pid_ = -1;
  std::string log_;
};

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DaemonConfigOptions options;
    options.tables = "[metrics]\nlisten = \"127.0.0.1:0\"\n";
    daemon_ =
        DaemonProcess::Start(dir_.path(), DaemonConfig(dir_.path(), options));
    ASSERT_NE(daemon_, nullptr);
    port_ = MetricsPort(daemon_->Log());
    ASSERT_NE(port_, 0) << daemon_->Log();
    ClientOptions client_options;
    client_options.server = "unix:" + daemon_->socket_path();
    auto client = Client::Connect(client_options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }

  void Put(int n) {
    std::vector<v1::Operation> ops;
    for (int i = 0; i < n; ++i) {
      v1::Operation op;
      op.set_kind(v1::Operation::KIND_PUT);
      op.set_table("t");
      op.set_key(absl::StrCat("k", i));
      op.set_value(std::string(200, 'v'));
      ops.push_back(op);
    }
    ASSERT_TRUE(client_->Transact("demo", "", ops).ok());
  }

  // A whole full backup through the C++ client; returns bytes streamed.
  uint64_t FullBackup() {
    auto begun = client_->BeginBackup("demo", 0);
    EXPECT_TRUE(begun.ok());
    if (!begun.ok()) return 0;
    BackupRef b{"demo", begun->backup_id()};
    uint64_t bytes = 0;
    auto stream = [&](const std::string& name) {
      auto opened = client_->OpenFile(b, name);
      ASSERT_TRUE(opened.ok()) << opened.status();
      auto read = client_->ReadFile(
          b, 0, 0, 0,
          [](uint64_t, absl::string_view) { return absl::OkStatus(); });
      ASSERT_TRUE(read.ok()) << read.status();
      bytes += read->bytes;
      ASSERT_TRUE(client_->CloseFile(b, 0).ok());
    };
    auto dbs = client_->GetAttachInfo(b);
    EXPECT_TRUE(dbs.ok());
    for (const std::string& db : *dbs) stream(db);
    auto logs = client_->GetLogInfo(b);
    EXPECT_TRUE(logs.ok());
    for (const std::string& log : logs->files()) stream(log);
    auto ended = client_->EndBackup(b, 1);
    EXPECT_TRUE(ended.ok() && ended->outcome() == v1::BACKUP_OUTCOME_SUCCEEDED);
    return bytes;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<Client> client_;
  int port_ = 0;
};

TEST_F(MetricsTest, EndpointServesTheTextFormat) {
  Put(10);
  const uint64_t bytes = FullBackup();
  ASSERT_GT(bytes, 0u);
  const std::string page = HttpGet(port_, "/metrics");
  ASSERT_TRUE(absl::StartsWith(page, "HTTP/1.0 200") ||
              absl::StartsWith(page, "HTTP/1.1 200"))
      << page;
  EXPECT_TRUE(absl::StrContains(page, "text/plain; version=0.0.4")) << page;
  for (const std::string& line :
       {std::string("# TYPE jetback_backups_begun_total counter"),
        std::string("jetback_backups_begun_total{jetback_instance=\"demo\"} 1"),
        std::string(
            "jetback_backups_succeeded_total{jetback_instance=\"demo\"} 1"),
        absl::StrCat("jetback_backup_streamed_bytes_total{jetback_instance="
                     "\"demo\"} ",
                     bytes),
        std::string("jetback_backup_running{jetback_instance=\"demo\"} 0"),
        std::string("jetback_last_successful_backup_timestamp_seconds{"
                    "jetback_instance=\"demo\",kind=\"full\"} "),
        std::string("jetback_build_info{version=\"0.1.0\",revision=")}) {
    EXPECT_TRUE(absl::StrContains(page, line)) << line << "\n" << page;
  }
  EXPECT_FALSE(absl::StrContains(page, "kind=\"incremental\"")) << page;
  // Commits count as they happen.
  const std::string commits =
      "jetback_commits_total{jetback_instance=\"demo\"}";
  const double before = SampleValue(page, commits);
  EXPECT_GE(before, 1) << page;
  Put(3);
  EXPECT_EQ(SampleValue(HttpGet(port_, "/metrics"), commits), before + 1);
  EXPECT_TRUE(absl::StrContains(HttpGet(port_, "/other"), " 404 "));
  EXPECT_TRUE(absl::StrContains(HttpGet(port_, "/metrics", "POST"), " 405 "));
}

TEST_F(MetricsTest, PrometheusScrapesBackupsAndStops) {
  Put(10);
  ASSERT_GT(FullBackup(), 0u);
  // A second backup, stopped by the operator, then ended.
  auto begun = client_->BeginBackup("demo", 0);
  ASSERT_TRUE(begun.ok());
  ASSERT_TRUE(client_->StopBackup("demo", "maintenance").ok());
  auto ended = client_->EndBackup({"demo", begun->backup_id()}, 1);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->outcome(), v1::BACKUP_OUTCOME_ABORTED);

  Prometheus prometheus(dir_.path(), port_);
  ASSERT_TRUE(prometheus.WaitReady()) << prometheus.Log();
  const int p = prometheus.port();
  const std::string demo = "{jetback_instance=\"demo\"";
  EXPECT_TRUE(WaitUntil(
      [&] {
        return QueryValue(p, "jetback_backups_succeeded_total" + demo + "}") ==
               "1";
      },
      absl::Seconds(60)))
      << prometheus.Log();
  EXPECT_EQ(QueryValue(p, "jetback_backups_begun_total" + demo + "}"), "2");
  EXPECT_EQ(QueryValue(p, "jetback_backups_aborted_total" + demo +
                              ",cause=\"stopped\"}"),
            "1");
  EXPECT_EQ(QueryValue(p, "jetback_backups_aborted_total" + demo +
                              ",cause=\"client\"}"),
            "0");
  EXPECT_EQ(QueryValue(p, "sum(jetback_backup_stops_total" + demo + "})"), "1");
  EXPECT_EQ(QueryValue(p, "jetback_backup_duration_seconds_count" + demo + "}"),
            "2");
  // The shipped rule's condition (no full backup within 26 h) is false.
  EXPECT_EQ(QueryValue(p,
                       "count(time() - jetback_last_successful_backup_"
                       "timestamp_seconds" +
                           demo + ",kind=\"full\"} < 26 * 3600)"),
            "1");
  EXPECT_EQ(QueryValue(p, "up{job=\"jetbackd\"}"), "1");
}

}  // namespace
}  // namespace jetback::testing
