// Backup engine properties beyond the section 7 table: consistency of a hot
// backup under concurrent writers, stop during a long read, lease, backup
// id binding, resumable reads and per-database page errors.

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/backup_stream.h"
#include "engine/backup_test_util.h"
#include "engine/format.h"
#include "gtest/gtest.h"
#include "jetback/mutex.h"
#include "jetback/restore.h"

namespace jetback::testing {
namespace {

absl::Status PutBatch(Database* db, int from, int count, size_t value_size) {
  std::unique_ptr<Transaction> txn = db->Begin();
  for (int i = from; i < from + count; ++i) {
    JB_RETURN_IF_ERROR(txn->Put("t", absl::StrFormat("p%08d", i),
                                std::string(value_size, 'p')));
  }
  return txn->Commit();
}

// ---- Central property: a hot backup restores to exactly its end point ----

class HotBackupTest : public BackupFixture,
                      public ::testing::WithParamInterface<uint32_t> {
 protected:
  void SetUp() override {
    page_size_ = GetParam();
    // Room for a few dozen page images per generation, so the preload does
    // not roll (and fsync) a new log file every commit.
    log_file_size_ = 64 * uint64_t{page_size_};
    BackupFixture::SetUp();
  }
  // A failed assertion must not leave writers running into the teardown.
  void TearDown() override {
    StopWriters();
    BackupFixture::TearDown();
  }

  struct Commit {
    std::string key;  // two rows: key + "a" and key + "b"
    uint32_t generation;
  };

  void StartWriters(int n) {
    for (int t = 0; t < n; ++t) {
      writers_.emplace_back([this, t] {
        for (int seq = 0; !stop_writers_.load(); ++seq) {
          std::unique_ptr<Transaction> txn = db_->Begin();
          const std::string key = absl::StrFormat("w%d-%08d", t, seq);
          const std::string value(300, static_cast<char>('a' + seq % 26));
          if (!txn->Put("t", key + "a", value).ok() ||
              !txn->Put("t", key + "b", value).ok() || !txn->Commit().ok()) {
            write_errors_.fetch_add(1);
            continue;
          }
          MutexLock lock(&mu_);
          commits_.push_back({key, txn->commit_generation()});
        }
      });
    }
  }
  size_t CommitCount() {
    MutexLock lock(&mu_);
    return commits_.size();
  }
  void StopWriters() {
    stop_writers_.store(true);
    for (auto& w : writers_) w.join();
    writers_.clear();
  }

  // Blocks until `pred(commits_)` holds, re-checked on every commit.
  template <typename Pred>
  bool AwaitCommits(Pred pred) {
    MutexLock lock(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return pred(commits_);
    };
    return mu_.AwaitWithTimeout(Condition(&cond), absl::Seconds(60));
  }

  // Restores `set_dir` and checks the database holds the preloaded rows and
  // exactly the writer transactions committed in generations <= gen_high.
  void RestoreAndCheck(const std::string& set_dir, uint32_t gen_low,
                       uint32_t gen_high, int preload) {
    RestoreOptions ro;
    ro.backup_dir = set_dir;
    ro.target_dir = set_dir + "-restored";
    ro.gen_low = gen_low;
    ro.gen_high = gen_high;
    auto restored = Restore(ro);
    ASSERT_TRUE(restored.ok()) << restored.status();
    ASSERT_EQ(restored->databases.size(), 1u);

    static int checks = 0;
    Instance* check =
        StartInstance(Options(absl::StrCat("check", ++checks)), "");
    ASSERT_NE(check, nullptr);
    auto db = check->AttachDatabase(restored->databases[0].path);
    ASSERT_TRUE(db.ok()) << db.status();
    auto rows = ScanTable(*db, "t");
    ASSERT_TRUE(rows.ok()) << rows.status();
    std::set<std::string> present;
    for (const auto& [k, v] : *rows) present.insert(k);

    std::set<std::string> expected;
    for (int i = 0; i < 20; ++i) expected.insert(absl::StrFormat("k%08d", i));
    for (int i = 0; i < preload; ++i)
      expected.insert(absl::StrFormat("p%08d", i));
    MutexLock lock(&mu_);
    int included = 0;
    for (const Commit& c : commits_) {
      if (c.generation <= gen_high) {
        expected.insert(c.key + "a");
        expected.insert(c.key + "b");
        ++included;
      }
    }
    EXPECT_GT(included, 0) << "no writer commit fell inside the backup";
    EXPECT_LT(included, static_cast<int>(commits_.size()))
        << "every commit fell inside the backup; the race was not exercised";
    std::vector<std::string> missing, extra;
    std::set_difference(expected.begin(), expected.end(), present.begin(),
                        present.end(), std::back_inserter(missing));
    std::set_difference(present.begin(), present.end(), expected.begin(),
                        expected.end(), std::back_inserter(extra));
    EXPECT_TRUE(missing.empty())
        << missing.size() << " lost, e.g. " << missing[0];
    EXPECT_TRUE(extra.empty()) << extra.size() << " extra, e.g. " << extra[0];
  }

  std::vector<std::thread> writers_;
  std::atomic<bool> stop_writers_{false};
  std::atomic<int> write_errors_{0};
  Mutex mu_;
  std::vector<Commit> commits_ ABSL_GUARDED_BY(mu_);
};

TEST_P(HotBackupTest, RestoreHoldsExactlyCommitsUpToEndGeneration) {
  // A database larger than the buffer cache (256 pages).
  const size_t value_size = 1000;
  const int preload = static_cast<int>(300 * page_size_ / value_size);
  for (int i = 0; i < preload; i += 100) {
    ASSERT_OK(PutBatch(db_, i, std::min(100, preload - i), value_size));
  }
  ASSERT_GT(db_->HeaderInfo().pgno_last, 256u);

  StartWriters(2);
  // Full backup, taken while the writers commit: some commits land after
  // Begin, before the database is read.
  StreamOptions full_opts;
  full_opts.after_begin = [&] {
    const size_t at_begin = CommitCount();
    EXPECT_TRUE(AwaitCommits([&](const std::vector<Commit>& c) {
      return c.size() >= at_begin + 20;
    }));
  };
  auto full = StreamBackupSet(backup(), JoinPath(dir_, "full"), full_opts);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE(full->end.succeeded);
  // Let more commits land, then an incremental on top of the full.
  const size_t seen = CommitCount();
  ASSERT_TRUE(AwaitCommits(
      [&](const std::vector<Commit>& c) { return c.size() >= seen + 20; }));
  StreamOptions inc_opts;
  inc_opts.incremental = true;
  auto inc = StreamBackupSet(backup(), JoinPath(dir_, "inc"), inc_opts);
  ASSERT_TRUE(inc.ok()) << inc.status();
  ASSERT_TRUE(inc->end.succeeded);
  // Keep writing past the incremental's end, then stop.
  const uint32_t inc_high = inc->logs.gen_high;
  ASSERT_TRUE(AwaitCommits([&](const std::vector<Commit>& c) {
    return !c.empty() && c.back().generation > inc_high;
  }));
  StopWriters();
  EXPECT_EQ(write_errors_.load(), 0);

  RestoreAndCheck(JoinPath(dir_, "full"), full->logs.gen_low,
                  full->logs.gen_high, preload);
  // Chain: the full set plus the incremental's logs in one directory.
  const std::string chain = JoinPath(dir_, "chain");
  std::filesystem::create_directories(chain);
  for (const auto& name : ListDir(JoinPath(dir_, "full"))) {
    CopyFile(JoinPath(JoinPath(dir_, "full"), name), JoinPath(chain, name));
  }
  for (const auto& name : ListDir(JoinPath(dir_, "inc"))) {
    CopyFile(JoinPath(JoinPath(dir_, "inc"), name), JoinPath(chain, name));
  }
  RestoreAndCheck(chain, full->logs.gen_low, inc->logs.gen_high, preload);
}

INSTANTIATE_TEST_SUITE_P(PageSizes, HotBackupTest,
                         ::testing::Values(4096u, 32768u));

// ---- Stop from another thread during a long read --------------------------

// Blocks the first read of the armed path until released, and counts the
// bytes read from it afterwards.
class GateEnv : public EnvWrapper {
 public:
  explicit GateEnv(Env* target) : EnvWrapper(target) {}

