// Reading log generations back (engine/log_scanner.h).

#include "engine/log_scanner.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/format.h"
#include "jetback/status.h"

namespace jetback {
namespace {

using format::kLogBlockSize;

// Buffers are allocated in huge-page units (where the kernel grants huge
// pages, a 16 MiB generation is 8 page faults the first time, not 4,096);
// direct reads need 4 KiB alignment anyway.
constexpr size_t kBufferAlign = size_t{2} << 20;

// The first block in [from, to) that verifies as the start of a group of
// this generation and log set.
std::optional<uint32_t> FindGroupStart(const char* data, uint32_t generation,
                                       uint64_t signature, uint32_t from,
                                       uint32_t to) {
  for (uint32_t c = from; c < to; ++c) {
    absl::Span<const char> block(data + size_t{c} * kLogBlockSize,
                                 kLogBlockSize);
    if (format::IsZero(block)) continue;
    format::LogBlockHeader h;
    if (!format::CheckLogBlock(block, generation, c, &h).ok()) continue;
    if ((h.flags & format::kLogBlockGroupStart) != 0 &&
        h.log_signature == signature) {
      return c;
    }
  }
  return std::nullopt;
}

}  // namespace

LogScanner::LogScanner(Env* env, Options options)
    : env_(env), options_(options) {}

LogScanner::~LogScanner() {
  JoinReader();
  Release(&current_);
  Release(&spare_);
}

void LogScanner::Release(Buffer* buffer) {
  std::free(buffer->data);
  buffer->data = nullptr;
  buffer->capacity = 0;
  buffer->size = 0;
}

void LogScanner::JoinReader() {
  if (reader_.joinable()) reader_.join();
}

absl::Status LogScanner::ReadWhole(const std::string& path, Buffer* buffer) {
  buffer->path.clear();
  buffer->size = 0;
  JB_ASSIGN_OR_RETURN(
      auto file,
      env_->OpenFile(path, options_.direct_reads ? OpenMode::kReadOnlyDirect
                                                 : OpenMode::kReadOnly));
  JB_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  // Whole blocks, so a direct read's length stays aligned; the bytes past
  // the end of the file are never looked at.
  const size_t want =
      (size + kLogBlockSize - 1) / kLogBlockSize * size_t{kLogBlockSize};
  if (want > buffer->capacity) {
    Release(buffer);
    const size_t capacity =
        (want + kBufferAlign - 1) / kBufferAlign * kBufferAlign;
    buffer->data =
        static_cast<char*>(std::aligned_alloc(kBufferAlign, capacity));
    if (buffer->data == nullptr) throw std::bad_alloc();
    (void)madvise(buffer->data, capacity, MADV_HUGEPAGE);  // only a hint
    buffer->capacity = capacity;
    ++allocations_;
  }
  size_t got = 0;
  JB_RETURN_IF_ERROR(file->Read(0, want, buffer->data, &got));
  got = static_cast<size_t>(std::min<uint64_t>(got, size));
  buffer->size = got - got % kLogBlockSize;
  buffer->path = path;
  return absl::OkStatus();
}

absl::StatusOr<LogScan> LogScanner::Scan(const std::string& path,
                                         uint32_t generation,
                                         uint64_t expected_signature,
                                         uint32_t start_block,
                                         bool tolerate_tail, const RecordFn& fn,
                                         const std::string& read_next) {
  bool have = false;
  if (reader_.joinable()) {
    reader_.join();
    if (spare_.status.ok() && spare_.path == path) {
      std::swap(current_, spare_);
      have = true;
    }
    // A failed read ahead is read again below, for its exact error.
  }
  if (!have) JB_RETURN_IF_ERROR(ReadWhole(path, &current_));
  if (!read_next.empty()) {
    reader_ = std::thread(
        [this, read_next] { spare_.status = ReadWhole(read_next, &spare_); });
  }

  char* const data = current_.data;
  const size_t size = current_.size;
  LogScan scan;
  JB_ASSIGN_OR_RETURN(scan.header,
                      format::DecodeLogHeader(absl::MakeConstSpan(data, size)));
  if (expected_signature != 0 &&
      scan.header.log_signature != expected_signature) {
    return JetStatus(jet::JET_errBadLogSignature,
                     absl::StrCat(path, " belongs to another log set"));
  }
  if (scan.header.generation != generation) {
    return JetStatus(
        jet::JET_errLogFileCorrupt,
        absl::StrCat(path, " holds generation ", scan.header.generation,
                     ", expected ", generation));
  }
  const uint32_t blocks = static_cast<uint32_t>(size / kLogBlockSize);
  uint32_t b = std::max<uint32_t>(1, start_block);
  scan.end_block = b;
  // The group being read: its payload so far, gathered in place from
  // group_base on (over the headers of its blocks after the first).
  char* group_base = nullptr;
  size_t group_len = 0;
  uint32_t group_start = 0;
  bool in_group = false;
  // Why the scan stopped before the last block, empty at a clean end.
  std::string damage;
  for (; b < blocks; ++b) {
    char* const block = data + size_t{b} * kLogBlockSize;
    format::LogBlockHeader h;
    absl::Status s = format::CheckLogBlock(
        absl::MakeConstSpan(block, kLogBlockSize), generation, b, &h);
    if (!s.ok()) {
      damage = std::string(s.message());
      break;
    }
    if (h.flags == 0 && h.data_len == 0 &&
        format::IsZero(absl::MakeConstSpan(block, kLogBlockSize))) {
      if (in_group) damage = "group cut short";
      break;  // never written: end of the log
    }
    bool starts = (h.flags & format::kLogBlockGroupStart) != 0;
    if (starts != !in_group || h.log_signature != scan.header.log_signature) {
      damage = "block out of sequence";
      break;
    }
    char* const payload = block + sizeof(format::LogBlockHeader);
    if (starts) {
      in_group = true;
      group_base = payload;
      group_len = 0;
      group_start = b;
    }
    // The destination never passes the source (each block before this one
    // gave at most its payload, less than a block), and the blocks written
    // over were checked already and are never read again: the damage
    // search below starts after the block the scan stopped at.
    if (group_base + group_len != payload) {
      std::memmove(group_base + group_len, payload, h.data_len);
    }
    group_len += h.data_len;
    if ((h.flags & format::kLogBlockGroupEnd) == 0) continue;
    in_group = false;
    Reader r(absl::MakeConstSpan(group_base, group_len));
    uint64_t lsn = Lsn(generation, group_start * kLogBlockSize);
    while (r.remaining() > 0) {
      uint32_t len = r.U32();
      auto type = static_cast<LogRecordType>(
          r.Bytes(1).empty() ? 0 : group_base[r.pos() - 1]);
      absl::string_view record = r.Bytes(len);
      if (!r.ok()) {
        return JetStatus(jet::JET_errLogFileCorrupt,
                         absl::StrCat(path, ": malformed record"));
      }
      Reader pr(absl::MakeConstSpan(record.data(), record.size()));
      LogRecord rec{type};
      rec.txn = pr.U64();
      if (type == LogRecordType::kPageImage) {
        rec.db_signature = pr.U64();
        rec.pgno = pr.U32();
        // A sealed block can still carry a short record (a hostile or
        // buggy writer): -501, never a read past the payload.
        if (!pr.ok() || record.size() < 20) {
          return JetStatus(jet::JET_errLogFileCorrupt,
                           absl::StrCat(path, ": truncated page image"));
        }
        rec.page = record.substr(20);
      } else if (type == LogRecordType::kCommit) {
        // Format 2 commits carry their time. A format 1 generation that a
        // format 2 build went on appending to (an upgrade in place) holds
        // both shapes, so the length decides, and format 2 files hold only
        // timed commits.
        if (record.size() == 16) {
          rec.commit_time_us = static_cast<int64_t>(pr.U64());
        } else if (record.size() != 8 ||
                   scan.header.version !=
                       format::kLogFormatVersionNoCommitTime) {
          return JetStatus(
              jet::JET_errLogFileCorrupt,
              absl::StrCat(path, ": commit record of ", record.size(),
                           " bytes in a format ", scan.header.version, " log"));
        }
      } else {
        return JetStatus(jet::JET_errLogFileCorrupt,
                         absl::StrCat(path, ": unknown record type"));
      }
      if (!pr.ok()) {
        return JetStatus(jet::JET_errLogFileCorrupt,
                         absl::StrCat(path, ": truncated record"));
      }
      JB_RETURN_IF_ERROR(fn(lsn, rec));
    }
    scan.end_block = b + 1;
  }
  if (in_group && b >= blocks) damage = "group cut short";
  // Groups are written one after another, each synced before the next
  // starts, so a group starting after the stop point was acknowledged: the
  // stop is damage to synced data, not a torn last write. Refuse, whatever
  // the mode, and leave the file as it is for the operator.
  if (b < blocks) {
    if (std::optional<uint32_t> later = FindGroupStart(
            data, generation, scan.header.log_signature, b + 1, blocks)) {
      return JetStatus(
          jet::JET_errLogFileCorrupt,
          absl::StrCat(path, " (generation ", generation, ") block ", b, ": ",
                       damage.empty() ? "zeroed block" : damage,
                       "; valid log data follows at block ", *later,
                       ", so committed transactions may lie beyond it"));
    }
  }
  if (!damage.empty()) {
    if (!tolerate_tail) {
      return JetStatus(jet::JET_errLogFileCorrupt,
                       absl::StrCat(path, " (generation ", generation,
                                    ") block ", b, ": ", damage));
    }
    scan.torn = true;
  }
  return scan;
}

}  // namespace jetback
