// The retention planner on hand-made listings: chains from generation
// ranges, each keep rule, deletion order, orphans; verify records' JSON.

#include "client/cli/expire.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace jetback::cli {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

// A set started `days_ago` days before kNow.
SetEntry Set(const std::string& id, const std::string& kind, uint32_t low,
             uint32_t high, double days_ago) {
  SetEntry s;
  s.id = id;
  s.location = "/repo/" + id;
  s.manifest.set_kind(kind);
  s.manifest.set_gen_low(low);
  s.manifest.set_gen_high(high);
  s.manifest.set_started_at(absl::FormatTime(absl::RFC3339_full,
                                             kNow - absl::Hours(24 * days_ago),
                                             absl::UTCTimeZone()));
  return s;
}

// full, incr, incr, full, incr, full (50 ... 5 days old).
std::vector<SetEntry> SixSets(const std::string& group = "h/demo") {
  return {Set(group + "/f1", "full", 1, 3, 50),
          Set(group + "/i1", "incremental", 4, 5, 45),
          Set(group + "/i2", "incremental", 6, 7, 40),
          Set(group + "/f2", "full", 8, 9, 30),
          Set(group + "/i3", "incremental", 10, 11, 20),
          Set(group + "/f3", "full", 12, 12, 5)};
}

ExpirePolicy Policy(int keep_full, int keep_days = -1) {
  return {keep_full, keep_days, kNow};
}

std::vector<std::string> Deleted(const ExpirePlan& plan) {
  return plan.delete_order;
}

const ExpireDecision& Decision(const ExpirePlan& plan, const std::string& id) {
  auto it = std::find_if(plan.sets.begin(), plan.sets.end(),
                         [&](const ExpireDecision& d) { return d.id == id; });
  EXPECT_NE(it, plan.sets.end()) << id;
  return *it;
}

TEST(Expire, KeepOneFullDeletesOlderChainsNewestFirst) {
  ExpirePlan plan = PlanExpiry(SixSets(), {}, Policy(1));
  EXPECT_EQ(Deleted(plan),
            (std::vector<std::string>{"h/demo/i2", "h/demo/i1", "h/demo/f1",
                                      "h/demo/i3", "h/demo/f2"}));
  EXPECT_FALSE(Decision(plan, "h/demo/f3").remove);
  EXPECT_TRUE(absl::StrContains(Decision(plan, "h/demo/f3").reason,
                                "one of the 1 newest full sets"));
  EXPECT_EQ(Decision(plan, "h/demo/i3").chain, "h/demo/f2");
  EXPECT_TRUE(absl::StrContains(Decision(plan, "h/demo/i1").reason,
                                "builds on deleted full set h/demo/f1"));
}

TEST(Expire, KeepTwoFullKeepsTheIncrementalsOfTheSecond) {
  ExpirePlan plan = PlanExpiry(SixSets(), {}, Policy(2));
  EXPECT_EQ(Deleted(plan),
            (std::vector<std::string>{"h/demo/i2", "h/demo/i1", "h/demo/f1"}));
  EXPECT_FALSE(Decision(plan, "h/demo/i3").remove);
  EXPECT_TRUE(absl::StrContains(Decision(plan, "h/demo/i3").reason,
                                "builds on kept full set h/demo/f2"));
}

TEST(Expire, KeepDaysKeepsTheChainOfAYoungIncremental) {
  // i3 (20 days) keeps f2; nothing of f1's chain is younger than 25 days.
  ExpirePlan plan = PlanExpiry(SixSets(), {}, Policy(1, 25));
  EXPECT_EQ(Deleted(plan),
            (std::vector<std::string>{"h/demo/i2", "h/demo/i1", "h/demo/f1"}));
  EXPECT_TRUE(
      absl::StrContains(Decision(plan, "h/demo/f2").reason,
                        "its incremental h/demo/i3 is younger than 25"));
  // i2 (40 days) keeps f1's whole chain, though f1 itself is 50 days old.
  plan = PlanExpiry(SixSets(), {}, Policy(1, 42));
  EXPECT_TRUE(Deleted(plan).empty());
  // Age alone: --keep-full 0 --keep-days 10 keeps only f3's chain.
  plan = PlanExpiry(SixSets(), {}, Policy(0, 10));
  EXPECT_EQ(Deleted(plan).size(), 5u);
  EXPECT_TRUE(absl::StrContains(Decision(plan, "h/demo/f3").reason,
                                "younger than 10 days"));
}

