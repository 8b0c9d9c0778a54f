#include "proto/jet_status.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "jetback/status.h"
#include "jetback/v1/errors.pb.h"

namespace jetback {
namespace {

std::optional<v1::JetError> ExtractJetError(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return std::nullopt;
  for (const google::protobuf::Any& any : rpc_status.details()) {
    v1::JetError error;
    if (any.Is<v1::JetError>() && any.UnpackTo(&error)) return error;
  }
  return std::nullopt;
}

// At most `max` bytes of `text`, cut on a UTF-8 character boundary (the
// detail's fields are proto3 strings), marked when cut.
std::string Bounded(absl::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t n = max - 3;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return absl::StrCat(text.substr(0, n), "...");
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const JetErr err = JetErrOf(status);
  v1::JetError error;
  error.set_jet_err(err);
  error.set_symbol(JetErrSymbol(err));
  // Messages may echo client input: bounded, so no answer outgrows a
  // client's metadata limit (8 KiB by default) and breaks its connection.
  const std::string message = Bounded(status.message(), kMaxStatusMessageBytes);
  error.set_reason(Bounded(JetReasonOf(status), kMaxStatusReasonBytes));
  error.set_initiator(
      Bounded(JetInitiatorOf(status), kMaxStatusInitiatorBytes));

  // The table's code, not the status's own: a foreign status that reached
  // the boundary without a payload still gets a code consistent with the
  // JET_ERR the client will see.
  absl::StatusCode code = JetErrStatusCode(err);
  if (code == absl::StatusCode::kOk || code == absl::StatusCode::kUnknown) {
    code = status.code();
  }
  const auto grpc_code = static_cast<grpc::StatusCode>(static_cast<int>(code));
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(code));
  rpc_status.set_message(message);
  rpc_status.add_details()->PackFrom(error);
  return grpc::Status(grpc_code, message, rpc_status.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  if (std::optional<v1::JetError> error = ExtractJetError(status)) {
    return JetStatusWithReason(error->jet_err(), status.error_message(),
                               error->reason(), error->initiator());
  }
  const auto code =
      static_cast<absl::StatusCode>(static_cast<int>(status.error_code()));
  const JetErr err = JetErrForBareCode(code);
  return JetStatus(err, absl::StrCat("transport: gRPC code ",
                                     static_cast<int>(status.error_code()),
                                     ": ", status.error_message()));
}

bool HasJetErrorDetail(const grpc::Status& status) {
  return ExtractJetError(status).has_value();
}

}  // namespace jetback
