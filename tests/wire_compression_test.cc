// ReadFile's opt-in wire compression (ReadFileRequest.wire_codec) through a
// real jetbackd: the same bytes and digests with and without it, random
// data sent raw, a client that does not ask gets uncompressed chunks, and
// `jetback backup --wire-compress zstd` makes a set that verifies.

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "jetback/status.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

using ::jetback::JetErrOf;

constexpr uint64_t kChunk = 64 * 1024;  // DaemonConfigOptions::chunk_size

class WireCompressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = DaemonProcess::Start(dir_.path(), DaemonConfig(dir_.path()));
    ASSERT_NE(daemon_, nullptr);
    ClientOptions options;
    options.server = "unix:" + daemon_->socket_path();
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }

  void Put(const std::string& key, const std::string& value) {
    v1::Operation op;
    op.set_kind(v1::Operation::KIND_PUT);
    op.set_table("t");
    op.set_key(key);
    op.set_value(value);
    ASSERT_TRUE(client_->Transact("demo", "", {op}).ok());
  }
  // JSON-like rows: compress well, as real records do.
  void PutJsonRows(int n) {
    for (int i = 0; i < n; ++i) {
      std::string v;
      for (int j = 0; j < 30; ++j) {
        absl::StrAppendFormat(
            &v, "{\"id\":%d,\"name\":\"user-%d\",\"active\":true,\"n\":%d},",
            i * 100 + j, i, j);
      }
      Put(absl::StrFormat("json%05d", i), v);
    }
  }
  // `size` random bytes in 128 KiB values: overflow pages nothing
  // compresses.
  void PutRandom(size_t size) {
    std::mt19937_64 rng(42);
    for (size_t done = 0, i = 0; done < size; done += 128 << 10, ++i) {
      std::string v(128 << 10, '\0');
      for (char& c : v) c = static_cast<char>(rng());
      Put(absl::StrCat("random", i), v);
    }
  }

  struct Read {
    std::string data;
    ReadFileResult result;
  };
  Read ReadAll(const BackupRef& b, WireCodec codec) {
    Read r;
    ReadFileOptions options;
    options.wire_codec = codec;
    auto read = client_->ReadFile(
        b, 0, 0, 0,
        [&](uint64_t, absl::string_view chunk) {
          r.data.append(chunk.data(), chunk.size());
          return absl::OkStatus();
        },
        nullptr, options);
    EXPECT_TRUE(read.ok()) << read.status();
    if (read.ok()) r.result = *read;
    return r;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<Client> client_;
};

TEST_F(WireCompressionTest, SameBytesAndDigestsWithAndWithoutCompression) {
  PutJsonRows(300);
  auto begun = client_->BeginBackup("demo", 0, "wire_compression_test");
  ASSERT_TRUE(begun.ok()) << begun.status();
  const BackupRef b{"demo", begun->backup_id()};
  auto dbs = client_->GetAttachInfo(b);
  ASSERT_TRUE(dbs.ok());
  for (const std::string& db : *dbs) {
    ASSERT_TRUE(client_->OpenFile(b, db).ok());
    // The copy is fuzzy (the flusher may write pages between two reads):
    // read plain, compressed, plain until the plain reads agree (the
    // flusher catches up), then the compressed one must equal them.
    bool stable = false;
    for (int attempt = 0; attempt < 20 && !stable; ++attempt) {
      const Read plain = ReadAll(b, WireCodec::kNone);
      const Read zstd = ReadAll(b, WireCodec::kZstd);
      const Read again = ReadAll(b, WireCodec::kNone);
      EXPECT_EQ(plain.result.compressed_chunks, 0u);
      EXPECT_EQ(plain.result.wire_bytes, plain.result.bytes);
      EXPECT_GT(zstd.result.compressed_chunks, 0u);
      EXPECT_LT(zstd.result.wire_bytes * 3, zstd.result.bytes) << "JSON rows";
      ASSERT_EQ(zstd.result.xxh3_128.size(), 16u);
      if (plain.data != again.data) continue;
      stable = true;
      EXPECT_TRUE(zstd.data == plain.data) << "compressed read differs";
      EXPECT_TRUE(zstd.result.xxh3_128 == plain.result.xxh3_128);
      EXPECT_EQ(zstd.result.bytes, plain.result.bytes);
    }
    EXPECT_TRUE(stable);
    ASSERT_TRUE(client_->CloseFile(b, 0).ok());
  }
  auto logs = client_->GetLogInfo(b);
  ASSERT_TRUE(logs.ok()) << logs.status();
  uint64_t coded = 0;
  for (const std::string& log : logs->files()) {
    ASSERT_TRUE(client_->OpenFile(b, log).ok());
    const Read plain = ReadAll(b, WireCodec::kNone);
    const Read zstd = ReadAll(b, WireCodec::kZstd);
    ASSERT_TRUE(client_->CloseFile(b, 0).ok());
    // Archived logs never change: the reads must agree exactly.
    EXPECT_TRUE(zstd.data == plain.data) << log;
    EXPECT_TRUE(zstd.result.xxh3_128 == plain.result.xxh3_128) << log;
    EXPECT_EQ(zstd.result.bytes, plain.result.bytes) << log;
    coded += zstd.result.compressed_chunks;
  }
  EXPECT_GT(coded, 0u);
  ASSERT_TRUE(client_->EndBackup(b, 0x1).ok());
}