  void Arm(const std::string& path) {
    MutexLock lock(&mu_);
    armed_path_ = path;
    armed_ = true;
  }
  bool WaitEntered(absl::Duration timeout) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(Condition(&entered_), timeout);
  }
  void Release() {
    MutexLock lock(&mu_);
    released_ = true;
  }
  uint64_t bytes_after_release() {
    MutexLock lock(&mu_);
    return bytes_after_release_;
  }

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 OpenMode mode) override;

  void OnRead(const std::string& path, size_t n) {
    MutexLock lock(&mu_);
    if (!armed_ || path != armed_path_) return;
    if (!entered_) {
      entered_ = true;
      mu_.Await(Condition(&released_));
    }
    bytes_after_release_ += n;
  }

 private:
  Mutex mu_;
  std::string armed_path_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  bool entered_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t bytes_after_release_ ABSL_GUARDED_BY(mu_) = 0;
};

class GateFile : public File {
 public:
  GateFile(GateEnv* env, std::string path, std::unique_ptr<File> file)
      : env_(env), path_(std::move(path)), file_(std::move(file)) {}
  absl::Status Read(uint64_t offset, size_t n, char* scratch,
                    size_t* read) override {
    env_->OnRead(path_, n);
    return file_->Read(offset, n, scratch, read);
  }
  absl::Status Write(uint64_t offset, absl::string_view data) override {
    return file_->Write(offset, data);
  }
  absl::Status Sync() override { return file_->Sync(); }
  absl::Status Truncate(uint64_t size) override {
    return file_->Truncate(size);
  }
  absl::StatusOr<uint64_t> Size() override { return file_->Size(); }

