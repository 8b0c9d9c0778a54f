// Point-in-time restore (RestoreOptions::until_time / until_generation):
// rows committed at known times after a full backup, then an incremental;
// a restore to a time between two commits holds exactly the rows committed
// before it. Sets written in log format 1 (no commit times) still restore.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/backup_test_util.h"
#include "engine/format.h"
#include "engine/log.h"
#include "gtest/gtest.h"
#include "jetback/restore.h"

namespace jetback::testing {
namespace {

constexpr int kBaseRows = 20;  // BackupFixture's k00000000..k00000019

std::string RowKey(int i) { return absl::StrFormat("p%04d", i); }

// Format version to write while a test runs; set before the fixture starts
// its instance so every generation uses it.
class PointInTimeTest : public BackupFixture {
 protected:
  explicit PointInTimeTest(uint32_t version = format::kLogFormatVersion)
      : version_(version) {}
  void SetUp() override {
    SetLogWriteVersionForTesting(version_);
    BackupFixture::SetUp();
    set_dir_ = JoinPath(dir_, "set");
    full_ = FullBackupToDir(set_dir_);
    ASSERT_TRUE(full_.end.succeeded);
  }
  void TearDown() override {
    BackupFixture::TearDown();
    SetLogWriteVersionForTesting(format::kLogFormatVersion);
  }

  // Commits rows p0..p(n-1), one transaction each, and records after each
  // commit returns a time at or after its commit time and strictly before
  // the next commit's (the clock is read past one microsecond first).
  void CommitTimedRows(int n) {
    for (int i = 0; i < n; ++i) {
      std::unique_ptr<Transaction> txn = db_->Begin();
      ASSERT_OK(txn->Put("t", RowKey(i), absl::StrCat("v", i)));
      ASSERT_OK(txn->Commit());
      gens_.push_back(txn->commit_generation());
      const absl::Time after = absl::Now();
      after_.push_back(after);
      const int64_t us = absl::ToUnixMicros(after);
      while (absl::ToUnixMicros(absl::Now()) <= us) {
      }
    }
  }

  // Streams an incremental set's logs into the set directory.
  void Incremental() {
    StreamOptions opts;
    opts.incremental = true;
    auto inc = StreamBackupSet(backup(), set_dir_, opts);
    ASSERT_TRUE(inc.ok()) << inc.status();
    gen_high_ = inc->logs.gen_high;
  }

  RestoreOptions Opts(const std::string& target) {
    RestoreOptions o;
    o.backup_dir = set_dir_;
    o.target_dir = JoinPath(dir_, target);
    o.gen_low = full_.logs.gen_low;
    o.gen_high = gen_high_;
    return o;
  }

  using RowList = std::vector<std::pair<std::string, std::string>>;

  // Rows of table "t" in the restored database, read by a fresh instance.
  RowList Rows(const RestoreResult& restored, const std::string& name) {
    Instance* check = StartInstance(Options(name), "");
    EXPECT_NE(check, nullptr);
    if (check == nullptr) return {};
    auto db = check->AttachDatabase(restored.databases[0].path);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return {};
    auto rows = ScanTable(*db, "t");
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *rows : RowList{};
  }

  // Row by row: the base rows, then p0..p(last) and none after.
  void ExpectRowsThrough(const RestoreResult& restored, int last, int n,
                         const std::string& name) {
    auto rows = Rows(restored, name);
    std::map<std::string, std::string> got(rows.begin(), rows.end());
    for (int i = 0; i < kBaseRows; ++i) {
      EXPECT_EQ(got.count(absl::StrFormat("k%08d", i)), 1u) << name << " " << i;
    }
    for (int i = 0; i < n; ++i) {
      auto it = got.find(RowKey(i));
      if (i <= last) {
        ASSERT_NE(it, got.end()) << name << ": " << RowKey(i) << " missing";
        EXPECT_EQ(it->second, absl::StrCat("v", i));
      } else {
        EXPECT_EQ(it, got.end())
            << name << ": " << RowKey(i) << " was committed after the point";
      }
    }
    EXPECT_EQ(got.size(), static_cast<size_t>(kBaseRows + last + 1)) << name;
  }

