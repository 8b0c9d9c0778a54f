// Crash recovery against damaged logs and moved or shared directories:
// damage followed by valid groups is -501 naming the block (and nothing on
// disk changes), a torn last write is discarded, a copied state directory
// opens only its own files, and two instances cannot own the same files.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/checkpoint.h"
#include "engine/format.h"
#include "engine/log.h"
#include "engine/test_util.h"
#include "gtest/gtest.h"
#include "jetback/instance.h"

namespace jetback {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

InstanceOptions Opts(const std::string& dir) {
  InstanceOptions o = testing_util::Options(dir);
  o.data_dir = dir + "/data";
  o.log_file_size = 1 << 20;  // every group below in one generation
  // No background checkpoint: every commit below stays in the redo range.
  o.flush_interval = absl::Hours(1);
  return o;
}

// Block numbers of the group starts in a log file's image.
std::vector<uint32_t> GroupStarts(const std::string& log, uint32_t gen) {
  std::vector<uint32_t> starts;
  for (uint32_t b = 1; (b + 1) * format::kLogBlockSize <= log.size(); ++b) {
    auto block = absl::MakeConstSpan(log).subspan(
        size_t{b} * format::kLogBlockSize, format::kLogBlockSize);
    format::LogBlockHeader h;
    if (format::IsZero(block)) break;
    if (!format::CheckLogBlock(block, gen, b, &h).ok()) break;
    if (h.flags & format::kLogBlockGroupStart) starts.push_back(b);
  }
  return starts;
}

class CrashRecoveryTest : public ::testing::Test {
 protected:
  // Commits `n` transactions (one group each), then crashes the instance.
  void CommitAndCrash(int n) {
    Instance* inst = *registry_.Create(Opts(dir_.path()));
    JB_ASSERT_OK(inst->Init());
    auto db = inst->CreateDatabase(dir_.path() + "/data/a.edb");
    ASSERT_TRUE(db.ok()) << db.status();
    JB_ASSERT_OK((*db)->CreateTable("t"));
    for (int i = 0; i < n; ++i) {
      auto txn = (*db)->Begin();
      JB_ASSERT_OK(txn->Put("t", absl::StrCat("k", i), std::string(300, 'v')));
      JB_ASSERT_OK(txn->Commit());
    }
    gen_ = inst->CurrentGeneration();
    inst->TermDirty();
    JB_ASSERT_OK(registry_.Remove("inst"));
  }
  std::string LogPath() const { return dir_.path() + "/logs/E00.log"; }
  // Recovers and checks every committed key is there.
  void RecoverAndCheck(int n) {
    Instance* inst = *registry_.Create(Opts(dir_.path()));
    JB_ASSERT_OK(inst->Init());
    Database* db = inst->FindDatabase("a.edb");
    ASSERT_NE(db, nullptr);
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(db->Begin()->Get("t", absl::StrCat("k", i)).ok()) << i;
    }
    JB_ASSERT_OK(inst->Term(TermMode::kComplete));
    JB_ASSERT_OK(registry_.Remove("inst"));
  }

  TempDir dir_;
  InstanceRegistry registry_;
  uint32_t gen_ = 0;
};

TEST_F(CrashRecoveryTest, DamagedMiddleBlockRefusedWith501NamingIt) {
  CommitAndCrash(20);
  const std::string original = ReadAll(LogPath());
  std::vector<uint32_t> starts = GroupStarts(original, gen_);
  ASSERT_GE(starts.size(), 10u);
  auto chk = ReadCheckpoint(Env::Default(), dir_.path() + "/sys", "E00");
  ASSERT_TRUE(chk.ok()) << chk.status();
  ASSERT_LE(PositionOf(chk->redo_lsn).offset / format::kLogBlockSize,
            starts[1]);
  // Every position of a middle group, header and payload alike.
  for (uint32_t block : {starts[2], starts[5], starts[8]}) {
    for (size_t at : {size_t{3}, size_t{20}, size_t{200}, size_t{4000}}) {
      std::string damaged = original;
      damaged[size_t{block} * format::kLogBlockSize + at] ^= 0x5a;
      WriteAll(LogPath(), damaged);
      Instance* inst = *registry_.Create(Opts(dir_.path()));
      absl::Status s = inst->Init();
      EXPECT_EQ(JetErrOf(s), jet::JET_errLogFileCorrupt) << s;
      EXPECT_NE(s.message().find(absl::StrCat("block ", block, ":")),
                std::string::npos)
          << s;
      EXPECT_NE(s.message().find(absl::StrCat("generation ", gen_)),
                std::string::npos)
          << s;
      EXPECT_NE(s.message().find("E00.log"), std::string::npos) << s;
      // Every byte is kept for the operator.
      EXPECT_EQ(ReadAll(LogPath()), damaged) << "block " << block;
      JB_ASSERT_OK(registry_.Remove("inst"));
    }
  }
  WriteAll(LogPath(), original);
  RecoverAndCheck(20);
}

