// The Backup service: ESE streaming backup over gRPC.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"
#include "daemon/read_reactor.h"
#include "daemon/request_checks.h"
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
  if (req.wire_codec() != v1::CHUNK_CODEC_NONE &&
      req.wire_codec() != v1::CHUNK_CODEC_ZSTD) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("unknown wire_codec ", req.wire_codec()));
  }
  plan->wire_codec = req.wire_codec();
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

// Arguments ESE checks before it looks for the backup: EndBackup's grbit
// is -1003 even when no backup runs (not -520).
template <typename Request>
absl::Status CheckBeforeBackupLookup(const Request&) {
  return absl::OkStatus();
}
absl::Status CheckBeforeBackupLookup(const v1::EndBackupRequest& req) {
  return CheckEndGrbit(req.grbit());
}

void FillLogInfo(const LogList& list, v1::LogInfo* out) {
  for (const std::string& f : list.files) out->add_files(f);
  out->set_gen_low(list.gen_low);
  out->set_gen_high(list.gen_high);
  out->set_base_name(list.base_name);
}

}  // namespace

absl::StatusOr<HostedInstance*> BackupService::AuthorizeOnBackup(
    const grpc::ServerContextBase& ctx, absl::string_view call,
    const std::string& instance, const std::string& backup_id,
    const absl::Status& argument_check, Principal* caller) {
  JB_ASSIGN_OR_RETURN(*caller, auth_->Authorize(ctx, Role::kRead));
  JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(instance));
  JB_RETURN_IF_ERROR(argument_check);
  JB_RETURN_IF_ERROR(CheckBackupId(backup_id));
  std::string owner;
  {
    jetback::MutexLock lock(&hosted->mu);
    if (hosted->backup_id == backup_id) owner = hosted->backup_owner;
  }
  if (owner.empty()) {
    // Not recorded yet (BeginBackup still returning) or not a backup of
    // ours: ask the engine; an id it does not run gets its -520.
    BackupProgress p = hosted->backup().Progress();
    if (p.backup_id != backup_id) return hosted;
    owner = p.initiator;
  }
  bool by_other = false;
  JB_RETURN_IF_ERROR(auth_->AuthorizeOnBackup(*caller, owner, &by_other));
  if (by_other) {
    LogInfo("backup call by a principal other than its owner",
            {{"call", std::string(call)},
             {"instance", hosted->config.name},
             {"backup_id", backup_id},
             {"caller", caller->name},
             {"owner", owner}});
  }
  return hosted;
}

template <typename Request, typename Handler>
grpc::Status BackupService::OnBackup(grpc::ServerContext* ctx,
                                     absl::string_view call, const Request& req,
                                     Handler&& handler) {
  Principal caller;
  absl::StatusOr<HostedInstance*> hosted =
      AuthorizeOnBackup(*ctx, call, req.instance(), req.backup_id(),
                        CheckBeforeBackupLookup(req), &caller);
  if (!hosted.ok()) return ToGrpcStatus(hosted.status());
  absl::Status size = CheckRequestSize(req, kMaxControlRequestBytes);
  if (!size.ok()) return ToGrpcStatus(size);
  return ToGrpcStatus(handler(caller, *hosted));
}

