// File: client/cli/point_in_time.h
//
// `jetback restore --until TIME | --until-generation G`: parsing the point
// and describing the point a restore reached (jetback/restore.h
// RestorePoint). Kept apart from offline_cmd.cc so the restore command only
// adds the flags and prints.

#ifndef JETBACK_CLIENT_CLI_POINT_IN_TIME_H_
#define JETBACK_CLIENT_CLI_POINT_IN_TIME_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "jetback/restore.h"

namespace jetback::cli {

struct UntilArgs {
  std::string time;         // --until, as given
  uint32_t generation = 0;  // --until-generation; 0: none
  bool given() const { return !time.empty() || generation != 0; }
};

// RFC 3339 ("2026-12-02T14:03:05.123Z", "...+01:00"; 'T' or a space), or
// the same without a zone ("2026-12-02 14:03:05", seconds optional), read
// in `local`. -1003 naming the accepted forms otherwise.
absl::StatusOr<absl::Time> ParseUntilTime(absl::string_view text,
                                          absl::TimeZone local);

// Fills options.until_time / until_generation. -1003 for a bad time or for
// both given.
absl::Status ApplyUntil(const UntilArgs& until, RestoreOptions* options);

// RFC 3339 in UTC with microseconds, or "unknown" for InfinitePast.
std::string FormatCommitTime(absl::Time t);

// One line for people: the point reached and the generations wholly after
// it (not restored), or that the logs ended first.
std::string DescribePoint(const RestorePoint& point);
// A JSON object for --output json (dropped_gen_low/high 0: none).
std::string PointJson(const RestorePoint& point);

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_POINT_IN_TIME_H_
