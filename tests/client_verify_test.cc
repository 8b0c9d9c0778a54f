// The client's checks of what ReadFile streams: a real jetbackd never sends
// a bad chunk, so this test serves ReadFile from a scripted in-process server
// and checks that every kind of bad stream gives -1018 and that a chunk's
// bytes are never handed on before they are verified.

#include <xxhash.h>

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "jetback/status.h"
#include "jetback/v1/backup.grpc.pb.h"
#include "tests/daemon_test_util.h"

namespace jetback {
namespace {

using testing::TempDir;
using testing::Xxh3_128;

// Sends whatever chunks the test put in `script`.
class ScriptedBackup final : public v1::Backup::Service {
 public:
  std::vector<v1::FileChunk> script;
  v1::ReadFileRequest last_request;

  grpc::Status ReadFile(grpc::ServerContext*, const v1::ReadFileRequest* req,
                        grpc::ServerWriter<v1::FileChunk>* writer) override {
    last_request = *req;
    for (const v1::FileChunk& chunk : script) writer->Write(chunk);
    return grpc::Status::OK;
  }
};

std::string Canonical(XXH128_hash_t hash) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, hash);
  return std::string(reinterpret_cast<const char*>(c.digest), sizeof c.digest);
}

// Chunks of `data` as jetbackd sends them when asked for stream digests.
std::vector<v1::FileChunk> StreamChunks(const std::string& data, size_t size) {
  std::vector<v1::FileChunk> chunks;
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  for (size_t at = 0; at < data.size(); at += size) {
    v1::FileChunk c;
    c.set_offset(at);
    c.set_data(data.substr(at, size));
    XXH3_128bits_update(state, c.data().data(), c.data().size());
    c.set_stream_xxh3_128(Canonical(XXH3_128bits_digest(state)));
    chunks.push_back(c);
  }
  XXH3_freeState(state);
  chunks.back().set_last(true);
  chunks.back().set_file_size(data.size());
  chunks.back().set_xxh3_128(Xxh3_128(data));
  return chunks;
}

// The same as an older jetbackd sends them: XXH3-64 per chunk.
std::vector<v1::FileChunk> ChunkDigestChunks(const std::string& data,
                                             size_t size) {
  std::vector<v1::FileChunk> chunks = StreamChunks(data, size);
  for (v1::FileChunk& c : chunks) {
    c.clear_stream_xxh3_128();
    c.set_xxh3(XXH3_64bits(c.data().data(), c.data().size()));
  }
  return chunks;
}

class ClientVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < data_.size(); ++i) {
      data_[i] = static_cast<char>((i * 131) >> 3);
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_.path() + "/s.sock",
                             grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ClientOptions options;
    options.server = "unix:" + dir_.path() + "/s.sock";
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }
  void TearDown() override { server_->Shutdown(); }

  // Reads the scripted file; `delivered` gets every byte handed on.
  absl::StatusOr<ReadFileResult> Read(std::string* delivered) {
    return client_->ReadFile(BackupRef{"demo", "b1"}, 0, 0, 0,
                             [delivered](uint64_t at, absl::string_view piece) {
                               EXPECT_EQ(at, delivered->size());
                               delivered->append(piece.data(), piece.size());
                               return absl::OkStatus();
                             });
  }

  std::string data_ = std::string(200000, '\0');
  TempDir dir_;
  ScriptedBackup service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientVerifyTest, StreamDigestsAreAskedForAndAGoodStreamReads) {
  service_.script = StreamChunks(data_, 65536);
  std::string got;
  auto read = Read(&got);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(service_.last_request.stream_xxh3_128());
  EXPECT_EQ(got, data_);
  EXPECT_EQ(read->xxh3_128, Xxh3_128(data_));
  EXPECT_TRUE(read->reached_end);
}

TEST_F(ClientVerifyTest, ACorruptChunkIsRefusedBeforeItsBytesAreHandedOn) {
  service_.script = StreamChunks(data_, 65536);
  std::string* bytes = service_.script[1].mutable_data();
  (*bytes)[1000] ^= 0x20;
  std::string got;
  auto read = Read(&got);
  EXPECT_EQ(JetErrOf(read.status()), jet::JET_errReadVerifyFailure)
      << read.status();
  EXPECT_EQ(got, data_.substr(0, 65536));  // only the good first chunk
}

TEST_F(ClientVerifyTest, AWrongWholeFileDigestIsRefused) {
  service_.script = StreamChunks(data_, 65536);
  service_.script.back().set_xxh3_128(std::string(16, 'x'));
  std::string got;
  EXPECT_EQ(JetErrOf(Read(&got).status()), jet::JET_errReadVerifyFailure);
}

TEST_F(ClientVerifyTest, ChunkDigestsOfAnOlderDaemonAreChecked) {
  service_.script = ChunkDigestChunks(data_, 65536);
  std::string got;
  auto read = Read(&got);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(got, data_);
  EXPECT_EQ(read->xxh3_128, Xxh3_128(data_));

  service_.script[2].set_xxh3(service_.script[2].xxh3() + 1);
  got.clear();
  EXPECT_EQ(JetErrOf(Read(&got).status()), jet::JET_errReadVerifyFailure);
  EXPECT_EQ(got.size(), 2u * 65536);
}

TEST_F(ClientVerifyTest, AChunkWithoutAnyDigestIsRefused) {
  service_.script = StreamChunks(data_, 65536);
  service_.script[0].clear_stream_xxh3_128();
  std::string got;
  EXPECT_EQ(JetErrOf(Read(&got).status()), jet::JET_errReadVerifyFailure);
  EXPECT_TRUE(got.empty());
}

TEST_F(ClientVerifyTest, OutOfOrderChunksAreRefused) {
  service_.script = StreamChunks(data_, 65536);
  service_.script[1].set_offset(65536 + 4096);
  std::string got;
  EXPECT_FALSE(Read(&got).ok());
  EXPECT_EQ(got.size(), 65536u);
}

}  // namespace
}  // namespace jetback
