// SetFile appends on a thread of their own (client/repo/set_file_pipe.h).

#include "client/repo/set_file_pipe.h"

#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "jetback/mutex.h"
#include "jetback/status.h"

namespace jetback::repo {
namespace {

class PipeFile : public SetFile {
 public:
  PipeFile(std::unique_ptr<SetFile> inner, size_t max_bytes)
      : inner_(std::move(inner)), max_bytes_(max_bytes) {
    thread_ = std::thread([this] { Run(); });
  }

  ~PipeFile() override {
    Stop();
    inner_.reset();  // abandons it unless committed
  }

  absl::Status Append(absl::string_view data) override {
    if (data.empty()) return absl::OkStatus();
    std::string chunk;
    {
      jetback::MutexLock lock(&mu_);
      auto room = [this, n = data.size()]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !status_.ok() || queued_ == 0 || queued_ + n <= max_bytes_;
      };
      mu_.Await(jetback::Condition(&room));
      if (!status_.ok()) return status_;
      if (!spare_.empty()) {
        chunk = std::move(spare_.back());
        spare_.pop_back();
      }
      queued_ += data.size();  // reserved: only this thread adds
    }
    chunk.assign(data.data(), data.size());  // the copy, outside the lock
    size_ += data.size();
    jetback::MutexLock lock(&mu_);
    queue_.push_back(std::move(chunk));
    return absl::OkStatus();
  }

  absl::Status Commit(absl::string_view expected_xxh3_128) override {
    {
      jetback::MutexLock lock(&mu_);
      auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return queued_ == 0;
      };
      mu_.Await(jetback::Condition(&drained));
      if (!status_.ok()) return status_;
    }
    Stop();  // nothing more to pass on; the thread's writes happen-before
    return inner_->Commit(expected_xxh3_128);
  }

  uint64_t size() const override { return size_; }
  const std::string& xxh3_128_hex() const override {
    return inner_->xxh3_128_hex();
  }
  const std::string& sha256_hex() const override {
    return inner_->sha256_hex();
  }
  void AddStorageTo(ManifestFile* entry) const override {
    inner_->AddStorageTo(entry);
  }

 private:
  void Run() {
    jetback::MutexLock lock(&mu_);
    for (;;) {
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.Await(jetback::Condition(&ready));
      if (stopping_) return;
      std::string chunk = std::move(queue_.front());
      queue_.pop_front();
      // After an error nothing more reaches the file; chunks are dropped.
      if (status_.ok()) {
        mu_.Unlock();
        absl::Status status = inner_->Append(chunk);
        mu_.Lock();
        if (!status.ok() && status_.ok()) status_ = status;
      }
      queued_ -= chunk.size();
      if (spare_.size() < 2) {
        chunk.clear();
        spare_.push_back(std::move(chunk));
      }
    }
  }

  // Ends the thread: what is still queued is dropped.
  void Stop() {
    {
      jetback::MutexLock lock(&mu_);
      stopping_ = true;
      queue_.clear();
    }
    if (thread_.joinable()) thread_.join();
  }

  std::unique_ptr<SetFile> inner_;
  const size_t max_bytes_;
  uint64_t size_ = 0;  // the appending thread's
  jetback::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> spare_ ABSL_GUARDED_BY(mu_);  // buffers to reuse
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;  // in queue_ or being appended
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);  // the file's first error
  std::thread thread_;
};

}  // namespace

std::unique_ptr<SetFile> PipedSetFile(std::unique_ptr<SetFile> inner,
                                      size_t max_bytes) {
  return std::make_unique<PipeFile>(std::move(inner), max_bytes);
}

}  // namespace jetback::repo
