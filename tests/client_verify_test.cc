// The client's checks of what ReadFile streams: a real jetbackd never sends
// a bad chunk, so these tests read from tests/scripted_read_server, a
// separate process that sends a fixed script, and check that every kind of
// bad stream gives -1018 and that a chunk's bytes are never handed on
// before they are verified.

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "jetback/status.h"
#include "tests/daemon_test_util.h"
#include "tests/scripted_read_server.h"

namespace jetback {
namespace {

using testing::ScriptedFileData;
using testing::TempDir;
using testing::Xxh3_128;

class ClientVerifyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_ != nullptr) {
      ::kill(server_pid_, SIGTERM);
      const int status = ::pclose(server_);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
  }

  // Starts the server on `script` and reads the whole file from it;
  // `delivered` gets every byte handed on.
  absl::StatusOr<ReadFileResult> ReadScript(const std::string& script,
                                            std::string* delivered) {
    const std::string socket = dir_.path() + "/s.sock";
    server_ = ::popen(
        absl::StrCat(SCRIPTED_READ_SERVER_PATH, " ", socket, " ", script)
            .c_str(),
        "r");
    if (server_ == nullptr) return absl::InternalError("popen");
    // The server prints "ready PID" once it listens.
    if (std::fscanf(server_, "ready %d", &server_pid_) != 1) {
      return absl::InternalError("the scripted server did not start");
    }
    ClientOptions options;
    options.server = "unix:" + socket;
    options.read_resume_attempts = 0;
    auto client = Client::Connect(options);
    if (!client.ok()) return client.status();
    return (*client)->ReadFile(
        BackupRef{"demo", "b1"}, 0, 0, 0,
        [delivered](uint64_t at, absl::string_view piece) {
          EXPECT_EQ(at, delivered->size());
          delivered->append(piece.data(), piece.size());
          return absl::OkStatus();
        });
  }

  const std::string data_ = ScriptedFileData();
  TempDir dir_;
  FILE* server_ = nullptr;
  int server_pid_ = 0;
};

// The server refuses a request without stream_xxh3_128 for this script.
TEST_F(ClientVerifyTest, StreamDigestsAreAskedForAndAGoodStreamReads) {
  std::string got;
  auto read = ReadScript("good", &got);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(got, data_);
  EXPECT_EQ(read->xxh3_128, Xxh3_128(data_));
  EXPECT_TRUE(read->reached_end);
}

TEST_F(ClientVerifyTest, ACorruptChunkIsRefusedBeforeItsBytesAreHandedOn) {
  std::string got;
  auto read = ReadScript("corrupt", &got);
  EXPECT_EQ(JetErrOf(read.status()), jet::JET_errReadVerifyFailure)
      << read.status();
  EXPECT_EQ(got, data_.substr(0, 65536));  // only the good first chunk
}

TEST_F(ClientVerifyTest, AWrongWholeFileDigestIsRefused) {
  std::string got;
  EXPECT_EQ(JetErrOf(ReadScript("bad_file_digest", &got).status()),
            jet::JET_errReadVerifyFailure);
}

TEST_F(ClientVerifyTest, ChunkDigestsOfAnOlderDaemonAreChecked) {
  std::string got;
  auto read = ReadScript("chunk_digests", &got);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(got, data_);
  EXPECT_EQ(read->xxh3_128, Xxh3_128(data_));
}

TEST_F(ClientVerifyTest, AWrongChunkDigestOfAnOlderDaemonIsRefused) {
  std::string got;
  EXPECT_EQ(JetErrOf(ReadScript("bad_chunk_digest", &got).status()),
            jet::JET_errReadVerifyFailure);
  EXPECT_EQ(got, data_.substr(0, 2 * 65536));
}

TEST_F(ClientVerifyTest, AChunkWithoutAnyDigestIsRefused) {
  std::string got;
  EXPECT_EQ(JetErrOf(ReadScript("no_digest", &got).status()),
            jet::JET_errReadVerifyFailure);
  EXPECT_TRUE(got.empty());
}

TEST_F(ClientVerifyTest, OutOfOrderChunksAreRefused) {
  std::string got;
  EXPECT_FALSE(ReadScript("out_of_order", &got).ok());
  EXPECT_EQ(got.size(), 65536u);
}

}  // namespace
}  // namespace jetback