  uint32_t version_;
  std::string set_dir_;
  StreamedSet full_;
  uint32_t gen_high_ = 0;
  std::vector<absl::Time> after_;  // after_[i]: just after p_i committed
  std::vector<uint32_t> gens_;     // generation of p_i's commit record
};

constexpr int kTimedRows = 12;

TEST_F(PointInTimeTest, UntilTimeBetweenTwoCommitsKeepsExactlyTheEarlierRows) {
  CommitTimedRows(kTimedRows);
  Incremental();
  ASSERT_GT(gens_.back(), gens_.front());  // the rows span generations
  for (int cut : {0, 5, kTimedRows - 2}) {
    RestoreOptions o = Opts(absl::StrCat("until-", cut));
    o.until_time = after_[cut];
    auto restored = Restore(o);
    ASSERT_TRUE(restored.ok()) << restored.status();
    const RestorePoint& p = restored->point;
    EXPECT_TRUE(p.reached);
    EXPECT_EQ(p.generation, gens_[cut]);
    EXPECT_LE(p.last_commit_time, after_[cut]);
    if (cut > 0) EXPECT_GT(p.last_commit_time, after_[cut - 1]);
    EXPECT_EQ(p.transactions_skipped, uint64_t{kTimedRows - 1 - cut});
    ExpectRowsThrough(*restored, cut, kTimedRows, absl::StrCat("c", cut));
  }
}

TEST_F(PointInTimeTest, UntilAfterTheBackupBeforeTheFirstRowGivesTheBackup) {
  const absl::Time before_rows = absl::Now();
  CommitTimedRows(3);
  Incremental();
  RestoreOptions o = Opts("target");
  o.until_time = before_rows;
  auto restored = Restore(o);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE(restored->point.reached);
  EXPECT_EQ(restored->point.transactions_skipped, 3u);
  EXPECT_LE(restored->point.last_commit_time, before_rows);
  ExpectRowsThrough(*restored, -1, 3, "check");
}

TEST_F(PointInTimeTest, UntilBeyondTheEndRestoresEverythingAndSaysSo) {
  CommitTimedRows(4);
  Incremental();
  RestoreOptions o = Opts("target");
  o.until_time = absl::Now() + absl::Hours(1);
  auto restored = Restore(o);
  ASSERT_TRUE(restored.ok()) << restored.status();
  const RestorePoint& p = restored->point;
  EXPECT_FALSE(p.reached);
  EXPECT_EQ(p.transactions_skipped, 0u);
  EXPECT_EQ(p.generation, gens_.back());
  EXPECT_LE(p.last_commit_time, after_.back());
  EXPECT_GT(p.last_commit_time, after_[2]);
  ExpectRowsThrough(*restored, 3, 4, "check");
}

TEST_F(PointInTimeTest, UntilBeforeWhatTheDatabaseCopyNeedsIsRefused) {
  CommitTimedRows(2);
  Incremental();
  // The base rows were committed before the full backup's copy ended.
  RestoreOptions o = Opts("t1");
  o.until_time = absl::FromUnixSeconds(1000000000);  // 2001
  EXPECT_JET(Restore(o), jet::JET_errEndingRestoreLogTooLow);
  // By generation: the copy's trailer names the last one it needs.
  const std::string copy =
      ReadFileBytes(JoinPath(set_dir_, full_.databases[0]));
  auto trailer = format::DecodeTrailer(
      absl::MakeConstSpan(copy.data() + copy.size() - page_size_, page_size_));
  ASSERT_TRUE(trailer.ok()) << trailer.status();
  const uint32_t required = trailer->backup.gen_high;
  ASSERT_GE(required, 2u);
  RestoreOptions g = Opts("t2");
  g.until_generation = required - 1;
  EXPECT_JET(Restore(g), jet::JET_errEndingRestoreLogTooLow);
  g = Opts("t4");
  g.until_generation = required;
  auto at_required = Restore(g);
  ASSERT_TRUE(at_required.ok()) << at_required.status();
  ExpectRowsThrough(*at_required, -1, 2, "check");
  RestoreOptions both = Opts("t3");
  both.until_time = absl::Now();
  both.until_generation = gen_high_;
  EXPECT_JET(Restore(both), jet::JET_errInvalidParameter);
}

TEST_F(PointInTimeTest, UntilGenerationReplaysWholeGenerations) {
  CommitTimedRows(kTimedRows);
  Incremental();
  // The generation of a middle row: every row committed in it or before.
  const uint32_t g = gens_[kTimedRows / 2];
  int last = -1;
  for (int i = 0; i < kTimedRows; ++i) {
    if (gens_[i] <= g) last = i;
  }
  ASSERT_LT(last, kTimedRows - 1);  // some rows lie in later generations
  RestoreOptions o = Opts("target");
  o.until_generation = g;
  auto restored = Restore(o);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE(restored->point.reached);
  EXPECT_EQ(restored->point.generation, g);
  EXPECT_EQ(restored->point.transactions_skipped,
            uint64_t{kTimedRows - 1 - last});
  ExpectRowsThrough(*restored, last, kTimedRows, "check");
}

// A set made by builds before log format 2: headers say version 1 and
// commit records carry no time.
class OldFormatTest : public PointInTimeTest {
 protected:
  OldFormatTest() : PointInTimeTest(format::kLogFormatVersionNoCommitTime) {}
};

TEST_F(OldFormatTest, OldFormatSetStillRestores) {
  CommitTimedRows(6);
  Incremental();
  for (uint32_t gen = full_.logs.gen_low; gen <= gen_high_; ++gen) {
    auto h = ReadLogHeader(
        Env::Default(), JoinPath(set_dir_, format::ArchiveLogName("E00", gen)));
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->version, format::kLogFormatVersionNoCommitTime);
  }
  auto restored = Restore(Opts("all"));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->point.last_commit_time, absl::InfinitePast());
  ExpectRowsThrough(*restored, 5, 6, "check-all");

