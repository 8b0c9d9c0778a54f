#include "engine/format.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <vector>

#include "engine/log.h"
#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback::format {
namespace {

std::vector<char> MakePage(uint32_t page_size, uint32_t pgno, uint64_t dbtime) {
  std::vector<char> page(page_size, 0);
  PageHeader h{};
  h.pgno = pgno;
  h.type = static_cast<uint32_t>(PageType::kLeaf);
  h.dbtime = dbtime;
  std::memcpy(page.data(), &h, sizeof(h));
  for (uint32_t i = sizeof(h); i < page_size; ++i) page[i] = char(i * 7);
  SealPage(absl::MakeSpan(page));
  return page;
}

TEST(FormatTest, PageRoundTripAllSizes) {
  for (uint32_t size : {4096u, 8192u, 16384u, 32768u}) {
    auto page = MakePage(size, 42, 7);
    EXPECT_TRUE(VerifyPage(page, 42).ok());
    EXPECT_TRUE(VerifyPage(page, 42, 7).ok());
    PageHeader h = ReadPageHeader(page);
    EXPECT_EQ(h.pgno, 42u);
    EXPECT_EQ(h.dbtime, 7u);
  }
  EXPECT_EQ(PageOffset(1, 8192), 2u * 8192);
}

TEST(FormatTest, ZeroPageVerifies) {
  std::vector<char> page(8192, 0);
  EXPECT_TRUE(VerifyPage(page, 9, 100).ok());
}

struct PageCorruption {
  const char* name;
  std::function<void(std::vector<char>&)> damage;
  uint32_t read_as_pgno;
  uint64_t min_dbtime;
  JetErr expected;
};

TEST(FormatTest, PageCorruptionTable) {
  const std::vector<PageCorruption> rows = {
      {"flipped byte in body", [](auto& p) { p[5000] ^= 0x10; }, 42, 0,
       jet::JET_errReadVerifyFailure},
      {"flipped byte in pgno", [](auto& p) { p[8] ^= 1; }, 42, 0,
       jet::JET_errReadVerifyFailure},
      {"flipped checksum", [](auto& p) { p[0] ^= 1; }, 42, 0,
       jet::JET_errReadVerifyFailure},
      {"torn: second half zero",
       [](auto& p) { std::fill(p.begin() + 4096, p.end(), 0); }, 42, 0,
       jet::JET_errReadVerifyFailure},
      {"page at wrong offset", [](auto&) {}, 43, 0,
       jet::JET_errReadPgnoVerifyFailure},
      {"stale page (lost flush)", [](auto&) {}, 42, 8,
       jet::JET_errReadLostFlushVerifyFailure},
      {"intact", [](auto&) {}, 42, 7, 0},
  };
  for (const auto& row : rows) {
    auto page = MakePage(8192, 42, 7);
    row.damage(page);
    EXPECT_EQ(JetErrOf(VerifyPage(page, row.read_as_pgno, row.min_dbtime)),
              row.expected)
        << row.name;
  }
}

TEST(FormatTest, DbHeaderRoundTrip) {
  DatabaseHeaderInfo info;
  info.page_size = 16384;
  info.pgno_last = 1234;
  info.db_signature = 0x1122334455667788ULL;
  info.log_signature = 0x99;
  info.clean_shutdown = true;
  info.gen_min_required = 3;
  info.gen_max_required = 9;
  info.gen_max_committed = 10;
  info.dbtime = 777;
  info.full_prev = {5, 4096, 1700000000000000, 2, 8};
  info.inc_prev = {6, 0, 1, 9, 9};
  info.copy_prev = {7, 1, 2, 3, 4};
  info.diff_prev = {8, 2, 3, 4, 5};
  info.full_cur = {9, 3, 4, 5, 6};
  std::vector<char> page(16384);
  ASSERT_TRUE(EncodeDbHeader(info, absl::MakeSpan(page)).ok());
  EXPECT_TRUE(VerifyPage(page, 0).ok());
  auto got = DecodeDbHeader(page);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->page_size, 16384u);
  EXPECT_EQ(got->pgno_last, 1234u);
  EXPECT_EQ(got->db_signature, info.db_signature);
  EXPECT_EQ(got->log_signature, 0x99u);
  EXPECT_TRUE(got->clean_shutdown);
  EXPECT_EQ(got->gen_min_required, 3u);
  EXPECT_EQ(got->gen_max_required, 9u);
  EXPECT_EQ(got->gen_max_committed, 10u);
  EXPECT_EQ(got->dbtime, 777u);
  EXPECT_EQ(got->full_prev.mark_generation, 5u);
  EXPECT_EQ(got->full_prev.mark_offset, 4096u);
  EXPECT_EQ(got->full_prev.mark_time_us, 1700000000000000);
  EXPECT_EQ(got->full_prev.gen_high, 8u);
  EXPECT_EQ(got->inc_prev.gen_low, 9u);
  EXPECT_EQ(got->copy_prev.mark_generation, 7u);
  EXPECT_EQ(got->diff_prev.gen_high, 5u);
  EXPECT_EQ(got->full_cur.gen_low, 5u);

