// File: engine/format.h
//
// On-disk formats in one place: database pages, the database header and the
// backup trailer page, log files, and their checksums. docs in
// engine/FORMAT.md. All integers little-endian.
//
// Database file: [header][shadow header][page 1]...[page pgno_last]; page n
// lives at file offset (n + 1) * page_size. Every page begins with a
// PageHeader; its checksum is XXH3-64 over bytes [8, page_size), which
// include the page number and the modification stamp (dbtime), so torn
// (-1018), misplaced (-1118) and stale (-1119) pages are all detected. An
// all-zero page is a never-written page and verifies.
//
// Log file: fixed size; block 0 (4 KiB) is the LogFileHeader, then 4 KiB
// blocks, each with its own checksum, generation and block number. A group
// commit always starts a fresh block and blocks are written once, so a torn
// write can only damage the unacknowledged tail.

#ifndef JETBACK_ENGINE_FORMAT_H_
#define JETBACK_ENGINE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "jetback/instance.h"

namespace jetback::format {

uint64_t Checksum(const void* data, size_t n);  // XXH3-64

// ---- Database pages -------------------------------------------------------

enum class PageType : uint32_t {
  kFree = 0,
  kHeader = 1,  // database header and shadow (pgno field 0)
  kMeta = 2,    // page 1: tree root, pgno_last, free list
  kLeaf = 3,
  kInternal = 4,
  kOverflow = 5,  // long value chunks
  kTrailer = 6,   // backup trailer page (pgno field 0)
};

struct PageHeader {   // 32 bytes at the start of every page
  uint64_t checksum;  // XXH3-64 of bytes [8, page_size)
  uint32_t pgno;      // 0 for header and trailer pages
  uint32_t type;      // PageType
  uint64_t dbtime;    // modification stamp, increases per database
  uint64_t reserved;
};
static_assert(sizeof(PageHeader) == 32);

inline constexpr uint32_t kHeaderPages = 2;
inline uint64_t PageOffset(uint32_t pgno, uint32_t page_size) {
  return (uint64_t{pgno} + kHeaderPages - 1) * page_size;
}

// Sets the checksum of a page whose other header fields are filled in.
void SealPage(absl::Span<char> page);

// Verifies one page read from `expected_pgno`'s position (0 for header and
// trailer pages). min_dbtime > 0 enables the lost-flush check: a page whose
// dbtime is below it is stale. OK for an all-zero page. Errors: -1018 bad
// checksum, -1118 right checksum but another page number, -1119 stale.
absl::Status VerifyPage(absl::Span<const char> page, uint32_t expected_pgno,
                        uint64_t min_dbtime = 0);

PageHeader ReadPageHeader(absl::Span<const char> page);

// The dbtime of a page that verifies at `pgno`; 0 for an all-zero or invalid
// one (what replay must overwrite whatever an image's dbtime).
uint64_t VerifiedDbtime(absl::Span<const char> page, uint32_t pgno);

// ---- Database header and backup trailer -----------------------------------

inline constexpr uint32_t kDbFormatVersion = 1;

// Decoded header page (and shadow). Encode fills a whole sealed page.
absl::Status EncodeDbHeader(const DatabaseHeaderInfo& info,
                            absl::Span<char> page);
// Errors: -1206 not a database header (bad magic/checksum).
absl::StatusOr<DatabaseHeaderInfo> DecodeDbHeader(absl::Span<const char> page);

// The last page of a streamed database (ESE's PATCHHDR).
struct TrailerInfo {
  BackupInfo backup;  // mark/time from Begin, gen_low = CopyMic,
                      // gen_high = generation current when built
  uint64_t db_signature = 0;
  uint64_t log_signature = 0;
  uint32_t gen_min_required = 0;
  uint32_t gen_max_required = 0;
  uint32_t gen_max_committed = 0;
  uint32_t pgno_last = 0;
};
absl::Status EncodeTrailer(const TrailerInfo& info, absl::Span<char> page);
// Errors: -535 bad checksum or not a trailer.
absl::StatusOr<TrailerInfo> DecodeTrailer(absl::Span<const char> page);

// ---- Log files -------------------------------------------------------------

inline constexpr uint32_t kLogBlockSize = 4096;

// Log format versions (engine/FORMAT.md). 2 adds the commit time to every
// commit record; readers accept both, writers write kLogFormatVersion.
inline constexpr uint32_t kLogFormatVersionNoCommitTime = 1;
inline constexpr uint32_t kLogFormatVersion = 2;

struct LogFileHeader {
  uint32_t version = kLogFormatVersion;
  uint32_t generation = 0;
  uint64_t log_signature = 0;       // the log set; same for every generation
  int64_t create_time_us = 0;       // this generation's creation time
  int64_t prev_create_time_us = 0;  // previous generation's (0 for the first)
  uint32_t page_size = 0;           // database page size of the instance
  uint64_t log_file_size = 0;
  std::string base_name;  // "E00"
};
absl::Status EncodeLogHeader(const LogFileHeader& header,
                             absl::Span<char> block);
// Errors: -501 bad checksum, magic or a version other than 1 and 2.
absl::StatusOr<LogFileHeader> DecodeLogHeader(absl::Span<const char> block);

// Header of every log block after block 0 (32 bytes). A group commit writes
// a run of blocks: the first has kLogBlockGroupStart, the last
// kLogBlockGroupEnd; payload bytes follow the header.
inline constexpr uint16_t kLogBlockGroupStart = 1;
inline constexpr uint16_t kLogBlockGroupEnd = 2;
struct LogBlockHeader {
  uint64_t checksum;  // XXH3-64 of bytes [8, kLogBlockSize)
  uint32_t generation;
  uint32_t block;     // block number in the file (header block is 0)
  uint16_t data_len;  // payload bytes used in this block
  uint16_t flags;     // kLogBlockGroup*
  uint32_t reserved;
  uint64_t log_signature;
};
static_assert(sizeof(LogBlockHeader) == 32);
inline constexpr uint32_t kLogBlockPayload =
    kLogBlockSize - sizeof(LogBlockHeader);
// Fills in the header fields of `block` (payload already in place) and its
// checksum.
void SealLogBlock(const LogBlockHeader& header, absl::Span<char> block);
// Checks one block: OK with *header filled, or -612 (bad checksum, wrong
// generation or block number). An all-zero block is OK with a zeroed
// *header (never written); IsZero tells the two apart.
absl::Status CheckLogBlock(absl::Span<const char> block, uint32_t generation,
                           uint32_t block_number, LogBlockHeader* header);
bool IsZero(absl::Span<const char> data);

// Verifies `data`, a run of whole blocks of generation `generation` starting
// at file offset `offset` (a block multiple): block 0 must be a valid header
// of that generation; every other block must be all-zero or carry a valid
// checksum, the generation and its own block number. Errors: -612.
absl::Status VerifyLogBlocks(uint32_t generation, uint64_t offset,
                             absl::Span<const char> data);

// ---- File names (ESE-compatible, 8 upper-case hex digits) -----------------

std::string CurrentLogName(absl::string_view base);  // E00.log
std::string ArchiveLogName(absl::string_view base,
                           uint32_t gen);            // E0000000001.log
std::string CheckpointName(absl::string_view base);  // E00.chk
// Generation of an archive log name with this base ("E00" + 8 or 5 hex
// digits + ".log"); nullopt otherwise (including the current log's name).
std::optional<uint32_t> ParseArchiveLogName(absl::string_view base,
                                            absl::string_view file_name);

}  // namespace jetback::format

#endif  // JETBACK_ENGINE_FORMAT_H_
