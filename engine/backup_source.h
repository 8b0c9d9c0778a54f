// File: engine/backup_source.h
//
// What the streaming-backup engine (backup.cc) needs from the storage engine
// (instance.cc and friends), as a narrow interface, so each side is written
// and tested against it. The storage engine implements BackupSource once per
// instance and creates its BackupEngine with NewBackupEngine(source).
//
// Thread-safety: every method may be called from any thread.

#ifndef JETBACK_ENGINE_BACKUP_SOURCE_H_
#define JETBACK_ENGINE_BACKUP_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "jetback/backup.h"
#include "jetback/env.h"
#include "jetback/instance.h"

namespace jetback {

// A log position: generation and byte offset inside it.
struct LogPosition {
  uint32_t generation = 0;
  uint32_t offset = 0;
};

// One attached database as the backup engine sees it.
class BackupDatabase {
 public:
  virtual ~BackupDatabase() = default;
  virtual const std::string& path() const = 0;
  // In-memory header (signatures, gen ranges, backup slots, pgno_last).
  virtual DatabaseHeaderInfo HeaderInfo() = 0;

  // Reads data pages [first, first + count) from the file, whole and
  // verified: the range is locked against the buffer manager's flushes
  // while it is read, so no page is torn by a concurrent write. Pages never
  // written read as zeros. Errors (after no retry; the caller retries):
  // -1018, -1118, -1119 (lost flush: below the flush map), -1022.
  virtual absl::Status ReadPages(uint32_t first, uint32_t count,
                                 absl::Span<char> out) = 0;

  // Writes `slot` into the header (both copies, fsynced). Used by a
  // successful End. `clear_inc_and_diff` for a full truncating stamp.
  virtual absl::Status StampBackup(BackupSlotKind kind,
                                   const BackupInfo& info) = 0;
};

class BackupSource {
 public:
  virtual ~BackupSource() = default;

  virtual const InstanceOptions& options() const = 0;
  virtual Env* env() = 0;

  // ESE's gate states (section 2.2 / 2.3). backup_allowed is false before
  // Init finished and once Term started.
  virtual bool backup_allowed() = 0;
  virtual bool terminating() = 0;
  virtual bool service_stopped() = 0;  // StopService(all) was called
  virtual bool log_writable() = 0;     // false after a fatal log write error

  // Attached databases, attach order. Attach/detach are refused with -505
  // while BackupEngine::InProgress() is true, so this list is stable for a
  // running backup.
  virtual std::vector<BackupDatabase*> Databases() = 0;

  // Log.
  virtual uint32_t CurrentGeneration() = 0;
  virtual LogPosition LogTip() = 0;
  // Generation recorded in the checkpoint file on disk. -533 / -542.
  virtual absl::StatusOr<uint32_t> ReadCheckpointGeneration() = 0;
  // Forces a new generation; returns it once the previous is durable and
  // archived.
  virtual absl::StatusOr<uint32_t> RollLog() = 0;
  // Keeps every generation >= gen on disk (circular logging and the
  // checkpoint must not remove them) until UnpinLogs().
  virtual void PinLogs(uint32_t gen) = 0;
  virtual void UnpinLogs() = 0;
  // Archive generations present in the log directory, ascending.
  virtual absl::StatusOr<std::vector<uint32_t>> ListArchiveGenerations() = 0;
  virtual std::string ArchiveLogPath(uint32_t gen) = 0;
  // Deletes one archive generation (missing: OK). Never the checkpoint
  // generation or later: -1003.
  virtual absl::Status DeleteArchiveLog(uint32_t gen) = 0;
};

// Implemented in backup.cc.
std::unique_ptr<BackupEngine> NewBackupEngine(BackupSource* source);

}  // namespace jetback

#endif  // JETBACK_ENGINE_BACKUP_SOURCE_H_
