#include "daemon/server.h"

#include <fcntl.h>
#include <grp.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "jetback/status.h"

namespace jetback::daemon {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    absl::string_view key) {
  std::ifstream in(path);
  if (!in) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("config: ", key, ": cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status SysError(absl::string_view what, const std::string& path) {
  return JetStatus(jet::JET_errInvalidParameter,
                   absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

Server::Server(Host* host, Authorizer* auth)
    : host_(host),
      auth_(auth),
      backup_(host, auth),
      instances_(host, auth),
      data_(host, auth) {}

Server::~Server() {
  if (acceptor_.joinable()) Shutdown(absl::Now());
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(Host* host,
                                                      Authorizer* auth) {
  std::unique_ptr<Server> server(new Server(host, auth));
  const DaemonConfig& config = host->config();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(&server->backup_);
  builder.RegisterService(&server->instances_);
  builder.RegisterService(&server->data_);
  // Dead agents are noticed by keepalive, not only by their lease.
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIME_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config.keepalive)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // Hostile input is bounded: no message above max_request_bytes is read,
  // and the quota caps transport buffers and serving threads across all
  // connections (README, "Memory bound").
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_request_bytes));
  grpc::ResourceQuota quota("jetbackd");
  quota.Resize(config.grpc_memory_bytes);
  quota.SetMaxThreads(config.grpc_max_threads);
  builder.SetResourceQuota(quota);

  std::vector<std::unique_ptr<int>> tcp_ports;
  for (const ListenerConfig& l : config.listeners) {
    if (l.kind != ListenerConfig::Kind::kTcp) continue;
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    JB_ASSIGN_OR_RETURN(tls.pem_root_certs,
                        ReadPem(config.tls.client_ca_file, "tls.client_ca"));
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    JB_ASSIGN_OR_RETURN(pair.private_key,
                        ReadPem(config.tls.key_file, "tls.key"));
    JB_ASSIGN_OR_RETURN(pair.cert_chain,
                        ReadPem(config.tls.cert_file, "tls.cert"));
    tls.pem_key_cert_pairs.push_back(std::move(pair));
    tcp_ports.push_back(std::make_unique<int>(0));
    builder.AddListeningPort(l.address, grpc::SslServerCredentials(tls),
                             tcp_ports.back().get());
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "the gRPC server did not start (bad TLS material?)");
  }
  size_t tcp_index = 0;
  for (const ListenerConfig& l : config.listeners) {
    if (l.kind == ListenerConfig::Kind::kTcp) {
      const int port = *tcp_ports[tcp_index++];
      if (port == 0) {
        return JetStatus(jet::JET_errInvalidParameter,
                         absl::StrCat("cannot listen on tcp:", l.address));
      }
      const std::string host_part = l.address.substr(0, l.address.rfind(':'));
      server->addresses_.push_back(absl::StrCat("tcp:", host_part, ":", port));
    } else {
      JB_RETURN_IF_ERROR(server->ListenUnix(l.address));
      server->addresses_.push_back(absl::StrCat("unix:", l.address));
    }
  }
  server->inproc_ = server->server_->InProcessChannel(grpc::ChannelArguments());
  if (::pipe2(server->wake_pipe_, O_CLOEXEC) != 0) {
    return SysError("pipe", "");
  }
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

absl::Status Server::ListenUnix(const std::string& path) {
  const DaemonConfig& config = host_->config();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("socket path too long: ", path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysError("socket", path);
  // A socket file left by a crashed daemon is replaced; one that answers
  // belongs to a running daemon and is not.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      ::close(fd);
      return JetStatus(jet::JET_errInvalidParameter,
                       absl::StrCat("another daemon listens on ", path));
    }
    ::unlink(path.c_str());
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const absl::Status s = SysError("bind", path);
    ::close(fd);
    return s;
  }
  unix_fds_.push_back(fd);
  unix_paths_.push_back(path);
  if (::chmod(path.c_str(), config.socket_mode) != 0) {
    return SysError("chmod", path);
  }
  if (!config.socket_group.empty()) {
    struct group* gr = ::getgrnam(config.socket_group.c_str());
    if (gr == nullptr) {
      return JetStatus(jet::JET_errInvalidParameter,
                       absl::StrCat("config: unix_socket.group: no group '",
                                    config.socket_group, "'"));
    }
    if (::chown(path.c_str(), static_cast<uid_t>(-1), gr->gr_gid) != 0) {
      return SysError("chown", path);
    }
  }
  if (::listen(fd, 128) != 0) return SysError("listen", path);
  return absl::OkStatus();
}

