// File: jetback/status.h
//
// The engine's one error currency: absl::Status carrying an exact JET_ERR as
// a payload. JetStatus() is the only way the engine builds an error; the
// status code follows the JET_ERR table, so retry behaviour is readable from
// the code alone while the exact ESE value travels with it.
//
// A stop (-801) also carries the reason and the principal that asked for it,
// so the caller that hits the flag can say why.

#ifndef JETBACK_STATUS_H_
#define JETBACK_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "jetback/jet_err.h"

namespace jetback {

// Payload type URLs. Values are the decimal JET_ERR and plain UTF-8 text.
inline constexpr absl::string_view kJetErrPayloadUrl =
    "type.jetback.dev/jet_err";
inline constexpr absl::string_view kReasonPayloadUrl =
    "type.jetback.dev/reason";
inline constexpr absl::string_view kInitiatorPayloadUrl =
    "type.jetback.dev/initiator";

// An error status for `err` (must be non-zero) with a message for humans.
absl::Status JetStatus(JetErr err, absl::string_view message = {});

// As JetStatus, plus why and by whom (used for -801 and lease expiry).
absl::Status JetStatusWithReason(JetErr err, absl::string_view message,
                                 absl::string_view reason,
                                 absl::string_view initiator);

// The one -801 JET_errBackupAbortByServer status: "backup <id> stopped by
// <initiator>: <reason>", with reason and initiator as payloads. Built here
// for the engine's abort flag, the daemon's stream abort and the client's
// account of a cancelled stream alike.
absl::Status BackupStoppedStatus(absl::string_view backup_id,
                                 absl::string_view reason,
                                 absl::string_view initiator);

// The JET_ERR a status carries: 0 for OK, the payload when present, else a
// documented fallback per code (see jet_status.cc) so foreign statuses still
// map to something exact.
JetErr JetErrOf(const absl::Status& status);

// Reason and initiator payloads; empty when absent.
std::string JetReasonOf(const absl::Status& status);
std::string JetInitiatorOf(const absl::Status& status);

// For a bare status without a JET_ERR payload (e.g. from a lower library or a
// transport): the documented JET_ERR for its code.
JetErr JetErrForBareCode(absl::StatusCode code);

}  // namespace jetback

// Returns from the current function when `expr` is not OK.
#define JB_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status jb_status_ = (expr);      \
    if (!jb_status_.ok()) return jb_status_; \
  } while (0)

#define JB_STATUS_CONCAT_INNER_(a, b) a##b
#define JB_STATUS_CONCAT_(a, b) JB_STATUS_CONCAT_INNER_(a, b)

// `lhs = value of expr`, or return its error. lhs may declare a variable.
#define JB_ASSIGN_OR_RETURN(lhs, expr)                                      \
  JB_ASSIGN_OR_RETURN_IMPL_(JB_STATUS_CONCAT_(jb_statusor_, __LINE__), lhs, \
                            expr)
#define JB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // JETBACK_STATUS_H_