 private:
  GateEnv* env_;
  std::string path_;
  std::unique_ptr<File> file_;
};

absl::StatusOr<std::unique_ptr<File>> GateEnv::OpenFile(const std::string& path,
                                                        OpenMode mode) {
  JB_ASSIGN_OR_RETURN(std::unique_ptr<File> f, target()->OpenFile(path, mode));
  return std::unique_ptr<File>(new GateFile(this, path, std::move(f)));
}

using BackupEngineTest = BackupFixture;

// The gated Env outlives the instances (they are terminated in TearDown).
class GatedBackupTest : public BackupFixture {
 protected:
  GateEnv env_{Env::Default()};
};

TEST_F(GatedBackupTest, StopDuringLongReadEndsWithinOneChunk) {
  GateEnv& env = env_;
  InstanceOptions o = Options("gated");
  o.env = &env;
  Instance* inst = StartInstance(o);
  ASSERT_NE(inst, nullptr);
  Database* db = inst->Databases()[0];
  for (int i = 0; i < 1000; i += 100) ASSERT_OK(PutBatch(db, i, 100, 1000));
  BackupEngine& b = inst->backup();
  auto begun = b.Begin(0, {});
  ASSERT_OK(begun);
  auto opened = b.OpenFile("", db->path(), 0);
  ASSERT_OK(opened);
  ASSERT_GT(opened->size, 3 * backup_internal::kReadChunkBytes);

  env.Arm(db->path());
  std::string buf(opened->size, '\0');
  absl::StatusOr<size_t> result;
  std::thread reader([&] { result = b.ReadAt("", 0, 0, absl::MakeSpan(buf)); });
  const bool entered = env.WaitEntered(absl::Seconds(30));
  // The read is blocked inside the file: Stop must not wait for it.
  EXPECT_EQ(b.Stop("operator request", "uid:42"), begun->backup_id);
  env.Release();
  reader.join();
  ASSERT_TRUE(entered);
  EXPECT_JET(result, jet::JET_errBackupAbortByServer);
  EXPECT_EQ(JetReasonOf(result.status()), "operator request");
  EXPECT_EQ(JetInitiatorOf(result.status()), "uid:42");
  EXPECT_LE(env.bytes_after_release(), backup_internal::kReadChunkBytes);

  ASSERT_OK(b.CloseFile("", 0));
  auto end = b.End("", JET_bitBackupEndNormal);
  ASSERT_OK(end);
  EXPECT_FALSE(end->succeeded);
  EXPECT_EQ(end->abort_jet_err, jet::JET_errBackupAbortByServer);
  EXPECT_EQ(end->reason, "operator request");
  EXPECT_EQ(end->initiator, "uid:42");
  auto next = StreamBackupSet(b, JoinPath(dir_, "next"));
  ASSERT_OK(next);
  EXPECT_TRUE(next->end.succeeded);
}

TEST_F(BackupEngineTest, LeaseExpiryEndsBackupAsAborted) {
  backup().SetLease(absl::Seconds(5));
  auto begun = backup().Begin(0, {});
  ASSERT_OK(begun);
  EXPECT_FALSE(backup().ExpireIfIdle(absl::Now()));
  ASSERT_OK(backup().GetAttachInfo(begun->backup_id));  // renews
  EXPECT_TRUE(backup().ExpireIfIdle(absl::Now() + absl::Seconds(6)));
  EXPECT_FALSE(backup().InProgress());
  EXPECT_JET(backup().GetAttachInfo(begun->backup_id), jet::JET_errNoBackup);
  EXPECT_JET(backup().End(begun->backup_id, JET_bitBackupEndNormal),
             jet::JET_errNoBackup);
  ASSERT_OK(backup().Begin(0, {}));
}

