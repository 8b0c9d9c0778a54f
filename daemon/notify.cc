#include "daemon/notify.h"

#include <systemd/sd-daemon.h>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"

namespace jetback::daemon {

Notifier::Notifier() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0) {
    watchdog_ = absl::Microseconds(usec);
  }
}

void Notifier::Send(const std::string& message) {
  const int r = sd_notify(/*unset_environment=*/0, message.c_str());
  if (r < 0) LogWarn("sd_notify failed", {{"errno", absl::StrCat(-r)}});
}

void Notifier::Ready(absl::string_view status) {
  last_status_ = std::string(status);
  Send(absl::StrCat("READY=1\nSTATUS=", status));
}

void Notifier::Status(absl::string_view status) {
  if (status == last_status_) return;
  last_status_ = std::string(status);
  Send(absl::StrCat("STATUS=", status));
}

void Notifier::Watchdog() { Send("WATCHDOG=1"); }

void Notifier::Stopping(absl::string_view status) {
  Send(absl::StrCat("STOPPING=1\nSTATUS=", status));
}

}  // namespace jetback::daemon
