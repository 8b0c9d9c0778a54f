// Log generations: group writes, rolls, archive names, scanning.

#include "engine/log.h"

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/coding.h"
#include "engine/log_scanner.h"
#include "jetback/status.h"

namespace jetback {
namespace {

using format::kLogBlockPayload;
using format::kLogBlockSize;

uint32_t BlocksFor(size_t payload) {
  return static_cast<uint32_t>(
      std::max<size_t>(1, (payload + kLogBlockPayload - 1) / kLogBlockPayload));
}

void AppendHeader(LogRecordType type, uint32_t len, std::string* out) {
  char h[kLogRecordHeader];
  std::memcpy(h, &len, 4);
  h[4] = static_cast<char>(type);
  out->append(h, sizeof(h));
}

std::atomic<uint32_t> write_version{format::kLogFormatVersion};

template <typename T>
void AppendRaw(T v, std::string* out) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

}  // namespace

void AppendPageImage(uint64_t txn, uint64_t db_signature, uint32_t pgno,
                     absl::string_view page, std::string* out) {
  AppendHeader(LogRecordType::kPageImage,
               static_cast<uint32_t>(20 + page.size()), out);
  AppendRaw(txn, out);
  AppendRaw(db_signature, out);
  AppendRaw(pgno, out);
  out->append(page.data(), page.size());
}

void AppendCommit(uint64_t txn, int64_t commit_time_us, std::string* out) {
  if (write_version.load() == format::kLogFormatVersionNoCommitTime) {
    AppendHeader(LogRecordType::kCommit, 8, out);
    AppendRaw(txn, out);
    return;
  }
  AppendHeader(LogRecordType::kCommit, 16, out);
  AppendRaw(txn, out);
  AppendRaw(commit_time_us, out);
}

void SetLogWriteVersionForTesting(uint32_t version) {
  write_version.store(version);
}

std::string LogPath(const LogOptions& o, absl::string_view name) {
  return absl::StrCat(o.log_dir, "/", name);
}

absl::StatusOr<format::LogFileHeader> ReadLogHeader(Env* env,
                                                    const std::string& path) {
  JB_ASSIGN_OR_RETURN(auto file, env->OpenFile(path, OpenMode::kReadOnly));
  std::string block(kLogBlockSize, '\0');
  size_t got = 0;
  JB_RETURN_IF_ERROR(file->Read(0, block.size(), block.data(), &got));
  return format::DecodeLogHeader(absl::MakeConstSpan(block.data(), got));
}

absl::Status LogWriter::CreateGeneration(const LogOptions& o, uint32_t gen,
                                         int64_t prev_create_time_us) {
  Env* env = o.env;
  const std::string tmp = LogPath(o, absl::StrCat(o.base_name, "tmp.log"));
  const std::string current = LogPath(o, format::CurrentLogName(o.base_name));
  {
    if (env->FileExists(tmp)) JB_RETURN_IF_ERROR(env->DeleteFile(tmp));
    JB_ASSIGN_OR_RETURN(auto file, env->OpenFile(tmp, OpenMode::kCreate));
    // Pre-size with real zeros so appends never need new space.
    std::string zeros(256 * 1024, '\0');
    for (uint64_t off = 0; off < o.log_file_size; off += zeros.size()) {
      size_t n = static_cast<size_t>(
          std::min<uint64_t>(zeros.size(), o.log_file_size - off));
      absl::Status s = file->Write(off, absl::string_view(zeros.data(), n));
      if (!s.ok()) {
        file.reset();
        env->DeleteFile(tmp).IgnoreError();
        return s;
      }
    }
    format::LogFileHeader h;
    h.version = write_version.load();
    h.generation = gen;
    h.log_signature = o.log_signature;
    h.create_time_us =
        std::max(absl::ToUnixMicros(absl::Now()), prev_create_time_us + 1);
    h.prev_create_time_us = prev_create_time_us;
    h.page_size = o.page_size;
    h.log_file_size = o.log_file_size;
    h.base_name = o.base_name;
    std::string block(kLogBlockSize, '\0');
    JB_RETURN_IF_ERROR(format::EncodeLogHeader(h, absl::MakeSpan(block)));
    absl::Status s = file->Write(0, block);
    if (s.ok()) s = file->Sync();
    if (!s.ok()) {
      file.reset();
      env->DeleteFile(tmp).IgnoreError();
      return s;
    }
  }
  if (env->FileExists(current)) {
    JB_ASSIGN_OR_RETURN(auto old, ReadLogHeader(env, current));
    if (old.generation + 1 != gen) {
      return JetStatus(jet::JET_errLogFileCorrupt,
                       absl::StrCat("current log holds generation ",
                                    old.generation, ", expected ", gen - 1));
    }
    JB_RETURN_IF_ERROR(env->RenameFile(
        current, LogPath(o, format::ArchiveLogName(o.base_name, gen - 1))));
  }
  JB_RETURN_IF_ERROR(env->RenameFile(tmp, current));
  return env->SyncDir(o.log_dir);
}

absl::StatusOr<std::unique_ptr<LogWriter>> LogWriter::Open(
    const LogOptions& o, uint32_t next_block) {
  const std::string current = LogPath(o, format::CurrentLogName(o.base_name));
  JB_ASSIGN_OR_RETURN(auto header, ReadLogHeader(o.env, current));
  JB_ASSIGN_OR_RETURN(auto file,
                      o.env->OpenFile(current, OpenMode::kReadWrite));
  return std::unique_ptr<LogWriter>(
      new LogWriter(o, std::move(file), header, next_block));
}

LogWriter::LogWriter(const LogOptions& options, std::unique_ptr<File> file,
                     const format::LogFileHeader& header, uint32_t next_block)
    : options_(options),
      file_(std::move(file)),
      header_(header),
      next_block_(std::max<uint32_t>(1, next_block)),
      blocks_per_file_(
          static_cast<uint32_t>(options.log_file_size / kLogBlockSize)) {
  tip_.store(Lsn(header_.generation, next_block_ * kLogBlockSize));
}

absl::Status LogWriter::WriteGroup(absl::Span<const std::string> records,
                                   size_t payload) {
  uint32_t blocks = BlocksFor(payload);
  std::string buf(size_t{blocks} * kLogBlockSize, '\0');
  // Lay the payload stream across the blocks' payload areas.
  size_t block = 0, used = 0;
  for (const std::string& r : records) {
    size_t pos = 0;
    while (pos < r.size()) {
      if (used == kLogBlockPayload) {
        ++block;
        used = 0;
      }
      size_t n = std::min(r.size() - pos, size_t{kLogBlockPayload} - used);
      std::memcpy(buf.data() + block * kLogBlockSize +
                      sizeof(format::LogBlockHeader) + used,
                  r.data() + pos, n);
      pos += n;
      used += n;
    }
  }
  size_t left = payload;
  for (uint32_t b = 0; b < blocks; ++b) {
    format::LogBlockHeader h{};
    h.generation = header_.generation;
    h.block = next_block_ + b;
    h.data_len =
        static_cast<uint16_t>(std::min<size_t>(left, kLogBlockPayload));
    left -= h.data_len;
    if (b == 0) h.flags |= format::kLogBlockGroupStart;
    if (b + 1 == blocks) h.flags |= format::kLogBlockGroupEnd;
    h.log_signature = options_.log_signature;
    format::SealLogBlock(
        h,
        absl::MakeSpan(buf.data() + size_t{b} * kLogBlockSize, kLogBlockSize));
  }
  uint64_t offset = uint64_t{next_block_} * kLogBlockSize;
  absl::Status s = file_->Write(offset, buf);
  if (!s.ok()) {
    // Best effort: leave no half group that a later crash could replay.
    std::string zeros(buf.size(), '\0');
    file_->Write(offset, zeros).IgnoreError();
    return s;
  }
  next_block_ += blocks;
  tip_.store(Lsn(header_.generation, next_block_ * kLogBlockSize));
  return absl::OkStatus();
}

absl::Status LogWriter::Write(const std::vector<std::string>& records,
                              uint64_t* start, uint64_t* end) {
  if (failed()) {
    return JetStatus(jet::JET_errInstanceUnavailable,
                     "log failed after an earlier write error");
  }
  *start = tip();
  bool wrote = false;
  uint32_t first_block = next_block_;  // of this call, in the current file
  size_t i = 0;
  while (i < records.size()) {
    uint32_t free_blocks = blocks_per_file_ - next_block_;
    size_t payload = 0, j = i;
    while (j < records.size() &&
           BlocksFor(payload + records[j].size()) <= free_blocks) {
      payload += records[j].size();
      ++j;
    }
    if (j == i) {
      if (next_block_ == 1) {
        return JetStatus(jet::JET_errRecordTooBig,
                         "log record larger than a log file");
      }
      absl::StatusOr<uint32_t> rolled = Roll();
      if (!rolled.ok()) return rolled.status();
      if (!wrote) *start = tip();
      first_block = next_block_;
      continue;
    }
    absl::Status s =
        WriteGroup(absl::MakeConstSpan(records).subspan(i, j - i), payload);
    if (!s.ok()) {
      failed_.store(true);
      return s;
    }
    wrote = true;
    i = j;
  }
  absl::Status s = file_->Sync();
  if (!s.ok()) {
    // The commit is reported failed: best effort to keep it from coming
    // back at recovery.
    std::string zeros(size_t{next_block_ - first_block} * kLogBlockSize, '\0');
    file_->Write(uint64_t{first_block} * kLogBlockSize, zeros).IgnoreError();
    failed_.store(true);
    return s;
  }
  *end = tip();
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> LogWriter::Roll() {
  if (failed()) {
    return JetStatus(jet::JET_errInstanceUnavailable, "log failed earlier");
  }
  absl::Status s = file_->Sync();
  if (!s.ok()) {
    failed_.store(true);
    return s;
  }
  uint32_t next = header_.generation + 1;
  s = CreateGeneration(options_, next, header_.create_time_us);
  if (!s.ok()) {
    // Still usable only if E00.log is untouched.
    auto h = ReadLogHeader(
        options_.env,
        LogPath(options_, format::CurrentLogName(options_.base_name)));
    if (!h.ok() || h->generation != header_.generation) failed_.store(true);
    return s;
  }
  auto opened = Open(options_, 1);
  if (!opened.ok()) {
    failed_.store(true);
    return opened.status();
  }
  LogWriter& w = **opened;
  file_ = std::move(w.file_);
  header_ = w.header_;
  next_block_ = 1;
  tip_.store(Lsn(next, kLogBlockSize));
  return next;
}

absl::StatusOr<LogScan> ScanLogFile(
    Env* env, const std::string& path, uint32_t generation,
    uint64_t expected_signature, uint32_t start_block, bool tolerate_tail,
    const std::function<absl::Status(uint64_t, const LogRecord&)>& fn) {
  LogScanner scanner(env);
  return scanner.Scan(path, generation, expected_signature, start_block,
                      tolerate_tail, fn);
}

}  // namespace jetback
