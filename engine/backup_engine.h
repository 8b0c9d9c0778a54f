// File: engine/backup_engine.h
//
// Internal: the BackupEngine implementation (backup.cc: begin, files,
// reads, stop, lease; backup_logs.cc: log phase, truncation, end).
// Locking: mu_ guards the backup state and is never held across a stream
// read; stop_mu_ guards the stop reason and is the only lock Stop() takes,
// so a stop never waits for a read. Order: mu_ before stop_mu_.

#ifndef JETBACK_ENGINE_BACKUP_ENGINE_H_
#define JETBACK_ENGINE_BACKUP_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "engine/backup_source.h"
#include "engine/backup_stream.h"
#include "jetback/backup.h"
#include "jetback/mutex.h"

namespace jetback::backup_internal {

struct DbEntry {
  BackupDatabase* db = nullptr;
  bool in_session = true;   // not dropped by a read error
  bool done = false;        // stream read to the end and closed
  absl::Status dropped_by;  // the read error that took it out of the session
};

struct Running {
  std::string id;
  uint64_t serial = 0;
  bool full = true;
  BackupPhase phase = BackupPhase::kDatabases;
  BackupInfo mark;  // full: tip at Begin; incremental: at prepare-logs
  uint32_t copy_mic = 0, copy_mac = 0, delete_mic = 0, delete_mac = 0;
  uint32_t rolled_to = 0;  // generation the prepare-logs roll created
  bool logs_prepared = false;
  bool logs_truncated = false;
  std::set<uint32_t> logs_copied;  // read to the end and closed
  std::vector<DbEntry> dbs;
  std::shared_ptr<Stream> open;
  uint64_t open_offset = 0;
  BeginOptions options;
  absl::Time started_at, last_call_at;
  int active_calls = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
};

class BackupEngineImpl : public BackupEngine, private StopGate {
 public:
  explicit BackupEngineImpl(BackupSource* source) : source_(source) {}

  absl::StatusOr<BeginResult> Begin(uint32_t grbit,
                                    const BeginOptions& options) override;
  absl::StatusOr<std::vector<std::string>> GetAttachInfo(
      absl::string_view backup_id) override;
  absl::StatusOr<OpenedFile> OpenFile(absl::string_view backup_id,
                                      absl::string_view name,
                                      uint64_t offset) override;
  absl::StatusOr<size_t> ReadAt(absl::string_view backup_id, uint32_t handle,
                                uint64_t offset, absl::Span<char> out) override;
  absl::StatusOr<size_t> Read(absl::string_view backup_id, uint32_t handle,
                              absl::Span<char> buffer) override;
  absl::StatusOr<OpenedFile> OpenFileInfo(absl::string_view backup_id,
                                          uint32_t handle) override;
  absl::StatusOr<ClosedFile> CloseFile(absl::string_view backup_id,
                                       uint32_t handle) override;
  absl::StatusOr<LogList> GetLogInfo(absl::string_view backup_id) override {
    return LogInfo(backup_id, /*truncate_list=*/false);
  }
  absl::StatusOr<LogList> GetTruncateLogInfo(
      absl::string_view backup_id) override {
    return LogInfo(backup_id, /*truncate_list=*/true);
  }
  absl::StatusOr<uint32_t> TruncateLog(absl::string_view backup_id) override;
  absl::StatusOr<EndResult> End(absl::string_view backup_id,
                                uint32_t grbit) override;
  std::string Stop(absl::string_view reason,
                   absl::string_view initiator) override;
  bool AbortForTerm(absl::string_view reason) override;
  void SetLease(absl::Duration lease) override {
    MutexLock lock(&mu_);
    lease_ = lease;
  }
  bool ExpireIfIdle(absl::Time now) override {
    MutexLock lock(&mu_);
    return ExpireLocked(now);
  }
  BackupProgress Progress() override;
  BackupStats Stats() override {
    MutexLock lock(&mu_);
    return stats_;
  }
  bool InProgress() override { return in_progress_.load(); }
  void SetReadRetries(int attempts, absl::Duration backoff_step) override {
    MutexLock lock(&mu_);
    policy_.attempts = std::max(1, attempts);
    policy_.backoff_step = backoff_step;
  }

 private:
  // StopGate.
  absl::Status CheckStop() override;
  absl::Status SleepUnlessStopped(absl::Duration d) override;

  // Section 2.2 entry checks shared by every call.
  absl::Status Gate();
  // The running backup `id` names (empty: any); renews its lease. -520.
  absl::StatusOr<Running*> RunningLocked(absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the backup: closes the file slot, unpins logs, clears the flags.
  void EndLocked(const EndResult& how) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the backup as aborted by `error` and returns that error.
  absl::Status FailLocked(absl::Status error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClearStop(const std::string& new_id);

  absl::StatusOr<OpenedFile> OpenDatabase(Running& r, DbEntry& entry,
                                          uint64_t offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<OpenedFile> OpenLog(Running& r, absl::string_view name,
                                     uint64_t offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<LogList> LogInfo(absl::string_view backup_id,
                                  bool truncate_list);
  absl::Status PrepareLogsLocked(Running& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StampLocked(Running& r, uint32_t grbit, EndResult& res)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  BackupSource* const source_;
  std::atomic<bool> in_progress_{false};

  Mutex mu_;
  std::optional<Running> run_ ABSL_GUARDED_BY(mu_);
  uint64_t next_serial_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Duration lease_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  ReadPolicy policy_ ABSL_GUARDED_BY(mu_);
  BackupStats stats_ ABSL_GUARDED_BY(mu_);

  // The abort flag: an atomic for the fast check, written under stop_mu_
  // together with its reason so a reader sees a consistent pair.
  std::atomic<bool> stop_{false};
  Mutex stop_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::string stop_reason_ ABSL_GUARDED_BY(stop_mu_);
  std::string stop_initiator_ ABSL_GUARDED_BY(stop_mu_);
  std::string stop_backup_id_ ABSL_GUARDED_BY(stop_mu_);
};

}  // namespace jetback::backup_internal

#endif  // JETBACK_ENGINE_BACKUP_ENGINE_H_
