// DbFile flushes that overlap: the background flusher's and a committer's
// back-pressure flush run at the same time on one database file.

#include "engine/db_file.h"

#include <cstring>
#include <string>
#include <thread>

#include "engine/format.h"
#include "engine/test_util.h"
#include "gtest/gtest.h"
#include "jetback/mutex.h"

namespace jetback {
namespace {

using testing_util::TempDir;

constexpr uint32_t kPageSize = 4096;

// Holds the first write at one file offset until Release().
class GateEnv : public EnvWrapper {
 public:
  explicit GateEnv(uint64_t offset)
      : EnvWrapper(Env::Default()), offset_(offset) {}

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 OpenMode mode) override {
    JB_ASSIGN_OR_RETURN(auto base, target()->OpenFile(path, mode));
    return std::unique_ptr<File>(new GatedFile(this, std::move(base)));
  }

  void Arm() {
    jetback::MutexLock lock(&mu_);
    armed_ = true;
  }
  void AwaitHeld() {
    jetback::MutexLock lock(&mu_);
    mu_.Await(jetback::Condition(&held_));
  }
  void Release() {
    jetback::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  class GatedFile : public File {
   public:
    GatedFile(GateEnv* env, std::unique_ptr<File> base)
        : env_(env), base_(std::move(base)) {}
    absl::Status Read(uint64_t offset, size_t n, char* scratch,
                      size_t* read) override {
      return base_->Read(offset, n, scratch, read);
    }
    absl::Status Write(uint64_t offset, absl::string_view data) override {
      if (offset == env_->offset_) env_->Pass();
      return base_->Write(offset, data);
    }
    absl::Status Sync() override { return base_->Sync(); }
    absl::Status Truncate(uint64_t size) override {
      return base_->Truncate(size);
    }
    absl::StatusOr<uint64_t> Size() override { return base_->Size(); }

   private:
    GateEnv* env_;
    std::unique_ptr<File> base_;
  };

  void Pass() {
    jetback::MutexLock lock(&mu_);
    if (!armed_) return;
    armed_ = false;
    held_ = true;
    mu_.Await(jetback::Condition(&released_));
  }

  const uint64_t offset_;
  jetback::Mutex mu_;
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// Changes one page as a committed group [start, end) would.
void CommitPage(DbFile* db, uint32_t pgno, char fill, bool fresh,
                uint64_t start, uint64_t end) {
  jetback::MutexLock tree(&db->tree_mu());
  PagePtr page;
  if (fresh) {
    page = db->New(pgno);
  } else {
    auto written = db->Write(pgno);
    ASSERT_TRUE(written.ok()) << written.status();
    page = *written;
  }
  std::memset(page->bytes() + sizeof(format::PageHeader), fill,
              kPageSize - sizeof(format::PageHeader));
  std::vector<std::string> records;
  db->FinishTxn(/*txn=*/start, &records);
  db->CommitBatch(start, end);
}

std::string OnDisk(DbFile* db, uint32_t pgno) {
  std::string page(kPageSize, '\0');
  size_t got = 0;
  EXPECT_TRUE(db->file()
                  ->Read(format::PageOffset(pgno, kPageSize), kPageSize,
                         page.data(), &got)
                  .ok());
  return page;
}

// The first flush copies both pages and stalls before writing them; the
// page then changes and a second flush writes and cleans it. The first
// flush's older copy must not land on disk afterwards (it did: the page
// stayed clean with its older image on disk, so a reload or a crash after
// the next checkpoint lost the change).
TEST(DbFileTest, OverlappingFlushesNeverWriteAnOlderImage) {
  TempDir dir;
  constexpr uint32_t kStall = 1, kChanged = 2;  // flushed in pgno order
  GateEnv env(format::PageOffset(kStall, kPageSize));
  auto created = DbFile::Create(&env, dir.path() + "/f.edb", kPageSize,
                                /*db_signature=*/7, /*log_signature=*/9,
                                /*cache_pages=*/16);
  ASSERT_TRUE(created.ok()) << created.status();
  DbFile* db = created->get();
  // kStall's log ends at 100, past what the second flush may write.
  CommitPage(db, kStall, 's', true, 90, 100);
  CommitPage(db, kChanged, 'a', true, 1, 10);

  env.Arm();
  absl::Status first;
  std::thread flusher([&] { first = db->Flush(UINT64_MAX); });
  env.AwaitHeld();  // copies taken; stalled writing kStall
  CommitPage(db, kChanged, 'b', false, 20, 30);
  absl::Status second = db->Flush(/*durable_lsn=*/50);
  env.Release();
  flusher.join();
  JB_ASSERT_OK(first);
  JB_ASSERT_OK(second);

  EXPECT_EQ(db->dirty_pages(), 0u);
  auto cached = db->Read(kChanged);
  ASSERT_TRUE(cached.ok()) << cached.status();
  std::string latest((*cached)->bytes(), kPageSize);
  EXPECT_EQ(latest[kPageSize - 1], 'b');
  EXPECT_TRUE(OnDisk(db, kChanged) == latest)
      << "an older image of page " << kChanged << " overwrote the newer one";
}

}  // namespace
}  // namespace jetback