TEST_F(WireCompressionTest, RandomDataGoesRaw) {
  constexpr size_t kRandom = 2 << 20;
  PutRandom(kRandom);
  auto begun = client_->BeginBackup("demo", 0, "wire_compression_test");
  ASSERT_TRUE(begun.ok()) << begun.status();
  const BackupRef b{"demo", begun->backup_id()};
  auto dbs = client_->GetAttachInfo(b);
  ASSERT_TRUE(dbs.ok());
  // The random pages are in the database (once flushed) and in the logs
  // (as page images): count the chunks of the whole set.
  std::vector<std::string> files = *dbs;
  uint64_t chunks = 0, compressed = 0, wire = 0, bytes = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    ASSERT_TRUE(client_->OpenFile(b, files[i]).ok());
    const Read zstd = ReadAll(b, WireCodec::kZstd);
    ASSERT_TRUE(client_->CloseFile(b, 0).ok());
    ASSERT_TRUE(zstd.result.reached_end);
    chunks += (zstd.result.bytes + kChunk - 1) / kChunk;
    compressed += zstd.result.compressed_chunks;
    wire += zstd.result.wire_bytes;
    bytes += zstd.result.bytes;
    if (i + 1 == dbs->size()) {
      auto logs = client_->GetLogInfo(b);
      ASSERT_TRUE(logs.ok()) << logs.status();
      files.insert(files.end(), logs->files().begin(), logs->files().end());
    }
  }
  // Chunks of random pages went as they are (raw): at least half the
  // random bytes' worth of chunks, and all of the random bytes on the wire.
  EXPECT_GE(chunks - compressed, kRandom / kChunk / 2)
      << chunks << " chunks, " << compressed << " compressed";
  EXPECT_GE(wire, kRandom);
  EXPECT_GT(compressed, 0u) << "zero log tails and headers still compress";
  EXPECT_LT(wire, bytes);
  ASSERT_TRUE(client_->EndBackup(b, 0x2).ok());  // abort
}

// A client that does not ask (the generated stub, as a foreign agent
// would use it) gets uncompressed chunks; an unknown codec is -1003.
TEST_F(WireCompressionTest, ClientsThatDoNotAskGetRawChunks) {
  PutJsonRows(50);
  auto begun = client_->BeginBackup("demo", 0, "wire_compression_test");
  ASSERT_TRUE(begun.ok()) << begun.status();
  const BackupRef b{"demo", begun->backup_id()};
  auto dbs = client_->GetAttachInfo(b);
  ASSERT_TRUE(dbs.ok());
  auto opened = client_->OpenFile(b, dbs->front());
  ASSERT_TRUE(opened.ok());
  auto stub = v1::Backup::NewStub(daemon_->Connect());
  for (int codec : {0, 7}) {
    v1::ReadFileRequest req;
    req.set_instance("demo");
    req.set_backup_id(b.backup_id);
    req.set_wire_codec(static_cast<v1::ChunkCodec>(codec));
    grpc::ClientContext ctx;
    auto reader = stub->ReadFile(&ctx, req);
    v1::FileChunk chunk;
    uint64_t bytes = 0;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.codec(), v1::CHUNK_CODEC_NONE);
      EXPECT_EQ(chunk.raw_size(), 0u);
      EXPECT_EQ(chunk.offset(), bytes);
      bytes += chunk.data().size();
    }
    grpc::Status status = reader->Finish();
    if (codec == 0) {
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(bytes, opened->size());
    } else {
      EXPECT_EQ(::jetback::testing::JetErrOf(status),
                jet::JET_errInvalidParameter);
      EXPECT_EQ(bytes, 0u);
    }
  }
  ASSERT_TRUE(client_->CloseFile(b, 0).ok());
  ASSERT_TRUE(client_->EndBackup(b, 0x2).ok());  // abort
}

TEST_F(WireCompressionTest, CliBackupWithWireCompressionVerifies) {
  PutJsonRows(200);
  const std::string server = "unix:" + daemon_->socket_path();
  CliResult backup =
      RunCli(dir_.path(), {"--server", server, "--output", "json", "backup",
                           "--instance", "demo", "--out", dir_.path() + "/set",
                           "--wire-compress", "zstd"});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  const size_t at = backup.out.find("\"wire_bytes\":");
  ASSERT_NE(at, std::string::npos) << backup.out;
  const uint64_t wire = std::stoull(backup.out.substr(at + 13));
  const size_t b = backup.out.find("\"bytes\":");
  ASSERT_NE(b, std::string::npos);
  const uint64_t bytes = std::stoull(backup.out.substr(b + 8));
  EXPECT_LT(wire * 2, bytes) << backup.out;
  CliResult verify =
      RunCli(dir_.path(), {"verify", "--deep", dir_.path() + "/set"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  CliResult bad = RunCli(
      dir_.path(), {"--server", server, "backup", "--instance", "demo", "--out",
                    dir_.path() + "/set2", "--wire-compress", "lz4"});
  EXPECT_NE(bad.exit_code, 0);
}

}  // namespace
}  // namespace jetback::testing