  page[100] ^= 1;
  EXPECT_EQ(JetErrOf(DecodeDbHeader(page).status()),
            jet::JET_errDatabaseCorrupted);
  std::vector<char> zero(8192, 0);
  EXPECT_EQ(JetErrOf(DecodeDbHeader(zero).status()),
            jet::JET_errDatabaseCorrupted);
}

TEST(FormatTest, TrailerRoundTripAndCorruption) {
  TrailerInfo t;
  t.backup = {3, 8192, 55, 2, 7};
  t.db_signature = 1;
  t.log_signature = 2;
  t.gen_min_required = 4;
  t.gen_max_required = 5;
  t.gen_max_committed = 6;
  t.pgno_last = 99;
  std::vector<char> page(4096);
  ASSERT_TRUE(EncodeTrailer(t, absl::MakeSpan(page)).ok());
  auto got = DecodeTrailer(page);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->backup.gen_high, 7u);
  EXPECT_EQ(got->pgno_last, 99u);
  EXPECT_EQ(got->gen_max_committed, 6u);
  // A database header is not a trailer.
  DatabaseHeaderInfo info;
  ASSERT_TRUE(EncodeDbHeader(info, absl::MakeSpan(page)).ok());
  EXPECT_EQ(JetErrOf(DecodeTrailer(page).status()), jet::JET_errBadPatchPage);
  ASSERT_TRUE(EncodeTrailer(t, absl::MakeSpan(page)).ok());
  page[200] ^= 4;
  EXPECT_EQ(JetErrOf(DecodeTrailer(page).status()), jet::JET_errBadPatchPage);
}

TEST(FormatTest, LogHeaderAndBlocks) {
  LogFileHeader h;
  h.generation = 17;
  h.log_signature = 0xabc;
  h.create_time_us = 100;
  h.prev_create_time_us = 50;
  h.page_size = 8192;
  h.log_file_size = 1 << 20;
  h.base_name = "E01";
  std::vector<char> file(4 * kLogBlockSize, 0);
  ASSERT_TRUE(EncodeLogHeader(h, absl::MakeSpan(file).subspan(0, 4096)).ok());
  auto got = DecodeLogHeader(file);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->generation, 17u);
  EXPECT_EQ(got->log_signature, 0xabcu);
  EXPECT_EQ(got->prev_create_time_us, 50);
  EXPECT_EQ(got->base_name, "E01");
  // Block 1 written, 2 and 3 never written (zero).
  LogBlockHeader bh{};
  bh.generation = 17;
  bh.block = 1;
  bh.data_len = 10;
  bh.flags = kLogBlockGroupStart | kLogBlockGroupEnd;
  bh.log_signature = 0xabc;
  std::memcpy(file.data() + 4096 + 32, "0123456789", 10);
  SealLogBlock(bh, absl::MakeSpan(file).subspan(4096, 4096));
  EXPECT_TRUE(VerifyLogBlocks(17, 0, file).ok());
  LogBlockHeader read;
  ASSERT_TRUE(
      CheckLogBlock(absl::MakeSpan(file).subspan(4096), 17, 1, &read).ok());
  EXPECT_EQ(read.data_len, 10);
  EXPECT_EQ(read.flags, kLogBlockGroupStart | kLogBlockGroupEnd);
  // Wrong generation, misplaced block, flipped byte.
  EXPECT_EQ(JetErrOf(VerifyLogBlocks(18, 0, file)),
            jet::JET_errLogReadVerifyFailure);
  EXPECT_EQ(
      JetErrOf(VerifyLogBlocks(17, 4096, absl::MakeSpan(file).subspan(4096))),
      0);
  EXPECT_EQ(JetErrOf(VerifyLogBlocks(17, 8192,
                                     absl::MakeSpan(file).subspan(4096, 4096))),
            jet::JET_errLogReadVerifyFailure);
  file[4096 + 40] ^= 1;
  EXPECT_EQ(JetErrOf(VerifyLogBlocks(17, 0, file)),
            jet::JET_errLogReadVerifyFailure);
  file[100] ^= 1;
  EXPECT_EQ(JetErrOf(DecodeLogHeader(file).status()),
            jet::JET_errLogFileCorrupt);
  EXPECT_EQ(
      JetErrOf(VerifyLogBlocks(17, 4096, absl::MakeSpan(file).subspan(0, 100))),
      jet::JET_errLogReadVerifyFailure);
}