void Server::AcceptLoop() {
  std::vector<pollfd> fds;
  for (int fd : unix_fds_) fds.push_back({fd, POLLIN, 0});
  fds.push_back({wake_pipe_[0], POLLIN, 0});
  while (true) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      LogError("poll failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (fds.back().revents != 0) return;  // Shutdown
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      // gRPC needs the connection non-blocking.
      const int conn =
          ::accept4(fds[i].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (conn < 0) continue;
      ucred cred{};
      socklen_t len = sizeof(cred);
      if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        ::close(conn);
        continue;
      }
      auth_->RecordPeer(conn, cred.uid, cred.gid);
      grpc::AddInsecureChannelFromFd(server_.get(), conn);
    }
  }
}

bool Server::Live() {
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(deadline));
  grpc::Status s =
      grpc::health::v1::Health::NewStub(inproc_)->Check(&ctx, req, &resp);
  if (!s.ok() ||
      resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    LogWarn("liveness check failed", {{"error", s.error_message()}});
    return false;
  }
  const absl::Status engines = ProbeEngines(deadline);
  if (!engines.ok()) {
    LogWarn("liveness check failed", {{"error", engines.ToString()}});
    return false;
  }
  return true;
}

absl::Status Server::ProbeEngines(absl::Time deadline) {
  std::shared_ptr<ProbeRun> run;
  {
    jetback::MutexLock lock(&probe_mu_);
    if (probe_ != nullptr) {
      jetback::MutexLock run_lock(&probe_->mu);
      if (!probe_->done) {
        return JetStatus(jet::JET_errInstanceUnavailable,
                         "an earlier engine probe is still stuck");
      }
    }
    probe_ = std::make_shared<ProbeRun>();
    run = probe_;
  }
  // On its own thread, so a stuck lock costs the probe, not the caller; the
  // thread owns its share of `run` and ends whenever the lock frees.
  std::thread([run, host = host_] {
    absl::Status status;
    for (HostedInstance* hosted : host->instances()) {
      status = hosted->instance->Probe();
      if (!status.ok()) {
        status = JetStatus(JetErrOf(status),
                           absl::StrCat("instance ", hosted->config.name, ": ",
                                        status.message()));
        break;
      }
    }
    jetback::MutexLock lock(&run->mu);
    run->status = status;
    run->done = true;
  }).detach();
  jetback::MutexLock lock(&run->mu);
  if (!run->mu.AwaitWithDeadline(jetback::Condition(&run->done), deadline)) {
    return JetStatus(jet::JET_errInstanceUnavailable,
                     "engine probe did not finish within its deadline (a "
                     "commit, checkpoint or backup holds a lock)");
  }
  return run->status;
}

void Server::Shutdown(absl::Time deadline) {
  if (acceptor_.joinable()) {
    const char byte = 0;
    ssize_t unused = ::write(wake_pipe_[1], &byte, 1);
    (void)unused;
    acceptor_.join();
  }
  for (int fd : unix_fds_) ::close(fd);
  unix_fds_.clear();
  for (const std::string& path : unix_paths_) ::unlink(path.c_str());
  unix_paths_.clear();
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    server_->Shutdown(absl::ToChronoTime(deadline));
  }
}

}  // namespace jetback::daemon
