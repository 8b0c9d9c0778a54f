#include "jetback/instance.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/backup_source.h"
#include "engine/format.h"
#include "engine/test_util.h"
#include "gtest/gtest.h"
#include "jetback/background_pool.h"
#include "jetback/backup.h"
#include "jetback/env.h"

namespace jetback {
namespace {

using testing_util::Options;
using testing_util::ProcessThreads;
using testing_util::TempDir;

class InstanceTest : public ::testing::Test {
 protected:
  void Open(InstanceOptions o) {
    auto inst = registry_.Create(std::move(o));
    ASSERT_TRUE(inst.ok()) << inst.status();
    inst_ = *inst;
    JB_ASSERT_OK(inst_->Init());
  }
  void Reopen(bool crash) {
    InstanceOptions o = inst_->options();
    if (crash) {
      inst_->TermDirty();
    } else {
      JB_ASSERT_OK(inst_->Term(TermMode::kComplete));
    }
    JB_ASSERT_OK(registry_.Remove(o.name));
    Open(o);
  }
  std::string Get(Database* db, const std::string& table,
                  const std::string& key) {
    auto txn = db->Begin();
    auto v = txn->Get(table, key);
    return v.ok() ? *v : "<" + std::to_string(JetErrOf(v.status())) + ">";
  }

