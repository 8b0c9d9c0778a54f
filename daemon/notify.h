// File: daemon/notify.h
//
// systemd's notify protocol (sd_notify): READY=1 once listening, STATUS=
// with live progress, WATCHDOG=1 after a successful liveness check,
// STOPPING=1 on shutdown. Without $NOTIFY_SOCKET every call is a no-op.
// Thread-safe.

#ifndef JETBACK_DAEMON_NOTIFY_H_
#define JETBACK_DAEMON_NOTIFY_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jetback::daemon {

class Notifier {
 public:
  Notifier();

  void Ready(absl::string_view status);
  // Sends STATUS= only when the text changed since the last one.
  void Status(absl::string_view status);
  void Watchdog();
  void Stopping(absl::string_view status);

  // The watchdog interval systemd asked for; zero when disabled.
  absl::Duration watchdog_interval() const { return watchdog_; }

 private:
  void Send(const std::string& message);

  absl::Duration watchdog_ = absl::ZeroDuration();
  std::string last_status_;  // only touched by the daemon's timer thread
};

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_NOTIFY_H_
