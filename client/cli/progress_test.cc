#include "client/cli/progress.h"

#include "gtest/gtest.h"

namespace jetback::cli {
namespace {

TEST(ProgressTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(3 * 1024 + 100), "3.1 KiB");
  EXPECT_EQ(HumanBytes(12ull << 20), "12.0 MiB");
  EXPECT_EQ(HumanBytes(3ull << 29), "1.5 GiB");
}

TEST(ProgressTest, HumanDuration) {
  EXPECT_EQ(HumanDuration(absl::Seconds(5)), "0:05");
  EXPECT_EQ(HumanDuration(absl::Seconds(3723)), "1:02:03");
}

TEST(ProgressTest, LineShowsFileBytesPercentRateEta) {
  EXPECT_EQ(ProgressText("demo.edb", 1 << 20, 4 << 20, 1 << 20),
            "demo.edb  1.0 MiB/4.0 MiB  25%  1.0 MiB/s  ETA 0:03");
  EXPECT_EQ(ProgressText("x", 0, 0, 0), "x  0 B/0 B  100%  0 B/s  ETA --:--");
}

TEST(ProgressTest, DisabledLineWritesNothing) {
  char buf[256] = {0};
  FILE* out = fmemopen(buf, sizeof(buf), "w");
  ProgressLine line(false, out);
  line.Update("demo.edb", 1, 2, 1);
  line.Clear();
  std::fclose(out);
  EXPECT_STREQ(buf, "");
}

}  // namespace
}  // namespace jetback::cli
