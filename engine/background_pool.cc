// The shared background pool: one timer thread, a few workers.

#include "jetback/background_pool.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace jetback {

struct BackgroundPool::Task {
  enum class State { kWaiting, kReady, kRunning, kDone };
  std::function<void()> run;
  absl::Duration interval;
  State state = State::kWaiting;
  absl::Time due;
  absl::Time ready_since;
  bool kicked = false;
  bool removing = false;
};

BackgroundPool::BackgroundPool(Options options)
    : options_([&] {
        if (options.threads <= 0) {
          const int cores =
              static_cast<int>(std::thread::hardware_concurrency());
          options.threads = std::clamp(cores, 1, 2);
        }
        options.max_threads = std::max(options.max_threads, options.threads);
        return options;
      }()) {
  {
    jetback::MutexLock lock(&mu_);
    for (int i = 0; i < options_.threads; ++i) StartWorker();
  }
  timer_ = std::thread([this] { TimerLoop(); });
}

BackgroundPool::~BackgroundPool() {
  std::vector<std::thread> threads;
  {
    jetback::MutexLock lock(&mu_);
    stop_ = true;
  }
  timer_.join();
  {
    jetback::MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

BackgroundPool* BackgroundPool::Default() {
  static BackgroundPool* pool = new BackgroundPool();
  return pool;
}

void BackgroundPool::StartWorker() {
  ++workers_;
  ++idle_;  // counted idle from birth, so the timer does not start another
  threads_.emplace_back([this] { WorkerLoop(); });
}

BackgroundPool::Task* BackgroundPool::Add(std::function<void()> run,
                                          absl::Duration interval) {
  Task* task = new Task;
  task->run = std::move(run);
  task->interval = interval;
  jetback::MutexLock lock(&mu_);
  task->due = absl::Now() + interval;
  timers_.emplace(task->due, task);
  timer_wake_ = true;
  return task;
}

void BackgroundPool::Kick(Task* task) {
  jetback::MutexLock lock(&mu_);
  switch (task->state) {
    case Task::State::kWaiting:
      timers_.erase({task->due, task});
      task->due = absl::Now();
      timers_.emplace(task->due, task);
      timer_wake_ = true;
      break;
    case Task::State::kRunning:
      task->kicked = true;
      break;
    default:
      break;  // about to run anyway
  }
}

void BackgroundPool::Remove(Task* task) {
  {
    jetback::MutexLock lock(&mu_);
    switch (task->state) {
      case Task::State::kWaiting:
        timers_.erase({task->due, task});
        break;
      case Task::State::kReady:
        ready_.erase(std::find(ready_.begin(), ready_.end(), task));
        break;
      case Task::State::kRunning: {
        task->removing = true;
        auto done = [task]() { return task->state == Task::State::kDone; };
        mu_.Await(jetback::Condition(&done));
        break;
      }
      case Task::State::kDone:
        break;
    }
  }
  delete task;
}

int BackgroundPool::threads() {
  jetback::MutexLock lock(&mu_);
  return workers_ + 1;
}

void BackgroundPool::Probe() { jetback::MutexLock lock(&mu_); }

void BackgroundPool::TimerLoop() {
  mu_.Lock();
  while (!stop_) {
    const absl::Time now = absl::Now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      Task* task = timers_.begin()->second;
      timers_.erase(timers_.begin());
      task->state = Task::State::kReady;
      task->ready_since = now;
      ready_.push_back(task);
    }
    // Work has waited stall_after with every worker busy: add one.
    absl::Time deadline =
        timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first;
    if (!ready_.empty() && idle_ == 0) {
      const absl::Time stalled =
          ready_.front()->ready_since + options_.stall_after;
      if (stalled <= now && workers_ < options_.max_threads) {
        StartWorker();
      } else if (workers_ < options_.max_threads) {
        deadline = std::min(deadline, stalled);
      }
    }
    // Join workers that retired (they have released mu_ for good).
    if (!exited_.empty()) {
      std::vector<std::thread> done;
      for (auto it = threads_.begin(); it != threads_.end();) {
        auto e = std::find(exited_.begin(), exited_.end(), it->get_id());
        if (e == exited_.end()) {
          ++it;
          continue;
        }
        exited_.erase(e);
        done.push_back(std::move(*it));
        it = threads_.erase(it);
      }
      mu_.Unlock();
      for (std::thread& t : done) t.join();
      mu_.Lock();
      continue;
    }
    timer_wake_ = false;
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_ || timer_wake_;
    };
    mu_.AwaitWithDeadline(jetback::Condition(&wake), deadline);
  }
  mu_.Unlock();
}

void BackgroundPool::WorkerLoop() {
  jetback::MutexLock lock(&mu_);
  auto work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || !ready_.empty();
  };
  while (true) {
    const bool got =
        mu_.AwaitWithTimeout(jetback::Condition(&work), options_.idle_exit);
    if (stop_) break;
    if (!got) {
      if (workers_ > options_.threads) break;  // an extra worker retires
      continue;
    }
    Task* task = ready_.front();
    ready_.pop_front();
    task->state = Task::State::kRunning;
    task->kicked = false;
    --idle_;
    timer_wake_ = true;  // may have to watch for a stall now
    mu_.Unlock();
    task->run();
    mu_.Lock();
    ++idle_;
    if (task->removing) {
      task->state = Task::State::kDone;
      continue;
    }
    task->state = Task::State::kWaiting;
    task->due =
        absl::Now() + (task->kicked ? absl::ZeroDuration() : task->interval);
    timers_.emplace(task->due, task);
    timer_wake_ = true;
  }
  --idle_;
  --workers_;
  exited_.push_back(std::this_thread::get_id());
  timer_wake_ = true;
}

}  // namespace jetback
