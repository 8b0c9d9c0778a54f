#include "jetback/status.h"

#include <cstdlib>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jetback {

absl::Status JetStatus(JetErr err, absl::string_view message) {
  return JetStatusWithReason(err, message, {}, {});
}

absl::Status JetStatusWithReason(JetErr err, absl::string_view message,
                                 absl::string_view reason,
                                 absl::string_view initiator) {
  absl::StatusCode code = JetErrStatusCode(err);
  // A JET_ERR of 0 or an unknown positive value must never become OK, or the
  // error would vanish; keep it visible as an internal error.
  if (code == absl::StatusCode::kOk) code = absl::StatusCode::kInternal;
  std::string text = message.empty()
                         ? absl::StrCat(JetErrSymbol(err), " (", err, ")")
                         : std::string(message);
  absl::Status status(code, text);
  status.SetPayload(kJetErrPayloadUrl, absl::Cord(absl::StrCat(err)));
  if (!reason.empty()) status.SetPayload(kReasonPayloadUrl, absl::Cord(reason));
  if (!initiator.empty()) {
    status.SetPayload(kInitiatorPayloadUrl, absl::Cord(initiator));
  }
  return status;
}

absl::Status BackupStoppedStatus(absl::string_view backup_id,
                                 absl::string_view reason,
                                 absl::string_view initiator) {
  return JetStatusWithReason(
      jet::JET_errBackupAbortByServer,
      absl::StrCat("backup ", backup_id.empty() ? "" : backup_id,
                   backup_id.empty() ? "" : " ", "stopped by ",
                   initiator.empty() ? "the server" : initiator,
                   reason.empty() ? "" : ": ", reason),
      reason, initiator);
}

JetErr JetErrForBareCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return jet::JET_errSuccess;
    case absl::StatusCode::kCancelled:
      // The only server-side source of a bare CANCELLED is a stop escalated
      // to a stream cancel when the agent stalled.
      return jet::JET_errBackupAbortByServer;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return jet::JET_errInvalidParameter;
    case absl::StatusCode::kNotFound:
      return jet::JET_errFileNotFound;
    case absl::StatusCode::kAlreadyExists:
      return jet::JET_errFileAlreadyExists;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return jet::JET_errAccessDenied;
    case absl::StatusCode::kResourceExhausted:
      return jet::JET_errOutOfMemory;
    case absl::StatusCode::kFailedPrecondition:
      return jet::JET_errInvalidBackupSequence;
    case absl::StatusCode::kAborted:
      return jet::JET_errBackupAbortByServer;
    case absl::StatusCode::kUnimplemented:
      return jet::JET_errFeatureNotAvailable;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return jet::JET_errInstanceUnavailable;
    case absl::StatusCode::kDataLoss:
      return jet::JET_errDiskIO;
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
    default:
      return jet::JET_errInternalError;
  }
}

JetErr JetErrOf(const absl::Status& status) {
  if (status.ok()) return jet::JET_errSuccess;
  if (auto payload = status.GetPayload(kJetErrPayloadUrl)) {
    int32_t value = 0;
    if (absl::SimpleAtoi(std::string(*payload), &value)) return value;
  }
  return JetErrForBareCode(status.code());
}

std::string JetReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayloadUrl);
  return payload ? std::string(*payload) : std::string();
}

std::string JetInitiatorOf(const absl::Status& status) {
  auto payload = status.GetPayload(kInitiatorPayloadUrl);
  return payload ? std::string(*payload) : std::string();
}

}  // namespace jetback
