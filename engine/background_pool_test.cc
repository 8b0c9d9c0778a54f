#include "jetback/background_pool.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "engine/test_util.h"
#include "gtest/gtest.h"

namespace jetback {
namespace {

using testing_util::ProcessThreads;

// Polls `done` (a real condition) until it holds or 30 s pass.
template <typename F>
bool WaitFor(F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(BackgroundPoolTest, RunsPeriodicallyAndStopsAfterRemove) {
  BackgroundPool pool({.threads = 2});
  std::atomic<int> runs{0};
  BackgroundPool::Task* t = pool.Add([&] { ++runs; }, absl::Milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return runs.load() >= 5; }));
  pool.Remove(t);
  const int after = runs.load();
  // A second task's runs show the pool still turns; the removed one is
  // quiet.
  std::atomic<int> other{0};
  BackgroundPool::Task* u = pool.Add([&] { ++other; }, absl::Milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return other.load() >= 5; }));
  EXPECT_EQ(runs.load(), after);
  pool.Remove(u);
}

TEST(BackgroundPoolTest, KickRunsATaskAtOnce) {
  BackgroundPool pool({.threads = 1});
  std::atomic<int> runs{0};
  BackgroundPool::Task* t = pool.Add([&] { ++runs; }, absl::Hours(1));
  EXPECT_EQ(runs.load(), 0);
  pool.Kick(t);
  ASSERT_TRUE(WaitFor([&] { return runs.load() == 1; }));
  pool.Kick(t);
  ASSERT_TRUE(WaitFor([&] { return runs.load() == 2; }));
  pool.Remove(t);
}

TEST(BackgroundPoolTest, RemoveWaitsForTheRunInProgress) {
  BackgroundPool pool({.threads = 1});
  std::atomic<bool> entered{false}, release{false}, finished{false};
  BackgroundPool::Task* t = pool.Add(
      [&] {
        entered = true;
        while (!release.load()) std::this_thread::yield();
        finished = true;
      },
      absl::Hours(1));
  pool.Kick(t);
  ASSERT_TRUE(WaitFor([&] { return entered.load(); }));
  bool finished_at_return = false;
  std::thread remover([&] {
    pool.Remove(t);
    finished_at_return = finished.load();
  });
  release = true;
  remover.join();
  EXPECT_TRUE(finished_at_return);
}

TEST(BackgroundPoolTest, SlowTaskDoesNotStarveOthers) {
  BackgroundPool pool(
      {.threads = 1, .max_threads = 4, .stall_after = absl::Milliseconds(20)});
  EXPECT_EQ(pool.threads(), 2);
  std::atomic<bool> entered{false}, release{false};
  BackgroundPool::Task* slow = pool.Add(
      [&] {
        entered = true;
        while (!release.load()) std::this_thread::yield();
      },
      absl::Hours(1));
  pool.Kick(slow);
  ASSERT_TRUE(WaitFor([&] { return entered.load(); }));
  // The only worker is stuck; another task still runs, on an extra worker.
  std::atomic<int> runs{0};
  BackgroundPool::Task* fast = pool.Add([&] { ++runs; }, absl::Milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return runs.load() >= 3; }));
  EXPECT_EQ(pool.threads(), 3);
  release = true;
  pool.Remove(slow);
  pool.Remove(fast);
}

TEST(BackgroundPoolTest, ExtraWorkersRetireWhenIdle) {
  BackgroundPool pool({.threads = 1,
                       .max_threads = 4,
                       .stall_after = absl::Milliseconds(10),
                       .idle_exit = absl::Milliseconds(50)});
  std::atomic<bool> entered{false}, release{false};
  std::atomic<int> runs{0};
  BackgroundPool::Task* slow = pool.Add(
      [&] {
        entered = true;
        while (!release.load()) std::this_thread::yield();
      },
      absl::Hours(1));
  pool.Kick(slow);
  ASSERT_TRUE(WaitFor([&] { return entered.load(); }));
  BackgroundPool::Task* fast = pool.Add([&] { ++runs; }, absl::Hours(1));
  pool.Kick(fast);
  ASSERT_TRUE(WaitFor([&] { return runs.load() == 1; }));
  EXPECT_EQ(pool.threads(), 3);
  release = true;
  ASSERT_TRUE(WaitFor([&] { return pool.threads() == 2; }));
  pool.Remove(slow);
  pool.Remove(fast);
}

TEST(BackgroundPoolTest, ThousandTasksRunOnAFewThreads) {
  // A sanitizer's own background thread starts with the first thread
  // created: let that happen before counting.
  std::thread([] {}).join();
  const int before = ProcessThreads();
  BackgroundPool pool({.threads = 2, .stall_after = absl::Minutes(1)});
  constexpr int kTasks = 1000;
  std::vector<std::atomic<int>> runs(kTasks);
  std::vector<BackgroundPool::Task*> tasks;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(pool.Add([&runs, i] { ++runs[i]; }, absl::Milliseconds(5)));
  }
  ASSERT_TRUE(WaitFor([&] {
    for (auto& r : runs) {
      if (r.load() < 2) return false;
    }
    return true;
  }));
  EXPECT_EQ(ProcessThreads(), before + 3);
  for (BackgroundPool::Task* t : tasks) pool.Remove(t);
}

}  // namespace
}  // namespace jetback
