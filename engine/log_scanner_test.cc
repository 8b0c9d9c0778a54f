#include "engine/log_scanner.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format.h"
#include "engine/test_util.h"
#include "gtest/gtest.h"
#include "jetback/env.h"
#include "jetback/status.h"

namespace jetback {
namespace {

using format::kLogBlockPayload;
using format::kLogBlockSize;
using testing_util::TempDir;

constexpr uint64_t kSignature = 0x5157;
constexpr uint64_t kDb = 0xdb;

// A page image whose bytes say which page and generation it is.
std::string Image(uint32_t gen, uint32_t pgno, size_t size) {
  std::string page(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    page[i] = static_cast<char>((gen * 31 + pgno * 7 + i) & 0xff);
  }
  return page;
}

// One generation laid out as LogWriter lays it out: `groups` (each the
// concatenated records of one group commit) in consecutive blocks from
// block 1, the rest of the file zero. *starts gets each group's first block.
std::string Generation(uint32_t gen, uint32_t file_blocks,
                       const std::vector<std::string>& groups,
                       std::vector<uint32_t>* starts = nullptr) {
  std::string file(size_t{file_blocks} * kLogBlockSize, '\0');
  format::LogFileHeader h;
  h.generation = gen;
  h.log_signature = kSignature;
  h.create_time_us = gen;
  h.page_size = 4096;
  h.log_file_size = file.size();
  h.base_name = "E00";
  EXPECT_TRUE(
      format::EncodeLogHeader(h, absl::MakeSpan(file.data(), kLogBlockSize))
          .ok());
  uint32_t next = 1;
  for (const std::string& g : groups) {
    if (starts != nullptr) starts->push_back(next);
    const uint32_t blocks = static_cast<uint32_t>(std::max<size_t>(
        1, (g.size() + kLogBlockPayload - 1) / kLogBlockPayload));
    if (next + blocks > file_blocks) {
      ADD_FAILURE() << "groups do not fit in " << file_blocks << " blocks";
      return file;
    }
    for (uint32_t b = 0; b < blocks; ++b) {
      char* block = file.data() + size_t{next + b} * kLogBlockSize;
      const size_t from = size_t{b} * kLogBlockPayload;
      const size_t n = std::min<size_t>(g.size() - from, kLogBlockPayload);
      std::memcpy(block + sizeof(format::LogBlockHeader), g.data() + from, n);
      format::LogBlockHeader bh{};
      bh.generation = gen;
      bh.block = next + b;
      bh.data_len = static_cast<uint16_t>(n);
      if (b == 0) bh.flags |= format::kLogBlockGroupStart;
      if (b + 1 == blocks) bh.flags |= format::kLogBlockGroupEnd;
      bh.log_signature = kSignature;
      format::SealLogBlock(bh, absl::MakeSpan(block, kLogBlockSize));
    }
    next += blocks;
  }
  return file;
}

// A group of `images` page images of `size` bytes (pgno first_pgno on) and
// a commit of transaction `txn`.
std::string Group(uint32_t gen, uint64_t txn, uint32_t first_pgno, int images,
                  size_t size) {
  std::string g;
  for (int i = 0; i < images; ++i) {
    AppendPageImage(txn, kDb, first_pgno + i, Image(gen, first_pgno + i, size),
                    &g);
  }
  AppendCommit(txn, 1000 + txn, &g);
  return g;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  auto f = Env::Default()->OpenFile(path, OpenMode::kCreate);
  ASSERT_TRUE(f.ok()) << f.status();
  JB_ASSERT_OK((*f)->Truncate(0));
  JB_ASSERT_OK((*f)->Write(0, bytes));
}

struct Seen {
  uint64_t lsn;
  LogRecord rec;
};

// Scans generation 1 of `path`, collecting each record's transaction.
absl::StatusOr<LogScan> ScanTxns(LogScanner* scanner, const std::string& path,
                                 bool tolerate_tail,
                                 std::vector<uint64_t>* txns) {
  return scanner->Scan(path, 1, kSignature, 1, tolerate_tail,
                       [txns](uint64_t, const LogRecord& r) {
                         txns->push_back(r.txn);
                         return absl::OkStatus();
                       });
}

class LogScannerTest : public ::testing::TestWithParam<bool> {
 protected:
  LogScanner::Options options() const { return {.direct_reads = GetParam()}; }
  TempDir dir_;
};

// Generations of different sizes read one after another (with and without
// read-ahead, several rounds): the two buffers grow only when a larger file
// comes, never per generation, every image comes back intact, and its view
// still holds it after Scan returns, until the next Scan.
TEST_P(LogScannerTest, ReusesBuffersAcrossGenerationsOfDifferentSizes) {
  const uint32_t sizes[] = {40, 900, 60};  // blocks: 160 KiB, 3.5 MiB, 240 KiB
  std::vector<std::string> paths;
  for (uint32_t gen = 1; gen <= 3; ++gen) {
    std::vector<std::string> groups;
    const int n = gen == 2 ? 80 : 2;  // gen 2: 80 groups of 8 KiB images
    for (int i = 0; i < n; ++i) {
      groups.push_back(Group(gen, gen * 1000 + i, i * 4, 4, 8192));
    }
    paths.push_back(dir_.path() + "/E00" + std::to_string(gen) + ".log");
    WriteFile(paths.back(), Generation(gen, sizes[gen - 1], groups));
  }
  LogScanner scanner(Env::Default(), options());
  for (int round = 0; round < 4; ++round) {
    for (uint32_t gen = 1; gen <= 3; ++gen) {
      std::vector<Seen> seen;
      // Rounds 0 and 2 read ahead; a read ahead of gen 1 after gen 3 is
      // what round 1's first Scan finds.
      const bool ahead = round % 2 == 0;
      const std::string next = ahead ? paths[gen % 3] : "";
      auto scan = scanner.Scan(
          paths[gen - 1], gen, kSignature, 1, false,
          [&](uint64_t lsn, const LogRecord& r) {
            seen.push_back({lsn, r});
            return absl::OkStatus();
          },
          next);
      ASSERT_TRUE(scan.ok()) << scan.status();
      EXPECT_FALSE(scan->torn);
      const size_t groups = gen == 2 ? 80 : 2;
      ASSERT_EQ(seen.size(), groups * 5);
      for (size_t i = 0; i < seen.size(); ++i) {
        const LogRecord& r = seen[i].rec;
        const size_t g = i / 5;
        EXPECT_EQ(r.txn, gen * 1000 + g);
        if (i % 5 == 4) {
          EXPECT_EQ(r.type, LogRecordType::kCommit);
          EXPECT_EQ(r.commit_time_us, static_cast<int64_t>(1000 + r.txn));
          continue;
        }
        ASSERT_EQ(r.type, LogRecordType::kPageImage);
        EXPECT_EQ(r.pgno, g * 4 + i % 5);
        EXPECT_EQ(r.db_signature, kDb);
        // Still valid after Scan returned.
        EXPECT_TRUE(r.page == Image(gen, r.pgno, 8192)) << "gen " << gen;
      }
    }
  }
  // One buffer for the largest file and one for the others at most (the
  // read-ahead buffer may be the large one): nowhere near 12 scans' worth.
  EXPECT_LE(scanner.allocations(), 3);
  EXPECT_LE(scanner.buffer_bytes(), size_t{8} << 20);
}

// A group spanning several blocks (images larger than a block's payload
// and straddling block boundaries): one view per image, contiguous and
// intact, and the group's LSN is its first block's.
TEST_P(LogScannerTest, GroupSpanningSeveralBlocks) {
  std::vector<uint32_t> starts;
  const std::string file =
      Generation(1, 64,
                 {Group(1, 1, 0, 1, 100), Group(1, 2, 10, 5, 10000),
                  Group(1, 3, 20, 1, 100)},
                 &starts);
  ASSERT_EQ(starts.size(), 3u);
  ASSERT_GT(starts[2] - starts[1], 10u);  // the big group spans 13 blocks
  const std::string path = dir_.path() + "/E00.log";
  WriteFile(path, file);
  LogScanner scanner(Env::Default(), options());
  std::vector<Seen> seen;
  auto scan = scanner.Scan(path, 1, kSignature, 1, false,
                           [&](uint64_t lsn, const LogRecord& r) {
                             seen.push_back({lsn, r});
                             return absl::OkStatus();
                           });
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->end_block, starts[2] + 1);
  ASSERT_EQ(seen.size(), 2u + 6u + 2u);
  for (int i = 2; i < 7; ++i) {
    EXPECT_EQ(seen[i].lsn, Lsn(1, starts[1] * kLogBlockSize));
    EXPECT_EQ(seen[i].rec.pgno, 10u + (i - 2));
    EXPECT_TRUE(seen[i].rec.page == Image(1, 10 + (i - 2), 10000));
  }
  EXPECT_EQ(seen[7].rec.type, LogRecordType::kCommit);
  EXPECT_EQ(seen[8].lsn, Lsn(1, starts[2] * kLogBlockSize));
  EXPECT_TRUE(seen[8].rec.page == Image(1, 20, 100));
}

// The last group's last block torn (zeroed, or garbage): with tolerate_tail
// the scan ends after the group before it, torn; without, -501. Records of
// the torn group are never handed out.
TEST_P(LogScannerTest, TornTail) {
  for (bool garbage : {false, true}) {
    std::vector<uint32_t> starts;
    std::string file = Generation(
        1, 64, {Group(1, 1, 0, 2, 8192), Group(1, 2, 10, 2, 8192)}, &starts);
    const uint32_t last = starts[1] + 4;  // 2 images + commit: 5 blocks
    char* block = file.data() + size_t{last} * kLogBlockSize;
    if (garbage) {
      block[100] ^= 0x5a;
    } else {
      std::memset(block, 0, kLogBlockSize);
    }
    const std::string path = dir_.path() + "/E00.log";
    WriteFile(path, file);
    LogScanner scanner(Env::Default(), options());
    for (bool tolerate : {true, false}) {
      std::vector<uint64_t> txns;
      auto scan = ScanTxns(&scanner, path, tolerate, &txns);
      if (!tolerate) {
        EXPECT_EQ(JetErrOf(scan.status()), jet::JET_errLogFileCorrupt);
        continue;
      }
      ASSERT_TRUE(scan.ok()) << scan.status();
      EXPECT_TRUE(scan->torn);
      EXPECT_EQ(scan->end_block, starts[1]);
      EXPECT_EQ(txns, std::vector<uint64_t>(3, 1));
    }
  }
}

// A damaged block in the middle of the file, with a valid group after it:
// acknowledged data lies beyond, so -501 whatever the mode, naming the
// block, even after the scanner has rewritten earlier groups in place.
TEST_P(LogScannerTest, CorruptMiddleBlockIsCorruptInEitherMode) {
  std::vector<uint32_t> starts;
  std::string file =
      Generation(1, 64,
                 {Group(1, 1, 0, 2, 8192), Group(1, 2, 10, 2, 8192),
                  Group(1, 3, 20, 2, 8192)},
                 &starts);
  const uint32_t bad = starts[1] + 2;  // inside the second group
  file[size_t{bad} * kLogBlockSize + 2000] ^= 1;
  const std::string path = dir_.path() + "/E00.log";
  WriteFile(path, file);
  LogScanner scanner(Env::Default(), options());
  for (bool tolerate : {true, false}) {
    std::vector<uint64_t> txns;
    auto scan = ScanTxns(&scanner, path, tolerate, &txns);
    EXPECT_EQ(JetErrOf(scan.status()), jet::JET_errLogFileCorrupt);
    EXPECT_NE(scan.status().message().find(
                  absl::StrCat("block ", bad, ": log block ", bad,
                               " of generation 1: checksum mismatch; valid "
                               "log data follows at block ",
                               starts[2])),
              absl::string_view::npos)
        << scan.status();
    EXPECT_EQ(txns, std::vector<uint64_t>(3, 1));  // the first group only
  }
}

// Header checks come before any record: another log set is -530, another
// generation -501; a read ahead of a file that is gone gives its own error
// when that file is scanned.
TEST_P(LogScannerTest, HeaderAndMissingFileErrors) {
  const std::string path = dir_.path() + "/E00.log";
  WriteFile(path, Generation(4, 8, {Group(4, 1, 0, 1, 100)}));
  LogScanner scanner(Env::Default(), options());
  auto none = [](uint64_t, const LogRecord&) { return absl::OkStatus(); };
  EXPECT_EQ(
      JetErrOf(scanner.Scan(path, 4, kSignature + 1, 1, true, none).status()),
      jet::JET_errBadLogSignature);
  EXPECT_EQ(JetErrOf(scanner.Scan(path, 5, 0, 1, true, none).status()),
            jet::JET_errLogFileCorrupt);
  const std::string gone = dir_.path() + "/E0000000005.log";
  ASSERT_TRUE(scanner.Scan(path, 4, kSignature, 1, false, none, gone).ok());
  EXPECT_EQ(JetErrOf(scanner.Scan(gone, 5, 0, 1, true, none).status()),
            jet::JET_errFileNotFound);
  // And the scanner still works afterwards.
  EXPECT_TRUE(scanner.Scan(path, 4, kSignature, 1, false, none).ok());
}

INSTANTIATE_TEST_SUITE_P(Reads, LogScannerTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Direct" : "Buffered";
                         });

}  // namespace
}  // namespace jetback
