// Restore replay's coalescing page writer (engine/replay_writer.h).

#include "engine/replay_writer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
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
      slots_(
          std::max<size_t>(1, budget_bytes / std::max<uint32_t>(1, page_size))),
      arena_(nullptr, &std::free),
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
  if (arena_ == nullptr) {
    // Huge-page aligned and advised: where the kernel grants huge pages,
    // 64 faults for 128 MiB instead of 32,768.
    const size_t align = size_t{2} << 20;
    const size_t bytes = (slots_ * page_size_ + align - 1) / align * align;
    arena_.reset(static_cast<char*>(std::aligned_alloc(align, bytes)));
    if (arena_ == nullptr) throw std::bad_alloc();
    (void)madvise(arena_.get(), bytes, MADV_HUGEPAGE);  // only a hint
  }
  auto [it, added] = pending_.try_emplace(offset, used_slots_);
  if (added) ++used_slots_;
  std::memcpy(Slot(it->second), data.data(), page_size_);
  if (used_slots_ >= slots_) return Flush();
  return absl::OkStatus();
}

absl::Status ReplayWriter::Flush() {
  auto it = pending_.begin();
  while (it != pending_.end()) {
    // One run of adjacent pages, at most kRun bytes.
    const uint64_t start = it->first;
    auto next = std::next(it);
    if (next == pending_.end() || next->first != start + page_size_) {
      // A lone page goes straight from its slot.
      JB_RETURN_IF_ERROR(
          file_->Write(start, absl::string_view(Slot(it->second), page_size_)));
      it = next;
      continue;
    }
    size_t len = 0;
    while (it != pending_.end() && it->first == start + len &&
           len + page_size_ <= kRun) {
      std::memcpy(buffer_.get() + len, Slot(it->second), page_size_);
      len += page_size_;
      ++it;
    }
    JB_RETURN_IF_ERROR(
        file_->Write(start, absl::string_view(buffer_.get(), len)));
  }
  pending_.clear();
  used_slots_ = 0;
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
