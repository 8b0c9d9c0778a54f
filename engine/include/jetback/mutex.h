// File: jetback/mutex.h
//
// jetback::Mutex: the subset of absl::Mutex's API the project uses (Lock,
// ReaderLock, Await on a Condition, with timeout or deadline, and the RAII
// MutexLock / ReaderMutexLock), built on std::shared_mutex and
// std::condition_variable_any.
//
// Why not absl::Mutex: Debian 12's Abseil is not built with ThreadSanitizer
// annotations, so TSan cannot see absl::Mutex at all and reports every
// access it guards as a race; the standard primitives are pthread-based and
// TSan understands them. The thread-safety annotations are kept, so clang's
// -Wthread-safety still checks ABSL_GUARDED_BY.
//
// Await re-evaluates its condition whenever a holder of the exclusive lock
// releases it; conditions must depend only on state guarded by this mutex.

#ifndef JETBACK_MUTEX_H_
#define JETBACK_MUTEX_H_

#include <condition_variable>
#include <functional>
#include <shared_mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace jetback {

class Condition {
 public:
  // True while *flag is true.
  explicit Condition(const bool* flag) : eval_([flag] { return *flag; }) {}
  // A callable object with `bool operator()() const`.
  template <typename F>
  explicit Condition(const F* functor)
      : eval_([functor] { return (*functor)(); }) {}

  bool Eval() const { return eval_(); }

 private:
  std::function<bool()> eval_;
};

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    // The holder may have changed what a waiter's condition reads.
    if (waiters_ > 0) changed_.notify_all();
    mu_.unlock();
  }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}
  void AssertReaderHeld() const ABSL_ASSERT_SHARED_LOCK() {}

  // REQUIRES: the exclusive lock is held. Returns once cond is true, with the
  // lock held again.
  void Await(const Condition& cond) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    // Waiting releases the lock without Unlock(): wake the other waiters,
    // since this holder may have changed what their conditions read.
    if (waiters_ > 0) changed_.notify_all();
    ++waiters_;
    while (!cond.Eval()) changed_.wait(mu_);
    --waiters_;
  }

  // As Await, giving up at the deadline; returns cond's final value.
  bool AwaitWithDeadline(const Condition& cond, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    if (waiters_ > 0) changed_.notify_all();  // as in Await
    ++waiters_;
    const auto until = absl::ToChronoTime(deadline);
    bool result = cond.Eval();
    while (!result) {
      if (changed_.wait_until(mu_, until) == std::cv_status::timeout) {
        result = cond.Eval();
        break;
      }
      result = cond.Eval();
    }
    --waiters_;
    return result;
  }

  bool AwaitWithTimeout(const Condition& cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitWithDeadline(cond, absl::Now() + timeout);
  }

 private:
  std::shared_mutex mu_;
  std::condition_variable_any changed_;
  int waiters_ = 0;  // guarded by the exclusive lock
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace jetback

#endif  // JETBACK_MUTEX_H_
