// File: jetback/background_pool.h
//
// BackgroundPool: a few threads that run every instance's periodic
// background work (flushing dirty pages and writing the checkpoint) from one
// timer queue, so idle instances cost a queue entry each, not a thread.
//
// A task runs on at most one thread at a time. Its next run is due
// `interval` after its previous run returns, or at once after Kick (a Kick
// during a run makes the next run start as soon as this one ends).
//
// Slow work: one timer thread moves due tasks to a ready queue that the
// workers drain in order. When a task has been ready for `stall_after` while
// every worker is busy (say an instance flushing to a hung disk), the timer
// thread starts an extra worker, up to max_threads; extra workers exit after
// `idle_exit` without work. So a slow flush delays other instances' flushes
// by about stall_after, never indefinitely, and costs threads only while it
// lasts.
//
// Thread-safety: every method may be called concurrently, except that a
// task must not Remove itself.

#ifndef JETBACK_BACKGROUND_POOL_H_
#define JETBACK_BACKGROUND_POOL_H_

#include <deque>
#include <functional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "jetback/mutex.h"

namespace jetback {

class BackgroundPool {
 public:
  struct Options {
    int threads = 0;       // workers kept; 0: min(2, hardware threads)
    int max_threads = 16;  // workers, extra ones for stalls included
    absl::Duration stall_after = absl::Seconds(1);
    absl::Duration idle_exit = absl::Seconds(30);
  };
  struct Task;

  explicit BackgroundPool(Options options);
  BackgroundPool() : BackgroundPool(Options()) {}
  // REQUIRES: every task removed. Joins the threads.
  ~BackgroundPool();
  BackgroundPool(const BackgroundPool&) = delete;
  BackgroundPool& operator=(const BackgroundPool&) = delete;

  // The process-wide pool instances use by default (never destroyed).
  static BackgroundPool* Default();

  // Schedules `run` every `interval` (first run one interval from now).
  // The handle stays valid until Remove.
  Task* Add(std::function<void()> run, absl::Duration interval);
  // Makes the task due now.
  void Kick(Task* task);
  // Unschedules the task, waiting for a run in progress to return, and
  // frees it.
  void Remove(Task* task);

  // Threads running now: the timer thread plus the workers.
  int threads();
  // Blocks until the pool's lock is free (Instance::Probe's deadlock check).
  void Probe();

 private:
  void TimerLoop();
  void WorkerLoop();
  void StartWorker() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  jetback::Mutex mu_;
  std::set<std::pair<absl::Time, Task*>> timers_ ABSL_GUARDED_BY(mu_);
  std::deque<Task*> ready_ ABSL_GUARDED_BY(mu_);
  int workers_ ABSL_GUARDED_BY(mu_) = 0;
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool timer_wake_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread::id> exited_ ABSL_GUARDED_BY(mu_);
  std::thread timer_;
};

}  // namespace jetback

#endif  // JETBACK_BACKGROUND_POOL_H_
