// File: daemon/host.h
//
// The instances jetbackd hosts, created from the configuration, plus what the
// daemon tracks beside the engine: the ReadFile streams running on each
// instance (so a stop reaches them within one chunk). What is open in a
// backup's file slot is the engine's alone to know.
//
// Thread-safety: all methods may be called concurrently.

#ifndef JETBACK_DAEMON_HOST_H_
#define JETBACK_DAEMON_HOST_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/config.h"
#include "jetback/background_pool.h"
#include "jetback/backup.h"
#include "jetback/instance.h"
#include "jetback/mutex.h"

namespace jetback::daemon {

// A running ReadFile stream, as the host sees it.
class ReadStream {
 public:
  virtual ~ReadStream() = default;
  // Ends the stream with `why` at its next chunk boundary. Never blocks.
  virtual void Abort(const absl::Status& why) = 0;
};

struct HostedInstance {
  InstanceConfig config;
  Instance* instance = nullptr;
  BackupEngine& backup() { return instance->backup(); }

  jetback::Mutex mu;
  std::set<ReadStream*> streams ABSL_GUARDED_BY(mu);
  // The latest backup BeginBackup started here and the principal that
  // began it, so ownership is checked without the engine's lock.
  std::string backup_id ABSL_GUARDED_BY(mu);
  std::string backup_owner ABSL_GUARDED_BY(mu);
  // StopBackup calls by initiator, for metrics (at most kMaxStopInitiators
  // names; the rest count as "other").
  std::map<std::string, uint64_t> stops ABSL_GUARDED_BY(mu);
};

inline constexpr size_t kMaxStopInitiators = 32;

class Host {
 public:
  // Creates and initialises every configured instance (crash recovery
  // included), creating directories, databases and tables that are missing.
  static absl::StatusOr<std::unique_ptr<Host>> Open(const DaemonConfig& config);
  ~Host();

  // By name; "" is the legacy form: -1081 with several instances, else the
  // only one. Unknown: -1003.
  absl::StatusOr<HostedInstance*> Find(absl::string_view name);
  std::vector<HostedInstance*> instances();

  // Sets the engine's abort flag and ends every stream of the instance with
  // -801 carrying reason and initiator. Returns the affected backup id.
  std::string StopBackup(HostedInstance* hosted, absl::string_view reason,
                         absl::string_view initiator);
  // StopBackup on every instance.
  void StopAll(absl::string_view reason, absl::string_view initiator);

  // Ends backups whose lease ran out (and their streams).
  void ExpireIdle(absl::Time now);

  // Stream bookkeeping. Register fails (-1011) beyond the stream limit.
  absl::Status Register(HostedInstance* hosted, ReadStream* stream);
  void Unregister(HostedInstance* hosted, ReadStream* stream);
  // Live stream objects, counted until they are destroyed.
  void StreamCreated();
  void StreamDestroyed();
  // Waits until every stream object is gone or `deadline` passes.
  bool WaitForStreams(absl::Time deadline);

  // ReadFile streams registered now, all instances.
  int open_streams();

  // One line of live progress for systemd's STATUS=.
  std::string StatusLine();

  // Terms every instance (a running backup ends as aborted).
  void Close();

  const DaemonConfig& config() const { return config_; }

 private:
  explicit Host(DaemonConfig config);
  absl::Status Start();
  void AbortStreams(HostedInstance* hosted, const absl::Status& why);

  const DaemonConfig config_;
  // Before registry_: the instances' flusher runs on it until they are gone.
  BackgroundPool pool_;
  InstanceRegistry registry_;
  std::vector<std::unique_ptr<HostedInstance>> hosted_;
  jetback::Mutex mu_;
  int registered_ ABSL_GUARDED_BY(mu_) = 0;
  int live_streams_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_HOST_H_
