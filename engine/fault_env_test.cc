// Faults through FaultEnv: full disk, write/sync/read errors, the Nth I/O
// failing, and a power cut that drops unsynced writes. Committed data must
// survive every one of them, with the right JET_ERR on the failing call.

#include "engine/fault_env.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "engine/test_util.h"
#include "gtest/gtest.h"
#include "jetback/instance.h"

namespace jetback {
namespace {

using testing_util::Options;
using testing_util::TempDir;

class FaultEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InstanceOptions o = Options(dir_.path());
    o.env = &env_;
    o.log_file_size = 64 * 1024;
    o.cache_pages = 32;
    inst_ = *registry_.Create(o);
    JB_ASSERT_OK(inst_->Init());
    db_ = *inst_->CreateDatabase(dir_.path() + "/f.edb");
    JB_ASSERT_OK(db_->CreateTable("t"));
  }

  absl::Status Commit(int i) {
    auto txn = db_->Begin();
    JB_RETURN_IF_ERROR(txn->Put("t", Key(i), std::string(700, 'a' + i % 26)));
    return txn->Commit();
  }
  static std::string Key(int i) { return "k" + std::to_string(1000 + i); }

  // Re-initialises on a healthy env and checks exactly keys [0, n).
  void ExpectExactly(int n) {
    env_.no_space = env_.write_error = env_.sync_error = env_.read_error =
        false;
    env_.FailNthIo(0);
    if (inst_->initialized()) inst_->TermDirty();
    JB_ASSERT_OK(inst_->Init());
    db_ = inst_->FindDatabase("f.edb");
    ASSERT_NE(db_, nullptr);
    int count = 0;
    JB_ASSERT_OK(db_->Begin()->Scan("t", "", "", [&](auto k, auto v) {
      EXPECT_EQ(k, Key(count));
      EXPECT_EQ(v, std::string(700, 'a' + count % 26));
      ++count;
      return true;
    }));
    EXPECT_EQ(count, n);
  }

  TempDir dir_;
  FaultEnv env_{Env::Default()};
  InstanceRegistry registry_;
  Instance* inst_ = nullptr;
  Database* db_ = nullptr;
};

TEST_F(FaultEnvTest, LogDiskFullFailsCommitKeepsCommitted) {
  for (int i = 0; i < 20; ++i) JB_ASSERT_OK(Commit(i));
  env_.SetPathFilter("/logs/");
  env_.no_space = true;
  JB_EXPECT_ERR(Commit(20), jet::JET_errDiskFull);
  // Nothing of the failed transaction is visible; the instance refuses
  // further commits until it is re-initialised.
  JB_EXPECT_ERR(db_->Begin()->Get("t", Key(20)).status(),
                jet::JET_errRecordNotFound);
  JB_EXPECT_ERR(Commit(21), jet::JET_errInstanceUnavailable);
  env_.no_space = false;
  JB_ASSERT_OK(inst_->Term(TermMode::kComplete));
  ExpectExactly(20);
  JB_ASSERT_OK(Commit(20));  // usable again
}

TEST_F(FaultEnvTest, DatabaseDiskFullKeepsCommitsInTheLog) {
  env_.SetPathFilter(".edb");
  env_.no_space = true;  // page flushes fail; the log still takes commits
  for (int i = 0; i < 60; ++i) JB_ASSERT_OK(Commit(i));
  JB_ASSERT_OK(inst_->Term(TermMode::kComplete));  // flush fails: stays dirty
  ExpectExactly(60);
}

TEST_F(FaultEnvTest, SyncErrorFailsCommit) {
  for (int i = 0; i < 5; ++i) JB_ASSERT_OK(Commit(i));
  env_.SetPathFilter("/logs/");
  env_.sync_error = true;
  JB_EXPECT_ERR(Commit(5), jet::JET_errDiskIO);
  JB_EXPECT_ERR(db_->Begin()->Get("t", Key(5)).status(),
                jet::JET_errRecordNotFound);
  ExpectExactly(5);
}