TEST(FormatTest, FileNames) {
  EXPECT_EQ(CurrentLogName("E00"), "E00.log");
  EXPECT_EQ(ArchiveLogName("E00", 1), "E0000000001.log");
  EXPECT_EQ(ArchiveLogName("E00", 0xABCDEF12), "E00ABCDEF12.log");
  EXPECT_EQ(CheckpointName("E00"), "E00.chk");
  EXPECT_EQ(ParseArchiveLogName("E00", "E0000000001.log"), 1u);
  EXPECT_EQ(ParseArchiveLogName("E00", "E00ABCDEF12.log"), 0xABCDEF12u);
  EXPECT_EQ(ParseArchiveLogName("edb", "edb0001F.log"), 0x1Fu);
  EXPECT_EQ(ParseArchiveLogName("E00", "E00.log"), std::nullopt);
  EXPECT_EQ(ParseArchiveLogName("E00", "E01000000001.log"), std::nullopt);
  EXPECT_EQ(ParseArchiveLogName("E00", "E000000000G.log"), std::nullopt);
  EXPECT_EQ(ParseArchiveLogName("E00", "E0000000001.chk"), std::nullopt);
  EXPECT_EQ(ParseArchiveLogName("E00", "E00000001.log"), std::nullopt);
}

}  // namespace
}  // namespace jetback::format

namespace jetback {
namespace {

// Found by fuzz/log_fuzzer: a page-image record shorter than its fixed
// fields, inside a block with a valid checksum, threw std::out_of_range
// from ScanLogFile (recovery and restore would abort). Now -501.
TEST(LogScanTest, TruncatedPageImageIsCorruptNotACrash) {
  std::string file(2 * format::kLogBlockSize, '\0');
  format::LogFileHeader h;
  h.generation = 1;
  h.log_signature = 7;
  h.create_time_us = 1;
  h.page_size = 4096;
  h.log_file_size = file.size();
  h.base_name = "E00";
  ASSERT_TRUE(format::EncodeLogHeader(
                  h, absl::MakeSpan(file.data(), format::kLogBlockSize))
                  .ok());
  // One record: u32 length 5, type kPageImage, 5 payload bytes.
  char* block = file.data() + format::kLogBlockSize;
  char* p = block + sizeof(format::LogBlockHeader);
  const uint32_t len = 5;
  std::memcpy(p, &len, 4);
  p[4] = static_cast<char>(LogRecordType::kPageImage);
  format::LogBlockHeader bh{};
  bh.generation = 1;
  bh.block = 1;
  bh.data_len = 10;
  bh.flags = format::kLogBlockGroupStart | format::kLogBlockGroupEnd;
  bh.log_signature = 7;
  format::SealLogBlock(bh, absl::MakeSpan(block, format::kLogBlockSize));
  char tmpl[] = "/tmp/jb-logscan-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/E0000000001.log";
  {
    auto f = Env::Default()->OpenFile(path, OpenMode::kCreate);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Write(0, file).ok());
  }
  for (bool tolerate_tail : {false, true}) {
    auto scan = ScanLogFile(
        Env::Default(), path, 1, 0, 1, tolerate_tail,
        [](uint64_t, const LogRecord&) { return absl::OkStatus(); });
    EXPECT_EQ(JetErrOf(scan.status()), jet::JET_errLogFileCorrupt);
  }
  std::filesystem::remove_all(tmpl);
}

// Log format 2 (commit times) and the format 1 reader kept for old sets:
// which commit shapes each header version accepts.
absl::StatusOr<std::vector<LogRecord>> ScanOneGroup(
    uint32_t version, const std::string& records) {
  std::string file(2 * format::kLogBlockSize, '\0');
  format::LogFileHeader h;
  h.version = version;
  h.generation = 1;
  h.log_signature = 7;
  h.create_time_us = 1;
  h.page_size = 4096;
  h.log_file_size = file.size();
  h.base_name = "E00";
  JB_RETURN_IF_ERROR(format::EncodeLogHeader(
      h, absl::MakeSpan(file.data(), format::kLogBlockSize)));
  char* block = file.data() + format::kLogBlockSize;
  std::memcpy(block + sizeof(format::LogBlockHeader), records.data(),
              records.size());
  format::LogBlockHeader bh{};
  bh.generation = 1;
  bh.block = 1;
  bh.data_len = static_cast<uint16_t>(records.size());
  bh.flags = format::kLogBlockGroupStart | format::kLogBlockGroupEnd;
  bh.log_signature = 7;
  format::SealLogBlock(bh, absl::MakeSpan(block, format::kLogBlockSize));
  char tmpl[] = "/tmp/jb-logscan-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp");
  const std::string path = std::string(tmpl) + "/E0000000001.log";
  {
    JB_ASSIGN_OR_RETURN(auto f,
                        Env::Default()->OpenFile(path, OpenMode::kCreate));
    JB_RETURN_IF_ERROR(f->Write(0, file));
  }
  std::vector<LogRecord> got;
  auto scan = ScanLogFile(Env::Default(), path, 1, 0, 1, false,
                          [&](uint64_t, const LogRecord& r) {
                            got.push_back(r);
                            got.back().page = {};
                            return absl::OkStatus();
                          });
  std::filesystem::remove_all(tmpl);
  if (!scan.ok()) return scan.status();
  if (scan->header.version != version) return absl::InternalError("version");
  return got;
}