TEST_F(CrashRecoveryTest, ZeroedMiddleBlockRefused) {
  CommitAndCrash(12);
  const std::string original = ReadAll(LogPath());
  std::vector<uint32_t> starts = GroupStarts(original, gen_);
  ASSERT_GE(starts.size(), 6u);
  std::string damaged = original;
  // A whole group-start block lost (reads back as never written).
  std::fill_n(damaged.begin() + size_t{starts[3]} * format::kLogBlockSize,
              format::kLogBlockSize, '\0');
  WriteAll(LogPath(), damaged);
  Instance* inst = *registry_.Create(Opts(dir_.path()));
  absl::Status s = inst->Init();
  EXPECT_EQ(JetErrOf(s), jet::JET_errLogFileCorrupt) << s;
  EXPECT_NE(s.message().find(absl::StrCat("block ", starts[3], ":")),
            std::string::npos)
      << s;
  EXPECT_EQ(ReadAll(LogPath()), damaged);
  JB_ASSERT_OK(registry_.Remove("inst"));
  WriteAll(LogPath(), original);
  RecoverAndCheck(12);
}

TEST_F(CrashRecoveryTest, TornLastWriteDiscardedNothingAcknowledgedLost) {
  CommitAndCrash(10);
  const std::string original = ReadAll(LogPath());
  std::vector<uint32_t> starts = GroupStarts(original, gen_);
  ASSERT_GE(starts.size(), 2u);
  // The write after the last acknowledged group, torn: its first block
  // present and garbled, its second block valid-looking garbage.
  uint32_t end = 0;
  for (uint32_t b = starts.back(); b * format::kLogBlockSize < original.size();
       ++b) {
    auto block = absl::MakeConstSpan(original).subspan(
        size_t{b} * format::kLogBlockSize, format::kLogBlockSize);
    if (format::IsZero(block)) {
      end = b;
      break;
    }
  }
  ASSERT_GT(end, starts.back());
  std::string torn = original;
  for (size_t i = 0; i < 2 * format::kLogBlockSize; ++i) {
    torn[size_t{end} * format::kLogBlockSize + i] = static_cast<char>(i * 7);
  }
  WriteAll(LogPath(), torn);
  RecoverAndCheck(10);
  // The torn tail is cut, so the next crash recovers cleanly too.
  RecoverAndCheck(10);
}

TEST_F(CrashRecoveryTest, TornLastGroupWithLaterBlockOfItIntactIsDiscarded) {
  CommitAndCrash(6);
  const std::string original = ReadAll(LogPath());
  std::vector<uint32_t> starts = GroupStarts(original, gen_);
  ASSERT_GE(starts.size(), 2u);
  // Damage the start of the last group; the rest of that group follows
  // intact but no later group does: a torn last write, not corruption.
  std::string torn = original;
  torn[size_t{starts.back()} * format::kLogBlockSize + 100] ^= 1;
  WriteAll(LogPath(), torn);
  RecoverAndCheck(5);
}

