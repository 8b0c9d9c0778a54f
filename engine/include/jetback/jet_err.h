// File: jetback/jet_err.h
//
// JET_ERR values and their metadata. The values themselves are listed once,
// in jet_err_table.inc; this header turns that table into a C++ enum and
// lookup functions. Thread-safe: everything here is immutable.

#ifndef JETBACK_JET_ERR_H_
#define JETBACK_JET_ERR_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace jetback {

// An ESE error number. Negative values are errors, 0 is success.
using JetErr = int32_t;

// Named constants, e.g. jet::kBackupAbortByServer == -801 is spelled
// jet::JET_errBackupAbortByServer to keep the ESE names searchable.
namespace jet {
#define JET_ERR_ENTRY(sym, val, code, desc) inline constexpr JetErr sym = val;
#include "jetback/jet_err_table.inc"
#undef JET_ERR_ENTRY
}  // namespace jet

struct JetErrInfo {
  JetErr value;
  absl::string_view symbol;       // e.g. "JET_errBackupAbortByServer"
  absl::StatusCode status_code;  // numerically equal to the gRPC code
  absl::string_view description;
};

// All entries of the table, in table order.
std::span<const JetErrInfo> AllJetErrs();

// The entry for `err`, or nullopt for a value the table does not list.
std::optional<JetErrInfo> FindJetErr(JetErr err);

// "JET_errBackupAbortByServer", or "JET_err(-12345)" for unlisted values.
std::string JetErrSymbol(JetErr err);

// The status code that carries `err`; kUnknown for unlisted values.
absl::StatusCode JetErrStatusCode(JetErr err);

}  // namespace jetback

#endif  // JETBACK_JET_ERR_H_
