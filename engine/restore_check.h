// File: engine/restore_check.h
//
// Internal: the read-only checks of a backup set shared by Restore and
// VerifyBackupSet (ese-semantics.md section 5.1, steps 1 and 4).
//
// Thread-safety: stateless functions; safe to call concurrently.

#ifndef JETBACK_ENGINE_RESTORE_CHECK_H_
#define JETBACK_ENGINE_RESTORE_CHECK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/format.h"
#include "jetback/env.h"
#include "jetback/instance.h"

namespace jetback::restore_internal {

std::string JoinPath(const std::string& dir, const std::string& name);

// A file name inside a set directory: non-empty, at most 255 bytes, no '/',
// not "." or "..", no NUL. Errors: -1023 JET_errInvalidPath.
absl::Status CheckPlainName(absl::string_view name);

struct LogSet {
  uint64_t log_signature = 0;
  uint32_t page_size = 0;
};

// Step 1: generations low..high of `dir` exist (-1811), carry one
// signature (-555) and chain by previous-generation creation time (-556);
// an unreadable header is -501.
absl::StatusOr<LogSet> CheckLogChain(Env* env, const std::string& dir,
                                     const std::string& base, uint32_t low,
                                     uint32_t high);

// A streamed database file as read back.
struct StreamedDatabase {
  std::string path;
  DatabaseHeaderInfo header;
  format::TrailerInfo trailer;
  uint32_t page_size = 0;
  uint64_t file_size = 0;
};

// Reads the header, trying each legal page size; the shadow copy (page 1)
// stands in for a damaged first copy, as in ESE. -1206.
absl::StatusOr<DatabaseHeaderInfo> ReadHeaderPage(File* file,
                                                  uint32_t* page_size);

// Step 4 without the range checks: header readable (-1206), streamed
// (-615), trailer valid (-535), trailer matches the header and, when
// `log_signature` is non-zero, the log set (-552).
absl::StatusOr<StreamedDatabase> CheckStreamedDatabase(Env* env,
                                                       const std::string& path,
                                                       uint64_t log_signature);

// File names in `dir` that are neither logs nor checkpoints of `base` and
// whose first page is a database header, sorted.
absl::StatusOr<std::vector<std::string>> FindDatabaseFiles(
    Env* env, const std::string& dir, const std::string& base);

}  // namespace jetback::restore_internal

#endif  // JETBACK_ENGINE_RESTORE_CHECK_H_
