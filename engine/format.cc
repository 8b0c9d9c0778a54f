// Encoders and verifiers of the on-disk formats (engine/FORMAT.md).

#include "engine/format.h"

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
// XXH3 through libxxhash's runtime dispatch (AVX2 / AVX-512 when the CPU
// has them): about 3.5x the default SSE2 code path, same hashes.
#include <xxh_x86dispatch.h>
#endif

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "engine/coding.h"
#include "jetback/status.h"

namespace jetback::format {
namespace {

constexpr uint64_t kDbHeaderMagic = 0x3152444842444a4aULL;
constexpr uint64_t kTrailerMagic = 0x314c494152544a4aULL;
constexpr uint64_t kLogHeaderMagic = 0x3144484c474f4a4aULL;

uint64_t PageChecksum(absl::Span<const char> page) {
  return Checksum(page.data() + 8, page.size() - 8);
}

void PutBackupInfo(Writer& w, const BackupInfo& b) {
  w.U32(b.mark_generation);
  w.U32(b.mark_offset);
  w.U64(static_cast<uint64_t>(b.mark_time_us));
  w.U32(b.gen_low);
  w.U32(b.gen_high);
}

BackupInfo GetBackupInfo(Reader& r) {
  BackupInfo b;
  b.mark_generation = r.U32();
  b.mark_offset = r.U32();
  b.mark_time_us = static_cast<int64_t>(r.U64());
  b.gen_low = r.U32();
  b.gen_high = r.U32();
  return b;
}

void StartPage(absl::Span<char> page, PageType type) {
  std::memset(page.data(), 0, page.size());
  PageHeader h{};
  h.type = static_cast<uint32_t>(type);
  std::memcpy(page.data(), &h, sizeof(h));
}

}  // namespace

uint64_t Checksum(const void* data, size_t n) { return XXH3_64bits(data, n); }

bool IsZero(absl::Span<const char> data) {
  // memcmp with itself one byte on is vectorised; a byte loop is not, and
  // replay checks the zero tail of every log generation block by block.
  if (data.empty()) return true;
  return data[0] == 0 &&
         std::memcmp(data.data(), data.data() + 1, data.size() - 1) == 0;
}

void SealPage(absl::Span<char> page) {
  uint64_t sum = PageChecksum(page);
  std::memcpy(page.data(), &sum, sizeof(sum));
}

uint64_t VerifiedDbtime(absl::Span<const char> page, uint32_t pgno) {
  if (IsZero(page) || !VerifyPage(page, pgno).ok()) return 0;
  return ReadPageHeader(page).dbtime;
}

PageHeader ReadPageHeader(absl::Span<const char> page) {
  PageHeader h{};
  if (page.size() >= sizeof(h)) std::memcpy(&h, page.data(), sizeof(h));
  return h;
}

absl::Status VerifyPage(absl::Span<const char> page, uint32_t expected_pgno,
                        uint64_t min_dbtime) {
  if (page.size() < sizeof(PageHeader)) {
    return JetStatus(jet::JET_errReadVerifyFailure, "short page");
  }
  PageHeader h = ReadPageHeader(page);
  if (h.checksum == 0 && IsZero(page)) return absl::OkStatus();
  if (h.checksum != PageChecksum(page)) {
    return JetStatus(jet::JET_errReadVerifyFailure,
                     absl::StrCat("checksum mismatch on page ", expected_pgno));
  }
  if (h.pgno != expected_pgno) {
    return JetStatus(
        jet::JET_errReadPgnoVerifyFailure,
        absl::StrCat("page at ", expected_pgno, " claims to be ", h.pgno));
  }
  if (min_dbtime > 0 && h.dbtime < min_dbtime) {
    return JetStatus(jet::JET_errReadLostFlushVerifyFailure,
                     absl::StrCat("page ", expected_pgno, " has dbtime ",
                                  h.dbtime, ", last write was ", min_dbtime));
  }
  return absl::OkStatus();
}

absl::Status EncodeDbHeader(const DatabaseHeaderInfo& info,
                            absl::Span<char> page) {
  if (page.size() < 512) {
    return JetStatus(jet::JET_errInvalidParameter, "header page too small");
  }
  StartPage(page, PageType::kHeader);
  Writer w(page.subspan(sizeof(PageHeader)));
  w.U64(kDbHeaderMagic);
  w.U32(kDbFormatVersion);
  w.U32(info.page_size);
  w.U32(info.pgno_last);
  w.U32(info.clean_shutdown ? 1 : 0);
  w.U64(info.db_signature);
  w.U64(info.log_signature);
  w.U32(info.gen_min_required);
  w.U32(info.gen_max_required);
  w.U32(info.gen_max_committed);
  w.U32(0);
  w.U64(info.dbtime);
  for (const BackupInfo* b : {&info.full_prev, &info.inc_prev, &info.copy_prev,
                              &info.diff_prev, &info.full_cur}) {
    PutBackupInfo(w, *b);
  }
  SealPage(page);
  return absl::OkStatus();
}

absl::StatusOr<DatabaseHeaderInfo> DecodeDbHeader(absl::Span<const char> page) {
  PageHeader h = ReadPageHeader(page);
  if (page.size() < 512 || IsZero(page) || !VerifyPage(page, 0).ok() ||
      h.type != static_cast<uint32_t>(PageType::kHeader)) {
    return JetStatus(jet::JET_errDatabaseCorrupted, "not a database header");
  }
  Reader r(page.subspan(sizeof(PageHeader)));
  if (r.U64() != kDbHeaderMagic || r.U32() != kDbFormatVersion) {
    return JetStatus(jet::JET_errDatabaseCorrupted,
                     "bad database header magic or version");
  }
  DatabaseHeaderInfo info;
  info.page_size = r.U32();
  info.pgno_last = r.U32();
  info.clean_shutdown = r.U32() != 0;
  info.db_signature = r.U64();
  info.log_signature = r.U64();
  info.gen_min_required = r.U32();
  info.gen_max_required = r.U32();
  info.gen_max_committed = r.U32();
  r.U32();
  info.dbtime = r.U64();
  for (BackupInfo* b : {&info.full_prev, &info.inc_prev, &info.copy_prev,
                        &info.diff_prev, &info.full_cur}) {
    *b = GetBackupInfo(r);
  }
  return info;
}

absl::Status EncodeTrailer(const TrailerInfo& info, absl::Span<char> page) {
  if (page.size() < 512) {
    return JetStatus(jet::JET_errInvalidParameter, "trailer page too small");
  }
  StartPage(page, PageType::kTrailer);
  Writer w(page.subspan(sizeof(PageHeader)));
  w.U64(kTrailerMagic);
  PutBackupInfo(w, info.backup);
  w.U64(info.db_signature);
  w.U64(info.log_signature);
  w.U32(info.gen_min_required);
  w.U32(info.gen_max_required);
  w.U32(info.gen_max_committed);
  w.U32(info.pgno_last);
  SealPage(page);
  return absl::OkStatus();
}

absl::StatusOr<TrailerInfo> DecodeTrailer(absl::Span<const char> page) {
  PageHeader h = ReadPageHeader(page);
  if (page.size() < 512 || IsZero(page) || !VerifyPage(page, 0).ok() ||
      h.type != static_cast<uint32_t>(PageType::kTrailer)) {
    return JetStatus(jet::JET_errBadPatchPage, "not a valid trailer page");
  }
  Reader r(page.subspan(sizeof(PageHeader)));
  if (r.U64() != kTrailerMagic) {
    return JetStatus(jet::JET_errBadPatchPage, "bad trailer magic");
  }
  TrailerInfo info;
  info.backup = GetBackupInfo(r);
  info.db_signature = r.U64();
  info.log_signature = r.U64();
  info.gen_min_required = r.U32();
  info.gen_max_required = r.U32();
  info.gen_max_committed = r.U32();
  info.pgno_last = r.U32();
  return info;
}

absl::Status EncodeLogHeader(const LogFileHeader& header,
                             absl::Span<char> block) {
  if (block.size() != kLogBlockSize || header.base_name.size() != 3 ||
      header.version < kLogFormatVersionNoCommitTime ||
      header.version > kLogFormatVersion) {
    return JetStatus(jet::JET_errInvalidParameter, "bad log header arguments");
  }
  std::memset(block.data(), 0, block.size());
  Writer w(block.subspan(8));
  w.U64(kLogHeaderMagic);
  w.U32(header.version);
  w.U32(header.generation);
  w.U64(header.log_signature);
  w.U64(static_cast<uint64_t>(header.create_time_us));
  w.U64(static_cast<uint64_t>(header.prev_create_time_us));
  w.U32(header.page_size);
  w.U32(0);
  w.U64(header.log_file_size);
  w.Bytes(header.base_name);
  uint64_t sum = Checksum(block.data() + 8, block.size() - 8);
  std::memcpy(block.data(), &sum, sizeof(sum));
  return absl::OkStatus();
}

absl::StatusOr<LogFileHeader> DecodeLogHeader(absl::Span<const char> block) {
  if (block.size() < kLogBlockSize) {
    return JetStatus(jet::JET_errLogFileCorrupt, "short log header");
  }
  block = block.subspan(0, kLogBlockSize);
  uint64_t sum;
  std::memcpy(&sum, block.data(), sizeof(sum));
  if (sum != Checksum(block.data() + 8, block.size() - 8)) {
    return JetStatus(jet::JET_errLogFileCorrupt, "log header checksum");
  }
  Reader r(block.subspan(8));
  if (r.U64() != kLogHeaderMagic) {
    return JetStatus(jet::JET_errLogFileCorrupt, "bad log header magic");
  }
  LogFileHeader h;
  h.version = r.U32();
  if (h.version < kLogFormatVersionNoCommitTime ||
      h.version > kLogFormatVersion) {
    return JetStatus(jet::JET_errLogFileCorrupt,
                     absl::StrCat("log format version ", h.version,
                                  " (this build reads versions 1 and 2)"));
  }
  h.generation = r.U32();
  h.log_signature = r.U64();
  h.create_time_us = static_cast<int64_t>(r.U64());
  h.prev_create_time_us = static_cast<int64_t>(r.U64());
  h.page_size = r.U32();
  r.U32();
  h.log_file_size = r.U64();
  h.base_name = std::string(r.Bytes(3));
  return h;
}

void SealLogBlock(const LogBlockHeader& header, absl::Span<char> block) {
  LogBlockHeader h = header;
  h.checksum = 0;
  std::memcpy(block.data(), &h, sizeof(h));
  h.checksum = Checksum(block.data() + 8, kLogBlockSize - 8);
  std::memcpy(block.data(), &h.checksum, sizeof(h.checksum));
}

absl::Status CheckLogBlock(absl::Span<const char> block, uint32_t generation,
                           uint32_t block_number, LogBlockHeader* header) {
  *header = LogBlockHeader{};
  if (block.size() < kLogBlockSize) {
    return JetStatus(jet::JET_errLogReadVerifyFailure, "short log block");
  }
  block = block.subspan(0, kLogBlockSize);
  if (IsZero(block)) return absl::OkStatus();
  LogBlockHeader h;
  std::memcpy(&h, block.data(), sizeof(h));
  if (h.checksum != Checksum(block.data() + 8, kLogBlockSize - 8)) {
    return JetStatus(jet::JET_errLogReadVerifyFailure,
                     absl::StrCat("log block ", block_number, " of generation ",
                                  generation, ": checksum mismatch"));
  }
  if (h.generation != generation || h.block != block_number ||
      h.data_len > kLogBlockPayload) {
    return JetStatus(
        jet::JET_errLogReadVerifyFailure,
        absl::StrCat("log block ", block_number, " of generation ", generation,
                     ": claims generation ", h.generation, " block ", h.block));
  }
  *header = h;
  return absl::OkStatus();
}

absl::Status VerifyLogBlocks(uint32_t generation, uint64_t offset,
                             absl::Span<const char> data) {
  if (offset % kLogBlockSize != 0 || data.size() % kLogBlockSize != 0) {
    return JetStatus(jet::JET_errLogReadVerifyFailure,
                     "log read not block aligned");
  }
  for (size_t pos = 0; pos < data.size(); pos += kLogBlockSize) {
    uint64_t block = (offset + pos) / kLogBlockSize;
    absl::Span<const char> b = data.subspan(pos, kLogBlockSize);
    if (block == 0) {
      auto h = DecodeLogHeader(b);
      if (!h.ok() || h->generation != generation) {
        return JetStatus(
            jet::JET_errLogReadVerifyFailure,
            absl::StrCat("bad log header of generation ", generation));
      }
      continue;
    }
    LogBlockHeader h;
    JB_RETURN_IF_ERROR(
        CheckLogBlock(b, generation, static_cast<uint32_t>(block), &h));
  }
  return absl::OkStatus();
}

std::string CurrentLogName(absl::string_view base) {
  return absl::StrCat(base, ".log");
}

std::string ArchiveLogName(absl::string_view base, uint32_t gen) {
  return absl::StrFormat("%s%08X.log", base, gen);
}

std::string CheckpointName(absl::string_view base) {
  return absl::StrCat(base, ".chk");
}

std::optional<uint32_t> ParseArchiveLogName(absl::string_view base,
                                            absl::string_view file_name) {
  if (!absl::ConsumePrefix(&file_name, base) ||
      !absl::ConsumeSuffix(&file_name, ".log")) {
    return std::nullopt;
  }
  if (file_name.size() != 8 && file_name.size() != 5) return std::nullopt;
  uint32_t gen = 0;
  for (char c : file_name) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    gen = gen * 16 + static_cast<uint32_t>(digit);
  }
  return gen;
}

}  // namespace jetback::format