TEST(Expire, NewestVerifiedFullIsNeverDeleted) {
  std::map<std::string, VerifyRecord> verified = {
      {"h/demo/f1", {true, true, "2026-01-01T00:00:00Z", ""}},
      {"h/demo/f2", {false, false, "2026-01-02T00:00:00Z", ""}}};  // failed
  ExpirePlan plan = PlanExpiry(SixSets(), verified, Policy(1));
  EXPECT_EQ(Deleted(plan),
            (std::vector<std::string>{"h/demo/i3", "h/demo/f2"}));
  EXPECT_TRUE(absl::StrContains(Decision(plan, "h/demo/f1").reason,
                                "the newest verified full set (verify --deep "
                                "passed at 2026-01-01T00:00:00Z)"));
  EXPECT_FALSE(Decision(plan, "h/demo/i2").remove);
}

TEST(Expire, WithNoVerifiedFullTheNewestFullStays) {
  // --keep-full 0 and no age rule: everything would go but the newest full.
  ExpirePlan plan = PlanExpiry(SixSets(), {}, Policy(0));
  EXPECT_EQ(Deleted(plan).size(), 5u);
  EXPECT_FALSE(Decision(plan, "h/demo/f3").remove);
  EXPECT_EQ(Decision(plan, "h/demo/f3").reason,
            "the newest full set (none is verified)");
  // With a verified one, only that one's chain stays.
  plan =
      PlanExpiry(SixSets(), {{"h/demo/f2", {true, false, "t", ""}}}, Policy(0));
  EXPECT_EQ(Deleted(plan),
            (std::vector<std::string>{"h/demo/i2", "h/demo/i1", "h/demo/f1",
                                      "h/demo/f3"}));
}

TEST(Expire, GroupsAreIndependent) {
  std::vector<SetEntry> sets = SixSets("a/demo");
  for (SetEntry& s : SixSets("b/demo")) sets.push_back(s);
  sets.push_back(Set("a/other/f1", "full", 1, 1, 90));
  ExpirePlan plan = PlanExpiry(sets, {}, Policy(2));
  EXPECT_EQ(Deleted(plan),
            (std::vector<std::string>{"a/demo/i2", "a/demo/i1", "a/demo/f1",
                                      "b/demo/i2", "b/demo/i1", "b/demo/f1"}));
  EXPECT_FALSE(Decision(plan, "a/other/f1").remove);  // its group's newest
}

TEST(Expire, IncrementalsThatContinueNoChainAreKeptAndSaidSo) {
  std::vector<SetEntry> sets = {
      Set("h/d/i0", "incremental", 1, 2, 60),  // no full before it
      Set("h/d/f1", "full", 3, 4, 50),
      Set("h/d/i1", "incremental", 7, 8, 45),  // gap: 5-6 missing
      Set("h/d/i2", "incremental", 9, 9, 44),  // after the gap
      Set("h/d/f2", "full", 10, 10, 1)};
  ExpirePlan plan = PlanExpiry(sets, {}, Policy(1));
  EXPECT_EQ(Deleted(plan), (std::vector<std::string>{"h/d/f1"}));
  for (const char* id : {"h/d/i0", "h/d/i1", "h/d/i2"}) {
    EXPECT_FALSE(Decision(plan, id).remove) << id;
    EXPECT_EQ(Decision(plan, id).chain, "") << id;
  }
  EXPECT_TRUE(absl::StrContains(Decision(plan, "h/d/i0").reason,
                                "no full set before it"));
  EXPECT_TRUE(absl::StrContains(Decision(plan, "h/d/i1").reason,
                                "its logs 7-8 do not continue 4 of h/d/f1"));
  EXPECT_TRUE(absl::StrContains(Decision(plan, "h/d/i2").reason,
                                "the chain before it is broken"));
}

TEST(Expire, OrderIsByStartTimeNotListing) {
  std::vector<SetEntry> sets = SixSets();
  std::reverse(sets.begin(), sets.end());
  ExpirePlan plan = PlanExpiry(sets, {}, Policy(2));
  EXPECT_EQ(Deleted(plan),
            (std::vector<std::string>{"h/demo/i2", "h/demo/i1", "h/demo/f1"}));
  EXPECT_EQ(plan.sets.front().id, "h/demo/f1");
}

TEST(Expire, VerifyRecordJsonRoundTripAndGarbage) {
  VerifyRecord r{true, true, "2026-12-02T14:00:00Z", "jetback 0.1.0 (x)"};
  auto back = VerifyRecordFromJson(VerifyRecordToJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->ok);
  EXPECT_TRUE(back->deep);
  EXPECT_EQ(back->verified_at, r.verified_at);
  EXPECT_EQ(back->by, r.by);
  for (const char* bad : {"", "{}", "{\"ok\":\"yes\",\"verified_at\":\"t\"}",
                          "not json", "{\"ok\":true}"}) {
    EXPECT_FALSE(VerifyRecordFromJson(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace jetback::cli
