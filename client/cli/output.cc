#include "client/cli/output.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "jetback/client.h"
#include "jetback/status.h"

namespace jetback::cli {

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (IsTransportError(status)) return kExitUnreachable;
  const JetErr err = JetErrOf(status);
  if (err == jet::JET_errBackupAbortByServer) return kExitStopped;
  if (err == jet::JET_errBackupAbortByCaller) return kExitInterrupted;
  if (err == jet::JET_errBackupDirectoryNotEmpty) return kExitUsage;
  return kExitJetError;
}

std::string DescribeError(const absl::Status& status) {
  const JetErr err = JetErrOf(status);
  std::string text =
      absl::StrCat(JetErrSymbol(err), " (", err, "): ", status.message());
  // Reason and initiator only where the message does not already say them
  // (a stop's message does: "backup <id> stopped by <who>: <why>").
  const std::string reason = JetReasonOf(status);
  const std::string initiator = JetInitiatorOf(status);
  if (!reason.empty() && !absl::StrContains(status.message(), reason)) {
    absl::StrAppend(&text, "; reason: ", reason);
  }
  if (!initiator.empty() && !absl::StrContains(status.message(), initiator)) {
    absl::StrAppend(&text,
                    err == jet::JET_errBackupAbortByServer ? "; stopped by: "
                                                           : "; initiator: ",
                    initiator);
  }
  if (IsTransportError(status)) {
    absl::StrAppend(&text, " (is jetbackd running? see --server)");
  }
  return text;
}

int ReportError(absl::string_view context, const absl::Status& status) {
  std::fprintf(stderr, "jetback: %s: %s\n", std::string(context).c_str(),
               DescribeError(status).c_str());
  return ExitCodeFor(status);
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

absl::StatusOr<std::string> MakeScratchDir(absl::string_view name) {
  std::string path =
      (std::filesystem::temp_directory_path() / absl::StrCat(name, "-XXXXXX"))
          .string();
  if (::mkdtemp(path.data()) == nullptr) {
    return JetStatus(jet::JET_errDiskIO, "cannot create a temporary directory");
  }
  return path;
}

}  // namespace jetback::cli
