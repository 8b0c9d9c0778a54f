#include "tests/client_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace jetback::testing {

CliProcess::CliProcess(const std::string& dir,
                       const std::vector<std::string>& args,
                       const std::vector<std::string>& env) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  out_path_ = absl::StrCat(dir, "/cli-", getpid(), "-", n, ".out");
  err_path_ = absl::StrCat(dir, "/cli-", getpid(), "-", n, ".err");
  std::vector<std::string> argv_strings = {JETBACK_CLI_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_ = fork();
  if (pid_ == 0) {
    int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = ::open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
}

CliProcess::~CliProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void CliProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

CliResult CliProcess::Wait(absl::Duration timeout) {
  CliResult result;
  if (pid_ <= 0) return result;
  int status = 0;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      status = -1;
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));  // polling a real state
  }
  pid_ = -1;
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = ReadFileOrEmpty(out_path_);
  result.err = ReadFileOrEmpty(err_path_);
  unlink(out_path_.c_str());
  unlink(err_path_.c_str());
  return result;
}

CliResult RunCli(const std::string& dir, const std::vector<std::string>& args,
                 const std::vector<std::string>& env) {
  CliProcess process(dir, args, env);
  return process.Wait();
}

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return condition();
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  return addr;
}

}  // namespace

UnixProxy::UnixProxy(const std::string& listen_path,
                     const std::string& target_path)
    : target_(target_path) {
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = UnixAddress(listen_path);
  unlink(listen_path.c_str());
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    return;
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

UnixProxy::~UnixProxy() {
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);  // ends accept()
  if (accept_thread_.joinable()) accept_thread_.join();
  CutAll();
  std::vector<std::thread> pumps;
  {
    jetback::MutexLock lock(&mu_);
    pumps.swap(pumps_);
  }
  for (std::thread& t : pumps) t.join();
  jetback::MutexLock lock(&mu_);
  for (int fd : fds_) close(fd);
  if (listen_fd_ >= 0) close(listen_fd_);
}

void UnixProxy::AcceptLoop() {
  for (;;) {
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR) continue;
      return;
    }
    int upstream = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = UnixAddress(target_);
    if (connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
        0) {
      close(client);
      close(upstream);
      continue;
    }
    jetback::MutexLock lock(&mu_);
    fds_.push_back(client);
    fds_.push_back(upstream);
    pumps_.emplace_back([this, client, upstream] { Pump(client, upstream); });
    pumps_.emplace_back([this, client, upstream] { Pump(upstream, client); });
  }
}

void UnixProxy::Pump(int from, int to) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(from, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = send(to, buf + off, n - off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        shutdown(from, SHUT_RDWR);
        return;
      }
      off += w;
    }
  }
  shutdown(to, SHUT_RDWR);
  shutdown(from, SHUT_RDWR);
}

void UnixProxy::CutAll() {
  jetback::MutexLock lock(&mu_);
  for (int fd : fds_) shutdown(fd, SHUT_RDWR);
  ++cuts_;
}

std::vector<v1::Operation> PutOperations(
    const std::map<std::string, std::string>& rows, const std::string& table) {
  std::vector<v1::Operation> ops;
  for (const auto& [key, value] : rows) {
    v1::Operation op;
    op.set_kind(v1::Operation::KIND_PUT);
    op.set_table(table);
    op.set_key(key);
    op.set_value(value);
    ops.push_back(std::move(op));
  }
  return ops;
}

}  // namespace jetback::testing
