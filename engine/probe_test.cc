// Instance::Probe, the watchdog's liveness check: it must not return while
// a commit is wedged in its log sync, and must return once it goes on.

#include <future>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "engine/test_util.h"
#include "gtest/gtest.h"
#include "jetback/env.h"
#include "jetback/instance.h"
#include "jetback/mutex.h"

namespace jetback {
namespace {

// Once armed, the next sync of the current log blocks until Release().
class SyncGateEnv : public EnvWrapper {
 public:
  SyncGateEnv() : EnvWrapper(Env::Default()) {}

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 OpenMode mode) override {
    JB_ASSIGN_OR_RETURN(auto base, target()->OpenFile(path, mode));
    if (!absl::EndsWith(path, "/E00.log")) return base;
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
    GatedFile(SyncGateEnv* env, std::unique_ptr<File> base)
        : env_(env), base_(std::move(base)) {}
    absl::Status Read(uint64_t offset, size_t n, char* scratch,
                      size_t* read) override {
      return base_->Read(offset, n, scratch, read);
    }
    absl::Status Write(uint64_t offset, absl::string_view data) override {
      return base_->Write(offset, data);
    }
    absl::Status Sync() override {
      env_->Pass();
      return base_->Sync();
    }
    absl::Status Truncate(uint64_t size) override {
      return base_->Truncate(size);
    }
    absl::StatusOr<uint64_t> Size() override { return base_->Size(); }

   private:
    SyncGateEnv* env_;
    std::unique_ptr<File> base_;
  };

  void Pass() {
    jetback::MutexLock lock(&mu_);
    if (!armed_) return;
    armed_ = false;
    held_ = true;
    mu_.Await(jetback::Condition(&released_));
  }

  jetback::Mutex mu_;
  bool armed_ = false;
  bool held_ = false;
  bool released_ = false;
};

TEST(ProbeTest, WaitsForAWedgedCommitAndSucceedsOnceItGoesOn) {
  testing_util::TempDir dir;
  SyncGateEnv env;
  InstanceOptions o = testing_util::Options(dir.path());
  o.env = &env;
  InstanceRegistry registry;
  Instance* inst = *registry.Create(o);
  JB_ASSERT_OK(inst->Init());
  auto db = inst->CreateDatabase(dir.path() + "/a.edb");
  ASSERT_TRUE(db.ok()) << db.status();
  JB_ASSERT_OK((*db)->CreateTable("t"));
  JB_ASSERT_OK(inst->Probe());

  env.Arm();
  std::thread writer([&] {
    auto txn = (*db)->Begin();
    JB_ASSERT_OK(txn->Put("t", "k", "v"));
    JB_ASSERT_OK(txn->Commit());
  });
  env.AwaitHeld();  // the commit now sits in its log sync
  std::future<absl::Status> probe =
      std::async(std::launch::async, [&] { return inst->Probe(); });
  // A deadline, as the watchdog uses: the probe must not get through.
  EXPECT_EQ(probe.wait_for(std::chrono::milliseconds(300)),
            std::future_status::timeout);
  env.Release();
  writer.join();
  JB_EXPECT_ERR(probe.get(), 0);
  JB_ASSERT_OK(inst->Term(TermMode::kComplete));
}

}  // namespace
}  // namespace jetback
