// The compress/encrypt stage on its own thread (set_file_pipe.h), through
// EncodingSetWriter as `jetback backup --repo` uses it, over a real local
// set directory whose files fail like a full disk after a number of bytes.

#include "client/repo/set_file_pipe.h"

#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/repo/backup_set.h"
#include "client/repo/set_codec.h"
#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback::repo {
namespace {

namespace fs = std::filesystem;

// Passes appends on to a real set file until `fail_after` bytes, then
// fails them as a write(2) with ENOSPC does (-1808).
struct FaultCounters {
  uint64_t fail_after = UINT64_MAX;
  std::atomic<uint64_t> appended{0};
  std::atomic<int> after_failure{0};  // Append calls once it failed
  std::atomic<bool> failed{false};
  std::atomic<bool> on_caller_thread{false};
  std::thread::id caller;
};

class FaultFile : public SetFile {
 public:
  FaultFile(std::unique_ptr<SetFile> inner, FaultCounters* c)
      : inner_(std::move(inner)), c_(c) {}
  absl::Status Append(absl::string_view data) override {
    if (std::this_thread::get_id() == c_->caller) c_->on_caller_thread = true;
    if (c_->failed) ++c_->after_failure;
    if (c_->appended + data.size() > c_->fail_after) {
      c_->failed = true;
      return JetStatus(jet::JET_errDiskFull,
                       "writing demo.edb.part: No space left on device");
    }
    c_->appended += data.size();
    return inner_->Append(data);
  }
  absl::Status Commit(absl::string_view expected) override {
    return inner_->Commit(expected);
  }
  uint64_t size() const override { return inner_->size(); }
  const std::string& xxh3_128_hex() const override {
    return inner_->xxh3_128_hex();
  }
  const std::string& sha256_hex() const override {
    return inner_->sha256_hex();
  }

 private:
  std::unique_ptr<SetFile> inner_;
  FaultCounters* c_;
};

class FaultWriter : public SetWriter {
 public:
  FaultWriter(std::unique_ptr<SetWriter> inner, FaultCounters* c)
      : inner_(std::move(inner)), c_(c) {}
  absl::StatusOr<std::unique_ptr<SetFile>> CreateFile(const std::string& name,
                                                      bool sha256) override {
    JB_ASSIGN_OR_RETURN(auto file, inner_->CreateFile(name, sha256));
    return std::unique_ptr<SetFile>(new FaultFile(std::move(file), c_));
  }
  absl::Status Finish(const Manifest& m) override { return inner_->Finish(m); }
  void Abandon() override { inner_->Abandon(); }
  std::string location() const override { return inner_->location(); }

 private:
  std::unique_ptr<SetWriter> inner_;
  FaultCounters* c_;
};

class SetFilePipeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "jb-pipe-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/set";
    std::mt19937_64 rng(5);
    chunk_.resize(kChunk);
    for (char& c : chunk_) c = static_cast<char>(rng());
    counters_.caller = std::this_thread::get_id();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<SetWriter> Writer(const EncodeOptions& options) {
    bool created = false;
    EXPECT_TRUE(PrepareOutputDir(dir_, &created).ok());
    return EncodingSetWriter(std::make_unique<FaultWriter>(
                                 LocalSetWriter(dir_, created), &counters_),
                             options, "backup-1");
  }

  // Distinct chunks, so the stored bytes are not one repeated block.
  std::string Chunk(int i) {
    std::string c = chunk_;
    std::memcpy(c.data(), &i, sizeof(i));
    return c;
  }

  static constexpr size_t kChunk = 1 << 20;
  std::string root_, dir_, chunk_;
  FaultCounters counters_;
};

TEST_F(SetFilePipeTest, WriterStageErrorStopsTheReceiverWithItsJetErr) {
  EncodeOptions options;
  options.compress = *ParseCompress("zstd:1");
  options.key = *RepoKey::FromText(std::string(64, '7'), "test");
  counters_.fail_after = 8 * kChunk;
  auto writer = Writer(options);
  auto file = writer->CreateFile("demo.edb", false);
  ASSERT_TRUE(file.ok()) << file.status();
  counters_.on_caller_thread = false;  // the encryption header, written here
  // The receiver: 1 MiB chunks of incompressible data, as the daemon
  // streams them, until the first error.
  constexpr int kChunks = 64;
  absl::Status status;
  int sent = 0;
  while (sent < kChunks) {
    status = (*file)->Append(Chunk(sent));
    if (!status.ok()) break;
    ++sent;
  }
  ASSERT_FALSE(status.ok()) << "64 MiB went into a file that fails at 8";
  EXPECT_EQ(JetErrOf(status), jet::JET_errDiskFull) << status;
  EXPECT_NE(status.message().find("No space left"), absl::string_view::npos);
  // Mid-stream: the receiver is never more than the queue's few MiB (plus
  // the chunk in the stage's hands) ahead of the failing write.
  EXPECT_LE(static_cast<size_t>(sent) * kChunk,
            8 * kChunk + kPipeBytes + 2 * kChunk);
  // The same error from Commit; the stage stopped at the first failure
  // and ran on a thread of its own.
  EXPECT_EQ(JetErrOf((*file)->Commit({})), jet::JET_errDiskFull);
  EXPECT_EQ(counters_.after_failure.load(), 0);
  EXPECT_FALSE(counters_.on_caller_thread.load());
  file->reset();
  writer->Abandon();
  EXPECT_FALSE(fs::exists(dir_)) << "a failed backup leaves its files";
}

TEST_F(SetFilePipeTest, DroppedMidStreamLeavesNothing) {
  EncodeOptions options;
  options.compress = *ParseCompress("zstd:1");
  auto writer = Writer(options);
  auto file = writer->CreateFile("demo.edb", false);
  ASSERT_TRUE(file.ok()) << file.status();
  for (int i = 0; i < 16; ++i) ASSERT_TRUE((*file)->Append(Chunk(i)).ok());
  // A stop or Ctrl-C: the caller drops the file without Commit.
  file->reset();
  EXPECT_FALSE(fs::exists(dir_ + "/demo.edb.part"));
  EXPECT_FALSE(fs::exists(dir_ + "/demo.edb"));
  writer->Abandon();
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(SetFilePipeTest, PipedAndInlineStoreTheSameBytes) {
  std::string stored[2];
  for (bool pipe : {false, true}) {
    EncodeOptions options;
    options.compress = *ParseCompress("zstd:1");
    options.pipe = pipe;
    dir_ = absl::StrCat(root_, "/set-", pipe);
    auto writer = Writer(options);
    auto file = writer->CreateFile("demo.edb", false);
    ASSERT_TRUE(file.ok()) << file.status();
    for (int i = 0; i < 9; ++i) {
      // Odd sizes, around the queue's bound.
      const std::string c = Chunk(i) + std::string(i * 77777, 'x');
      ASSERT_TRUE((*file)->Append(c).ok());
    }
    ASSERT_TRUE((*file)->Commit({}).ok());
    ManifestFile entry;
    (*file)->AddStorageTo(&entry);
    stored[pipe] = entry.stored_xxh3_128();
    EXPECT_EQ((*file)->size(), 9 * kChunk + 36 * 77777u);
  }
  EXPECT_EQ(stored[0], stored[1]);
}

}  // namespace
}  // namespace jetback::repo