TEST_F(BackupEngineTest, CallsAreBoundToTheBackupId) {
  auto begun = backup().Begin(0, {"uid:7", "agent"});
  ASSERT_OK(begun);
  EXPECT_FALSE(begun->backup_id.empty());
  EXPECT_JET(backup().GetAttachInfo("someone-else"), jet::JET_errNoBackup);
  EXPECT_JET(backup().End("someone-else", JET_bitBackupEndAbort),
             jet::JET_errNoBackup);
  EXPECT_TRUE(backup().InProgress());
  BackupProgress p = backup().Progress();
  EXPECT_EQ(p.backup_id, begun->backup_id);
  EXPECT_EQ(p.phase, BackupPhase::kDatabases);
  EXPECT_EQ(p.initiator, "uid:7");
  auto end = backup().End(begun->backup_id, JET_bitBackupEndAbort);
  ASSERT_OK(end);
  EXPECT_EQ(end->abort_jet_err, jet::JET_errBackupAbortByCaller);
}

TEST_F(BackupEngineTest, ReadAtIsResumableAndIdempotent) {
  ASSERT_OK(backup().Begin(0, {}));
  auto opened = backup().OpenFile("", DbPath(), 0);
  ASSERT_OK(opened);
  auto first = ReadWhole(backup(), "", opened->size, page_size_);
  ASSERT_OK(first);
  ASSERT_OK(PutRows(db_, "t", 100, 5));
  ASSERT_OK(instance_->RollLog());
  auto second = ReadWhole(backup(), "", opened->size, 4 * page_size_);
  ASSERT_OK(second);
  EXPECT_EQ(first->substr(first->size() - page_size_),
            second->substr(second->size() - page_size_));  // cached trailer
  ASSERT_OK(backup().CloseFile("", 0));
  // Resume at page 3 of a new open: the tail only.
  auto resumed = backup().OpenFile("", DbPath(), 3 * page_size_);
  ASSERT_OK(resumed);
  std::string buf(opened->size, '\0');
  auto n = backup().ReadAt("", 0, 3 * page_size_, absl::MakeSpan(buf));
  ASSERT_OK(n);
  EXPECT_EQ(*n, opened->size - 3 * page_size_);
  ASSERT_OK(backup().CloseFile("", 0));
}

TEST_F(BackupEngineTest, CorruptPageAffectsOnlyThatDatabase) {
  auto second = instance_->CreateDatabase(JoinPath(dir_, "main/db/db2.edb"));
  ASSERT_OK(second);
  ASSERT_OK((*second)->CreateTable("t"));
  ASSERT_OK(PutRows(*second, "t", 0, 50));
  ASSERT_OK(PutRows(db_, "t", 100, 50));
  const std::string bad = DbPath();
  const std::string good = (*second)->path();
  const uint32_t pgno_last = db_->HeaderInfo().pgno_last;
  ASSERT_OK(instance_->Term(TermMode::kComplete));
  ASSERT_OK(registry_->Remove("main"));
  CorruptFile(bad, format::PageOffset(pgno_last, page_size_) + 64, 4);
  instance_ = StartInstance(Options("main"));
  ASSERT_NE(instance_, nullptr);

  auto begun = backup().Begin(0, {});
  ASSERT_OK(begun);
  auto o1 = backup().OpenFile("", bad, 0);
  ASSERT_OK(o1);
  EXPECT_JET(ReadWhole(backup(), "", o1->size), jet::JET_errReadVerifyFailure);
  auto o2 = backup().OpenFile("", good, 0);
  ASSERT_OK(o2);
  auto data = ReadWhole(backup(), "", o2->size);
  ASSERT_OK(data);
  ASSERT_OK(backup().CloseFile("", 0));
  auto logs = backup().GetLogInfo("");
  ASSERT_OK(logs);
  for (const auto& log : logs->files) {
    auto o = backup().OpenFile("", log, 0);
    ASSERT_OK(o);
    ASSERT_OK(ReadWhole(backup(), "", o->size));
    ASSERT_OK(backup().CloseFile("", 0));
  }
  auto end = backup().End("", JET_bitBackupEndNormal);
  ASSERT_OK(end);
  EXPECT_TRUE(end->succeeded);
  EXPECT_EQ(instance_->FindDatabase(good)->HeaderInfo().copy_prev.gen_high,
            logs->gen_high);
  EXPECT_TRUE(instance_->FindDatabase(bad)->HeaderInfo().copy_prev.empty());
}

}  // namespace
}  // namespace jetback::testing
