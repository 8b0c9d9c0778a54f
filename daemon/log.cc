#include "daemon/log.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace jetback::daemon {
namespace {

// Values with spaces, quotes or '=' are quoted so the line stays parseable.
std::string Quote(absl::string_view value) {
  if (!value.empty() &&
      value.find_first_of(" \"=\t\n") == absl::string_view::npos) {
    return std::string(value);
  }
  return absl::StrCat(
      "\"",
      absl::StrReplaceAll(value,
                          {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
      "\"");
}

void Log(absl::string_view level, absl::string_view msg,
         std::initializer_list<LogField> fields) {
  std::string line =
      absl::StrCat("ts=",
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone()),
                   " level=", level, " msg=", Quote(msg));
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.first, "=", Quote(field.second));
  }
  line.push_back('\n');
  // One write keeps concurrent lines whole; a failed log write is not worth
  // failing anything for.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace

void LogInfo(absl::string_view msg, std::initializer_list<LogField> fields) {
  Log("info", msg, fields);
}
void LogWarn(absl::string_view msg, std::initializer_list<LogField> fields) {
  Log("warn", msg, fields);
}
void LogError(absl::string_view msg, std::initializer_list<LogField> fields) {
  Log("error", msg, fields);
}

}  // namespace jetback::daemon
