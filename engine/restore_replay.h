// File: engine/restore_replay.h
//
// Restore's replay: archived generations gen_low..gen_high replayed onto the
// databases a restore copied, which are then marked clean. Crash recovery
// (engine/crash_recovery.cc) does not use this; both sit on the redo core
// (engine/redo.h).

#ifndef JETBACK_ENGINE_RESTORE_REPLAY_H_
#define JETBACK_ENGINE_RESTORE_REPLAY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/redo.h"
#include "jetback/env.h"

namespace jetback {

// A database file that replay writes into, identified in the log by its
// database signature.
struct RestoreReplayTarget {
  uint64_t db_signature = 0;
  std::string path;
  // When the caller knows each page's dbtime as the file holds it (restore
  // reads them while copying; 0 for zero or invalid pages): replay compares
  // against these instead of reading every page it might overwrite.
  std::vector<uint64_t>* page_dbtimes = nullptr;
};

// How replay writes page images into the targets.
enum class ReplayWrites {
  kThrough,    // each image as replay meets it, buffered (before issue 18)
  kCoalesced,  // newest image per page, merged in offset order (ReplayWriter)
  kDirect,     // as kCoalesced, bypassing the page cache (O_DIRECT)
};

struct RestoreReplayOptions {
  Env* env = nullptr;
  std::string log_dir;
  std::string base_name = "E00";
  uint32_t page_size = 8192;
  uint32_t gen_low = 0;   // first archive generation to replay
  uint32_t gen_high = 0;  // last archive generation to replay
  std::vector<RestoreReplayTarget> targets;  // databases not listed are skipped
  std::function<void(uint32_t gen)> progress;
  ReplayWrites writes = ReplayWrites::kCoalesced;
  bool read_ahead = true;  // the next generation read while one replays
  // The log read bypassing the page cache (restore's logs are cold and read
  // once); falls back to buffered reads where the filesystem refuses.
  bool direct_reads = true;
  size_t write_budget_bytes = size_t{128} << 20;  // pending images, kCoalesced
  // Point-in-time restore: replay ends before the first commit beyond it.
  std::optional<RedoStop> stop;
};

struct RestoreReplayResult {
  uint64_t log_bytes = 0;
  uint32_t last_generation = 0;
  uint64_t transactions = 0;
  // As RedoStats: the point reached.
  bool stopped = false;
  uint64_t skipped = 0;
  uint32_t commit_generation = 0;
  int64_t last_commit_time_us = 0;
};

// Replays archive generations gen_low..gen_high of log_dir onto the targets,
// then marks each target clean with gen_min/max_required = gen_high, and
// fsyncs. Errors: -528 missing generation, -530 foreign log signature,
// -501 corrupt log before the last generation's tail, -1206, -1022; with a
// stop, -553 and -1003 as RedoLogFiles.
absl::StatusOr<RestoreReplayResult> ReplayArchiveLogsForRestore(
    const RestoreReplayOptions& options);

}  // namespace jetback

#endif  // JETBACK_ENGINE_RESTORE_REPLAY_H_