  TempDir dir_;
  InstanceRegistry registry_;
  Instance* inst_ = nullptr;
};

TEST_F(InstanceTest, PutGetDeleteScanAndErrors) {
  Open(Options(dir_.path()));
  auto db = inst_->CreateDatabase(dir_.path() + "/a.edb");
  ASSERT_TRUE(db.ok()) << db.status();
  JB_ASSERT_OK((*db)->CreateTable("t"));
  JB_EXPECT_ERR((*db)->CreateTable("t"), jet::JET_errTableDuplicate);
  JB_EXPECT_ERR((*db)->CreateTable(""), jet::JET_errInvalidName);
  JB_EXPECT_ERR((*db)->CreateTable(std::string(65, 'x')),
                jet::JET_errInvalidName);

  auto txn = (*db)->Begin();
  JB_ASSERT_OK(txn->Put("t", "b", "2"));
  JB_ASSERT_OK(txn->Insert("t", "a", "1"));
  JB_ASSERT_OK(txn->Put("t", "c", "3"));
  JB_EXPECT_ERR(txn->Insert("t", "a", "x"), jet::JET_errKeyDuplicate);
  JB_EXPECT_ERR(txn->Put("nope", "a", "1"), jet::JET_errObjectNotFound);
  JB_EXPECT_ERR(txn->Put("t", std::string(kMaxKeySize + 1, 'k'), "1"),
                jet::JET_errKeyTooBig);
  JB_EXPECT_ERR(txn->Put("t", "k", std::string(kMaxValueSize + 1, 'v')),
                jet::JET_errRecordTooBig);
  JB_EXPECT_ERR(txn->Delete("t", "zz"), jet::JET_errRecordNotFound);
  EXPECT_EQ(*txn->Get("t", "a"), "1");       // sees its own writes
  EXPECT_EQ(Get(*db, "t", "a"), "<-1601>");  // others do not
  JB_ASSERT_OK(txn->Commit());
  EXPECT_GE(txn->commit_generation(), 1u);
  EXPECT_EQ(Get(*db, "t", "a"), "1");

  auto t2 = (*db)->Begin();
  JB_ASSERT_OK(t2->Delete("t", "b"));
  JB_ASSERT_OK(t2->Put("t", "d", "4"));
  std::string seen;
  JB_ASSERT_OK(t2->Scan("t", "", "", [&](auto k, auto v) {
    seen += std::string(k) + "=" + std::string(v) + ";";
    return true;
  }));
  EXPECT_EQ(seen, "a=1;c=3;d=4;");
  seen.clear();
  JB_ASSERT_OK(t2->Scan("t", "b", "d", [&](auto k, auto v) {
    seen += std::string(k) + ";";
    return true;
  }));
  EXPECT_EQ(seen, "c;");
  t2->Rollback();
  EXPECT_EQ(Get(*db, "t", "b"), "2");
  EXPECT_EQ(Get(*db, "t", "d"), "<-1601>");
  JB_EXPECT_ERR(t2->Commit(), jet::JET_errInvalidParameter);
  JB_EXPECT_ERR((*db)->Begin()->Get("t", "zz").status(),
                jet::JET_errRecordNotFound);
  JB_EXPECT_ERR((*db)->Begin()->Delete("t", "zz"), jet::JET_errRecordNotFound);
  JB_EXPECT_ERR((*db)->Begin()->Get("x", "a").status(),
                jet::JET_errObjectNotFound);
}

TEST_F(InstanceTest, DataSurvivesCleanAndDirtyRestart) {
  for (bool crash : {false, true}) {
    TempDir dir;
    Open(Options(dir.path(), crash ? "dirty" : "clean"));
    auto db = inst_->CreateDatabase(dir.path() + "/a.edb");
    ASSERT_TRUE(db.ok()) << db.status();
    JB_ASSERT_OK((*db)->CreateTable("t"));
    std::string big(300 * 1024, 'x');
    for (int i = 0; i < 50; ++i) {
      auto txn = (*db)->Begin();
      JB_ASSERT_OK(txn->Put("t", "k" + std::to_string(i), std::to_string(i)));
      if (i == 7) JB_ASSERT_OK(txn->Put("t", "big", big));
      JB_ASSERT_OK(txn->Commit());
    }
    Reopen(crash);
    Database* again = inst_->FindDatabase("a.edb");
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(Get(again, "t", "k49"), "49");
    EXPECT_EQ(Get(again, "t", "big"), big);
    EXPECT_EQ(*again->ListTables(), std::vector<std::string>{"t"});
    EXPECT_FALSE(again->HeaderInfo().clean_shutdown);
    JB_ASSERT_OK(inst_->Term(TermMode::kComplete));
    JB_ASSERT_OK(registry_.Remove(inst_->name()));
  }
}

TEST_F(InstanceTest, RegistryModes) {
  JB_EXPECT_ERR(registry_.Lookup("").status(), jet::JET_errInvalidParameter);
  auto a = registry_.Create(Options(dir_.path() + "/a", "a"));
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(registry_.multi_instance_mode());
  EXPECT_EQ(*registry_.Lookup(""), *a);
  JB_EXPECT_ERR(registry_.Create(Options(dir_.path() + "/a", "a")).status(),
                jet::JET_errInvalidParameter);
  auto b = registry_.Create(Options(dir_.path() + "/b", "b"));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(registry_.multi_instance_mode());
  JB_EXPECT_ERR(registry_.Lookup("").status(),
                jet::JET_errRunningInMultiInstanceMode);
  EXPECT_EQ(*registry_.Lookup("b"), *b);
  JB_EXPECT_ERR(registry_.Lookup("c").status(), jet::JET_errInvalidParameter);
  // Both run at once, each with its own log set.
  JB_ASSERT_OK((*a)->Init());
  JB_ASSERT_OK((*b)->Init());
  JB_EXPECT_ERR((*a)->Init(), jet::JET_errAlreadyInitialized);
  EXPECT_EQ(registry_.List().size(), 2u);
  JB_ASSERT_OK(registry_.Remove("a"));
  EXPECT_FALSE(registry_.multi_instance_mode());
  InstanceOptions bad = Options(dir_.path(), "bad");
  bad.page_size = 1000;
  JB_EXPECT_ERR(registry_.Create(bad).status(), jet::JET_errInvalidParameter);
  bad.page_size = 4096;
  bad.base_name = "E0";
  JB_EXPECT_ERR(registry_.Create(bad).status(), jet::JET_errInvalidParameter);
}

TEST_F(InstanceTest, AttachDetachLimits) {
  Open(Options(dir_.path()));
  std::vector<std::string> paths;
  for (int i = 0; i < 6; ++i) {
    paths.push_back(dir_.path() + "/db" + std::to_string(i) + ".edb");
    ASSERT_TRUE(inst_->CreateDatabase(paths.back()).ok());
  }
  JB_EXPECT_ERR(inst_->CreateDatabase(dir_.path() + "/seven.edb").status(),
                jet::JET_errTooManyAttachedDatabases);
  JB_EXPECT_ERR(inst_->AttachDatabase(paths[0]).status(),
                jet::JET_errDatabaseDuplicate);
  JB_ASSERT_OK(inst_->DetachDatabase(paths[0]));
  JB_EXPECT_ERR(inst_->DetachDatabase(paths[0]), jet::JET_errDatabaseNotFound);
  JB_EXPECT_ERR(inst_->CreateDatabase(paths[0]).status(),
                jet::JET_errDatabaseDuplicate);  // file exists
  JB_EXPECT_ERR(inst_->AttachDatabase(dir_.path() + "/missing.edb").status(),
                jet::JET_errFileNotFound);
  JB_EXPECT_ERR(inst_->CreateDatabase("/nonexistent-dir/x.edb").status(),
                jet::JET_errInvalidPath);
  auto db = inst_->AttachDatabase(paths[0]);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(inst_->Databases().size(), 6u);
  EXPECT_FALSE((*db)->HeaderInfo().clean_shutdown);
  JB_ASSERT_OK(inst_->DetachDatabase(paths[1]));
  // Not a database file.
  {
    auto f = Env::Default()->OpenFile(dir_.path() + "/junk", OpenMode::kCreate);
    JB_ASSERT_OK((*f)->Write(0, std::string(20000, 'j')));
  }
  JB_EXPECT_ERR(inst_->AttachDatabase(dir_.path() + "/junk").status(),
                jet::JET_errDatabaseCorrupted);
}

TEST_F(InstanceTest, DirtyDatabaseCannotBeAttachedElsewhere) {
  Open(Options(dir_.path()));
  const std::string path = dir_.path() + "/a.edb";
  ASSERT_TRUE(inst_->CreateDatabase(path).ok());
  auto other = registry_.Create(Options(dir_.path() + "/o", "other"));
  JB_ASSERT_OK((*other)->Init());
  // In use by the running instance: its lock says so first.
  JB_EXPECT_ERR((*other)->AttachDatabase(path).status(),
                jet::JET_errFileAccessDenied);
  inst_->TermDirty();
  JB_EXPECT_ERR((*other)->AttachDatabase(path).status(),
                jet::JET_errDatabaseDirtyShutdown);
}

TEST_F(InstanceTest, RollLogNamesAndCircularLogging) {
  for (bool circular : {false, true}) {
    TempDir dir;
    InstanceOptions o = Options(dir.path(), circular ? "circ" : "keep");
    o.circular_logging = circular;
    o.log_file_size = 64 * 1024;
    Open(o);
    auto db = inst_->CreateDatabase(dir.path() + "/a.edb");
    ASSERT_TRUE(db.ok());
    JB_ASSERT_OK((*db)->CreateTable("t"));
    uint32_t first = inst_->CurrentGeneration();
    for (int i = 0; i < 40; ++i) {
      auto txn = (*db)->Begin();
      JB_ASSERT_OK(txn->Put("t", std::to_string(i), std::string(3000, 'v')));
      JB_ASSERT_OK(txn->Commit());
    }
    auto rolled = inst_->RollLog();
    ASSERT_TRUE(rolled.ok());
    EXPECT_GT(*rolled, first + 3);
    EXPECT_EQ(inst_->CurrentGeneration(), *rolled);
    EXPECT_TRUE(Env::Default()->FileExists(
        o.log_dir + "/" + format::ArchiveLogName("E00", *rolled - 1)));
    // Term writes a checkpoint at the tip, so circular logging then drops
    // every archive; without it they all stay.
    JB_ASSERT_OK(inst_->Term(TermMode::kComplete));
    int archives = 0;
    auto names = Env::Default()->ListDir(o.log_dir);
    ASSERT_TRUE(names.ok());
    for (const auto& n : *names) {
      if (format::ParseArchiveLogName("E00", n)) ++archives;
    }
    if (circular) {
      EXPECT_EQ(archives, 0);
    } else {
      EXPECT_EQ(archives, static_cast<int>(*rolled - 1));
    }
    JB_ASSERT_OK(registry_.Remove(o.name));
  }
}

TEST_F(InstanceTest, RecoveryErrors) {
  InstanceOptions o = Options(dir_.path());
  o.log_file_size = 64 * 1024;
  o.flush_interval = absl::Hours(1);  // the checkpoint stays at generation 1
  Open(o);
  auto db = inst_->CreateDatabase(dir_.path() + "/a.edb");
  JB_ASSERT_OK((*db)->CreateTable("t"));
  // Keep the checkpoint at an old generation: a crash with several logs.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(inst_->RollLog().ok());
  auto txn = (*db)->Begin();
  JB_ASSERT_OK(txn->Put("t", "k", "v"));
  JB_ASSERT_OK(txn->Commit());
  inst_->TermDirty();
  JB_ASSERT_OK(registry_.Remove(o.name));
  const std::string logs = o.log_dir + "/";
  // Foreign log: a current log from another log set.
  TempDir other;
  {
    InstanceRegistry r2;
    auto i2 = r2.Create(Options(other.path(), "x"));
    JB_ASSERT_OK((*i2)->Init());
    JB_ASSERT_OK((*i2)->Term(TermMode::kComplete));
  }
  std::filesystem::rename(logs + "E00.log", logs + "E00.log.keep");
  std::filesystem::copy_file(other.path() + "/logs/E00.log", logs + "E00.log");
  auto inst = registry_.Create(o);
  JB_EXPECT_ERR((*inst)->Init(), jet::JET_errBadLogSignature);
  std::filesystem::remove(logs + "E00.log");
  std::filesystem::rename(logs + "E00.log.keep", logs + "E00.log");
  // Missing current log.
  std::filesystem::rename(logs + "E00.log", logs + "E00.log.keep");
  JB_EXPECT_ERR((*inst)->Init(), jet::JET_errMissingLogFile);
  std::filesystem::rename(logs + "E00.log.keep", logs + "E00.log");
  // Missing generation between the checkpoint and the current log.
  const std::string gen2 = logs + format::ArchiveLogName("E00", 2);
  ASSERT_TRUE(std::filesystem::exists(gen2));
  std::filesystem::rename(gen2, gen2 + ".keep");
  JB_EXPECT_ERR((*inst)->Init(), jet::JET_errMissingLogFile);
  std::filesystem::rename(gen2 + ".keep", gen2);
  // Everything back: recovery succeeds and the commit is there.
  JB_ASSERT_OK((*inst)->Init());
  inst_ = *inst;
  EXPECT_EQ(Get(inst_->FindDatabase("a.edb"), "t", "k"), "v");
}

TEST_F(InstanceTest, BackupHooksReadVerifiedPages) {
  Open(Options(dir_.path()));
  auto db = inst_->CreateDatabase(dir_.path() + "/a.edb");
  JB_ASSERT_OK((*db)->CreateTable("t"));
  for (int i = 0; i < 200; ++i) {
    auto txn = (*db)->Begin();
    JB_ASSERT_OK(
        txn->Put("t", std::to_string(i), std::string(500, 'a' + i % 26)));
    JB_ASSERT_OK(txn->Commit());
  }
  // Term flushes; the pages are then on disk and readable with checks.
  auto* bdb = dynamic_cast<BackupDatabase*>(*db);
  ASSERT_NE(bdb, nullptr);
  DatabaseHeaderInfo h = bdb->HeaderInfo();
  EXPECT_GT(h.pgno_last, 2u);
  EXPECT_GT(h.dbtime, 0u);
  BackupInfo info{5, 4096, 123, 3, 7};
  JB_ASSERT_OK(bdb->StampBackup(BackupSlotKind::kFull, info));
  EXPECT_EQ(bdb->HeaderInfo().full_prev.gen_high, 7u);
  JB_ASSERT_OK(bdb->StampBackup(BackupSlotKind::kIncremental, {6, 0, 1, 8, 8}));
  JB_ASSERT_OK(bdb->StampBackup(BackupSlotKind::kFull, info));
  EXPECT_TRUE(bdb->HeaderInfo().inc_prev.empty());
  std::vector<char> pages(size_t{h.pgno_last} * 8192);
  // Wait for the flusher to have written everything (a real condition).
  JB_ASSERT_OK(inst_->RollLog().status());
  JB_ASSERT_OK(bdb->ReadPages(1, h.pgno_last, absl::MakeSpan(pages)));
  for (uint32_t p = 1; p <= h.pgno_last; ++p) {
    EXPECT_TRUE(format::VerifyPage(
                    absl::MakeConstSpan(pages.data() + (p - 1) * 8192, 8192), p)
                    .ok());
  }
  JB_EXPECT_ERR(bdb->ReadPages(0, 1, absl::MakeSpan(pages)),
                jet::JET_errInvalidParameter);
}

TEST_F(InstanceTest, ConcurrentCommitsReadersAndBackupReads) {
  InstanceOptions o = Options(dir_.path());
  o.cache_pages = 64;
  o.flush_interval = absl::Milliseconds(2);
  Open(o);
  auto db = inst_->CreateDatabase(dir_.path() + "/c.edb");
  JB_ASSERT_OK((*db)->CreateTable("t"));
  auto* bdb = dynamic_cast<BackupDatabase*>(*db);
  std::atomic<int> writers_left{4};
  std::atomic<int> read_failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 60; ++i) {
        auto txn = (*db)->Begin();
        for (int j = 0; j < 3; ++j) {
          EXPECT_TRUE(txn->Put("t", absl::StrCat(w, "/", i, "/", j),
                               std::string(900, 'a' + w))
                          .ok());
        }
        EXPECT_TRUE(txn->Commit().ok());
      }
      writers_left.fetch_sub(1);
    });
  }
  threads.emplace_back([&] {  // reader: every key seen is whole
    while (writers_left.load() > 0) {
      EXPECT_TRUE((*db)
                      ->Begin()
                      ->Scan("t", "", "",
                             [&](auto k, auto v) {
                               EXPECT_EQ(v.size(), 900u);
                               return true;
                             })
                      .ok());
    }
  });
  threads.emplace_back([&] {  // backup-style page reads under range locks
    std::vector<char> buf(16 * 8192);
    while (writers_left.load() > 0) {
      uint32_t last = bdb->HeaderInfo().pgno_last;
      for (uint32_t p = 1; p <= last; p += 16) {
        uint32_t n = std::min<uint32_t>(16, last - p + 1);
        if (!bdb->ReadPages(p, n, absl::MakeSpan(buf)).ok()) ++read_failures;
      }
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(read_failures.load(), 0);
  int n = 0;
  JB_ASSERT_OK((*db)->Begin()->Scan("t", "", "", [&](auto, auto) {
    ++n;
    return true;
  }));
  EXPECT_EQ(n, 4 * 60 * 3);
}

// Issue 18: idle instances cost no threads of their own, and each one's
// background flush still happens (its checkpoint follows the log).
TEST(InstanceThreadsTest, ManyInstancesShareTheBackgroundThreads) {
  TempDir dir;
  // A sanitizer's own background thread starts with the first thread
  // created: let that happen before counting.
  std::thread([] {}).join();
  const int before = ProcessThreads();
  // A stall would add workers on purpose; this test counts the steady ones.
  BackgroundPool pool({.threads = 2, .stall_after = absl::Minutes(10)});
  InstanceRegistry registry;
  constexpr int kInstances = 200;
  std::vector<Instance*> instances;
  std::vector<uint32_t> rolled;
  for (int i = 0; i < kInstances; ++i) {
    const std::string sub = absl::StrCat(dir.path(), "/", i);
    InstanceOptions o = Options(sub, absl::StrCat("inst", i));
    o.flush_interval = absl::Milliseconds(10);
    o.background_pool = &pool;
    auto inst = registry.Create(o);
    ASSERT_TRUE(inst.ok()) << inst.status();
    JB_ASSERT_OK((*inst)->Init());
    auto db = (*inst)->CreateDatabase(sub + "/d.edb");
    ASSERT_TRUE(db.ok()) << db.status();
    JB_ASSERT_OK((*db)->CreateTable("t"));
    auto txn = (*db)->Begin();
    JB_ASSERT_OK(txn->Put("t", "k", "v"));
    JB_ASSERT_OK(txn->Commit());
    auto gen = (*inst)->RollLog();
    ASSERT_TRUE(gen.ok()) << gen.status();
    instances.push_back(*inst);
    rolled.push_back(*gen);
  }
  EXPECT_EQ(ProcessThreads(), before + 3);  // the timer and two workers
  // Only a background round moves a checkpoint past the roll (no Term yet).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (int i = 0; i < kInstances; ++i) {
    while (instances[i]->CheckpointGeneration() < rolled[i] &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    EXPECT_GE(instances[i]->CheckpointGeneration(), rolled[i]) << i;
  }
  for (Instance* inst : instances)
    JB_ASSERT_OK(inst->Term(TermMode::kComplete));
}

}  // namespace
}  // namespace jetback
