// File: client/cli/output.h
//
// Exit codes and error messages of the `jetback` CLI. Every error message
// names the JET_ERR symbol and number; -801 adds the reason and who stopped
// the backup.

#ifndef JETBACK_CLIENT_CLI_OUTPUT_H_
#define JETBACK_CLIENT_CLI_OUTPUT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jetback::cli {

// Documented in `jetback --help` and client/README.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,         // bad arguments, unusable output directory
  kExitJetError = 2,      // a JET_ERR from the daemon or a local operation
  kExitUnreachable = 3,   // daemon unreachable / connection lost
  kExitStopped = 4,       // backup stopped by the server (-801)
  kExitVerifyFailed = 5,  // verify found a damaged or incomplete set
  kExitInterrupted = 130  // Ctrl-C: backup ended with EndBackup(abort)
};

inline constexpr char kExitCodeHelp[] =
    "Exit codes: 0 ok; 1 usage error or unusable output directory; 2 JET "
    "error (message names the JET_ERR); 3 daemon unreachable; 4 backup "
    "stopped by the server (-801, with reason and initiator); 5 verify "
    "failed; 130 interrupted (Ctrl-C).";

// The exit code for a failed status (not for verify failures).
int ExitCodeFor(const absl::Status& status);

// "JET_errBackupAbortByServer (-801): <message>[; reason: R][; stopped by: I]"
std::string DescribeError(const absl::Status& status);

// Prints "jetback: <context>: <DescribeError>" to stderr and returns the
// exit code.
int ReportError(absl::string_view context, const absl::Status& status);

// A JSON string literal (quotes included) for `s`.
std::string JsonString(absl::string_view s);

// A new directory under the system's temporary directory, named
// <name>-XXXXXX (the caller removes it); -1022 when it cannot be made.
absl::StatusOr<std::string> MakeScratchDir(absl::string_view name);

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_OUTPUT_H_
