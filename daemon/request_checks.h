// File: daemon/request_checks.h
//
// The checks every request passes before it reaches the engine, apart from
// the services so they can be fuzzed on their own (fuzz/request_fuzzer.cc).
// Each returns OK or the JET_ERR status the caller gets; messages never echo
// unbounded client input.
//
// Thread-safety: pure functions.

#ifndef JETBACK_DAEMON_REQUEST_CHECKS_H_
#define JETBACK_DAEMON_REQUEST_CHECKS_H_

#include <google/protobuf/message_lite.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "daemon/config.h"
#include "jetback/v1/backup.pb.h"
#include "jetback/v1/data.pb.h"

namespace jetback::daemon {

// Largest request a control call accepts (every call but Transact, whose
// bound is the transport's max_request_bytes). gRPC 1.51 has no per-method
// receive limit on the server: the transport limit caps what is read, and
// this one is checked on the parsed request before any work.
inline constexpr size_t kMaxControlRequestBytes = 4096;

// -1003 when `request` is larger than `max_bytes`.
absl::Status CheckRequestSize(const google::protobuf::MessageLite& request,
                              size_t max_bytes);

// A backup is only reachable by the id its owner was given: -520 for an
// empty or oversized one.
absl::Status CheckBackupId(absl::string_view backup_id);

// At most 1024 bytes and no control bytes (-1003).
absl::Status CheckStopReason(absl::string_view reason);

// EndBackup's grbit: exactly one of EndNormal and EndAbort (-1003), checked
// before the backup is looked up.
absl::Status CheckEndGrbit(uint32_t grbit);

absl::Status CheckBeginRequest(const v1::BeginBackupRequest& req);
absl::Status CheckOpenFileRequest(const v1::OpenFileRequest& req);
// 1 to max_ops operations of known kinds, table names within kMaxNameBytes.
absl::Status CheckTransactRequest(const v1::TransactRequest& req, int max_ops);

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_REQUEST_CHECKS_H_
