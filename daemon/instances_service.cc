// The Instances service: what is hosted, StopService, database attach.
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "daemon/services.h"
#include "jetback/backup.h"
#include "jetback/status.h"

namespace jetback::daemon {
namespace {

absl::Status CheckStopServiceRequest(const v1::StopServiceRequest& req) {
  // Grbit legality (0x8 alone, resume after "all") is the engine's rule.
  return absl::OkStatus();
}

// Database names are file names inside the instance's data directory; the
// client never passes a path.
absl::StatusOr<std::string> CheckDatabaseRequest(const v1::DatabaseRequest& req,
                                                 const HostedInstance& hosted) {
  JB_RETURN_IF_ERROR(CheckFileName(req.name()));
  return absl::StrCat(hosted.config.data_dir, "/", req.name());
}

void FillDatabase(Database* db, v1::DatabaseInfo* out) {
  out->set_name(db->name());
  out->set_path(db->path());
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(db->path(), ec);
  if (!ec) out->set_size_bytes(size);
  const DatabaseHeaderInfo h = db->HeaderInfo();
  out->set_full_gen_low(h.full_prev.gen_low);
  out->set_full_gen_high(h.full_prev.gen_high);
  out->set_incremental_gen_low(h.inc_prev.gen_low);
  out->set_incremental_gen_high(h.inc_prev.gen_high);
  out->set_copy_gen_low(h.copy_prev.gen_low);
  out->set_copy_gen_high(h.copy_prev.gen_high);
  out->set_differential_gen_low(h.diff_prev.gen_low);
  out->set_differential_gen_high(h.diff_prev.gen_high);
}

}  // namespace

grpc::Status InstancesService::ListInstances(
    grpc::ServerContext* ctx, const v1::ListInstancesRequest* req,
    v1::ListInstancesResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kRead, *req, [&](const Principal&) {
    for (HostedInstance* hosted : host_->instances()) {
      Instance* instance = hosted->instance;
      const InstanceOptions& o = instance->options();
      v1::InstanceInfo* info = resp->add_instances();
      info->set_name(o.name);
      info->set_log_dir(o.log_dir);
      info->set_system_dir(o.system_dir);
      info->set_base_name(o.base_name);
      info->set_page_size(o.page_size);
      info->set_log_file_size(o.log_file_size);
      info->set_circular_logging(o.circular_logging);
      info->set_backup_running(hosted->backup().InProgress());
      info->set_service_stopped(!instance->initialized());
      if (!instance->initialized()) continue;
      for (Database* db : instance->Databases()) {
        FillDatabase(db, info->add_databases());
      }
      info->set_current_generation(instance->CurrentGeneration());
      info->set_checkpoint_generation(instance->CheckpointGeneration());
    }
    return absl::OkStatus();
  });
}

grpc::Status InstancesService::StopService(grpc::ServerContext* ctx,
                                           const v1::StopServiceRequest* req,
                                           v1::StopServiceResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kStop, *req, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_RETURN_IF_ERROR(CheckStopServiceRequest(*req));
    return hosted->instance->StopService(req->grbit());
  });
}

grpc::Status InstancesService::CreateDatabase(grpc::ServerContext* ctx,
                                              const v1::DatabaseRequest* req,
                                              v1::DatabaseInfo* resp) {
  return WithRole(*auth_, *ctx, Role::kStop, *req, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_ASSIGN_OR_RETURN(std::string path, CheckDatabaseRequest(*req, *hosted));
    JB_ASSIGN_OR_RETURN(Database * db, hosted->instance->CreateDatabase(path));
    FillDatabase(db, resp);
    return absl::OkStatus();
  });
}

grpc::Status InstancesService::AttachDatabase(grpc::ServerContext* ctx,
                                              const v1::DatabaseRequest* req,
                                              v1::DatabaseInfo* resp) {
  return WithRole(*auth_, *ctx, Role::kStop, *req, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_ASSIGN_OR_RETURN(std::string path, CheckDatabaseRequest(*req, *hosted));
    JB_ASSIGN_OR_RETURN(Database * db, hosted->instance->AttachDatabase(path));
    FillDatabase(db, resp);
    return absl::OkStatus();
  });
}

grpc::Status InstancesService::DetachDatabase(
    grpc::ServerContext* ctx, const v1::DatabaseRequest* req,
    v1::DetachDatabaseResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kStop, *req, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_ASSIGN_OR_RETURN(std::string path, CheckDatabaseRequest(*req, *hosted));
    return hosted->instance->DetachDatabase(path);
  });
}

}  // namespace jetback::daemon
