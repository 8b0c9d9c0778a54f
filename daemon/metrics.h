// File: daemon/metrics.h
//
// The Prometheus endpoint of jetbackd: GET /metrics on `[metrics] listen`
// in the text exposition format (0.0.4), rendered on each scrape from the
// hosted instances. HTTP is libmicrohttpd's (one thread, requests served
// one at a time: a scrape is small and rare).
//
// Thread-safety: RenderMetrics may run concurrently with everything else.

#ifndef JETBACK_DAEMON_METRICS_H_
#define JETBACK_DAEMON_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/host.h"

struct MHD_Daemon;

namespace jetback::daemon {

// The exposition text for every instance of `host` and the process.
std::string RenderMetrics(Host* host);

class MetricsServer {
 public:
  // Serves on `listen` ("IPV4:PORT"; port 0 picks one). -1003 for a bad
  // address, -1022 when it cannot listen.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, Host* host);
  ~MetricsServer();  // stops serving; no request runs after it returns

  int port() const { return port_; }

 private:
  MetricsServer() = default;

  Host* host_ = nullptr;
  MHD_Daemon* http_ = nullptr;
  int port_ = 0;
};

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_METRICS_H_
