// Point-in-time restore arguments and reports (client/cli/point_in_time.h).

#include "client/cli/point_in_time.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "jetback/status.h"

namespace jetback::cli {

absl::StatusOr<absl::Time> ParseUntilTime(absl::string_view text,
                                          absl::TimeZone local) {
  const std::string s(text);
  // %ET accepts 'T' or 't'; %E*S takes any fraction; %Ez takes Z or +hh:mm.
  for (const char* zoned :
       {"%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d %H:%M:%E*S%Ez"}) {
    absl::Time t;
    if (absl::ParseTime(zoned, s, &t, nullptr)) return t;
  }
  for (const char* plain : {"%Y-%m-%d%ET%H:%M:%E*S", "%Y-%m-%d %H:%M:%E*S",
                            "%Y-%m-%d%ET%H:%M", "%Y-%m-%d %H:%M"}) {
    absl::Time t;
    if (absl::ParseTime(plain, s, local, &t, nullptr)) return t;
  }
  return JetStatus(
      jet::JET_errInvalidParameter,
      absl::StrCat("--until ", s,
                   ": not a time; use RFC 3339 (2026-12-02T14:03:05.123Z, "
                   "2026-12-02T15:03:05+01:00) or local time "
                   "(2026-12-02 14:03:05)"));
}

absl::Status ApplyUntil(const UntilArgs& until, RestoreOptions* options) {
  if (!until.time.empty() && until.generation != 0) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "--until and --until-generation exclude each other");
  }
  if (!until.time.empty()) {
    JB_ASSIGN_OR_RETURN(options->until_time,
                        ParseUntilTime(until.time, absl::LocalTimeZone()));
  }
  options->until_generation = until.generation;
  return absl::OkStatus();
}

std::string FormatCommitTime(absl::Time t) {
  if (t == absl::InfinitePast()) return "unknown";
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

std::string DescribePoint(const RestorePoint& p) {
  const std::string counts =
      absl::StrFormat("%d transactions replayed, %d skipped",
                      p.transactions_replayed, p.transactions_skipped);
  if (p.reached) {
    std::string dropped;
    if (p.dropped_gen_low != 0) {
      dropped = absl::StrCat(
          "; generations ", p.dropped_gen_low, "-", p.dropped_gen_high,
          " lie after the point: none of their transactions was restored");
    }
    return absl::StrCat("point reached: generation ", p.generation,
                        ", last transaction committed at ",
                        FormatCommitTime(p.last_commit_time), "; ", counts,
                        " (committed after the point)", dropped);
  }
  return absl::StrCat(
      "point not reached: the logs end first; everything replayed, up to "
      "generation ",
      p.generation, ", last transaction committed at ",
      FormatCommitTime(p.last_commit_time), "; ", counts);
}

std::string PointJson(const RestorePoint& p) {
  return absl::StrFormat(
      "{\"reached\":%s,\"generation\":%d,\"last_commit_time\":\"%s\","
      "\"transactions_replayed\":%d,\"transactions_skipped\":%d,"
      "\"dropped_gen_low\":%d,\"dropped_gen_high\":%d}",
      p.reached ? "true" : "false", p.generation,
      FormatCommitTime(p.last_commit_time), p.transactions_replayed,
      p.transactions_skipped, p.dropped_gen_low, p.dropped_gen_high);
}

}  // namespace jetback::cli
