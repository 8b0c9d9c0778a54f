// The Backup service: ESE streaming backup over gRPC.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/read_reactor.h"
#include "daemon/services.h"
#include "jetback/status.h"

namespace jetback::daemon {
namespace {

v1::BackupSlot ToProtoSlot(BackupSlotKind kind) {
  switch (kind) {
    case BackupSlotKind::kNone:
      return v1::BACKUP_SLOT_NONE;
    case BackupSlotKind::kFull:
      return v1::BACKUP_SLOT_FULL;
    case BackupSlotKind::kCopy:
      return v1::BACKUP_SLOT_COPY;
    case BackupSlotKind::kIncremental:
      return v1::BACKUP_SLOT_INCREMENTAL;
    case BackupSlotKind::kDifferential:
      return v1::BACKUP_SLOT_DIFFERENTIAL;
  }
  return v1::BACKUP_SLOT_NONE;
}

absl::Status CheckBackupId(absl::string_view backup_id) {
  // The engine reads an empty id as "the running backup"; over the wire a
  // backup is only reachable by the id its owner was given.
  if (backup_id.empty()) {
    return JetStatus(jet::JET_errNoBackup, "backup_id is required");
  }
  if (backup_id.size() > 128) {
    return JetStatus(jet::JET_errNoBackup, "no backup with that id");
  }
  return absl::OkStatus();
}

absl::Status CheckBeginRequest(const v1::BeginBackupRequest& req) {
  if (req.client_name().size() > 256) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "client_name longer than 256 bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckOpenFileRequest(const v1::OpenFileRequest& req) {
  JB_RETURN_IF_ERROR(CheckBackupId(req.backup_id()));
  if (req.name().empty() || req.name().find('\0') != std::string::npos) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "name must be a file the backup listed");
  }
  return absl::OkStatus();
}

// Fills `plan` from the request alone; the reader thread checks it against
// the engine's open file (the reaction makes no engine call).
absl::Status PlanReadFile(const v1::ReadFileRequest& req,
                          const HostedInstance& hosted,
                          const DaemonConfig& config, ReadPlan* plan) {
  JB_RETURN_IF_ERROR(CheckBackupId(req.backup_id()));
  plan->backup_id = req.backup_id();
  plan->handle = req.handle();
  plan->offset = req.offset();
  plan->length = req.length();
  plan->stream_digest = req.stream_xxh3_128();
  plan->rate =
      EffectiveRate(req.max_bytes_per_second(), hosted.config.max_backup_rate);
  plan->page_size = hosted.config.page_size;
  plan->chunk_size = config.chunk_size;
  plan->reader_nice = config.reader_nice;
  return absl::OkStatus();
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  if (t == absl::InfinitePast() || t == absl::UnixEpoch()) return;
  const int64_t ns = absl::ToUnixNanos(t);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

void FillStatus(HostedInstance* hosted, absl::Duration lease,
                v1::BackupStatus* out) {
  BackupProgress p = hosted->backup().Progress();
  out->set_instance(hosted->config.name);
  if (p.phase == BackupPhase::kNone) return;
  out->set_backup_id(p.backup_id);
  out->set_phase(p.phase == BackupPhase::kLogs ? v1::BACKUP_PHASE_LOGS
                                               : v1::BACKUP_PHASE_DATABASES);
  out->set_incremental(p.incremental);
  out->set_current_file(p.current_file);
  out->set_bytes_done(p.bytes_done);
  out->set_bytes_total(p.bytes_total);
  const double secs = absl::ToDoubleSeconds(absl::Now() - p.started_at);
  out->set_bytes_per_second(secs > 0 ? p.bytes_done / secs : 0);
  out->set_initiator(p.initiator);
  out->set_client_name(p.client_name);
  SetTime(p.started_at, out->mutable_started_at());
  if (lease > absl::ZeroDuration()) {
    SetTime(p.last_call_at + lease, out->mutable_lease_expires_at());
  }
  out->set_stop_requested(p.stop_requested);
  out->set_stop_reason(p.stop_reason);
  out->set_stop_initiator(p.stop_initiator);
}

void FillLogInfo(const LogList& list, v1::LogInfo* out) {
  for (const std::string& f : list.files) out->add_files(f);
  out->set_gen_low(list.gen_low);
  out->set_gen_high(list.gen_high);
  out->set_base_name(list.base_name);
}

}  // namespace

