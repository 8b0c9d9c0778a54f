#include "tests/daemon_test_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "jetback/status.h"
#include "proto/jet_status.h"

extern char** environ;

namespace jetback::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/jbd-XXXXXX";
  char* made = ::mkdtemp(tmpl);
  EXPECT_NE(made, nullptr);
  path_ = made != nullptr ? made : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string DaemonConfig(const std::string& dir,
                         const DaemonConfigOptions& options) {
  std::string roles = options.roles;
  if (roles.empty()) {
    const std::string me = absl::StrCat("\"uid:0\", \"uid:", ::getuid(), "\"");
    roles = absl::StrCat("read = [", me, "]\nstop = [", me, "]\ndata = [", me,
                         "]\n");
  }
  std::string toml = absl::StrCat(
      "state_dir = \"", dir, "\"\n", "listen = [\"unix:", dir,
      "/jetbackd.sock\"",
      options.tcp.empty() ? std::string()
                          : absl::StrCat(", \"tcp:", options.tcp, "\""),
      "]\n", "lease_ms = ", options.lease_ms, "\n",
      "chunk_size = ", options.chunk_size, "\n", options.extra, "\n[roles]\n",
      roles, "\n", options.tables, "\n");
  for (const std::string& name : options.instances) {
    absl::StrAppend(&toml, "[[instances]]\nname = \"", name,
                    "\"\nlog_file_size = 262144\ndatabases = [\"", name,
                    ".edb\"]\ntables = [\"t\"]\n", options.instance_extra,
                    "\n");
  }
  return toml;
}

bool MakeTlsFiles(const std::string& dir, const std::string& client) {
  const std::string script = absl::StrCat(
      "set -e; cd ", dir,
      "; k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';",
      "openssl req -x509 $k -keyout ca.key -out ca.pem -days 1 "
      "-subj /CN=test-ca;",
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext;",
      "for n in localhost ", client, "; do ",
      "openssl req $k -keyout $n.key -out $n.csr -subj /CN=$n;",
      "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -out $n.pem -days 1 -extfile ext; done");
  std::ofstream(dir + "/mkcerts.sh") << script;
  return std::system(("sh " + dir + "/mkcerts.sh >/dev/null 2>&1").c_str()) ==
         0;
}

std::unique_ptr<DaemonProcess> DaemonProcess::Start(
    const std::string& dir, const std::string& config_toml,
    const std::vector<std::string>& env) {
  std::unique_ptr<DaemonProcess> d(new DaemonProcess());
  d->dir_ = dir;
  d->socket_ = dir + "/jetbackd.sock";
  d->log_ = dir + "/jetbackd.log";
  const std::string config = dir + "/jetbackd.toml";
  std::ofstream(config) << config_toml;

  std::vector<std::string> args = {JETBACKD_PATH, "--config", config};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("NOTIFY_SOCKET=", 0) == 0) continue;
    env_strings.push_back(*e);
  }
  for (const std::string& e : env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, d->log_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  const int rc = ::posix_spawn(&d->pid_, JETBACKD_PATH, &actions, nullptr,
                               argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn: " << rc;
    return nullptr;
  }

  // Ready means: the socket answers a health Check with SERVING.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    int wstatus = 0;
    if (::waitpid(d->pid_, &wstatus, WNOHANG) == d->pid_) {
      d->pid_ = -1;
      ADD_FAILURE() << "jetbackd exited during start:\n" << d->Log();
      return nullptr;
    }
    if (::access(d->socket_.c_str(), F_OK) == 0) {
      auto stub = grpc::health::v1::Health::NewStub(d->Connect());
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(500));
      grpc::health::v1::HealthCheckRequest req;
      grpc::health::v1::HealthCheckResponse resp;
      if (stub->Check(&ctx, req, &resp).ok() &&
          resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        return d;
      }
    }
    // Polls a real condition (the socket file, then a health answer) with
    // a deadline; poll(2) is only the pacing between attempts.
    ::poll(nullptr, 0, 20);
  }
  ADD_FAILURE() << "jetbackd not ready within 30 s:\n" << d->Log();
  return nullptr;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::shared_ptr<grpc::Channel> DaemonProcess::Connect() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  return grpc::CreateCustomChannel("unix:" + socket_,
                                   grpc::InsecureChannelCredentials(), args);
}

void DaemonProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int DaemonProcess::WaitExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (pid_ > 0) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    }
    if (absl::Now() > deadline) return -1;
    ::poll(nullptr, 0, 10);
  }
  return -1;
}

std::string DaemonProcess::Log() const {
  std::ifstream in(log_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

NotifyReceiver::NotifyReceiver(const std::string& dir)
    : path_(dir + "/notify.sock") {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
  EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
}

NotifyReceiver::~NotifyReceiver() { ::close(fd_); }

bool NotifyReceiver::WaitFor(const std::string& text, absl::Duration timeout,
                             size_t skip) {
  for (size_t i = skip; i < messages_.size(); ++i) {
    if (messages_[i].find(text) != std::string::npos) return true;
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) continue;
    messages_.emplace_back(buf, n);
    if (messages_.back().find(text) != std::string::npos) return true;
  }
}

JetErr JetErrOf(const grpc::Status& status) {
  if (status.ok()) return 0;
  if (!HasJetErrorDetail(status)) return -1;
  return jetback::JetErrOf(FromGrpcStatus(status));
}

std::string ReasonOf(const grpc::Status& status) {
  return JetReasonOf(FromGrpcStatus(status));
}

std::string InitiatorOf(const grpc::Status& status) {
  return JetInitiatorOf(FromGrpcStatus(status));
}

grpc::Status CallWithDeadline(
    const std::function<grpc::Status(grpc::ClientContext*)>& call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return call(&ctx);
}

grpc::Status PutRows(
    v1::Data::Stub* data, const std::string& instance, const std::string& table,
    const std::vector<std::pair<std::string, std::string>>& rows) {
  v1::TransactRequest req;
  req.set_instance(instance);
  for (const auto& [key, value] : rows) {
    v1::Operation* op = req.add_operations();
    op->set_kind(v1::Operation::KIND_PUT);
    op->set_table(table);
    op->set_key(key);
    op->set_value(value);
  }
  v1::TransactResponse resp;
  return CallWithDeadline([&](grpc::ClientContext* ctx) {
    return data->Transact(ctx, req, &resp);
  });
}

StreamedFile ReadStream(v1::Backup::Stub* backup, const std::string& instance,
                        const std::string& backup_id, uint64_t offset,
                        uint64_t length, bool stream_digest) {
  StreamedFile out;
  v1::ReadFileRequest req;
  req.set_instance(instance);
  req.set_backup_id(backup_id);
  req.set_offset(offset);
  req.set_length(length);
  req.set_stream_xxh3_128(stream_digest);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = backup->ReadFile(&ctx, req);
  v1::FileChunk chunk;
  uint64_t next = offset;
  while (reader->Read(&chunk)) {
    if (chunk.offset() != next) out.checksums_ok = false;
    if (!stream_digest &&
        XXH3_64bits(chunk.data().data(), chunk.data().size()) != chunk.xxh3()) {
      out.checksums_ok = false;
    }
    next += chunk.data().size();
    out.data += chunk.data();
    if (stream_digest &&
        (chunk.xxh3() != 0 || chunk.stream_xxh3_128() != Xxh3_128(out.data))) {
      out.checksums_ok = false;
    }
    if (chunk.last()) {
      out.saw_last = true;
      out.xxh3_128 = chunk.xxh3_128();
      out.file_size = chunk.file_size();
    }
  }
  out.status = reader->Finish();
  return out;
}

std::string Sha256(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

std::string Xxh3_128(const std::string& data) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(data.data(), data.size()));
  return std::string(reinterpret_cast<const char*>(canonical.digest),
                     sizeof(canonical.digest));
}

}  // namespace jetback::testing
