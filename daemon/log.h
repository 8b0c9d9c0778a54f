// File: daemon/log.h
//
// Structured log lines on stderr in logfmt ("ts=... level=info msg=...
// key=value"), one line per event, so journald and ops tooling can parse
// them. Thread-safe: each line is written with a single write(2).

#ifndef JETBACK_DAEMON_LOG_H_
#define JETBACK_DAEMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace jetback::daemon {

using LogField = std::pair<absl::string_view, std::string>;

void LogInfo(absl::string_view msg,
             std::initializer_list<LogField> fields = {});
void LogWarn(absl::string_view msg,
             std::initializer_list<LogField> fields = {});
void LogError(absl::string_view msg,
              std::initializer_list<LogField> fields = {});

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_LOG_H_
