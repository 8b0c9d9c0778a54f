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

  // The last timed row committed in generation g or before (-1: none).
  int LastRowThrough(uint32_t g) const {
    int last = -1;
    for (int i = 0; i < static_cast<int>(gens_.size()); ++i) {
      if (gens_[i] <= g) last = i;
    }
    return last;
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
  const int last = LastRowThrough(g);
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

// An instance started on a restored target the way jetbackd lays one out
// by default (daemon/config.cc): data_dir = TARGET, log_dir = TARGET/logs,
// system_dir = TARGET/system. Before Restore emptied TARGET/logs, the
// replayed copies left there made Init refuse with -542 (archived
// generations and no checkpoint), after a full restore as after a point in
// time; had it started, generations past the point would have sat in its
// log directory.
class RestoredTargetTest : public PointInTimeTest {
 protected:
  InstanceOptions TargetOptions(const std::string& target) const {
    InstanceOptions o;
    o.name = "restored";
    o.data_dir = target;
    o.log_dir = JoinPath(target, "logs");
    o.system_dir = JoinPath(target, "system");
    o.page_size = page_size_;
    o.log_file_size = log_file_size_;
    o.cache_pages = 256;
    o.flush_interval = absl::Milliseconds(20);
    return o;
  }

  // Keys of table "t" in `db`, as a map.
  std::map<std::string, std::string> Keys(Database* db) {
    auto rows = ScanTable(db, "t");
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok()) return {};
    return std::map<std::string, std::string>(rows->begin(), rows->end());
  }

  // The base rows, p0..p(last) of n, and `extra` new rows "n0".."n(extra-1)".
  void ExpectExactly(const std::map<std::string, std::string>& got, int last,
                     int n, int extra, const std::string& where) {
    for (int i = 0; i < kBaseRows; ++i) {
      EXPECT_EQ(got.count(absl::StrFormat("k%08d", i)), 1u) << where << i;
    }
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(got.count(RowKey(i)), i <= last ? 1u : 0u)
          << where << ": " << RowKey(i);
    }
    for (int i = 0; i < extra; ++i) {
      auto it = got.find(absl::StrCat("n", i));
      ASSERT_NE(it, got.end()) << where << ": new row n" << i << " missing";
      EXPECT_EQ(it->second, absl::StrCat("new", i));
    }
    EXPECT_EQ(got.size(), static_cast<size_t>(kBaseRows + last + 1 + extra))
        << where;
  }

  // Starts an instance on the restored target, attaches the database,
  // checks the rows, commits new ones, crashes it (no flush, no
  // checkpoint, nothing marked clean), recovers and checks again; then a
  // backup of it restores to the same rows.
  void StartOnTarget(const RestoreResult& restored, const std::string& target,
                     int last, int n) {
    EXPECT_TRUE(ListDir(JoinPath(target, "logs")).empty())
        << "the replayed generations were left in the target's log dir";
    EXPECT_EQ(restored.logs_removed, gen_high_ - full_.logs.gen_low + 1);
    auto created = registry_->Create(TargetOptions(target));
    ASSERT_TRUE(created.ok()) << created.status();
    Instance* inst = *created;
    ASSERT_OK(inst->Init());
    EXPECT_EQ(inst->CurrentGeneration(), 1u);  // a log of its own
    auto db = inst->AttachDatabase(restored.databases[0].path);
    ASSERT_TRUE(db.ok()) << db.status();
    ExpectExactly(Keys(*db), last, n, 0, "attached");
    constexpr int kNew = 5;
    for (int i = 0; i < kNew; ++i) {
      std::unique_ptr<Transaction> txn = (*db)->Begin();
      ASSERT_OK(txn->Put("t", absl::StrCat("n", i), absl::StrCat("new", i)));
      ASSERT_OK(txn->Commit());
    }
    inst->TermDirty();
    ASSERT_OK(registry_->Remove("restored"));

    created = registry_->Create(TargetOptions(target));
    ASSERT_TRUE(created.ok()) << created.status();
    inst = *created;
    ASSERT_OK(inst->Init());  // crash recovery: its own log only
    Database* again = inst->FindDatabase(restored.databases[0].path);
    ASSERT_NE(again, nullptr) << "the checkpoint did not re-attach it";
    ExpectExactly(Keys(again), last, n, kNew, "after crash recovery");

    // A backup of it holds its own generations and restores the same rows.
    const std::string set = target + "-set";
    auto backup = StreamBackupSet(inst->backup(), set);
    ASSERT_TRUE(backup.ok()) << backup.status();
    EXPECT_EQ(backup->logs.gen_low, 1u);
    RestoreOptions o;
    o.backup_dir = set;
    o.target_dir = target + "-again";
    o.gen_low = backup->logs.gen_low;
    o.gen_high = backup->logs.gen_high;
    auto second = Restore(o);
    ASSERT_TRUE(second.ok()) << second.status();
    ASSERT_OK(registry_->Remove("restored"));
    auto check = registry_->Create(TargetOptions(o.target_dir));
    ASSERT_TRUE(check.ok()) << check.status();
    ASSERT_OK((*check)->Init());
    auto db2 = (*check)->AttachDatabase(second->databases[0].path);
    ASSERT_TRUE(db2.ok()) << db2.status();
    ExpectExactly(Keys(*db2), last, n, kNew, "restored backup of it");
    ASSERT_OK(registry_->Remove("restored"));
  }
};

TEST_F(RestoredTargetTest, PointInTimeTargetStartsWithNothingPastThePoint) {
  CommitTimedRows(kTimedRows);
  Incremental();
  const int cut = 5;
  ASSERT_LT(gens_[cut], gens_.back());  // later rows in later generations
  RestoreOptions o = Opts("target");
  o.until_time = after_[cut];
  auto restored = Restore(o);
  ASSERT_TRUE(restored.ok()) << restored.status();
  const RestorePoint& p = restored->point;
  ASSERT_TRUE(p.reached);
  EXPECT_EQ(p.generation, gens_[cut]);
  EXPECT_EQ(p.dropped_gen_low, gens_[cut] + 1);
  EXPECT_EQ(p.dropped_gen_high, gen_high_);
  StartOnTarget(*restored, o.target_dir, cut, kTimedRows);
}

TEST_F(RestoredTargetTest, UntilGenerationDropsTheGenerationsAfterIt) {
  CommitTimedRows(kTimedRows);
  Incremental();
  const uint32_t g = gens_[kTimedRows / 2];
  const int last = LastRowThrough(g);
  RestoreOptions o = Opts("target");
  o.until_generation = g;
  auto restored = Restore(o);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->point.dropped_gen_low, g + 1);
  EXPECT_EQ(restored->point.dropped_gen_high, gen_high_);
  StartOnTarget(*restored, o.target_dir, last, kTimedRows);
}

TEST_F(RestoredTargetTest, FullRestoreTargetStarts) {
  CommitTimedRows(kTimedRows);
  Incremental();
  RestoreOptions o = Opts("target");
  auto restored = Restore(o);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_FALSE(restored->point.reached);
  EXPECT_EQ(restored->point.dropped_gen_low, 0u);
  EXPECT_EQ(restored->point.dropped_gen_high, 0u);
  StartOnTarget(*restored, o.target_dir, kTimedRows - 1, kTimedRows);
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
