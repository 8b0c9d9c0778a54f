#include "engine/replay_writer.h"

#include <string>

#include "engine/test_util.h"
#include "gtest/gtest.h"
#include "jetback/env.h"

namespace jetback {
namespace {

using testing_util::TempDir;

constexpr uint32_t kPage = 8192;

std::string Page(char c) { return std::string(kPage, c); }

std::string ReadAll(const std::string& path) {
  auto file = Env::Default()->OpenFile(path, OpenMode::kReadOnly);
  EXPECT_TRUE(file.ok()) << file.status();
  auto size = (*file)->Size();
  std::string out(*size, '\0');
  size_t got = 0;
  EXPECT_TRUE((*file)->Read(0, out.size(), out.data(), &got).ok());
  out.resize(got);
  return out;
}

class ReplayWriterTest : public ::testing::TestWithParam<OpenMode> {};

// Newest image per page wins, whatever the order and the budget, and
// adjacent and scattered pages both land where they belong.
TEST_P(ReplayWriterTest, NewestImagePerPageLandsAtItsOffset) {
  TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    auto f = Env::Default()->OpenFile(path, OpenMode::kCreate);
    ASSERT_TRUE(f.ok());
    JB_ASSERT_OK((*f)->Write(0, std::string(8 * kPage, '.')));
    JB_ASSERT_OK((*f)->Sync());
  }
  auto file = Env::Default()->OpenFile(path, GetParam());
  ASSERT_TRUE(file.ok()) << file.status();
  // A budget of three pages: the fourth distinct page flushes.
  ReplayWriter w(*std::move(file), kPage, 3 * kPage);
  JB_ASSERT_OK(w.Write(5 * kPage, Page('a')));
  JB_ASSERT_OK(w.Write(1 * kPage, Page('b')));
  JB_ASSERT_OK(w.Write(5 * kPage, Page('c')));  // replaces 'a'
  JB_ASSERT_OK(w.Write(2 * kPage, Page('d')));
  JB_ASSERT_OK(w.Write(9 * kPage, Page('e')));  // beyond the end; flushes
  JB_ASSERT_OK(w.Write(1 * kPage, Page('f')));  // after a flush
  JB_ASSERT_OK(w.Write(100, "xy"));             // unaligned: written through
  // A read sees what is pending.
  std::string got(kPage, '\0');
  size_t n = 0;
  JB_ASSERT_OK(w.Read(1 * kPage, kPage, got.data(), &n));
  EXPECT_EQ(got, Page('f'));
  JB_ASSERT_OK(w.Write(3 * kPage, Page('g')));
  JB_ASSERT_OK(w.Sync());
  auto size = w.Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 10u * kPage);
  const std::string all = ReadAll(path);
  ASSERT_EQ(all.size(), 10u * kPage);
  std::string want = std::string(8 * kPage, '.') + std::string(2 * kPage, '\0');
  want.replace(1 * kPage, kPage, Page('f'));
  want.replace(100, 2, "xy");
  want.replace(2 * kPage, kPage, Page('d'));
  want.replace(3 * kPage, kPage, Page('g'));
  want.replace(5 * kPage, kPage, Page('c'));
  want.replace(9 * kPage, kPage, Page('e'));
  EXPECT_TRUE(all == want);
}

INSTANTIATE_TEST_SUITE_P(Modes, ReplayWriterTest,
                         ::testing::Values(OpenMode::kReadWrite,
                                           OpenMode::kReadWriteDirect));

}  // namespace
}  // namespace jetback
