// File: daemon/services.h
//
// The three gRPC services of jetback.v1, one implementation file each. They
// are thin: authorise (WithRole), validate the request (Check...Request),
// call the engine, convert the result once (ToGrpcStatus). Unary calls use
// the synchronous API (engine calls may fsync, which must not happen inside
// a callback reaction); ReadFile uses the callback API (read_reactor.h).
//
// Thread-safety: every handler may run concurrently.

#ifndef JETBACK_DAEMON_SERVICES_H_
#define JETBACK_DAEMON_SERVICES_H_

#include "daemon/auth.h"
#include "daemon/host.h"
#include "jetback/v1/backup.grpc.pb.h"
#include "jetback/v1/data.grpc.pb.h"
#include "jetback/v1/instances.grpc.pb.h"

namespace jetback::daemon {

class BackupService final
    : public v1::Backup::WithRawCallbackMethod_ReadFile<v1::Backup::Service> {
 public:
  BackupService(Host* host, const Authorizer* auth)
      : host_(host), auth_(auth) {}

  grpc::Status BeginBackup(grpc::ServerContext* ctx,
                           const v1::BeginBackupRequest* req,
                           v1::BeginBackupResponse* resp) override;
  grpc::Status GetAttachInfo(grpc::ServerContext* ctx,
                             const v1::BackupCall* req,
                             v1::AttachInfo* resp) override;
  grpc::Status OpenFile(grpc::ServerContext* ctx,
                        const v1::OpenFileRequest* req,
                        v1::OpenFileResponse* resp) override;
  // Raw: the reactor writes hand-encoded FileChunks (read_reactor.h).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* ReadFile(
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw) override;
  grpc::Status CloseFile(grpc::ServerContext* ctx,
                         const v1::CloseFileRequest* req,
                         v1::CloseFileResponse* resp) override;
  grpc::Status GetLogInfo(grpc::ServerContext* ctx, const v1::BackupCall* req,
                          v1::LogInfo* resp) override;
  grpc::Status GetTruncateLogInfo(grpc::ServerContext* ctx,
                                  const v1::BackupCall* req,
                                  v1::LogInfo* resp) override;
  grpc::Status TruncateLog(grpc::ServerContext* ctx, const v1::BackupCall* req,
                           v1::TruncateLogResponse* resp) override;
  grpc::Status EndBackup(grpc::ServerContext* ctx,
                         const v1::EndBackupRequest* req,
                         v1::EndBackupResponse* resp) override;
  grpc::Status StopBackup(grpc::ServerContext* ctx,
                          const v1::StopBackupRequest* req,
                          v1::StopBackupResponse* resp) override;
  grpc::Status GetBackupStatus(grpc::ServerContext* ctx,
                               const v1::InstanceRef* req,
                               v1::BackupStatus* resp) override;
  grpc::Status ListBackups(grpc::ServerContext* ctx,
                           const v1::ListBackupsRequest* req,
                           v1::ListBackupsResponse* resp) override;

 private:
  grpc::Status LogInfoCall(
      grpc::ServerContext* ctx, const v1::BackupCall* req, v1::LogInfo* resp,
      absl::StatusOr<LogList> (BackupEngine::*call)(absl::string_view));
  // For calls that act on one backup (open, read, close, log info,
  // truncate, end): the caller holds the read role and owns the backup or
  // holds the stop role (Authorizer::AuthorizeOnBackup); a non-owner's
  // action is logged with who did it. `argument_check` (the call's own
  // argument errors) comes after the instance and before the backup id, as
  // in ESE. Sets *caller.
  absl::StatusOr<HostedInstance*> AuthorizeOnBackup(
      const grpc::ServerContextBase& ctx, absl::string_view call,
      const std::string& instance, const std::string& backup_id,
      const absl::Status& argument_check, Principal* caller);
  // The decorator form: runs handler(caller, hosted) once authorised and
  // converts the result once.
  template <typename Request, typename Handler>
  grpc::Status OnBackup(grpc::ServerContext* ctx, absl::string_view call,
                        const Request& req, Handler&& handler);

  Host* const host_;
  const Authorizer* const auth_;
};

class InstancesService final : public v1::Instances::Service {
 public:
  InstancesService(Host* host, const Authorizer* auth)
      : host_(host), auth_(auth) {}

  grpc::Status ListInstances(grpc::ServerContext* ctx,
                             const v1::ListInstancesRequest* req,
                             v1::ListInstancesResponse* resp) override;
  grpc::Status StopService(grpc::ServerContext* ctx,
                           const v1::StopServiceRequest* req,
                           v1::StopServiceResponse* resp) override;
  grpc::Status CreateDatabase(grpc::ServerContext* ctx,
                              const v1::DatabaseRequest* req,
                              v1::DatabaseInfo* resp) override;
  grpc::Status AttachDatabase(grpc::ServerContext* ctx,
                              const v1::DatabaseRequest* req,
                              v1::DatabaseInfo* resp) override;
  grpc::Status DetachDatabase(grpc::ServerContext* ctx,
                              const v1::DatabaseRequest* req,
                              v1::DetachDatabaseResponse* resp) override;

 private:
  Host* const host_;
  const Authorizer* const auth_;
};

class DataService final : public v1::Data::Service {
 public:
  DataService(Host* host, const Authorizer* auth) : host_(host), auth_(auth) {}

  grpc::Status CreateTable(grpc::ServerContext* ctx,
                           const v1::TableRequest* req,
                           v1::CreateTableResponse* resp) override;
  grpc::Status Transact(grpc::ServerContext* ctx,
                        const v1::TransactRequest* req,
                        v1::TransactResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetRequest* req,
                   v1::GetResponse* resp) override;
  grpc::Status Scan(grpc::ServerContext* ctx, const v1::ScanRequest* req,
                    grpc::ServerWriter<v1::Row>* writer) override;

 private:
  Host* const host_;
  const Authorizer* const auth_;
};

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_SERVICES_H_
