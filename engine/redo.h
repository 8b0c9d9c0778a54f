// File: engine/redo.h
//
// The redo core: committed page images from a run of log generations
// replayed onto open database files. Crash recovery
// (engine/crash_recovery.cc) and restore's replay (engine/restore_replay.h)
// both call it. An image is written only when the page on disk is
// older (dbtime), unreadable or absent, so a fuzzy copy converges.

#ifndef JETBACK_ENGINE_REDO_H_
#define JETBACK_ENGINE_REDO_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "jetback/env.h"

namespace jetback {

struct RedoFile {
  uint32_t generation = 0;
  std::string path;
};

// Where replay stops, for a point-in-time restore. Replay applies a prefix
// of the log: it ends before the first commit later than the point (by
// time, or by lying in a later generation), and applies nothing after it.
struct RedoStop {
  std::optional<int64_t> until_time_us;  // us since the epoch
  uint32_t until_generation = 0;         // 0: no generation bound
  // Commits in generations <= this are always applied (a fuzzy database
  // copy may already hold them): one of them beyond the point is -553.
  uint32_t required_generation = 0;
};

struct RedoStats {
  std::map<uint64_t, uint64_t> max_dbtime;  // per database signature
  std::map<uint64_t, uint32_t> max_pgno;
  uint32_t last_generation = 0;
  uint32_t end_block = 1;  // first block after the last complete group
  int64_t last_create_time_us = 0;
  uint64_t log_bytes = 0;
  uint64_t transactions = 0;  // commits applied
  // Point-in-time replay (a RedoStop given): whether a commit beyond the
  // point was found, and how many commits were left out from there on.
  bool stopped = false;
  uint64_t skipped = 0;
  uint32_t commit_generation = 0;   // of the last commit applied
  int64_t last_commit_time_us = 0;  // of the last commit applied; 0: unknown
};

// Replays files in order (consecutive generations), the first from
// start_block. The last file may have a torn tail when tolerate_tail.
// Errors: -501, -530 (signature differs from log_signature), -1022.
// An image is written only where the page on disk is missing, invalid or
// older. page_dbtimes, per target, can stand in for reading the pages: the
// dbtime each page has now (index pgno; 0 for absent, zero or invalid), kept
// up to date as images are written. read_ahead: read the next generation on
// a thread while one is replayed; direct_reads: read the log bypassing the
// page cache (cold logs read once, as restore's). With `stop`, also -553 when
// the point lies inside stop->required_generation, and -1003 for a time
// bound met by a commit without a time (log format 1).
absl::StatusOr<RedoStats> RedoLogFiles(
    Env* env, uint32_t page_size, uint64_t log_signature,
    const std::vector<RedoFile>& files, uint32_t start_block,
    bool tolerate_tail, const std::map<uint64_t, File*>& targets,
    const std::map<uint64_t, std::vector<uint64_t>*>& page_dbtimes = {},
    bool read_ahead = true, const RedoStop* stop = nullptr,
    bool direct_reads = false);

}  // namespace jetback

#endif  // JETBACK_ENGINE_REDO_H_