TEST_F(CrashRecoveryTest, CopiedStateDirectoryUsesOnlyItsOwnFiles) {
  CommitAndCrash(5);
  TempDir copy;
  fs::copy(dir_.path(), copy.path(),
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string original_db = ReadAll(dir_.path() + "/data/a.edb");
  const auto original_mtime = fs::last_write_time(dir_.path() + "/data/a.edb");
  Instance* inst = *registry_.Create(Opts(copy.path()));
  JB_ASSERT_OK(inst->Init());
  Database* db = inst->FindDatabase("a.edb");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->path(), copy.path() + "/data/a.edb");
  auto txn = db->Begin();
  JB_ASSERT_OK(txn->Put("t", "copy-only", "x"));
  JB_ASSERT_OK(txn->Commit());
  JB_ASSERT_OK(inst->Term(TermMode::kComplete));
  EXPECT_EQ(ReadAll(dir_.path() + "/data/a.edb"), original_db);
  EXPECT_EQ(fs::last_write_time(dir_.path() + "/data/a.edb"), original_mtime);
}

TEST_F(CrashRecoveryTest, CheckpointNamingAPathOutsideDataDirIsRefused) {
  CommitAndCrash(2);
  // A checkpoint written before paths were recorded relative, copied from
  // another state directory: it names that directory's database.
  auto chk = ReadCheckpoint(Env::Default(), dir_.path() + "/sys", "E00");
  ASSERT_TRUE(chk.ok()) << chk.status();
  ASSERT_EQ(chk->databases.size(), 1u);
  EXPECT_EQ(chk->databases[0].path, "a.edb");  // recorded relative
  chk->databases[0].path = "/elsewhere/data/a.edb";
  JB_ASSERT_OK(
      WriteCheckpoint(Env::Default(), dir_.path() + "/sys", "E00", *chk));
  Instance* inst = *registry_.Create(Opts(dir_.path()));
  absl::Status s = inst->Init();
  EXPECT_EQ(JetErrOf(s), jet::JET_errInvalidPath) << s;
  EXPECT_NE(s.message().find("/elsewhere/data/a.edb"), std::string::npos) << s;
  // An absolute path inside data_dir (older checkpoints) is honoured.
  chk->databases[0].path = dir_.path() + "/data/a.edb";
  JB_ASSERT_OK(
      WriteCheckpoint(Env::Default(), dir_.path() + "/sys", "E00", *chk));
  JB_ASSERT_OK(inst->Init());
  EXPECT_NE(inst->FindDatabase("a.edb"), nullptr);
  JB_EXPECT_ERR(inst->CreateDatabase(dir_.path() + "/outside.edb").status(),
                jet::JET_errInvalidPath);
  JB_ASSERT_OK(inst->Term(TermMode::kComplete));
}

TEST_F(CrashRecoveryTest, SecondOwnerOfTheFilesIsRefusedNamingTheHolder) {
  Instance* first = *registry_.Create(Opts(dir_.path()));
  JB_ASSERT_OK(first->Init());
  ASSERT_TRUE(first->CreateDatabase(dir_.path() + "/data/a.edb").ok());
  InstanceOptions o = Opts(dir_.path());
  o.name = "second";
  Instance* second = *registry_.Create(o);
  absl::Status s = second->Init();
  EXPECT_EQ(JetErrOf(s), jet::JET_errFileAccessDenied) << s;
  EXPECT_NE(s.message().find(absl::StrCat("pid ", getpid())), std::string::npos)
      << s;
  EXPECT_NE(s.message().find("instance inst"), std::string::npos) << s;
  // The database file itself is locked too, from any other instance.
  InstanceOptions other = testing_util::Options(dir_.path() + "/other");
  other.name = "other";
  Instance* third = *registry_.Create(other);
  JB_ASSERT_OK(third->Init());
  JB_EXPECT_ERR(third->AttachDatabase(dir_.path() + "/data/a.edb").status(),
                jet::JET_errFileAccessDenied);
  // Released with the instance.
  JB_ASSERT_OK(first->Term(TermMode::kComplete));
  JB_ASSERT_OK(second->Init());
  JB_ASSERT_OK(second->Term(TermMode::kComplete));
  JB_ASSERT_OK(third->Term(TermMode::kComplete));
}

}  // namespace
}  // namespace jetback
