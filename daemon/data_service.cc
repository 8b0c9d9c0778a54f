// The Data service: tables and transactions on the hosted databases.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/request_checks.h"
#include "daemon/services.h"
#include "jetback/status.h"

namespace jetback::daemon {
namespace {

// The database `name` of the instance; empty: its first database.
absl::StatusOr<Database*> FindDatabase(HostedInstance* hosted,
                                       const std::string& name) {
  if (name.empty()) {
    std::vector<Database*> dbs = hosted->instance->Databases();
    if (dbs.empty()) {
      return JetStatus(jet::JET_errDatabaseNotFound,
                       "the instance has no database attached");
    }
    return dbs.front();
  }
  JB_RETURN_IF_ERROR(CheckFileName(name));
  Database* db = hosted->instance->FindDatabase(name);
  if (db == nullptr) {
    return JetStatus(jet::JET_errDatabaseNotFound,
                     absl::StrCat("no database '", name, "' attached"));
  }
  return db;
}

absl::Status Apply(Transaction* txn, const v1::Operation& op,
                   v1::TransactResponse* resp) {
  switch (op.kind()) {
    case v1::Operation::KIND_PUT:
      return txn->Put(op.table(), op.key(), op.value());
    case v1::Operation::KIND_INSERT:
      return txn->Insert(op.table(), op.key(), op.value());
    case v1::Operation::KIND_DELETE:
      return txn->Delete(op.table(), op.key());
    case v1::Operation::KIND_GET: {
      JB_ASSIGN_OR_RETURN(std::string value, txn->Get(op.table(), op.key()));
      resp->add_values(std::move(value));
      return absl::OkStatus();
    }
    default:
      return JetStatus(jet::JET_errInvalidParameter, "unknown operation");
  }
}

}  // namespace

grpc::Status DataService::CreateTable(grpc::ServerContext* ctx,
                                      const v1::TableRequest* req,
                                      v1::CreateTableResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kData, *req, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_ASSIGN_OR_RETURN(Database * db, FindDatabase(hosted, req->database()));
    JB_RETURN_IF_ERROR(CheckNameLength(req->table(), "table name"));
    return db->CreateTable(req->table());
  });
}

grpc::Status DataService::Transact(grpc::ServerContext* ctx,
                                   const v1::TransactRequest* req,
                                   v1::TransactResponse* resp) {
  return WithRole(
      *auth_, *ctx, Role::kData, *req,
      [&](const Principal&) {
        JB_ASSIGN_OR_RETURN(HostedInstance * hosted,
                            host_->Find(req->instance()));
        JB_ASSIGN_OR_RETURN(Database * db,
                            FindDatabase(hosted, req->database()));
        JB_RETURN_IF_ERROR(
            CheckTransactRequest(*req, host_->config().max_transaction_ops));
        std::unique_ptr<Transaction> txn = db->Begin();
        for (int i = 0; i < req->operations_size(); ++i) {
          absl::Status s = Apply(txn.get(), req->operations(i), resp);
          if (!s.ok()) {
            txn->Rollback();
            resp->Clear();
            return JetStatusWithReason(
                JetErrOf(s),
                absl::StrCat("failed_index=", i, ": ", s.message()),
                JetReasonOf(s), JetInitiatorOf(s));
          }
        }
        JB_RETURN_IF_ERROR(txn->Commit());
        resp->set_commit_generation(txn->commit_generation());
        return absl::OkStatus();
      },
      host_->config().max_request_bytes);
}

grpc::Status DataService::Get(grpc::ServerContext* ctx,
                              const v1::GetRequest* req,
                              v1::GetResponse* resp) {
  return WithRole(*auth_, *ctx, Role::kData, *req, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_ASSIGN_OR_RETURN(Database * db, FindDatabase(hosted, req->database()));
    JB_RETURN_IF_ERROR(CheckNameLength(req->table(), "table name"));
    std::unique_ptr<Transaction> txn = db->Begin();
    JB_ASSIGN_OR_RETURN(*resp->mutable_value(),
                        txn->Get(req->table(), req->key()));
    txn->Rollback();
    return absl::OkStatus();
  });
}

grpc::Status DataService::Scan(grpc::ServerContext* ctx,
                               const v1::ScanRequest* req,
                               grpc::ServerWriter<v1::Row>* writer) {
  return WithRole(*auth_, *ctx, Role::kData, *req, [&](const Principal&) {
    JB_ASSIGN_OR_RETURN(HostedInstance * hosted, host_->Find(req->instance()));
    JB_ASSIGN_OR_RETURN(Database * db, FindDatabase(hosted, req->database()));
    JB_RETURN_IF_ERROR(CheckNameLength(req->table(), "table name"));
    const std::string& prefix = req->prefix();
    const std::string start = std::max(req->start(), prefix);
    uint64_t sent = 0;
    std::unique_ptr<Transaction> txn = db->Begin();
    v1::Row row;
    absl::Status s =
        txn->Scan(req->table(), start, req->end(),
                  [&](absl::string_view key, absl::string_view value) {
                    if (!absl::StartsWith(key, prefix))
                      return false;  // past the prefix
                    row.set_key(std::string(key));
                    row.set_value(std::string(value));
                    if (!writer->Write(row)) return false;  // client went away
                    return req->limit() == 0 || ++sent < req->limit();
                  });
    txn->Rollback();
    return s;
  });
}

}  // namespace jetback::daemon
