#include "engine/backup_stream.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/format.h"
#include "jetback/status.h"

namespace jetback::backup_internal {
namespace {

bool Retryable(JetErr err) {
  return err == jet::JET_errReadVerifyFailure ||
         err == jet::JET_errReadPgnoVerifyFailure ||
         err == jet::JET_errReadLostFlushVerifyFailure ||
         err == jet::JET_errDiskIO;
}

}  // namespace

std::shared_ptr<Stream> Stream::ForDatabase(BackupDatabase* db,
                                            std::string header_page,
                                            uint32_t page_size,
                                            uint32_t pgno_last,
                                            TrailerBuilder trailer) {
  std::shared_ptr<Stream> s(new Stream);
  s->db_ = db;
  s->path_ = db->path();
  s->header_page_ = std::move(header_page);
  s->page_size_ = page_size;
  s->pgno_last_ = pgno_last;
  s->size_ = (uint64_t{pgno_last} + 3) * page_size;
  s->trailer_builder_ = std::move(trailer);
  return s;
}

std::shared_ptr<Stream> Stream::ForLog(std::string path,
                                       std::unique_ptr<File> file,
                                       uint32_t generation, uint64_t size,
                                       uint32_t page_size) {
  std::shared_ptr<Stream> s(new Stream);
  s->path_ = std::move(path);
  s->file_ = std::move(file);
  s->generation_ = generation;
  s->size_ = size;
  s->page_size_ = page_size;
  return s;
}

absl::StatusOr<size_t> Stream::ReadAt(uint64_t offset, absl::Span<char> out,
                                      const ReadPolicy& policy,
                                      StopGate* gate) {
  const uint64_t end = std::min<uint64_t>(size_, offset + out.size());
  // Whole pages per chunk, at least one.
  const uint64_t chunk =
      std::max<uint64_t>(page_size_, kReadChunkBytes / page_size_ * page_size_);
  uint64_t pos = offset;
  while (pos < end) {
    JB_RETURN_IF_ERROR(gate->CheckStop());
    const uint64_t n = std::min(chunk, end - pos);
    absl::Span<char> dst = out.subspan(pos - offset, n);
    if (is_log()) {
      JB_RETURN_IF_ERROR(ReadLogChunk(pos, dst));
    } else {
      JB_RETURN_IF_ERROR(ReadDatabaseChunk(pos, dst, policy, gate));
    }
    pos += n;
  }
  return static_cast<size_t>(end > offset ? end - offset : 0);
}

absl::Status Stream::ReadDatabaseChunk(uint64_t offset, absl::Span<char> out,
                                       const ReadPolicy& policy,
                                       StopGate* gate) {
  // Stream page index: 0,1 header copies; 2..pgno_last+1 data pages;
  // pgno_last+2 the trailer.
  uint64_t index = offset / page_size_;
  const uint64_t count = out.size() / page_size_;
  size_t done = 0;
  while (done < count) {
    char* dst = out.data() + done * page_size_;
    if (index < format::kHeaderPages) {
      std::memcpy(dst, header_page_.data(), page_size_);
      ++index;
      ++done;
    } else if (index <= pgno_last_ + 1) {
      const uint32_t first = static_cast<uint32_t>(index - 1);
      const uint32_t n = static_cast<uint32_t>(
          std::min<uint64_t>(count - done, pgno_last_ + 2 - index));
      JB_RETURN_IF_ERROR(ReadPagesVerified(
          first, n, absl::MakeSpan(dst, size_t{n} * page_size_), policy, gate));
      index += n;
      done += n;
    } else {
      JB_ASSIGN_OR_RETURN(std::string trailer, Trailer());
      std::memcpy(dst, trailer.data(), page_size_);
      ++index;
      ++done;
    }
  }
  return absl::OkStatus();
}

absl::Status Stream::ReadPagesVerified(uint32_t first, uint32_t count,
                                       absl::Span<char> out,
                                       const ReadPolicy& policy,
                                       StopGate* gate) {
  absl::Status last;
  const int attempts = std::max(1, policy.attempts);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    // ReadPages verifies every page (checksum, page number, lost flush) by
    // contract (backup_source.h); verifying again here would hash each page
    // twice on the hot path.
    last = db_->ReadPages(first, count, out);
    if (last.ok()) return last;
    if (!Retryable(JetErrOf(last)) || attempt == attempts) break;
    JB_RETURN_IF_ERROR(gate->SleepUnlessStopped(policy.backoff_step * attempt));
  }
  return JetStatus(
      JetErrOf(last),
      absl::StrCat(path_, ": pages ", first, "..", first + count - 1,
                   " failed verification after ", attempts,
                   " attempts: ", last.message()));
}

absl::Status Stream::ReadLogChunk(uint64_t offset, absl::Span<char> out) {
  size_t got = 0;
  absl::Status st = file_->Read(offset, out.size(), out.data(), &got);
  if (!st.ok()) {
    return JetStatus(jet::JET_errDiskIO,
                     absl::StrCat(path_, ": read failed: ", st.message()));
  }
  if (got != out.size()) {
    return JetStatus(jet::JET_errLogReadVerifyFailure,
                     absl::StrCat(path_, ": log shorter than at open"));
  }
  st = format::VerifyLogBlocks(generation_, offset, out);
  if (!st.ok()) {
    return JetStatus(jet::JET_errLogReadVerifyFailure,
                     absl::StrCat(path_, ": ", st.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Stream::Trailer() {
  MutexLock lock(&mu_);
  if (!trailer_) {
    JB_ASSIGN_OR_RETURN(std::string page, trailer_builder_());
    trailer_ = std::move(page);
  }
  return *trailer_;
}

void Stream::MarkHandedOut(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  MutexLock lock(&mu_);
  auto it = handed_out_.upper_bound(begin);
  if (it != handed_out_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin) {
      begin = prev->first;
      end = std::max(end, prev->second);
      it = handed_out_.erase(prev);
    }
  }
  while (it != handed_out_.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = handed_out_.erase(it);
  }
  handed_out_[begin] = end;
}

bool Stream::ReadToEnd(uint64_t from) {
  MutexLock lock(&mu_);
  if (from >= size_) return true;
  auto it = handed_out_.upper_bound(from);
  if (it == handed_out_.begin()) return false;
  --it;
  return it->first <= from && it->second >= size_;
}

}  // namespace jetback::backup_internal
