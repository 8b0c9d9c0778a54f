// jetbackd: hosts jetback instances and serves the jetback.v1 gRPC API.
//
//   jetbackd [--config FILE] [--listen unix:PATH|tcp:HOST:PORT]...
//            [--state-dir DIR]
//
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 when the instances
// or listeners cannot start, 2 for a bad command line or configuration.

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "daemon/auth.h"
#include "daemon/config.h"
#include "daemon/host.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/notify.h"
#include "daemon/server.h"
#include "jetback/status.h"
#include "version/version.h"

namespace jetback::daemon {
namespace {

constexpr char kUsage[] =
    "usage: jetbackd [--config FILE] [--listen unix:PATH|tcp:HOST:PORT]... "
    "[--state-dir DIR] | --version\n";
constexpr char kShutdownReason[] = "jetbackd shutting down";

struct Flags {
  bool version = false;
  std::string config_file;
  std::vector<std::string> listen;
  std::string state_dir;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg == "--config" || arg == "--listen" || arg == "--state-dir") {
      if (i + 1 >= argc) return false;
      value = argv[++i];
    }
    if (arg == "--version") {
      flags->version = true;
    } else if (arg == "--config") {
      flags->config_file = value;
    } else if (arg == "--listen") {
      flags->listen.push_back(value);
    } else if (arg == "--state-dir") {
      flags->state_dir = value;
    } else {
      return false;
    }
  }
  return true;
}

absl::StatusOr<DaemonConfig> LoadConfig(const Flags& flags) {
  DaemonConfig config;
  if (!flags.config_file.empty()) {
    JB_ASSIGN_OR_RETURN(config,
                        LoadConfigFile(flags.config_file, flags.state_dir));
  } else {
    std::string state_dir = flags.state_dir;
    if (state_dir.empty()) {
      const char* env = std::getenv("JETBACK_STATE_DIR");
      state_dir = env != nullptr && *env != '\0' ? env : "jetback-state";
    }
    config = DefaultConfig(state_dir);
  }
  if (!flags.listen.empty()) {
    config.listeners.clear();
    for (size_t i = 0; i < flags.listen.size(); ++i) {
      JB_ASSIGN_OR_RETURN(ListenerConfig l,
                          ParseListener(flags.listen[i], "--listen"));
      config.listeners.push_back(std::move(l));
    }
  }
  for (const ListenerConfig& l : config.listeners) {
    if (l.kind == ListenerConfig::Kind::kTcp &&
        config.tls.client_ca_file.empty()) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "--listen tcp: needs a config file with [tls] "
                       "(mutual TLS only)");
    }
  }
  return config;
}

// Lease expiry, STATUS= progress and the watchdog, from one timer thread.
void Tick(Host* host, Server* server, Notifier* notifier,
          absl::Notification* stop) {
  const absl::Duration ping_every = notifier->watchdog_interval() / 2;
  absl::Time last_ping = absl::InfinitePast();
  while (!stop->WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
    const absl::Time now = absl::Now();
    host->ExpireIdle(now);
    notifier->Status(host->StatusLine());
    if (ping_every > absl::ZeroDuration() && now - last_ping >= ping_every &&
        server->Live()) {
      notifier->Watchdog();
      last_ping = now;
    }
  }
}

int Run(int argc, char** argv) {
  // Before gRPC starts threads, so only sigwait below sees these.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::cerr << kUsage;
    return 2;
  }
  if (flags.version) {
    std::cout << VersionLine("jetbackd") << "\n";
    return 0;
  }
  absl::StatusOr<DaemonConfig> config = LoadConfig(flags);
  if (!config.ok()) {
    LogError("bad configuration",
             {{"error", std::string(config.status().message())}});
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Authorizer>> auth =
      Authorizer::Create(config->roles);
  if (!auth.ok()) {
    LogError("bad configuration",
             {{"error", std::string(auth.status().message())}});
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Host>> host = Host::Open(*config);
  if (!host.ok()) {
    LogError("instances did not start", {{"error", host.status().ToString()}});
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(host->get(), auth->get());
  if (!server.ok()) {
    LogError("listeners did not start",
             {{"error", server.status().ToString()}});
    return 1;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!config->metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(config->metrics_listen, host->get());
    if (!started.ok()) {
      LogError("metrics endpoint did not start",
               {{"error", started.status().ToString()}});
      return 1;
    }
    metrics = std::move(*started);
    LogInfo("metrics listening",
            {{"port", absl::StrCat(metrics->port())}, {"path", "/metrics"}});
  }
  Notifier notifier;
  const std::string listening = absl::StrJoin((*server)->addresses(), ",");
  notifier.Ready(absl::StrCat("listening on ", listening));
  LogInfo("ready", {{"listen", listening},
                    {"state_dir", config->state_dir},
                    {"instances", absl::StrCat(config->instances.size())},
                    {"pid", absl::StrCat(::getpid())}});

  absl::Notification stop_ticking;
  std::thread ticker(Tick, host->get(), server->get(), &notifier,
                     &stop_ticking);

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  const absl::Time signalled = absl::Now();
  LogInfo("stopping", {{"signal", strsignal(sig)}});
  // Tell systemd first, then stop every backup so that streams end with a
  // clear -801 instead of a bare cancellation, then shut down gRPC: a
  // reading agent gets its -801 within milliseconds; a stalled one is
  // cancelled at the deadline.
  stop_ticking.Notify();
  ticker.join();
  metrics.reset();
  notifier.Stopping(kShutdownReason);
  (*host)->StopAll(kShutdownReason, "jetbackd");
  // Server::Shutdown can outlive its deadline: after cancelling, it waits
  // for every reactor's OnDone, which a stalled agent's pending write holds
  // back for seconds (seen: 4 s). So it runs aside and is waited for only
  // as long as the deadline allows; the engine is closed either way.
  absl::Notification grpc_down;
  std::thread shutdown([&server, &grpc_down, signalled] {
    (*server)->Shutdown(signalled + absl::Seconds(1));
    grpc_down.Notify();
  });
  const absl::Time give_up = signalled + absl::Milliseconds(1500);
  if (!grpc_down.WaitForNotificationWithDeadline(give_up)) {
    LogWarn("gRPC shutdown still waiting for a stalled stream");
    shutdown.detach();  // never joined: the process ends below
  } else {
    shutdown.join();
  }
  if (!(*host)->WaitForStreams(give_up)) {
    LogWarn("streams still open at exit");
  }
  (*host)->Close();  // Terms the instances: checkpoint, clean headers, fsync
  LogInfo("stopped",
          {{"ms",
            absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - signalled))}});
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  // Everything that must be durable is now: the engine is closed. What is
  // left is gRPC's global teardown, and ~grpc::Server's grpc_shutdown()
  // joins an executor thread that can sit up to ~10 s in an epoll_wait no
  // public API interrupts (seen with gdb: Executor::ShutdownAll ->
  // pthread_join while "default-executor" polls with timeout 9999 ms). So
  // end the process here instead of destroying the server and the host.
  ::_exit(0);
}

}  // namespace
}  // namespace jetback::daemon

int main(int argc, char** argv) {
  // glibc gives each thread that allocates its own arena (up to 8 per core)
  // and keeps what it freed there: with gRPC's many serving threads, a burst
  // of large hostile messages left RSS hundreds of MiB up. Two arenas keep
  // the memory bound of README "Memory bound" (measured: +25 MiB peak over
  // 10,000 garbage calls instead of +60-75 MiB).
  mallopt(M_ARENA_MAX, 2);
  return jetback::daemon::Run(argc, argv);
}
