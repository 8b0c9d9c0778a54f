// Retention planning: chains per HOST/INSTANCE, then keep or delete each
// chain as a whole (see expire.h).

#include "client/cli/expire.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace jetback::cli {
namespace {

struct Chain {
  std::vector<size_t> members;  // indexes into the group, full set first
  std::vector<std::string> keep_reasons;
};

std::string GroupOf(const std::string& id) {
  return id.substr(0, id.rfind('/'));
}

// The set's start time; InfiniteFuture when it does not parse (its age is
// unknown, so the age rule keeps it).
absl::Time StartTime(const Manifest& m) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, m.started_at(), &t, &err)) {
    return absl::InfiniteFuture();
  }
  return t;
}

bool StartedAfter(const Manifest& m, absl::Time cutoff) {
  return StartTime(m) > cutoff;
}

void PlanGroup(const std::vector<const SetEntry*>& group,
               const std::map<std::string, VerifyRecord>& verified,
               const ExpirePolicy& policy, ExpirePlan* plan) {
  std::vector<Chain> chains;
  std::vector<ExpireDecision> decisions(group.size());
  std::vector<std::string> orphan_reason(group.size());
  bool open = false;  // the last chain can take an incremental
  uint32_t gen_high = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    const SetEntry& s = *group[i];
    const Manifest& m = s.manifest;
    decisions[i] = {s.id, m.kind(), m.started_at(), s.bytes, "", false, ""};
    if (m.kind() == "full") {
      chains.push_back({{i}, {}});
      open = true;
      gen_high = m.gen_high();
      continue;
    }
    if (!open) {
      orphan_reason[i] = chains.empty() ? "no full set before it"
                                        : "the chain before it is broken";
      continue;
    }
    if (m.gen_low() > gen_high + 1 || m.gen_high() < gen_high) {
      orphan_reason[i] = absl::StrCat(
          "its logs ", m.gen_low(), "-", m.gen_high(), " do not continue ",
          gen_high, " of ", group[chains.back().members.back()]->id);
      open = false;  // later incrementals would miss these logs too
      continue;
    }
    chains.back().members.push_back(i);
    gen_high = m.gen_high();
  }

  // The keep rules, chain by chain (newest chain last).
  const int n = static_cast<int>(chains.size());
  int newest_verified = -1;
  for (int c = 0; c < n; ++c) {
    auto v = verified.find(group[chains[c].members[0]]->id);
    if (v != verified.end() && v->second.ok) newest_verified = c;
  }
  const absl::Time cutoff = policy.now - absl::Hours(24) * policy.keep_days;
  for (int c = 0; c < n; ++c) {
    Chain& chain = chains[c];
    if (n - c <= policy.keep_full) {
      chain.keep_reasons.push_back(
          absl::StrCat("one of the ", policy.keep_full, " newest full sets"));
    }
    if (policy.keep_days >= 0) {
      for (size_t i : chain.members) {
        if (!StartedAfter(group[i]->manifest, cutoff)) continue;
        chain.keep_reasons.push_back(
            i == chain.members[0]
                ? absl::StrCat("younger than ", policy.keep_days, " days")
                : absl::StrCat("its incremental ", group[i]->id,
                               " is younger than ", policy.keep_days, " days"));
        break;
      }
    }
    if (c == newest_verified) {
      const VerifyRecord& v = verified.at(group[chain.members[0]]->id);
      chain.keep_reasons.push_back(absl::StrCat(
          "the newest verified full set (verify", v.deep ? " --deep" : "",
          " passed at ", v.verified_at, ")"));
    } else if (newest_verified < 0 && c == n - 1) {
      chain.keep_reasons.push_back("the newest full set (none is verified)");
    }
  }

  for (const Chain& chain : chains) {
    const std::string& full = group[chain.members[0]]->id;
    const bool keep = !chain.keep_reasons.empty();
    for (size_t i : chain.members) {
      ExpireDecision& d = decisions[i];
      d.chain = full;
      d.remove = !keep;
      if (i == chain.members[0]) {
        d.reason =
            keep ? absl::StrJoin(chain.keep_reasons, "; ")
                 : absl::StrCat("older than the ", policy.keep_full,
                                " newest full sets",
                                policy.keep_days >= 0
                                    ? absl::StrCat(", no set of its chain "
                                                   "younger than ",
                                                   policy.keep_days, " days")
                                    : "",
                                ", not the newest verified full set");
      } else {
        d.reason = keep ? absl::StrCat("builds on kept full set ", full)
                        : absl::StrCat("builds on deleted full set ", full);
      }
    }
    if (!keep) {
      for (auto it = chain.members.rbegin(); it != chain.members.rend(); ++it) {
        plan->delete_order.push_back(group[*it]->id);
      }
    }
  }
  for (size_t i = 0; i < group.size(); ++i) {
    if (!orphan_reason[i].empty()) {
      decisions[i].reason = absl::StrCat(
          "incremental that continues no chain (", orphan_reason[i],
          "); not restorable from this repository, left for `jetback sets "
          "delete`");
    }
    plan->sets.push_back(std::move(decisions[i]));
  }
}

}  // namespace

ExpirePlan PlanExpiry(const std::vector<SetEntry>& sets,
                      const std::map<std::string, VerifyRecord>& verified,
                      const ExpirePolicy& policy) {
  // Group, then order each group by start time (set names are times too,
  // so ids break ties).
  std::map<std::string, std::vector<const SetEntry*>> groups;
  for (const SetEntry& s : sets) groups[GroupOf(s.id)].push_back(&s);
  ExpirePlan plan;
  for (auto& [name, group] : groups) {
    std::stable_sort(group.begin(), group.end(),
                     [](const SetEntry* a, const SetEntry* b) {
                       const absl::Time ta = StartTime(a->manifest);
                       const absl::Time tb = StartTime(b->manifest);
                       if (ta != tb) return ta < tb;
                       return a->id < b->id;
                     });
    PlanGroup(group, verified, policy, &plan);
  }
  return plan;
}

}  // namespace jetback::cli
