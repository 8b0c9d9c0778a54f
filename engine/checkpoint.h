// File: engine/checkpoint.h
//
// The checkpoint file (E00.chk in the system directory): where redo must
// start and which databases recovery must open. Written atomically (temp
// file, fsync, rename, directory fsync) and checksummed.

#ifndef JETBACK_ENGINE_CHECKPOINT_H_
#define JETBACK_ENGINE_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "jetback/env.h"

namespace jetback {

struct CheckpointInfo {
  uint64_t log_signature = 0;
  uint64_t redo_lsn = 0;  // engine/log.h Lsn(): first position to replay
  uint32_t page_size = 0;
  struct Db {
    std::string path;
    uint64_t db_signature = 0;
    uint64_t dbtime = 0;  // no page on disk is stamped above this
  };
  std::vector<Db> databases;
};

absl::Status WriteCheckpoint(Env* env, const std::string& dir,
                             const std::string& base_name,
                             const CheckpointInfo& info);
// Errors: -542 missing, -533 corrupt, -1022.
absl::StatusOr<CheckpointInfo> ReadCheckpoint(Env* env, const std::string& dir,
                                              const std::string& base_name);

}  // namespace jetback

#endif  // JETBACK_ENGINE_CHECKPOINT_H_
