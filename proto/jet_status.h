// File: proto/jet_status.h
//
// The one conversion between the engine's JET_ERR-carrying absl::Status and
// grpc::Status with a google.rpc.Status / jetback.v1.JetError detail. The
// daemon converts once at its boundary with ToGrpcStatus; the client converts
// back once with FromGrpcStatus. Nothing maps by message text.

#ifndef JETBACK_PROTO_JET_STATUS_H_
#define JETBACK_PROTO_JET_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "jetback/jet_err.h"

namespace jetback {

// Longest message, reason and initiator ToGrpcStatus puts on the wire;
// longer ones are cut (with "..."). Even percent- and base64-encoded, the
// three stay near 4 KiB, under gRPC's default 8 KiB metadata limit.
inline constexpr size_t kMaxStatusMessageBytes = 512;
inline constexpr size_t kMaxStatusReasonBytes = 1024;  // = a stop reason's
inline constexpr size_t kMaxStatusInitiatorBytes = 256;

// Engine status → wire status. OK stays OK. The gRPC code is the JET_ERR's
// table code; the detail carries jet_err, symbol, reason and initiator.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Wire status → engine-currency status. With a JetError detail the exact
// JET_ERR (and reason, initiator) is kept; a bare transport status maps to
// the documented JET_ERR for its code (JetErrForBareCode in jetback/status.h)
// and its message keeps the raw gRPC code for logs.
absl::Status FromGrpcStatus(const grpc::Status& status);

// True when `status` carries a JetError detail (a daemon answer rather than
// a transport failure).
bool HasJetErrorDetail(const grpc::Status& status);

}  // namespace jetback

#endif  // JETBACK_PROTO_JET_STATUS_H_
