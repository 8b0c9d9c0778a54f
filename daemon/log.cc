#include "daemon/log.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace jetback::daemon {
namespace {

// Values with spaces, quotes, '=' or control bytes are quoted, and every
// control byte (a NUL, an escape sequence, a newline) is escaped, so a value
// from a client can neither end the line nor forge another field.
std::string Quote(absl::string_view value) {
  auto plain = [](unsigned char c) {
    return c > 0x20 && c != 0x7f && c != '"' && c != '=' && c != '\\';
  };
  if (!value.empty() && std::all_of(value.begin(), value.end(), plain)) {
    return std::string(value);
  }
  std::string out = "\"";
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
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