std::string OldCommit(uint64_t txn) {
  std::string r;
  const uint32_t len = 8;
  r.append(reinterpret_cast<const char*>(&len), 4);
  r.push_back(static_cast<char>(LogRecordType::kCommit));
  r.append(reinterpret_cast<const char*>(&txn), 8);
  return r;
}

TEST(LogFormatVersionTest, CommitTimesAndTheOldShape) {
  std::string timed;
  AppendCommit(5, 1796220185123000, &timed);
  ASSERT_EQ(timed.size(), kLogRecordHeader + 16);
  auto v2 = ScanOneGroup(format::kLogFormatVersion, timed);
  ASSERT_TRUE(v2.ok()) << v2.status();
  ASSERT_EQ(v2->size(), 1u);
  EXPECT_EQ((*v2)[0].txn, 5u);
  EXPECT_EQ((*v2)[0].commit_time_us, 1796220185123000);
  // A format 1 file: untimed commits, and timed ones appended after an
  // upgrade in place.
  auto v1 =
      ScanOneGroup(format::kLogFormatVersionNoCommitTime, OldCommit(4) + timed);
  ASSERT_TRUE(v1.ok()) << v1.status();
  ASSERT_EQ(v1->size(), 2u);
  EXPECT_EQ((*v1)[0].txn, 4u);
  EXPECT_EQ((*v1)[0].commit_time_us, 0);
  EXPECT_EQ((*v1)[1].commit_time_us, 1796220185123000);
  // A format 2 file holds only timed commits; other lengths are damage.
  EXPECT_EQ(
      JetErrOf(ScanOneGroup(format::kLogFormatVersion, OldCommit(4)).status()),
      jet::JET_errLogFileCorrupt);
  std::string odd = timed;
  const uint32_t len12 = 12;
  std::memcpy(odd.data(), &len12, 4);
  odd.resize(kLogRecordHeader + 12);
  EXPECT_EQ(
      JetErrOf(
          ScanOneGroup(format::kLogFormatVersionNoCommitTime, odd).status()),
      jet::JET_errLogFileCorrupt);
  // The test writer switch writes the old shape.
  SetLogWriteVersionForTesting(format::kLogFormatVersionNoCommitTime);
  std::string old;
  AppendCommit(4, 1796220185123000, &old);
  SetLogWriteVersionForTesting(format::kLogFormatVersion);
  EXPECT_EQ(old, OldCommit(4));
}

TEST(LogFormatVersionTest, HeaderVersions) {
  std::vector<char> block(format::kLogBlockSize, 0);
  format::LogFileHeader h;
  h.generation = 3;
  h.base_name = "E00";
  EXPECT_EQ(h.version, 2u);  // new logs are format 2
  for (uint32_t v : {1u, 2u}) {
    h.version = v;
    ASSERT_TRUE(format::EncodeLogHeader(h, absl::MakeSpan(block)).ok());
    auto got = format::DecodeLogHeader(block);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->version, v);
    EXPECT_EQ(got->generation, 3u);
  }
  h.version = 3;
  EXPECT_EQ(JetErrOf(format::EncodeLogHeader(h, absl::MakeSpan(block))),
            jet::JET_errInvalidParameter);
  // A version 3 header (from a newer build) is refused, not misread.
  h.version = 2;
  ASSERT_TRUE(format::EncodeLogHeader(h, absl::MakeSpan(block)).ok());
  const uint32_t three = 3;
  std::memcpy(block.data() + 16, &three, 4);  // after checksum and magic
  const uint64_t sum = format::Checksum(block.data() + 8, block.size() - 8);
  std::memcpy(block.data(), &sum, 8);
  EXPECT_EQ(JetErrOf(format::DecodeLogHeader(block).status()),
            jet::JET_errLogFileCorrupt);
}

}  // namespace
}  // namespace jetback
