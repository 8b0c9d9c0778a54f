// The request checks of the gRPC services (request_checks.h).
#include "daemon/request_checks.h"

#include "absl/strings/str_cat.h"
#include "jetback/backup.h"
#include "jetback/status.h"

namespace jetback::daemon {

absl::Status CheckRequestSize(const google::protobuf::MessageLite& request,
                              size_t max_bytes) {
  const size_t size = request.ByteSizeLong();
  if (size <= max_bytes) return absl::OkStatus();
  return JetStatus(jet::JET_errInvalidParameter,
                   absl::StrCat("request of ", size, " bytes; this call takes ",
                                max_bytes, " at most"));
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

// A stop reason travels to logs, statuses and the agent: bounded, and no
// control bytes (a NUL or an escape sequence would reach a terminal or cut
// a log line).
absl::Status CheckStopReason(absl::string_view reason) {
  if (reason.size() > 1024) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "reason longer than 1024 bytes");
  }
  for (unsigned char c : reason) {
    if (c < 0x20 || c == 0x7f) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "reason contains a control character");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEndGrbit(uint32_t grbit) {
  const bool normal = (grbit & JET_bitBackupEndNormal) != 0;
  const bool abort = (grbit & JET_bitBackupEndAbort) != 0;
  if (normal == abort) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "EndBackup needs exactly one of EndNormal and EndAbort");
  }
  return absl::OkStatus();
}

absl::Status CheckBeginRequest(const v1::BeginBackupRequest& req) {
  if (req.client_name().size() > 256) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "client_name longer than 256 bytes");
  }
  for (unsigned char c : req.client_name()) {
    if (c < 0x20 || c == 0x7f) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "client_name contains a control character");
    }
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

absl::Status CheckTransactRequest(const v1::TransactRequest& req, int max_ops) {
  if (req.operations_size() == 0 || req.operations_size() > max_ops) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat("a transaction needs 1 to ", max_ops, " operations"));
  }
  for (int i = 0; i < req.operations_size(); ++i) {
    const v1::Operation& op = req.operations(i);
    if (op.kind() < v1::Operation::KIND_PUT ||
        op.kind() > v1::Operation::KIND_GET) {
      return JetStatus(jet::JET_errInvalidParameter,
                       absl::StrCat("operation ", i, ": unknown kind"));
    }
    JB_RETURN_IF_ERROR(CheckNameLength(op.table(), "table name"));
  }
  return absl::OkStatus();
}

}  // namespace jetback::daemon
