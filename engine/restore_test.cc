// Restore and verify: scenarios S37-S41 of ese-semantics.md section 7 and
// a corruption table for VerifyBackupSet.

#include "jetback/restore.h"

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/backup_test_util.h"
#include "engine/format.h"
#include "gtest/gtest.h"

namespace jetback::testing {
namespace {

class RestoreScenario : public BackupFixture {
 protected:
  void SetUp() override {
    BackupFixture::SetUp();
    set_dir_ = JoinPath(dir_, "set");
    set_ = FullBackupToDir(set_dir_);
    ASSERT_TRUE(set_.end.succeeded);
    ASSERT_EQ(set_.databases.size(), 1u);
  }
  RestoreOptions Opts(const std::string& target = "") {
    RestoreOptions o;
    o.backup_dir = set_dir_;
    o.target_dir = target.empty() ? JoinPath(dir_, "target") : target;
    o.gen_low = set_.logs.gen_low;
    o.gen_high = set_.logs.gen_high;
    return o;
  }
  std::string LogPath(uint32_t gen) const {
    return JoinPath(set_dir_, format::ArchiveLogName("E00", gen));
  }
  std::string DbCopy() const { return JoinPath(set_dir_, set_.databases[0]); }

  std::string set_dir_;
  StreamedSet set_;
};

TEST_F(RestoreScenario, S37_RestoreFullSet) {
  auto restored = Restore(Opts());
  ASSERT_TRUE(restored.ok()) << restored.status();
  ASSERT_EQ(restored->databases.size(), 1u);
  // Clean on disk (attaching marks it in use, so look before).
  const std::string bytes = ReadFileBytes(restored->databases[0].path);
  ASSERT_GE(bytes.size(), page_size_);
  auto header =
      format::DecodeDbHeader(absl::MakeConstSpan(bytes.data(), page_size_));
  ASSERT_OK(header);
  EXPECT_TRUE(header->clean_shutdown);
  Instance* check = StartInstance(Options("check"), "");
  ASSERT_NE(check, nullptr);
  auto db = check->AttachDatabase(restored->databases[0].path);
  ASSERT_TRUE(db.ok()) << db.status();
  auto rows = ScanTable(*db, "t");
  ASSERT_OK(rows);
  EXPECT_EQ(rows->size(), 20u);
  // The backup directory is never modified.
  EXPECT_EQ(ReadFileBytes(DbCopy()).size(),
            (uint64_t{(*db)->HeaderInfo().pgno_last} + 3) * page_size_);
}

TEST_F(RestoreScenario, S38_LogChainChecks) {
  // Missing generation.
  const std::string saved = ReadFileBytes(LogPath(set_.logs.gen_high));
  std::filesystem::remove(LogPath(set_.logs.gen_high));
  EXPECT_JET(Restore(Opts(JoinPath(dir_, "t1"))), jet::JET_errFileNotFound);
  WriteFileBytes(LogPath(set_.logs.gen_high), saved);

  // Same-set log whose previous-generation time does not match.
  ASSERT_OK(instance_->RollLog());
  ASSERT_OK(PutRows(db_, "t", 100, 5));
  StreamedSet more = FullBackupToDir(JoinPath(dir_, "set2"));
  ASSERT_GT(more.logs.gen_high, set_.logs.gen_high);
  if (set_.logs.gen_high > set_.logs.gen_low) {
    std::string bytes = saved;
    auto header = format::DecodeLogHeader(
        absl::MakeConstSpan(bytes.data(), format::kLogBlockSize));
    ASSERT_OK(header);
    header->prev_create_time_us += 1;
    ASSERT_OK(format::EncodeLogHeader(
        *header, absl::MakeSpan(bytes.data(), format::kLogBlockSize)));
    WriteFileBytes(LogPath(set_.logs.gen_high), bytes);
    EXPECT_JET(Restore(Opts(JoinPath(dir_, "t2"))),
               jet::JET_errGivenLogFileIsNotContiguous);
    WriteFileBytes(LogPath(set_.logs.gen_high), saved);
  }

  // A log of another log set, same generation.
  Instance* other = StartInstance(Options("other"));
  ASSERT_NE(other, nullptr);
  for (uint32_t g = other->CurrentGeneration(); g <= set_.logs.gen_high; ++g) {
    ASSERT_OK(other->RollLog());
  }
  const std::string foreign =
      JoinPath(other->options().log_dir,
               format::ArchiveLogName("E00", set_.logs.gen_high));
  ASSERT_TRUE(std::filesystem::exists(foreign));
  CopyFile(foreign, LogPath(set_.logs.gen_high));
  RestoreOptions o = Opts(JoinPath(dir_, "t3"));
  if (o.gen_low == o.gen_high) {
    // One-log set: the signature shows up against the database instead.
    EXPECT_JET(Restore(o), jet::JET_errDatabasePatchFileMismatch);
  } else {
    EXPECT_JET(Restore(o), jet::JET_errGivenLogFileHasBadSignature);
  }
}

TEST_F(RestoreScenario, S39_DatabaseChecks) {
  // A plain copy of a cleanly shut-down database was never streamed.
  const std::string plain_dir = JoinPath(dir_, "plain");
  std::filesystem::create_directories(plain_dir);
  for (const auto& name : ListDir(set_dir_)) {
    if (name != set_.databases[0]) {
      CopyFile(JoinPath(set_dir_, name), JoinPath(plain_dir, name));
    }
  }
  const std::string live = DbPath();
  ASSERT_OK(instance_->Term(TermMode::kComplete));
  CopyFile(live, JoinPath(plain_dir, set_.databases[0]));
  RestoreOptions o = Opts(JoinPath(dir_, "t1"));
  o.backup_dir = plain_dir;
  EXPECT_JET(Restore(o), jet::JET_errRestoreOfNonBackupDatabase);

  // Last page altered.
  const std::string saved = ReadFileBytes(DbCopy());
  CorruptFile(DbCopy(), saved.size() - page_size_ + 200, 4);
  EXPECT_JET(Restore(Opts(JoinPath(dir_, "t2"))), jet::JET_errBadPatchPage);

  // The trailer of another backup of the same database.
  ASSERT_OK(registry_->Remove("main"));
  instance_ = StartInstance(Options("main"));
  ASSERT_NE(instance_, nullptr);
  StreamedSet other = FullBackupToDir(JoinPath(dir_, "set2"));
  const std::string other_copy =
      ReadFileBytes(JoinPath(dir_, "set2/" + other.databases[0]));
  std::string mixed = saved;
  mixed.replace(mixed.size() - page_size_, page_size_,
                other_copy.substr(other_copy.size() - page_size_));
  WriteFileBytes(DbCopy(), mixed);
  EXPECT_JET(Restore(Opts(JoinPath(dir_, "t3"))),
             jet::JET_errDatabasePatchFileMismatch);
}

TEST_F(RestoreScenario, S40_GenerationRangeChecks) {
  // A backup whose trailer needs logs beyond its first generation.
  StreamOptions so;
  so.after_begin = [this] {
    ASSERT_OK(PutRows(db_, "t", 100, 5));
    ASSERT_OK(instance_->RollLog());
  };
  const std::string dir = JoinPath(dir_, "set40");
  auto set = StreamBackupSet(backup(), dir, so);
  ASSERT_OK(set);
  RestoreOptions o;
  o.backup_dir = dir;
  o.target_dir = JoinPath(dir_, "t1");
  o.gen_low = set->logs.gen_low + 1;
  o.gen_high = set->logs.gen_high;
  EXPECT_JET(Restore(o), jet::JET_errStartingRestoreLogTooHigh);
  o.gen_low = set->logs.gen_low;
  o.gen_high = set->logs.gen_low;
  ASSERT_LT(o.gen_high, set->logs.gen_high);
  EXPECT_JET(Restore(o), jet::JET_errEndingRestoreLogTooLow);
}

// S41 adapted: our Restore's own parameter checks (see the scenario file).
TEST_F(RestoreScenario, S41_RestoreBadParameters) {
  RestoreOptions o = Opts();
  o.gen_low = 0;
  EXPECT_JET(Restore(o), jet::JET_errInvalidParameter);
  o = Opts();
  o.gen_high = o.gen_low - 1;
  EXPECT_JET(Restore(o), jet::JET_errInvalidParameter);
  o = Opts(set_dir_);  // non-empty target
  EXPECT_JET(Restore(o), jet::JET_errInvalidParameter);
}

// Database names come from a set's manifest: never outside the set or the
// target (found while writing fuzz/manifest_fuzzer; the CLI restore joined
// them to its staging and target directories).
TEST_F(RestoreScenario, DatabaseNamesOutsideTheSetAreRefused) {
  for (const std::string& name :
       {std::string("../escape.edb"), std::string("a/b.edb"), std::string(".."),
        std::string("x\0y", 3)}) {
    RestoreOptions o = Opts();
    o.databases = {name};
    EXPECT_JET(Restore(o), jet::JET_errInvalidPath);
    EXPECT_JET(VerifyBackupSet(o), jet::JET_errInvalidPath);
  }
}

TEST_F(RestoreScenario, VerifyCleanSetChangesNothing) {
  const std::string before = ReadFileBytes(DbCopy());
  auto v = VerifyBackupSet(Opts());
  ASSERT_OK(v);
  EXPECT_TRUE(v->ok());
  EXPECT_EQ(v->files.size(), set_.logs.files.size() + 1);
  EXPECT_EQ(ReadFileBytes(DbCopy()), before);
}

struct Damage {
  const char* name;
  bool database;   // damage the database copy, else the first log
  int64_t offset;  // negative: from the end
  JetErr expected;
};

TEST_F(RestoreScenario, VerifyFindsDamage) {
  const int64_t p = page_size_;
  const Damage table[] = {
      {"header copy", true, 100, jet::JET_errDatabaseCorrupted},
      {"shadow header", true, p + 100, jet::JET_errDatabaseCorrupted},
      {"data page", true, 2 * p + 100, jet::JET_errReadVerifyFailure},
      {"trailer", true, -p + 100, jet::JET_errBadPatchPage},
      {"log block", false, format::kLogBlockSize + 50,
       jet::JET_errLogReadVerifyFailure},
  };
  for (const Damage& d : table) {
    SCOPED_TRACE(d.name);
    const std::string path = d.database ? DbCopy() : LogPath(set_.logs.gen_low);
    const std::string saved = ReadFileBytes(path);
    const uint64_t offset = d.offset >= 0 ? d.offset : saved.size() + d.offset;
    CorruptFile(path, offset, 8);
    auto v = VerifyBackupSet(Opts());
    ASSERT_OK(v);
    EXPECT_FALSE(v->ok());
    bool found = false;
    for (const auto& f : v->files) {
      if (!f.status.ok()) {
        EXPECT_EQ(JetErrOf(f.status), d.expected) << f.name << ": " << f.status;
        found = true;
      }
    }
    EXPECT_TRUE(found);
    WriteFileBytes(path, saved);
  }
}

}  // namespace
}  // namespace jetback::testing