grpc::Status BackupService::BeginBackup(grpc::ServerContext* ctx,
                                        const v1::BeginBackupRequest* req,
                                        v1::BeginBackupResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal& caller) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_RETURN_IF_ERROR(CheckBeginRequest(*req));
    JB_ASSIGN_OR_RETURN(
        BeginResult begun,
        hosted->backup().Begin(req->grbit(),
                               BeginOptions{caller.name, req->client_name()}));
    resp->set_backup_id(begun.backup_id);
    resp->set_lease_ms(static_cast<uint32_t>(
        absl::ToInt64Milliseconds(host_->config().lease)));
    resp->set_incremental(begun.incremental);
    resp->set_page_size(hosted->config.page_size);
    resp->set_checkpoint_generation(begun.checkpoint_generation);
    resp->set_chunk_size(host_->config().chunk_size);
    resp->set_max_bytes_per_second(hosted->config.max_backup_rate);
    return absl::OkStatus();
  });
}

grpc::Status BackupService::GetAttachInfo(grpc::ServerContext* ctx,
                                          const v1::BackupCall* req,
                                          v1::AttachInfo* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_RETURN_IF_ERROR(CheckBackupId(req->backup_id()));
    JB_ASSIGN_OR_RETURN(std::vector<std::string> dbs,
                        hosted->backup().GetAttachInfo(req->backup_id()));
    for (const std::string& db : dbs) resp->add_databases(db);
    return absl::OkStatus();
  });
}

grpc::Status BackupService::OpenFile(grpc::ServerContext* ctx,
                                     const v1::OpenFileRequest* req,
                                     v1::OpenFileResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_RETURN_IF_ERROR(CheckOpenFileRequest(*req));
    // The engine only opens names it listed itself: no path from the
    // client reaches the file system.
    JB_ASSIGN_OR_RETURN(OpenedFile opened,
                        hosted->backup().OpenFile(req->backup_id(), req->name(),
                                                  req->offset()));
    resp->set_handle(opened.handle);
    resp->set_size(opened.size);
    resp->set_is_log(opened.is_log);
    resp->set_generation(opened.generation);
    resp->set_page_size(hosted->config.page_size);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* BackupService::ReadFile(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw) {
  // Everything here is in-memory and quick: no engine I/O in the reaction.
  ReadPlan plan;
  HostedInstance* hosted = nullptr;
  absl::Status status = [&]() -> absl::Status {
    JB_RETURN_IF_ERROR(auth_->Authorize(*ctx, Role::kRead).status());
    v1::ReadFileRequest req;
    JB_RETURN_IF_ERROR(ParseReadFileRequest(*raw, &req));
    JB_ASSIGN_OR_RETURN(hosted, host_->Find(req.instance()));
    return PlanReadFile(req, *hosted, host_->config(), &plan);
  }();
  return ReadFileReactor::Start(host_, hosted, ctx, plan, status);
}

grpc::Status BackupService::CloseFile(grpc::ServerContext* ctx,
                                      const v1::CloseFileRequest* req,
                                      v1::CloseFileResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_RETURN_IF_ERROR(CheckBackupId(req->backup_id()));
    JB_ASSIGN_OR_RETURN(
        ClosedFile closed,
        hosted->backup().CloseFile(req->backup_id(), req->handle()));
    resp->set_complete(closed.complete);
    return absl::OkStatus();
  });
}

// GetLogInfo and GetTruncateLogInfo differ only in the engine call.
grpc::Status BackupService::LogInfoCall(
    grpc::ServerContext* ctx, const v1::BackupCall* req, v1::LogInfo* resp,
    absl::StatusOr<LogList> (BackupEngine::*call)(absl::string_view)) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_RETURN_IF_ERROR(CheckBackupId(req->backup_id()));
    JB_ASSIGN_OR_RETURN(LogList list,
                        (hosted->backup().*call)(req->backup_id()));
    FillLogInfo(list, resp);
    return absl::OkStatus();
  });
}

