// Restore replay's coalescing page writer (engine/replay_writer.h).

#include "engine/replay_writer.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "jetback/status.h"

namespace jetback {
namespace {

// Largest single write: big enough to stream, small enough to stay cheap.
constexpr size_t kRun = 1 << 20;

}  // namespace

ReplayWriter::ReplayWriter(std::unique_ptr<File> file, uint32_t page_size,
                           size_t budget_bytes)
    : file_(std::move(file)),
      page_size_(page_size),
      budget_(budget_bytes),
      buffer_(static_cast<char*>(std::aligned_alloc(4096, kRun)), &std::free) {
  if (buffer_ == nullptr) throw std::bad_alloc();
}

absl::Status ReplayWriter::Read(uint64_t offset, size_t n, char* scratch,
                                size_t* read) {
  JB_RETURN_IF_ERROR(Flush());  // rare: restore passes the dbtimes it knows
  return file_->Read(offset, n, scratch, read);
}

absl::Status ReplayWriter::Write(uint64_t offset, absl::string_view data) {
  if (data.size() != page_size_ || offset % page_size_ != 0 ||
      page_size_ > kRun) {
    JB_RETURN_IF_ERROR(Flush());
    return file_->Write(offset, data);
  }
  auto [it, added] = pending_.try_emplace(offset);
  it->second.assign(data.data(), data.size());
  if (added) pending_bytes_ += data.size();
  if (pending_bytes_ >= budget_) return Flush();
  return absl::OkStatus();
}

absl::Status ReplayWriter::Flush() {
  auto it = pending_.begin();
  while (it != pending_.end()) {
    // One run of adjacent pages, at most kRun bytes.
    const uint64_t start = it->first;
    size_t len = 0;
    while (it != pending_.end() && it->first == start + len &&
           len + page_size_ <= kRun) {
      std::memcpy(buffer_.get() + len, it->second.data(), page_size_);
      len += page_size_;
      ++it;
    }
    JB_RETURN_IF_ERROR(
        file_->Write(start, absl::string_view(buffer_.get(), len)));
  }
  pending_.clear();
  pending_bytes_ = 0;
  // Buffered files: the disk starts on this batch while replay goes on.
  file_->StartWriteback();
  return absl::OkStatus();
}

absl::Status ReplayWriter::Sync() {
  JB_RETURN_IF_ERROR(Flush());
  return file_->Sync();
}

absl::Status ReplayWriter::Truncate(uint64_t size) {
  JB_RETURN_IF_ERROR(Flush());
  return file_->Truncate(size);
}

absl::StatusOr<uint64_t> ReplayWriter::Size() {
  JB_RETURN_IF_ERROR(Flush());
  return file_->Size();
}

}  // namespace jetback
