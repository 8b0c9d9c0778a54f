// File: daemon/server.h
//
// Assembles the gRPC server: the Backup, Instances and Data services, the
// standard grpc.health.v1 service and server reflection, and the listeners.
// Unix sockets are owned by the daemon (own accept loop: SO_PEERCRED is
// recorded for the role check, then the connection is handed to gRPC); TCP
// listeners use mutual TLS only.
//
// Thread-safety: Live() may be called from any thread; Shutdown() once.

#ifndef JETBACK_DAEMON_SERVER_H_
#define JETBACK_DAEMON_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/auth.h"
#include "daemon/host.h"
#include "daemon/services.h"
#include "jetback/mutex.h"

namespace jetback::daemon {

class Server {
 public:
  // Builds, starts and begins accepting on every configured listener.
  // Errors: -1003 (bad TLS files, address in use, a daemon already running
  // on the socket).
  static absl::StatusOr<std::unique_ptr<Server>> Start(Host* host,
                                                       Authorizer* auth);
  ~Server();

  // A real liveness check for the watchdog, within 2 s: a health Check
  // through the server's own in-process channel (proves the server answers
  // calls) and every instance's Instance::Probe (takes and releases the
  // locks a wedged commit, checkpoint or backup would hold, and reads each
  // catalog). A probe still stuck from an earlier call fails it at once.
  bool Live();

  // Stops accepting, then shuts gRPC down: calls still running at
  // `deadline` are cancelled.
  void Shutdown(absl::Time deadline);

  // The listener addresses, for the ready line.
  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  Server(Host* host, Authorizer* auth);
  absl::Status ListenUnix(const std::string& path);
  void AcceptLoop();
  // Every instance's Probe on a helper thread, waited for until `deadline`.
  absl::Status ProbeEngines(absl::Time deadline);

  struct ProbeRun {
    jetback::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    absl::Status status ABSL_GUARDED_BY(mu);
  };

  Host* const host_;
  Authorizer* const auth_;
  BackupService backup_;
  InstancesService instances_;
  DataService data_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> inproc_;
  std::vector<int> unix_fds_;
  std::vector<std::string> unix_paths_;
  std::vector<std::string> addresses_;
  int wake_pipe_[2] = {-1, -1};
  std::thread acceptor_;
  jetback::Mutex probe_mu_;
  std::shared_ptr<ProbeRun> probe_ ABSL_GUARDED_BY(probe_mu_);
};

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_SERVER_H_