TEST_F(FaultEnvTest, ReadErrorIsDiskIo) {
  for (int i = 0; i < 200; ++i) JB_ASSERT_OK(Commit(i));
  JB_ASSERT_OK(inst_->Term(TermMode::kComplete));
  JB_ASSERT_OK(inst_->Init());  // cold cache
  db_ = inst_->FindDatabase("f.edb");
  env_.SetPathFilter(".edb");
  env_.read_error = true;
  JB_EXPECT_ERR(db_->Begin()->Get("t", Key(150)).status(), jet::JET_errDiskIO);
  env_.read_error = false;
  EXPECT_TRUE(db_->Begin()->Get("t", Key(150)).ok());
}

TEST_F(FaultEnvTest, PowerCutDropsOnlyUnsyncedData) {
  env_.TrackUnsynced(true);
  for (int i = 0; i < 150; ++i) JB_ASSERT_OK(Commit(i));
  inst_->TermDirty();
  JB_ASSERT_OK(env_.DropUnsyncedData());
  env_.TrackUnsynced(false);
  ExpectExactly(150);
}

TEST(FaultEnvNthIoTest, EveryFailurePointKeepsAcknowledgedCommits) {
  for (int n = 1; n <= 60; n += 3) {
    TempDir dir;
    FaultEnv env(Env::Default());
    InstanceRegistry registry;
    InstanceOptions o = Options(dir.path());
    o.env = &env;
    o.log_file_size = 64 * 1024;
    o.cache_pages = 16;
    Instance* inst = *registry.Create(o);
    JB_ASSERT_OK(inst->Init());
    Database* db = *inst->CreateDatabase(dir.path() + "/n.edb");
    JB_ASSERT_OK(db->CreateTable("t"));
    env.TrackUnsynced(true);
    env.FailNthIo(n);
    int acked = 0;
    for (int i = 0; i < 40; ++i) {
      auto txn = db->Begin();
      JB_ASSERT_OK(
          txn->Put("t", "k" + std::to_string(100 + i), std::string(2000, 'x')));
      absl::Status s = txn->Commit();
      if (!s.ok()) {
        int err = JetErrOf(s);
        EXPECT_TRUE(err == jet::JET_errDiskIO ||
                    err == jet::JET_errInstanceUnavailable)
            << s;
        break;
      }
      ++acked;
    }
    inst->TermDirty();
    JB_ASSERT_OK(env.DropUnsyncedData());
    env.TrackUnsynced(false);
    env.FailNthIo(0);
    absl::Status init = inst->Init();
    ASSERT_TRUE(init.ok()) << "n=" << n << ": " << init;
    db = inst->FindDatabase("n.edb");
    ASSERT_NE(db, nullptr);
    for (int i = 0; i < acked; ++i) {
      EXPECT_TRUE(db->Begin()->Get("t", "k" + std::to_string(100 + i)).ok())
          << "n=" << n << " lost acknowledged commit " << i;
    }
    JB_ASSERT_OK(inst->Term(TermMode::kComplete));
  }
}

// kCreateExclusiveDirect (restore's copies): aligned pieces, an unaligned
// one and an unaligned buffer all land, and the file reads back exactly.
TEST(PosixEnvTest, DirectWritesFallBackForUnalignedPieces) {
  TempDir dir;
  Env* env = Env::Default();
  const std::string path = dir.path() + "/direct";
  auto file = env->OpenFile(path, OpenMode::kCreateExclusiveDirect);
  ASSERT_TRUE(file.ok()) << file.status();
  std::unique_ptr<char, decltype(&std::free)> aligned(
      static_cast<char*>(std::aligned_alloc(4096, 8192)), &std::free);
  std::memset(aligned.get(), 'a', 8192);
  std::string expected(8192, 'a');
  ASSERT_TRUE((*file)->Write(0, absl::string_view(aligned.get(), 8192)).ok());
  const std::string tail(1000, 't');  // unaligned length and buffer
  ASSERT_TRUE((*file)->Write(8192, tail).ok());
  expected += tail;
  ASSERT_TRUE((*file)->Write(8192 + 1000, "end").ok());
  expected += "end";
  ASSERT_TRUE((*file)->Sync().ok());
  std::string got(expected.size(), '\0');
  size_t n = 0;
  ASSERT_TRUE((*file)->Read(0, got.size(), got.data(), &n).ok());
  EXPECT_EQ(n, expected.size());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(
      JetErrOf(env->OpenFile(path, OpenMode::kCreateExclusiveDirect).status()),
      jet::JET_errFileAlreadyExists);
}

}  // namespace
}  // namespace jetback