grpc::Status BackupService::GetLogInfo(grpc::ServerContext* ctx,
                                       const v1::BackupCall* req,
                                       v1::LogInfo* resp) {
  return LogInfoCall(ctx, req, resp, &BackupEngine::GetLogInfo);
}

grpc::Status BackupService::GetTruncateLogInfo(grpc::ServerContext* ctx,
                                               const v1::BackupCall* req,
                                               v1::LogInfo* resp) {
  return LogInfoCall(ctx, req, resp, &BackupEngine::GetTruncateLogInfo);
}

grpc::Status BackupService::TruncateLog(grpc::ServerContext* ctx,
                                        const v1::BackupCall* req,
                                        v1::TruncateLogResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_RETURN_IF_ERROR(CheckBackupId(req->backup_id()));
    JB_ASSIGN_OR_RETURN(uint32_t deleted,
                        hosted->backup().TruncateLog(req->backup_id()));
    resp->set_deleted(deleted);
    return absl::OkStatus();
  });
}

grpc::Status BackupService::EndBackup(grpc::ServerContext* ctx,
                                      const v1::EndBackupRequest* req,
                                      v1::EndBackupResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_RETURN_IF_ERROR(CheckBackupId(req->backup_id()));
    JB_ASSIGN_OR_RETURN(EndResult end,
                        hosted->backup().End(req->backup_id(), req->grbit()));
    resp->set_outcome(end.succeeded ? v1::BACKUP_OUTCOME_SUCCEEDED
                                    : v1::BACKUP_OUTCOME_ABORTED);
    resp->set_abort_jet_err(end.abort_jet_err);
    resp->set_reason(end.reason);
    resp->set_initiator(end.initiator);
    resp->set_slot(ToProtoSlot(end.slot));
    resp->set_intended_slot(ToProtoSlot(end.intended_slot));
    for (const std::string& path : end.stamped) {
      resp->add_stamped_databases(path);
    }
    for (const EndResult::LeftOut& out : end.left_out) {
      v1::LeftOutDatabase* d = resp->add_left_out();
      d->set_database(out.path);
      d->set_jet_err(out.jet_err);
      d->set_reason(out.reason);
    }
    resp->set_gen_low(end.gen_low);
    resp->set_gen_high(end.gen_high);
    return absl::OkStatus();
  });
}

grpc::Status BackupService::StopBackup(grpc::ServerContext* ctx,
                                       const v1::StopBackupRequest* req,
                                       v1::StopBackupResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kStop, [&](const Principal& caller) {
    // Empty instance: the legacy JetStopBackup (-1081 with several).
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    if (req->reason().size() > 1024) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "reason longer than 1024 bytes");
    }
    const std::string reason =
        req->reason().empty() ? "stopped by operator" : req->reason();
    const std::string id = host_->StopBackup(hosted, reason, caller.name);
    resp->set_instance(hosted->config.name);
    resp->set_backup_was_running(!id.empty());
    resp->set_backup_id(id);
    return absl::OkStatus();
  });
}

grpc::Status BackupService::GetBackupStatus(grpc::ServerContext* ctx,
                                            const v1::InstanceRef* req,
                                            v1::BackupStatus* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    FillStatus(hosted, host_->config().lease, resp);
    return absl::OkStatus();
  });
}

grpc::Status BackupService::ListBackups(grpc::ServerContext* ctx,
                                        const v1::ListBackupsRequest* req,
                                        v1::ListBackupsResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, [&](const Principal&) {
    for (HostedInstance* hosted : host_->instances()) {
      if (!hosted->backup().InProgress()) continue;
      FillStatus(hosted, host_->config().lease, resp->add_backups());
    }
    return absl::OkStatus();
  });
}

}  // namespace jetback::daemon
