// File: engine/log.h
//
// The write-ahead log of an instance: LogWriter appends records in group
// commits to the current generation (E00.log), rolls to a new generation
// when full or on request, and archives the old one (E00XXXXXXXX.log).
// ScanLogFile reads one generation back, group by group (LogScanner,
// engine/log_scanner.h, reads a run of them with reused buffers).
//
// Record: u32 payload length, u8 type, payload. kPageImage payload: u64
// transaction id, u64 database signature, u32 pgno, the whole page.
// kCommit payload: u64 transaction id, i64 commit time (wall clock, us since
// the epoch; log format 2, absent in format 1). Records never span groups;
// groups never span generations (engine/FORMAT.md).
//
// Thread-safety: LogWriter is not thread-safe except tip(), generation()
// and failed(); the instance's commit leader serialises the rest.

#ifndef JETBACK_ENGINE_LOG_H_
#define JETBACK_ENGINE_LOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/backup_source.h"
#include "engine/format.h"
#include "jetback/env.h"

namespace jetback {

enum class LogRecordType : uint8_t { kPageImage = 1, kCommit = 2 };

inline constexpr size_t kLogRecordHeader = 5;

struct LogRecord {
  LogRecordType type;
  uint64_t txn = 0;
  uint64_t db_signature = 0;   // kPageImage
  uint32_t pgno = 0;           // kPageImage
  absl::string_view page;      // kPageImage: points into the scanned buffer
  int64_t commit_time_us = 0;  // kCommit; 0: not recorded (format 1)
};

void AppendPageImage(uint64_t txn, uint64_t db_signature, uint32_t pgno,
                     absl::string_view page, std::string* out);
// REQUIRES: commit_time_us > 0.
void AppendCommit(uint64_t txn, int64_t commit_time_us, std::string* out);

// Tests only: this process's writers write log format `version` (1: no
// commit times, byte for byte what builds before format 2 wrote) instead of
// format::kLogFormatVersion, so tests can make old-format sets. Call while
// no instance is writing.
void SetLogWriteVersionForTesting(uint32_t version);

// 64-bit log sequence number: generation in the high half, byte offset in
// the low half.
inline uint64_t Lsn(uint32_t gen, uint32_t offset) {
  return (uint64_t{gen} << 32) | offset;
}
inline LogPosition PositionOf(uint64_t lsn) {
  return {static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn)};
}

struct LogOptions {
  Env* env = nullptr;
  std::string log_dir;
  std::string base_name;
  uint32_t page_size = 0;
  uint64_t log_file_size = 0;
  uint64_t log_signature = 0;
};

std::string LogPath(const LogOptions& o, absl::string_view name);

class LogWriter {
 public:
  // Creates generation `gen` as E00.log (via E00tmp.log and a rename).
  static absl::Status CreateGeneration(const LogOptions& options, uint32_t gen,
                                       int64_t prev_create_time_us);
  // Opens E00.log for appending at block `next_block`.
  static absl::StatusOr<std::unique_ptr<LogWriter>> Open(
      const LogOptions& options, uint32_t next_block);

  // Appends `records` (each one whole serialized record) as one group per
  // generation touched, rolling as needed, and syncs. *start is the
  // position of the first group. A write or sync error fails the writer
  // for good (failed() true).
  absl::Status Write(const std::vector<std::string>& records, uint64_t* start,
                     uint64_t* end);
  // Closes the current generation and starts the next.
  absl::StatusOr<uint32_t> Roll();

  uint64_t tip() const { return tip_.load(); }
  uint32_t generation() const { return static_cast<uint32_t>(tip() >> 32); }
  bool failed() const { return failed_.load(); }

 private:
  LogWriter(const LogOptions& options, std::unique_ptr<File> file,
            const format::LogFileHeader& header, uint32_t next_block);
  absl::Status WriteGroup(absl::Span<const std::string> records,
                          size_t payload);

  LogOptions options_;
  std::unique_ptr<File> file_;
  format::LogFileHeader header_;
  uint32_t next_block_;
  uint32_t blocks_per_file_;
  std::atomic<uint64_t> tip_{0};
  std::atomic<bool> failed_{false};
};

// One generation read back. end_block is the first block after the last
// complete group. A bad, zeroed or out-of-sequence block that a verifying
// group start follows later in the file is -501 naming file, generation and
// block in either mode (groups are synced one after another, so data after
// it was acknowledged). With tolerate_tail, damage with nothing valid after
// it (a torn last write) ends the scan there (torn = true); otherwise that
// is -501 too.
struct LogScan {
  format::LogFileHeader header;
  uint32_t end_block = 1;
  bool torn = false;
};
// Calls fn(group_start_lsn, record) for each record of each complete group
// from start_block on; record views are valid only during fn. Errors: -501
// corrupt, -530 signature differs from expected_signature (0: any), -1022.
absl::StatusOr<LogScan> ScanLogFile(
    Env* env, const std::string& path, uint32_t generation,
    uint64_t expected_signature, uint32_t start_block, bool tolerate_tail,
    const std::function<absl::Status(uint64_t, const LogRecord&)>& fn);

// Reads only the header of a log file. Errors: -501, -1811, -1022.
absl::StatusOr<format::LogFileHeader> ReadLogHeader(Env* env,
                                                    const std::string& path);

}  // namespace jetback

#endif  // JETBACK_ENGINE_LOG_H_