  // By generation works without commit times; by time it cannot.
  RestoreOptions g = Opts("gen");
  g.until_generation = gens_[2];
  int last = -1;
  for (int i = 0; i < 6; ++i) {
    if (gens_[i] <= gens_[2]) last = i;
  }
  auto by_gen = Restore(g);
  ASSERT_TRUE(by_gen.ok()) << by_gen.status();
  ExpectRowsThrough(*by_gen, last, 6, "check-gen");
  RestoreOptions t = Opts("time");
  t.until_time = after_[2];
  EXPECT_JET(Restore(t), jet::JET_errInvalidParameter);
}

// An instance upgraded in place: a format 1 E00.log goes on receiving
// (timed) commits from a format 2 build until it rolls.
TEST_F(OldFormatTest, UpgradeInPlaceMixesFormatsAndStillRestoresToATime) {
  // E00.log was started (by the full backup's roll) in format 1.
  const uint32_t old_gen = instance_->CurrentGeneration();
  SetLogWriteVersionForTesting(format::kLogFormatVersion);
  CommitTimedRows(kTimedRows);
  ASSERT_EQ(gens_[0], old_gen);  // timed commits in the format 1 file
  ASSERT_GT(gens_.back(), old_gen);
  Incremental();
  auto h =
      ReadLogHeader(Env::Default(),
                    JoinPath(set_dir_, format::ArchiveLogName("E00", old_gen)));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->version, format::kLogFormatVersionNoCommitTime);
  RestoreOptions o = Opts("target");
  o.until_time = after_[1];
  auto restored = Restore(o);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE(restored->point.reached);
  EXPECT_EQ(restored->point.generation, gens_[1]);
  ExpectRowsThrough(*restored, 1, kTimedRows, "check");
}

}  // namespace
}  // namespace jetback::testing
