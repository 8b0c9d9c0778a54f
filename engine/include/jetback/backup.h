// File: jetback/backup.h
//
// The streaming ("external") backup state machine of one instance, with ESE
// semantics (shared/ese-semantics.md sections 2-4, including section 0 where
// jetback differs on purpose). Obtain it with Instance::backup().
//
// Each backup is bound to the id Begin returns; every later call names it
// (an empty id means "the running backup", the ESE form used by the C API
// emulation and the scenario tests). A call with another id gets -520.
//
// Stop() sets the instance's atomic abort flag: streaming calls then return
// -801 carrying the stop's reason and initiator; CloseFile and End still
// work; Begin clears the flag. Reads are done in chunks and observe the flag
// between chunks.
//
// Thread-safety: all methods may be called from any thread; Stop() never
// blocks behind a read in progress.

#ifndef JETBACK_BACKUP_H_
#define JETBACK_BACKUP_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "jetback/instance.h"

namespace jetback {

// Grbits, values as ESE's.
inline constexpr uint32_t JET_bitBackupIncremental = 0x1;
inline constexpr uint32_t JET_bitKeepOldLogs = 0x2;
inline constexpr uint32_t JET_bitBackupAtomic = 0x4;
inline constexpr uint32_t JET_bitBackupFullWithAllLogs = 0x8;
inline constexpr uint32_t JET_bitBackupSnapshot = 0x10;
inline constexpr uint32_t JET_bitBackupSurrogate = 0x20;
inline constexpr uint32_t JET_bitInternalCopy = 0x40;
inline constexpr uint32_t JET_bitBackupEndNormal = 0x1;
inline constexpr uint32_t JET_bitBackupEndAbort = 0x2;
inline constexpr uint32_t JET_bitBackupTruncateDone = 0x100;
inline constexpr uint32_t JET_bitBackupNoDbHeaderUpdate = 0x200;
inline constexpr uint32_t JET_bitStopServiceAll = 0x0;
inline constexpr uint32_t JET_bitStopServiceBackgroundUserTasks = 0x2;
inline constexpr uint32_t JET_bitStopServiceQuiesceCaches = 0x4;
inline constexpr uint32_t JET_bitStopServiceStopAndEmitLog = 0x8;
inline constexpr uint32_t JET_bitStopServiceResume = 0x80000000;

struct BeginOptions {
  std::string initiator;    // principal, e.g. "uid:0"; for status
  std::string client_name;  // agent's own label; for status
};

struct BeginResult {
  std::string backup_id;
  bool incremental = false;
  uint32_t checkpoint_generation = 0;  // CopyMic of a full backup
};

struct OpenedFile {
  uint32_t handle = 0;  // always 0
  uint64_t size = 0;    // stream size: (pgno_last + 3) * page_size for a DB
  bool is_log = false;
  uint32_t generation = 0;
};

// What CloseFile reports about the file it closed.
struct ClosedFile {
  // Read from its start (or the offset it was opened at) to its end, so it
  // counts as copied (a log then may be truncated, a database stamped).
  bool complete = false;
};

struct LogList {
  std::vector<std::string> files;  // full paths, generation order
  uint32_t gen_low = 0;
  uint32_t gen_high = 0;
  std::string base_name;
};

enum class BackupSlotKind { kNone, kFull, kCopy, kIncremental, kDifferential };

struct EndResult {
  bool succeeded = false;
  // When aborted: -801 stopped, -800 by the caller (EndAbort), -521 ended
  // before the log phase, -1090 lease expired; with reason and initiator.
  int32_t abort_jet_err = 0;
  std::string reason;
  std::string initiator;
  // The slot stamped into at least one database header; kNone when no
  // header was stamped (see stamped / left_out).
  BackupSlotKind slot = BackupSlotKind::kNone;
  // The slot the backup's kind calls for, stamped or not.
  BackupSlotKind intended_slot = BackupSlotKind::kNone;
  uint32_t gen_low = 0;
  uint32_t gen_high = 0;
  // Paths of the databases whose header got `slot`.
  std::vector<std::string> stamped;
  // Databases a succeeded backup did not cover and did not stamp: dropped
  // by a read error (jet_err, e.g. -1018), never read to the end (0), or
  // whose stamp failed.
  struct LeftOut {
    std::string path;
    int32_t jet_err = 0;
    std::string reason;
  };
  std::vector<LeftOut> left_out;
};

enum class BackupPhase { kNone, kDatabases, kLogs };

struct BackupProgress {
  std::string backup_id;
  BackupPhase phase = BackupPhase::kNone;
  bool incremental = false;
  std::string current_file;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  std::string initiator;
  std::string client_name;
  absl::Time started_at;
  absl::Time last_call_at;
  bool stop_requested = false;
  std::string stop_reason;
  std::string stop_initiator;
};

// Counters since the engine started, for metrics.
struct BackupStats {
  uint64_t begun = 0;
  uint64_t succeeded = 0;
  // Ended as aborted, by cause: a stop (-801), the caller's EndAbort (-800),
  // the lease (-1090), anything else (ended before the log phase, a failed
  // log, Term).
  uint64_t aborted_stopped = 0;
  uint64_t aborted_by_client = 0;
  uint64_t aborted_lease = 0;
  uint64_t aborted_error = 0;
  uint64_t bytes_streamed = 0;  // data bytes handed out by reads
  // Ends of successful full (or copy) and incremental backups; InfinitePast
  // when none.
  absl::Time last_full_success = absl::InfinitePast();
  absl::Time last_incremental_success = absl::InfinitePast();
  // Wall time of every ended backup, begin to end.
  absl::Duration duration_sum;
  uint64_t ended = 0;
};

class BackupEngine {
 public:
  virtual ~BackupEngine() = default;