grpc::Status BackupService::BeginBackup(grpc::ServerContext* ctx,
                                        const v1::BeginBackupRequest* req,
                                        v1::BeginBackupResponse* resp) {
  return WithRole(
      *auth_, *ctx, Role::kRead, *req, [&](const Principal& caller) {
        JB_ASSIGN_OR_RETURN(HostedInstance * hosted,
                            host_->Find(req->instance()));
        JB_RETURN_IF_ERROR(CheckBeginRequest(*req));
        JB_ASSIGN_OR_RETURN(
            BeginResult begun,
            hosted->backup().Begin(
                req->grbit(), BeginOptions{caller.name, req->client_name()}));
        {
          jetback::MutexLock lock(&hosted->mu);
          hosted->backup_id = begun.backup_id;
          hosted->backup_owner = caller.name;
        }
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
  return OnBackup(
      ctx, "GetAttachInfo", *req,
      [&](const Principal&, HostedInstance* hosted) -> absl::Status {
        JB_ASSIGN_OR_RETURN(std::vector<std::string> dbs,
                            hosted->backup().GetAttachInfo(req->backup_id()));
        for (const std::string& db : dbs) resp->add_databases(db);
        return absl::OkStatus();
      });
}

grpc::Status BackupService::OpenFile(grpc::ServerContext* ctx,
                                     const v1::OpenFileRequest* req,
                                     v1::OpenFileResponse* resp) {
  return OnBackup(
      ctx, "OpenFile", *req,
      [&](const Principal&, HostedInstance* hosted) -> absl::Status {
        JB_RETURN_IF_ERROR(CheckOpenFileRequest(*req));
        // The engine only opens names it listed itself: no path from the
        // client reaches the file system.
        JB_ASSIGN_OR_RETURN(OpenedFile opened,
                            hosted->backup().OpenFile(
                                req->backup_id(), req->name(), req->offset()));
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
    if (raw->Length() > kMaxControlRequestBytes) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "ReadFileRequest larger than a control call takes");
    }
    v1::ReadFileRequest req;
    JB_RETURN_IF_ERROR(ParseReadFileRequest(*raw, &req));
    Principal caller;
    JB_ASSIGN_OR_RETURN(
        hosted, AuthorizeOnBackup(*ctx, "ReadFile", req.instance(),
                                  req.backup_id(), absl::OkStatus(), &caller));
    return PlanReadFile(req, *hosted, host_->config(), &plan);
  }();
  return ReadFileReactor::Start(host_, hosted, ctx, plan, status);
}

grpc::Status BackupService::CloseFile(grpc::ServerContext* ctx,
                                      const v1::CloseFileRequest* req,
                                      v1::CloseFileResponse* resp) {
  return OnBackup(
      ctx, "CloseFile", *req,
      [&](const Principal&, HostedInstance* hosted) -> absl::Status {
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
  return OnBackup(
      ctx, "GetLogInfo", *req,
      [&](const Principal&, HostedInstance* hosted) -> absl::Status {
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
  return OnBackup(
      ctx, "TruncateLog", *req,
      [&](const Principal&, HostedInstance* hosted) -> absl::Status {
        JB_ASSIGN_OR_RETURN(uint32_t deleted,
                            hosted->backup().TruncateLog(req->backup_id()));
        resp->set_deleted(deleted);
        return absl::OkStatus();
      });
}

grpc::Status BackupService::EndBackup(grpc::ServerContext* ctx,
                                      const v1::EndBackupRequest* req,
                                      v1::EndBackupResponse* resp) {
  return OnBackup(
      ctx, "EndBackup", *req,
      [&](const Principal& caller, HostedInstance* hosted) -> absl::Status {
        JB_ASSIGN_OR_RETURN(EndResult end, hosted->backup().End(
                                               req->backup_id(), req->grbit()));
        // An abort by someone other than the owner names who aborted it.
        if (end.abort_jet_err == jet::JET_errBackupAbortByCaller) {
          end.initiator = caller.name;
        }
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
  return WithRole(
      *auth_, *ctx, Role::kStop, *req, [&](const Principal& caller) {
        // Empty instance: the legacy JetStopBackup (-1081 with several).
        JB_ASSIGN_OR_RETURN(HostedInstance * hosted,
                            host_->Find(req->instance()));
        JB_RETURN_IF_ERROR(CheckStopReason(req->reason()));
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
  return WithRole(*auth_, *ctx, Role::kRead, *req, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    FillStatus(hosted, host_->config().lease, resp);
    return absl::OkStatus();
  });
}

grpc::Status BackupService::ListBackups(grpc::ServerContext* ctx,
                                        const v1::ListBackupsRequest* req,
                                        v1::ListBackupsResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, *req, [&](const Principal&) {
    for (HostedInstance* hosted : host_->instances()) {
      if (!hosted->backup().InProgress()) continue;
      FillStatus(hosted, host_->config().lease, resp->add_backups());
    }
    return absl::OkStatus();
  });
}

}  // namespace jetback::daemon
