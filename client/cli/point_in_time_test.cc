#include "client/cli/point_in_time.h"

#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback::cli {
namespace {

TEST(PointInTimeArgs, ParsesRfc3339AndLocalForms) {
  const absl::Time want = absl::FromUnixMicros(1796220185123000);
  // 2026-12-02T14:03:05.123Z
  auto utc = ParseUntilTime("2026-12-02T14:03:05.123Z", absl::UTCTimeZone());
  ASSERT_TRUE(utc.ok()) << utc.status();
  EXPECT_EQ(*utc, want);
  auto offset =
      ParseUntilTime("2026-12-02 15:03:05.123+01:00", absl::UTCTimeZone());
  ASSERT_TRUE(offset.ok()) << offset.status();
  EXPECT_EQ(*offset, want);
  absl::TimeZone berlin = absl::FixedTimeZone(3600);
  auto local = ParseUntilTime("2026-12-02 15:03:05.123", berlin);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(*local, want);
  auto minutes = ParseUntilTime("2026-12-02T15:03", berlin);
  ASSERT_TRUE(minutes.ok()) << minutes.status();
  EXPECT_EQ(*minutes, want - absl::Milliseconds(5123));
  EXPECT_EQ(FormatCommitTime(want), "2026-12-02T14:03:05.123000Z");
}

TEST(PointInTimeArgs, BadInputIsInvalidParameter) {
  for (const char* bad : {"yesterday", "2026-13-02T14:03:05Z", "14:03",
                          "2026-12-02T14:03:05Zjunk", ""}) {
    EXPECT_EQ(JetErrOf(ParseUntilTime(bad, absl::UTCTimeZone()).status()),
              jet::JET_errInvalidParameter)
        << bad;
  }
  RestoreOptions options;
  UntilArgs both{"2026-12-02T14:03:05Z", 7};
  EXPECT_EQ(JetErrOf(ApplyUntil(both, &options)), jet::JET_errInvalidParameter);
  UntilArgs gen{"", 7};
  ASSERT_TRUE(ApplyUntil(gen, &options).ok());
  EXPECT_EQ(options.until_generation, 7u);
  EXPECT_FALSE(options.until_time.has_value());
}

TEST(PointInTimeReport, SaysWhichGenerationsWereDropped) {
  RestorePoint p;
  p.reached = true;
  p.generation = 5;
  p.last_commit_time = absl::FromUnixMicros(1764684185123000);
  p.transactions_replayed = 7;
  p.transactions_skipped = 3;
  p.dropped_gen_low = 6;
  p.dropped_gen_high = 8;
  EXPECT_EQ(DescribePoint(p),
            "point reached: generation 5, last transaction committed at "
            "2025-12-02T14:03:05.123000Z; 7 transactions replayed, 3 skipped "
            "(committed after the point); generations 6-8 lie after the "
            "point: none of their transactions was restored");
  EXPECT_EQ(PointJson(p),
            "{\"reached\":true,\"generation\":5,\"last_commit_time\":"
            "\"2025-12-02T14:03:05.123000Z\",\"transactions_replayed\":7,"
            "\"transactions_skipped\":3,\"dropped_gen_low\":6,"
            "\"dropped_gen_high\":8}");
  p.dropped_gen_low = p.dropped_gen_high = 0;  // the point in the last one
  EXPECT_EQ(DescribePoint(p).find("lie after"), std::string::npos);
  EXPECT_NE(PointJson(p).find("\"dropped_gen_low\":0,"), std::string::npos);
}

}  // namespace
}  // namespace jetback::cli
