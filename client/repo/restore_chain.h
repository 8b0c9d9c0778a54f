// File: client/repo/restore_chain.h
//
// Offline work on sets as a unit: checking one set (its files against the
// manifest, then the engine's page, header and log-chain checks), restoring
// a chain of sets (a full set and the incrementals that continue it) into a
// target directory, and finding that chain inside a repository from the id
// of its last set.
//
// The set directories given here hold plain files (as the daemon streamed
// them); sets stored compressed or encrypted are first decoded into a
// staging directory by Repository::LocalCopy or PlainSetDir
// (repo/set_codec.h). Set directories are never modified.
// Thread-safety: independent calls may run concurrently.

#ifndef JETBACK_CLIENT_REPO_RESTORE_CHAIN_H_
#define JETBACK_CLIENT_REPO_RESTORE_CHAIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/repo/backup_set.h"
#include "client/repo/repository.h"
#include "jetback/restore.h"
#include "repo/manifest.pb.h"

namespace jetback::repo {

// Problems found in the set directory `dir` (plain files), each naming its
// file: size and digests against the manifest, unlisted files, then (when
// those are clean) the engine's VerifyBackupSet per file. Empty when clean.
std::vector<FileProblem> VerifySet(const std::string& dir,
                                   const Manifest& manifest);

struct ChainRestoreResult {
  std::string instance;
  int sets = 0;  // in the chain
  uint32_t gen_low = 0, gen_high = 0;
  RestoreResult engine;  // restored databases, replay statistics
};

// Restores the chain `set_dirs` (a full set first, then its incrementals
// oldest first; plain set directories) into `to`, which must be new or
// empty (-504) and not a running instance's directory. Every file is
// checked against its manifest first (-1206 naming the file); an
// incremental must belong to the full's instance (-1003) and continue its
// generations (-556), and a file that two sets both hold must be the same
// bytes in both (-556). A chain of more than one set is staged as hard
// links (copies across file systems) beside `to`, since the engine's
// Restore reads one directory; the staging is removed afterwards. The
// point-in-time bound (until_time / until_generation) is taken from `until`;
// its other fields are ignored.
absl::StatusOr<ChainRestoreResult> RestoreChain(
    const std::vector<std::string>& set_dirs, const std::string& to,
    const RestoreOptions& until = {});

// The chain that ends at set `id` of `repo`, full set first: `id` itself
// for a full set; for an incremental, the sets it builds on, followed by
// Manifest.base_set back to a full set. Sets written before base_set was
// recorded have none: their chain is taken as the latest full set of the
// same HOST/INSTANCE before `id` and every incremental between (ids sort
// by time). -1811 when `id` or a set it names is missing, -560
// (JET_errMissingFullBackup) when no full set starts the chain.
absl::StatusOr<std::vector<std::string>> ResolveChain(Repository* repo,
                                                      const std::string& id);

// The id of the set a new incremental of HOST/INSTANCE (`owner`, with the
// trailing '/') builds on: the latest complete set under `owner`; empty
// when there is none.
absl::StatusOr<std::string> LatestSetOf(Repository* repo,
                                        const std::string& owner);

}  // namespace jetback::repo

#endif  // JETBACK_CLIENT_REPO_RESTORE_CHAIN_H_
