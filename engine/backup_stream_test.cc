// Stream internals on real log files: chunked, verified reads, the stop
// check between chunks, and "read to the end" bookkeeping.

#include "engine/backup_stream.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/format.h"
#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback::backup_internal {
namespace {

template <typename T>
JetErr ErrOf(const absl::StatusOr<T>& s) {
  return JetErrOf(s.status());
}

std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Stops after a given number of CheckStop calls.
class CountingGate : public StopGate {
 public:
  explicit CountingGate(int allow) : allow_(allow) {}
  absl::Status CheckStop() override {
    ++checks;
    if (checks > allow_) {
      return JetStatusWithReason(jet::JET_errBackupAbortByServer, "stopped",
                                 "test", "uid:1");
    }
    return absl::OkStatus();
  }
  absl::Status SleepUnlessStopped(absl::Duration) override {
    return CheckStop();
  }
  int checks = 0;

 private:
  int allow_;
};

// Writes a real log file of `blocks` blocks for generation `gen`.
std::string MakeLog(const std::string& dir, uint32_t gen, uint32_t blocks) {
  std::string data(size_t{blocks} * format::kLogBlockSize, '\0');
  format::LogFileHeader h;
  h.generation = gen;
  h.log_signature = 42;
  h.create_time_us = 1000;
  h.page_size = 4096;
  h.log_file_size = data.size();
  h.base_name = "E00";
  EXPECT_TRUE(format::EncodeLogHeader(
                  h, absl::MakeSpan(data.data(), format::kLogBlockSize))
                  .ok());
  for (uint32_t b = 1; b < blocks; ++b) {
    format::LogBlockHeader bh{};
    bh.generation = gen;
    bh.block = b;
    bh.data_len = 10;
    bh.flags = format::kLogBlockGroupStart | format::kLogBlockGroupEnd;
    bh.log_signature = 42;
    format::SealLogBlock(
        bh, absl::MakeSpan(data.data() + size_t{b} * format::kLogBlockSize,
                           format::kLogBlockSize));
  }
  const std::string path = dir + "/" + format::ArchiveLogName("E00", gen);
  WriteBytes(path, data);
  return path;
}

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("jetback_stream_" + std::to_string(::getpid())))
               .string();
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::shared_ptr<Stream> OpenLog(const std::string& path, uint32_t gen) {
    auto file = Env::Default()->OpenFile(path, OpenMode::kReadOnly);
    EXPECT_TRUE(file.ok());
    auto size = (*file)->Size();
    return Stream::ForLog(path, std::move(*file), gen, *size, 4096);
  }
  std::string dir_;
};

TEST_F(StreamTest, ReadsAndVerifiesLogInChunks) {
  const uint32_t blocks = 2 * kReadChunkBytes / format::kLogBlockSize + 4;
  const std::string path = MakeLog(dir_, 7, blocks);
  auto s = OpenLog(path, 7);
  std::string out(s->size(), '\0');
  CountingGate gate(1000);
  auto n = s->ReadAt(0, absl::MakeSpan(out), {}, &gate);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, s->size());
  EXPECT_EQ(gate.checks, 3);  // one look at the flag per chunk
  EXPECT_EQ(out, ReadBytes(path));
}

TEST_F(StreamTest, StopIsObservedBetweenChunks) {
  const uint32_t blocks = 3 * kReadChunkBytes / format::kLogBlockSize;
  auto s = OpenLog(MakeLog(dir_, 3, blocks), 3);
  std::string out(s->size(), '\0');
  CountingGate gate(1);
  auto n = s->ReadAt(0, absl::MakeSpan(out), {}, &gate);
  EXPECT_EQ(ErrOf(n), jet::JET_errBackupAbortByServer);
  EXPECT_EQ(JetReasonOf(n.status()), "test");
  EXPECT_EQ(gate.checks, 2);
}

TEST_F(StreamTest, CorruptBlockIs612) {
  const std::string path = MakeLog(dir_, 5, 8);
  std::string bytes = ReadBytes(path);
  bytes[3 * format::kLogBlockSize + 100] ^= 0x5a;
  WriteBytes(path, bytes);
  auto s = OpenLog(path, 5);
  std::string out(s->size(), '\0');
  CountingGate gate(1000);
  EXPECT_EQ(ErrOf(s->ReadAt(0, absl::MakeSpan(out), {}, &gate)),
            jet::JET_errLogReadVerifyFailure);
}

TEST_F(StreamTest, WrongGenerationIs612) {
  auto s = OpenLog(MakeLog(dir_, 5, 4), 6);
  std::string out(s->size(), '\0');
  CountingGate gate(1000);
  EXPECT_EQ(ErrOf(s->ReadAt(0, absl::MakeSpan(out), {}, &gate)),
            jet::JET_errLogReadVerifyFailure);
}

TEST_F(StreamTest, ReadToEndTracksHandedOutRanges) {
  auto s = OpenLog(MakeLog(dir_, 2, 8), 2);
  const uint64_t size = s->size();
  EXPECT_FALSE(s->ReadToEnd(0));
  s->MarkHandedOut(4096, 8192);
  s->MarkHandedOut(16384, size);
  EXPECT_FALSE(s->ReadToEnd(0));
  EXPECT_TRUE(s->ReadToEnd(16384));
  s->MarkHandedOut(0, 4096);
  s->MarkHandedOut(8192, 20480);  // overlapping resume
  EXPECT_TRUE(s->ReadToEnd(0));
  EXPECT_TRUE(s->ReadToEnd(size));
}

}  // namespace
}  // namespace jetback::backup_internal
