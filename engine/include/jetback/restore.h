// File: jetback/restore.h
//
// Offline restore and verification of a backup set: a directory holding the
// streamed database files (each exactly as ReadFile produced it: two header
// copies, the pages, the trailer page) and the archive log generations
// E00XXXXXXXX.log that the backup listed (for an incremental chain, the full
// backup's logs plus the incrementals'). ESE semantics of section 5.1 with
// explicit generation bounds; the backup directory is never modified.
//
// Thread-safety: independent calls may run concurrently.

#ifndef JETBACK_RESTORE_H_
#define JETBACK_RESTORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jetback/env.h"

namespace jetback {

struct RestoreOptions {
  std::string backup_dir;
  // Receives the restored databases (same file names) and a scratch log
  // directory "<target_dir>/logs" holding copies of the generations while
  // they replay; a successful restore leaves it empty (see Restore).
  std::string target_dir;
  std::string base_name = "E00";
  uint32_t gen_low = 0;   // required: first generation to replay
  uint32_t gen_high = 0;  // required: last generation to replay
  // Database files (names in backup_dir) to restore; empty: every file of
  // backup_dir that is a streamed database.
  std::vector<std::string> databases;
  Env* env = nullptr;
  // Progress: generation replayed so far, of gen_high.
  std::function<void(uint32_t gen, uint32_t gen_high)> progress;
  // Point-in-time restore (at most one of the two): replay only up to the
  // last transaction committed at or before until_time (wall clock of the
  // commit), or committed in a generation <= until_generation (0: none).
  std::optional<absl::Time> until_time;
  uint32_t until_generation = 0;
};

// The point a replay reached.
struct RestorePoint {
  // A point was asked for and lies within the logs: a transaction beyond it
  // was found and left out (or, by generation, gen_high reaches it). False
  // when the logs end first: everything was replayed.
  bool reached = false;
  uint32_t generation = 0;  // of the last transaction replayed (0: none)
  // Commit time of the last transaction replayed; InfinitePast when unknown
  // (a log format 1 generation, or nothing replayed).
  absl::Time last_commit_time = absl::InfinitePast();
  uint64_t transactions_replayed = 0;
  uint64_t transactions_skipped = 0;  // committed beyond the point
  // When reached: generations dropped_gen_low..dropped_gen_high (0, 0:
  // none) come after the point and none of their transactions was applied.
  // The skipped transactions lie there or after the point in `generation`.
  uint32_t dropped_gen_low = 0, dropped_gen_high = 0;
};

struct RestoredDatabase {
  std::string path;  // in target_dir
  uint32_t gen_low = 0, gen_high = 0;
};

struct RestoreResult {
  std::vector<RestoredDatabase> databases;
  uint64_t log_bytes_replayed = 0;
  // Wall time of the replay alone (after the copies into target_dir).
  absl::Duration replay_time;
  RestorePoint point;
  // Generation copies removed from <target_dir>/logs after the replay.
  uint32_t logs_removed = 0;
};

// Checks, in order: logs gen_low..gen_high present (-1811), one signature
// (-555), chained by previous-generation creation time (-556); per database:
// header readable (-1206), streamed (-615), trailer checksum (-535),
// trailer matches header and log set (-552), gen_low too high (-554),
// gen_high too low (-553). Then replays and leaves clean databases, and
// <target_dir>/logs empty: the databases need no log, and an instance
// started on the target (its log dir is TARGET/logs in jetbackd's default
// layout) starts a log of its own, with nothing past a point to replay.
// -1003 for missing gen_low/gen_high or an existing non-empty target;
// -1032 naming the holder when the target is a running instance's directory.
// Point in time: -1003 for both bounds at once, or a time bound over a log
// format 1 generation (no commit times); -553 for a point before the end of
// the generations the database copies need (their trailers' gen_high).
absl::StatusOr<RestoreResult> Restore(const RestoreOptions& options);

// -1032 naming the holder when `dir` or a directory right inside it holds an
// instance lock file (*.lock) that a running instance has locked; OK when
// it does not exist.
absl::Status CheckNoLiveInstance(Env* env, const std::string& dir);

struct VerifyResult {
  struct FileResult {
    std::string name;
    absl::Status status;  // first problem found in that file
  };
  std::vector<FileResult> files;
  bool ok() const {
    for (const auto& f : files) {
      if (!f.status.ok()) return false;
    }
    return true;
  }
};

// Checks every page of every streamed database (checksums, page numbers,
// header copies, trailer) and every log (header, blocks, signature, chain)
// without changing anything. Per-file results; the status is an error only
// when the set itself cannot be read.
absl::StatusOr<VerifyResult> VerifyBackupSet(const RestoreOptions& options);

}  // namespace jetback

#endif  // JETBACK_RESTORE_H_
