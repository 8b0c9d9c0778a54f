// The Prometheus endpoint (metrics.h): names and units follow Prometheus's
// conventions (a _total suffix on counters, base units: seconds, bytes).
#include "daemon/metrics.h"

#include <microhttpd.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "daemon/log.h"
#include "jetback/status.h"
#include "version/version.h"

namespace jetback::daemon {
namespace {

std::string Quote(absl::string_view value) {
  return absl::StrCat(
      "\"",
      absl::StrReplaceAll(value,
                          {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
      "\"");
}

// One metric family: HELP, TYPE and its samples.
class Family {
 public:
  Family(std::string* out, absl::string_view name, absl::string_view type,
         absl::string_view help)
      : out_(out), name_(name) {
    absl::StrAppend(out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                    type, "\n");
  }
  // `labels`: pre-rendered `key="value",...` (may be empty).
  void Sample(absl::string_view labels, double value,
              absl::string_view suffix = "") {
    absl::StrAppend(out_, name_, suffix);
    if (!labels.empty()) absl::StrAppend(out_, "{", labels, "}");
    char number[64];
    std::snprintf(number, sizeof(number), "%.17g", value);
    absl::StrAppend(out_, " ", number, "\n");
  }

 private:
  std::string* out_;
  std::string name_;
};

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

struct InstanceSample {
  std::string label;  // jetback_instance="NAME"
  BackupStats stats;
  bool running = false;
  size_t streams = 0;
  std::map<std::string, uint64_t> stops;
  uint64_t commits = 0;
  uint32_t generation = 0, checkpoint = 0;
};

MHD_Result Serve(void* cls, MHD_Connection* connection, const char* url,
                 const char* method, const char* /*version*/,
                 const char* /*upload_data*/, size_t* /*upload_data_size*/,
                 void** /*state*/) {
  auto* host = static_cast<Host*>(cls);
  unsigned int code = MHD_HTTP_OK;
  std::string body;
  if (std::string(method) != "GET" && std::string(method) != "HEAD") {
    code = MHD_HTTP_METHOD_NOT_ALLOWED;
    body = "only GET\n";
  } else if (std::string(url) != "/metrics") {
    code = MHD_HTTP_NOT_FOUND;
    body = "see /metrics\n";
  } else {
    body = RenderMetrics(host);
  }
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type",
                          code == MHD_HTTP_OK
                              ? "text/plain; version=0.0.4; charset=utf-8"
                              : "text/plain; charset=utf-8");
  const MHD_Result queued = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return queued;
}

}  // namespace

std::string RenderMetrics(Host* host) {
  std::vector<InstanceSample> samples;
  for (HostedInstance* hosted : host->instances()) {
    InstanceSample s;
    s.label = absl::StrCat("jetback_instance=", Quote(hosted->config.name));
    s.stats = hosted->backup().Stats();
    s.running = hosted->backup().InProgress();
    {
      jetback::MutexLock lock(&hosted->mu);
      s.streams = hosted->streams.size();
      s.stops = hosted->stops;
    }
    s.commits = hosted->instance->CommittedTransactions();
    s.generation = hosted->instance->CurrentGeneration();
    s.checkpoint = hosted->instance->CheckpointGeneration();
    samples.push_back(std::move(s));
  }

  std::string out;
  {
    Family f(&out, "jetback_build_info", "gauge",
             "Version and git revision of jetbackd.");
    f.Sample(absl::StrCat("version=", Quote(Version()),
                          ",revision=", Quote(GitRevision())),
             1);
  }
  Family(&out, "process_resident_memory_bytes", "gauge",
         "Resident memory of jetbackd.")
      .Sample("", static_cast<double>(ResidentBytes()));
  Family(&out, "jetback_open_streams", "gauge",
         "ReadFile streams open, all instances.")
      .Sample("", host->open_streams());

  Family begun(&out, "jetback_backups_begun_total", "counter",
               "Backups begun.");
  for (const auto& s : samples) begun.Sample(s.label, s.stats.begun);
  Family succeeded(&out, "jetback_backups_succeeded_total", "counter",
                   "Backups ended as successful.");
  for (const auto& s : samples) succeeded.Sample(s.label, s.stats.succeeded);
  Family aborted(&out, "jetback_backups_aborted_total", "counter",
                 "Backups ended as aborted, by cause: stopped (StopBackup), "
                 "client (EndAbort), lease (no call within the lease), error.");
  for (const auto& s : samples) {
    aborted.Sample(absl::StrCat(s.label, ",cause=\"stopped\""),
                   s.stats.aborted_stopped);
    aborted.Sample(absl::StrCat(s.label, ",cause=\"client\""),
                   s.stats.aborted_by_client);
    aborted.Sample(absl::StrCat(s.label, ",cause=\"lease\""),
                   s.stats.aborted_lease);
    aborted.Sample(absl::StrCat(s.label, ",cause=\"error\""),
                   s.stats.aborted_error);
  }
  Family stops(&out, "jetback_backup_stops_total", "counter",
               "StopBackup requests, by initiator.");
  for (const auto& s : samples) {
    for (const auto& [initiator, n] : s.stops) {
      stops.Sample(absl::StrCat(s.label, ",initiator=", Quote(initiator)), n);
    }
  }
  Family streamed(&out, "jetback_backup_streamed_bytes_total", "counter",
                  "Backup data bytes read and verified for agents.");
  for (const auto& s : samples)
    streamed.Sample(s.label, s.stats.bytes_streamed);
  Family last(&out, "jetback_last_successful_backup_timestamp_seconds", "gauge",
              "End of the last successful backup, by kind (full includes "
              "copy backups); absent when there was none.");
  for (const auto& s : samples) {
    if (s.stats.last_full_success != absl::InfinitePast()) {
      last.Sample(
          absl::StrCat(s.label, ",kind=\"full\""),
          absl::ToDoubleSeconds(s.stats.last_full_success - absl::UnixEpoch()));
    }
    if (s.stats.last_incremental_success != absl::InfinitePast()) {
      last.Sample(absl::StrCat(s.label, ",kind=\"incremental\""),
                  absl::ToDoubleSeconds(s.stats.last_incremental_success -
                                        absl::UnixEpoch()));
    }
  }
  Family duration(&out, "jetback_backup_duration_seconds", "summary",
                  "Wall time of ended backups, begin to end.");
  for (const auto& s : samples) {
    duration.Sample(s.label, absl::ToDoubleSeconds(s.stats.duration_sum),
                    "_sum");
    duration.Sample(s.label, s.stats.ended, "_count");
  }
  Family running(&out, "jetback_backup_running", "gauge",
                 "1 while a backup runs on the instance.");
  for (const auto& s : samples) running.Sample(s.label, s.running ? 1 : 0);
  Family active(&out, "jetback_backup_active_streams", "gauge",
                "ReadFile streams open on the instance.");
  for (const auto& s : samples) active.Sample(s.label, s.streams);
  Family commits(&out, "jetback_commits_total", "counter",
                 "Transactions committed (durable) since jetbackd started.");
  for (const auto& s : samples) commits.Sample(s.label, s.commits);
  Family generation(&out, "jetback_log_generation", "gauge",
                    "Current log generation.");
  for (const auto& s : samples) generation.Sample(s.label, s.generation);
  Family lag(&out, "jetback_checkpoint_lag_generations", "gauge",
             "Log generations between the checkpoint and the current one "
             "(what crash recovery would replay).");
  for (const auto& s : samples) {
    lag.Sample(s.label,
               s.generation >= s.checkpoint ? s.generation - s.checkpoint : 0);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, Host* host) {
  sockaddr_in address;
  if (!ParseIpv4Endpoint(listen, &address)) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "metrics.listen must be IPV4:PORT");
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->host_ = host;
  // One internal thread serves every connection in turn; a few connections
  // and a short timeout bound what a slow or hostile scraper can hold.
  server->http_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD, 0, nullptr, nullptr, &Serve, host,
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<const sockaddr*>(&address),
      MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
      MHD_OPTION_END);
  if (server->http_ == nullptr) {
    return JetStatus(jet::JET_errDiskIO,
                     absl::StrCat("metrics: cannot listen on ", listen));
  }
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(server->http_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : 0;
  return server;
}

MetricsServer::~MetricsServer() {
  if (http_ != nullptr) MHD_stop_daemon(http_);
}

}  // namespace jetback::daemon
