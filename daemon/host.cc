#include "daemon/host.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "daemon/log.h"
#include "jetback/status.h"

namespace jetback::daemon {
namespace {

absl::Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return JetStatus(jet::JET_errDiskIO,
                     absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status EnsureTables(Database* db,
                          const std::vector<std::string>& tables) {
  JB_ASSIGN_OR_RETURN(std::vector<std::string> existing, db->ListTables());
  for (const std::string& table : tables) {
    if (std::find(existing.begin(), existing.end(), table) != existing.end()) {
      continue;
    }
    JB_RETURN_IF_ERROR(db->CreateTable(table));
  }
  return absl::OkStatus();
}

}  // namespace

Host::Host(DaemonConfig config)
    : config_(std::move(config)),
      pool_(BackgroundPool::Options{.threads = config_.background_threads}) {}

Host::~Host() { Close(); }

absl::StatusOr<std::unique_ptr<Host>> Host::Open(const DaemonConfig& config) {
  std::unique_ptr<Host> host(new Host(config));
  JB_RETURN_IF_ERROR(host->Start());
  return host;
}

absl::Status Host::Start() {
  for (const InstanceConfig& ic : config_.instances) {
    JB_RETURN_IF_ERROR(MakeDirs(ic.data_dir));
    JB_RETURN_IF_ERROR(MakeDirs(ic.log_dir));
    JB_RETURN_IF_ERROR(MakeDirs(ic.system_dir));
    InstanceOptions options;
    options.name = ic.name;
    options.log_dir = ic.log_dir;
    options.data_dir = ic.data_dir;
    options.system_dir = ic.system_dir;
    options.base_name = ic.base_name;
    options.page_size = ic.page_size;
    options.log_file_size = ic.log_file_size;
    options.circular_logging = ic.circular_logging;
    options.background_pool = &pool_;
    JB_ASSIGN_OR_RETURN(Instance * instance, registry_.Create(options));
    JB_RETURN_IF_ERROR(instance->Init());
    for (const std::string& name : ic.databases) {
      Database* db = instance->FindDatabase(name);
      const std::string path = absl::StrCat(ic.data_dir, "/", name);
      if (db == nullptr) {
        absl::StatusOr<Database*> opened = std::filesystem::exists(path)
                                               ? instance->AttachDatabase(path)
                                               : instance->CreateDatabase(path);
        if (!opened.ok()) return opened.status();
        db = *opened;
      }
      JB_RETURN_IF_ERROR(EnsureTables(db, ic.tables));
    }
    instance->backup().SetLease(config_.lease);
    instance->backup().SetReadRetries(ic.page_read_attempts,
                                      ic.page_read_backoff);
    auto hosted = std::make_unique<HostedInstance>();
    hosted->config = ic;
    hosted->instance = instance;
    hosted_.push_back(std::move(hosted));
    LogInfo("instance started",
            {{"instance", ic.name},
             {"databases", absl::StrJoin(ic.databases, ",")},
             {"generation", absl::StrCat(instance->CurrentGeneration())}});
  }
  return absl::OkStatus();
}

absl::StatusOr<HostedInstance*> Host::Find(absl::string_view name) {
  JB_RETURN_IF_ERROR(CheckNameLength(name, "instance name"));
  JB_ASSIGN_OR_RETURN(Instance * instance, registry_.Lookup(name));
  for (auto& hosted : hosted_) {
    if (hosted->instance == instance) return hosted.get();
  }
  return JetStatus(jet::JET_errInvalidParameter,
                   absl::StrCat("unknown instance '", name, "'"));
}

std::vector<HostedInstance*> Host::instances() {
  std::vector<HostedInstance*> out;
  for (auto& hosted : hosted_) out.push_back(hosted.get());
  return out;
}

void Host::AbortStreams(HostedInstance* hosted, const absl::Status& why) {
  jetback::MutexLock lock(&hosted->mu);
  for (ReadStream* stream : hosted->streams) stream->Abort(why);
}

std::string Host::StopBackup(HostedInstance* hosted, absl::string_view reason,
                             absl::string_view initiator) {
  {
    jetback::MutexLock lock(&hosted->mu);
    const std::string who(initiator);
    if (hosted->stops.count(who) != 0 ||
        hosted->stops.size() < kMaxStopInitiators) {
      ++hosted->stops[who];
    } else {
      ++hosted->stops["other"];
    }
  }
  // The flag first, so a reader between chunks sees it in ReadAt as well.
  std::string id = hosted->backup().Stop(reason, initiator);
  AbortStreams(hosted, BackupStoppedStatus(id, reason, initiator));
  if (id.empty()) return id;
  LogInfo("backup stopped", {{"instance", hosted->config.name},
                             {"backup_id", id},
                             {"reason", std::string(reason)},
                             {"initiator", std::string(initiator)}});
  return id;
}

void Host::StopAll(absl::string_view reason, absl::string_view initiator) {
  for (auto& hosted : hosted_) StopBackup(hosted.get(), reason, initiator);
}

void Host::ExpireIdle(absl::Time now) {
  for (auto& hosted : hosted_) {
    const std::string id = hosted->backup().Progress().backup_id;
    if (!hosted->backup().ExpireIfIdle(now)) continue;
    LogWarn("backup lease expired",
            {{"instance", hosted->config.name}, {"backup_id", id}});
    AbortStreams(hosted.get(),
                 JetStatusWithReason(jet::JET_errNoBackup,
                                     "backup ended: its lease expired",
                                     "lease expired", "jetbackd"));
  }
}

int Host::open_streams() {
  jetback::MutexLock lock(&mu_);
  return registered_;
}

absl::Status Host::Register(HostedInstance* hosted, ReadStream* stream) {
  {
    jetback::MutexLock lock(&mu_);
    if (closed_) {
      return JetStatus(jet::JET_errTermInProgress, "jetbackd is stopping");
    }
    if (registered_ >= config_.max_streams) {
      return JetStatus(jet::JET_errOutOfMemory,
                       absl::StrCat("too many ReadFile streams (limit ",
                                    config_.max_streams, ")"));
    }
    ++registered_;
  }
  jetback::MutexLock lock(&hosted->mu);
  hosted->streams.insert(stream);
  return absl::OkStatus();
}

void Host::Unregister(HostedInstance* hosted, ReadStream* stream) {
  if (hosted == nullptr) return;
  {
    jetback::MutexLock lock(&hosted->mu);
    if (hosted->streams.erase(stream) == 0) return;
  }
  jetback::MutexLock lock(&mu_);
  --registered_;
}

void Host::StreamCreated() {
  jetback::MutexLock lock(&mu_);
  ++live_streams_;
}

void Host::StreamDestroyed() {
  jetback::MutexLock lock(&mu_);
  --live_streams_;
}

bool Host::WaitForStreams(absl::Time deadline) {
  jetback::MutexLock lock(&mu_);
  closed_ = true;
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return live_streams_ == 0;
  };
  return mu_.AwaitWithDeadline(jetback::Condition(&none), deadline);
}

std::string Host::StatusLine() {
  std::vector<std::string> parts;
  const absl::Time now = absl::Now();
  for (auto& hosted : hosted_) {
    if (!hosted->backup().InProgress()) continue;
    BackupProgress p = hosted->backup().Progress();
    const double secs = absl::ToDoubleSeconds(now - p.started_at);
    const double rate = secs > 0 ? p.bytes_done / secs : 0;
    parts.push_back(absl::StrFormat(
        "%s: %s %s %.1f/%.1f MiB %.1f MiB/s%s", hosted->config.name,
        p.phase == BackupPhase::kLogs ? "logs" : "databases", p.current_file,
        p.bytes_done / 1048576.0, p.bytes_total / 1048576.0, rate / 1048576.0,
        p.stop_requested ? " (stopping)" : ""));
  }
  if (parts.empty()) {
    return absl::StrCat("idle; ", hosted_.size(), " instance(s)");
  }
  return absl::StrJoin(parts, "; ");
}

void Host::Close() {
  for (auto& hosted : hosted_) {
    if (!hosted->instance->initialized()) continue;
    absl::Status s = hosted->instance->Term(TermMode::kStopBackup);
    if (!s.ok()) {
      LogError("instance term failed",
               {{"instance", hosted->config.name}, {"error", s.ToString()}});
    } else {
      LogInfo("instance stopped", {{"instance", hosted->config.name}});
    }
  }
}

}  // namespace jetback::daemon