  // JetBeginExternalBackupInstance. Errors, in check order: -523, -516,
  // -900, -526, -505 (-617), then -560 for an incremental without base.
  virtual absl::StatusOr<BeginResult> Begin(uint32_t grbit,
                                            const BeginOptions& options) = 0;

  // JetGetAttachInfoInstance: attached database paths. -520, -801, -521.
  virtual absl::StatusOr<std::vector<std::string>> GetAttachInfo(
      absl::string_view backup_id) = 0;

  // JetOpenFileSectionInstance. `offset` is ibRead (0, or a page multiple
  // >= 3 pages). Names must come from GetAttachInfo / GetLogInfo.
  virtual absl::StatusOr<OpenedFile> OpenFile(absl::string_view backup_id,
                                              absl::string_view name,
                                              uint64_t offset) = 0;

  // Offset read of the open stream, the primitive the daemon's ReadFile
  // uses: fills `out` with whole pages starting at `offset` (a page
  // multiple), verifying each page (databases) or block (logs); returns the
  // byte count (0 at the end). The read is done in chunks of at most
  // `chunk_size` internally and observes the abort flag between chunks.
  // Errors: -520, -801, -1003 (handle not open, misaligned), -1018/-1118/
  // -1119 (DB leaves the backup, handle closed), -612 (backup ends), -1022.
  virtual absl::StatusOr<size_t> ReadAt(absl::string_view backup_id,
                                        uint32_t handle, uint64_t offset,
                                        absl::Span<char> out) = 0;

  // JetReadFileInstance: ESE's sequential read with the reference's buffer
  // rules (4 KiB-aligned buffer, page multiple, first read >= 3 pages for a
  // database and >= 2 for a log). Returns bytes read; 0 at the end.
  virtual absl::StatusOr<size_t> Read(absl::string_view backup_id,
                                      uint32_t handle,
                                      absl::Span<char> buffer) = 0;

  // The open file of `handle`, as OpenFile reported it: what the daemon
  // needs to plan a ReadFile stream. -520, -801, -1003 (not open).
  virtual absl::StatusOr<OpenedFile> OpenFileInfo(absl::string_view backup_id,
                                                  uint32_t handle) = 0;

  // JetCloseFileInstance. Does not check the abort flag. -520, -1003.
  virtual absl::StatusOr<ClosedFile> CloseFile(absl::string_view backup_id,
                                               uint32_t handle) = 0;

  // JetGetLogInfoInstance2 / JetGetTruncateLogInfoInstance. The first of
  // either rolls the log and fixes the lists (section 4.1).
  virtual absl::StatusOr<LogList> GetLogInfo(absl::string_view backup_id) = 0;
  virtual absl::StatusOr<LogList> GetTruncateLogInfo(
      absl::string_view backup_id) = 0;

  // JetTruncateLogInstance. Returns the number of files deleted.
  virtual absl::StatusOr<uint32_t> TruncateLog(absl::string_view backup_id) = 0;

  // JetEndExternalBackupInstance2: -1003 bad grbit, -520 no backup; always
  // ends a running backup and reports how it was recorded.
  virtual absl::StatusOr<EndResult> End(absl::string_view backup_id,
                                        uint32_t grbit) = 0;

  // JetStopBackupInstance: sets the abort flag (even with no backup
  // running). Returns the id of the backup it affected, if any.
  virtual std::string Stop(absl::string_view reason,
                           absl::string_view initiator) = 0;

  // Ends the running backup as aborted when no call came for `lease`
  // (0 = never). Checked on every call and by ExpireIfIdle().
  virtual void SetLease(absl::Duration lease) = 0;
  // Returns true if it ended a backup whose lease ran out.
  virtual bool ExpireIfIdle(absl::Time now) = 0;

  // Ends a running backup as aborted by the server (-801 with `reason`)
  // without the entry checks, so Instance::Term (abrupt / stop-backup) can
  // clean up even after StopService. Returns true if a backup was running.
  virtual bool AbortForTerm(absl::string_view /*reason*/) { return false; }

  // Snapshot for status displays; phase kNone when no backup runs.
  virtual BackupProgress Progress() = 0;
  virtual BackupStats Stats() = 0;
  virtual bool InProgress() = 0;

  // Retry policy for pages that fail verification (reference: 17 tries,
  // 100 ms x attempt between them).
  virtual void SetReadRetries(int attempts, absl::Duration backoff_step) = 0;
};

}  // namespace jetback

#endif  // JETBACK_BACKUP_H_
