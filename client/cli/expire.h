// File: client/cli/expire.h
//
// Retention (`jetback expire`): which sets of a repository to delete, and
// why each one is kept or deleted. A pure function of the listed sets, their
// verify records and the policy; the command (cli/expire_cmd.cc) deletes.
//
// Sets are grouped by HOST/INSTANCE. Inside a group, in time order, a full
// set starts a chain and each incremental set whose log generations continue
// the previous set's (gen_low <= previous gen_high + 1, gen_high >= previous
// gen_high: what restore needs) joins it. A chain is kept or deleted as a
// whole, so an incremental never loses its base. A chain is kept when
//   - its full set is one of the keep_full newest full sets of its group;
//   - one of its sets started less than keep_days days ago;
//   - its full set is the newest one of its group whose last verify
//     (`jetback verify --repo`, cli/verify_marker.h) passed, or, when none
//     has, the newest full set of its group.
// An incremental set that continues no chain (no full set before it, or a
// gap in the generations) cannot be restored from this repository; it is
// kept and reported, for a person to decide (`jetback sets delete`).
//
// Thread-safety: plain functions.

#ifndef JETBACK_CLIENT_CLI_EXPIRE_H_
#define JETBACK_CLIENT_CLI_EXPIRE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/repo/repository.h"
#include "client/cli/verify_marker.h"

namespace jetback::cli {

using repo::Manifest;
using repo::SetEntry;

struct ExpirePolicy {
  int keep_full = 1;   // >= 0
  int keep_days = -1;  // < 0: no age rule
  absl::Time now;
};

struct ExpireDecision {
  std::string id;
  std::string kind;  // "full" or "incremental"
  std::string started_at;
  uint64_t bytes = 0;
  // The full set this set's chain starts with (itself for a full set);
  // empty for an incremental that continues no chain.
  std::string chain;
  bool remove = false;
  std::string reason;  // for people: why kept, or why deleted
};

struct ExpirePlan {
  // Every set, grouped by HOST/INSTANCE, oldest first in each group.
  std::vector<ExpireDecision> sets;
  // The ids to delete, chain by chain (oldest chain first) and, inside a
  // chain, newest set first and the full set last: stopping anywhere (a
  // crash, an error) leaves no incremental without the sets before it.
  std::vector<std::string> delete_order;
};

// `verified` maps set ids to their verify records (absent: never verified).
ExpirePlan PlanExpiry(const std::vector<SetEntry>& sets,
                      const std::map<std::string, VerifyRecord>& verified,
                      const ExpirePolicy& policy);

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_EXPIRE_H_
