#include "jetback/mutex.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jetback {
namespace {

TEST(Mutex, ExcludesWriters) {
  Mutex mu;
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 40000);
}

TEST(Mutex, AwaitWakesWhenConditionBecomesTrue) {
  Mutex mu;
  bool ready = false;
  int seen = 0;
  std::thread waiter([&] {
    MutexLock lock(&mu);
    mu.Await(Condition(&ready));
    seen = 1;
  });
  {
    MutexLock lock(&mu);
    ready = true;
  }
  waiter.join();
  EXPECT_EQ(seen, 1);
}

TEST(Mutex, AwaitWithFunctor) {
  Mutex mu;
  int value = 0;
  std::thread producer([&] {
    for (int i = 0; i < 5; ++i) {
      MutexLock lock(&mu);
      ++value;
    }
  });
  {
    MutexLock lock(&mu);
    auto reached = [&] { return value == 5; };
    mu.Await(Condition(&reached));
    EXPECT_EQ(value, 5);
  }
  producer.join();
}

TEST(Mutex, AwaitWithTimeoutGivesUpAndReportsFalse) {
  Mutex mu;
  bool never = false;
  MutexLock lock(&mu);
  EXPECT_FALSE(mu.AwaitWithTimeout(Condition(&never), absl::Milliseconds(20)));
  bool already = true;
  EXPECT_TRUE(mu.AwaitWithTimeout(Condition(&already), absl::Seconds(5)));
}

TEST(Mutex, ReadersShare) {
  Mutex mu;
  ReaderMutexLock first(&mu);
  // A second reader on another thread must not block behind the first.
  bool second_got_it = false;
  std::thread reader([&] {
    ReaderMutexLock second(&mu);
    second_got_it = true;
  });
  reader.join();
  EXPECT_TRUE(second_got_it);
}

}  // namespace
}  // namespace jetback
