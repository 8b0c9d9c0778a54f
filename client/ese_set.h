// File: client/ese_set.h
//
// ESE-style backup sets: the directory an ESE agent (jetback/esent.h) fills
// with exactly the files it streamed, under the names it chose (databases
// by their file name, logs by their archive names E00XXXXXXXX.log), and no
// manifest.json. This recognises such a set, derives the generation range
// from the logs present (overridable) and verifies or restores it through
// the engine (jetback/restore.h), with the JET_ERR results of
// ese-semantics.md section 5.1. The set directory is only ever read.
//
// Used by `jetback verify` / `jetback restore` and by the C restore entry
// points (JetExternalRestore2, JetRestoreInstance).
//
// Thread-safety: stateless functions; independent calls may run
// concurrently.

#ifndef JETBACK_CLIENT_ESE_SET_H_
#define JETBACK_CLIENT_ESE_SET_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jetback/env.h"
#include "jetback/restore.h"

namespace jetback {

struct EseSetOptions {
  std::string dir;
  // Empty: the one base name the archive logs in `dir` carry.
  std::string base_name;
  // 0: the lowest / highest generation present in `dir`.
  uint32_t gen_low = 0;
  uint32_t gen_high = 0;
  // Database files (names in `dir`). Empty: every regular file of `dir`
  // that is not a log, checkpoint, reserve log, *.pat marker or hidden
  // file; a file there that is not a streamed database fails the set
  // (-1206) rather than being skipped, since skipping could lose data.
  std::vector<std::string> databases;
  Env* env = nullptr;  // nullptr: Env::Default()
};

struct EseSet {
  std::string dir;
  std::string base_name;
  uint32_t gen_low = 0, gen_high = 0;    // the range verified and replayed
  uint32_t logs_low = 0, logs_high = 0;  // lowest / highest present
  bool range_derived = false;            // neither bound was given
  std::vector<std::string> databases;    // file names in dir, sorted
};

// True when `dir` has no manifest.json and holds at least one archive log
// (an ESE agent's set rather than one written by `jetback backup`).
bool LooksLikeEseSet(const std::string& dir, Env* env = nullptr);

// Reads the set's layout without checking contents. Errors: -1811 no
// archive log in dir (or dir unreadable); -1003 logs of several base names,
// a bad base name, or a given range with gen_low > gen_high; -1023 a
// database name that is not a plain file name; -1206 no database file.
absl::StatusOr<EseSet> ReadEseSet(const EseSetOptions& options);

// Every log of gen_low..gen_high (present -1811, one signature -555,
// chained -556, blocks -612) and every page, header copy and trailer of
// every database (-1206, -615, -535, -552, -1018 ...), read-only. One
// result per file, logs first, as VerifyBackupSet.
absl::StatusOr<VerifyResult> VerifyEseSet(const EseSet& set,
                                          Env* env = nullptr);

// The first problem VerifyEseSet finds, naming its file; OK when clean.
absl::Status FirstProblem(const VerifyResult& verified);

struct EseRestoreOptions {
  // New or empty directory; receives the restored databases under their
  // names in the set, and Restore's scratch "logs" directory.
  std::string target_dir;
  // Called per generation replayed: (generation, set.gen_high).
  std::function<void(uint32_t gen, uint32_t gen_high)> progress;
  Env* env = nullptr;
};

// VerifyEseSet, stopping at the first problem (a damaged log block is
// -501, as restore names it), then the engine's Restore with its range
// checks (-554 a database needs logs below gen_low, -553 above gen_high)
// and replay. OK: clean databases in target_dir. Also -1003 / -1032 from
// Restore for an unusable target.
absl::StatusOr<RestoreResult> RestoreEseSet(const EseSet& set,
                                            const EseRestoreOptions& options);

}  // namespace jetback

#endif  // JETBACK_CLIENT_ESE_SET_H_
