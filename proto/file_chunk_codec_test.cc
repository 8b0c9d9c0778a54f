#include "proto/file_chunk_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "jetback/v1/backup.pb.h"

namespace jetback {
namespace {

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

ChunkDigest DigestOf(unsigned char first) {
  ChunkDigest d;
  d.present = true;
  for (size_t i = 0; i < d.bytes.size(); ++i) d.bytes[i] = first + i;
  return d;
}

std::string Bytes(const ChunkDigest& d) {
  return std::string(reinterpret_cast<const char*>(d.bytes.data()),
                     d.bytes.size());
}

struct Case {
  const char* name;
  ChunkFields fields;
  std::string data;
};

// The generated message with the same fields and data.
v1::FileChunk MessageOf(const Case& c) {
  v1::FileChunk m;
  m.set_offset(c.fields.offset);
  m.set_data(c.data);
  m.set_xxh3(c.fields.xxh3);
  m.set_last(c.fields.last);
  m.set_file_size(c.fields.file_size);
  if (c.fields.xxh3_128.present) m.set_xxh3_128(Bytes(c.fields.xxh3_128));
  if (c.fields.stream_xxh3_128.present) {
    m.set_stream_xxh3_128(Bytes(c.fields.stream_xxh3_128));
  }
  m.set_codec(static_cast<v1::ChunkCodec>(c.fields.codec));
  m.set_raw_size(c.fields.raw_size);
  return m;
}

class FileChunkCodecTest : public testing::TestWithParam<Case> {};

// What the daemon encodes is byte for byte what protobuf serializes, and the
// generated parser reads it back.
TEST_P(FileChunkCodecTest, EncodeMatchesGeneratedSerializer) {
  const Case& c = GetParam();
  grpc::ByteBuffer wire = EncodeFileChunk(
      c.fields, grpc::Slice(c.data.data(), c.data.size()), c.data.size());

  const v1::FileChunk expected = MessageOf(c);
  EXPECT_EQ(Flatten(wire), expected.SerializeAsString());
}

// The client's decoder reads what the generated serializer writes, also when
// gRPC hands it over in many small slices.
TEST_P(FileChunkCodecTest, DecodeReadsGeneratedMessage) {
  const Case& c = GetParam();
  const v1::FileChunk message = MessageOf(c);
  const std::string bytes = message.SerializeAsString();
  for (size_t piece : {bytes.size() + 1, size_t{1}, size_t{7}}) {
    std::vector<grpc::Slice> slices;
    for (size_t at = 0; at < bytes.size(); at += piece) {
      const size_t n = std::min(piece, bytes.size() - at);
      slices.emplace_back(bytes.data() + at, n);
    }
    DecodedChunk chunk;
    ASSERT_TRUE(DecodeFileChunk(slices, &chunk)) << "piece " << piece;
    std::string data;
    for (absl::string_view p : chunk.data) data.append(p.data(), p.size());
    EXPECT_EQ(chunk.offset, c.fields.offset);
    EXPECT_EQ(data, c.data);
    EXPECT_EQ(chunk.xxh3, c.fields.xxh3);
    EXPECT_EQ(chunk.last, c.fields.last);
    EXPECT_EQ(chunk.file_size, c.fields.file_size);
    EXPECT_EQ(chunk.xxh3_128, message.xxh3_128());
    EXPECT_EQ(chunk.stream_xxh3_128, message.stream_xxh3_128());
    EXPECT_EQ(chunk.codec, c.fields.codec);
    EXPECT_EQ(chunk.raw_size, c.fields.raw_size);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Messages, FileChunkCodecTest,
    testing::Values(Case{"empty", {}, ""},
                    Case{"middle",
                         {.offset = 3 << 20, .xxh3 = 0x0123456789abcdefULL},
                         std::string(8192, 'x')},
                    Case{"last_with_digests",
                         {.offset = 1ULL << 40,
                          .last = true,
                          .file_size = (1ULL << 40) + 5,
                          .xxh3_128 = DigestOf(1),
                          .stream_xxh3_128 = DigestOf(100)},
                         "tail!"},
                    Case{"stream_digest_only",
                         {.offset = 127, .stream_xxh3_128 = DigestOf(7)},
                         std::string(300, '\0')},
                    Case{"compressed",
                         {.offset = 1 << 20,
                          .stream_xxh3_128 = DigestOf(9),
                          .codec = v1::CHUNK_CODEC_ZSTD,
                          .raw_size = 1 << 20},
                         "zstd frame bytes"}),
    [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(FileChunkCodec, DecodeSkipsUnknownFieldsAndRejectsTruncation) {
  std::string bytes;
  bytes += static_cast<char>((15 << 3) | 2);  // unknown length-delimited
  bytes += static_cast<char>(2);
  bytes += "zz";
  bytes += static_cast<char>((1 << 3) | 0);  // offset 5
  bytes += static_cast<char>(5);
  std::vector<grpc::Slice> slices{grpc::Slice(bytes.data(), bytes.size())};
  DecodedChunk chunk;
  ASSERT_TRUE(DecodeFileChunk(slices, &chunk));
  EXPECT_EQ(chunk.offset, 5u);

  // data field claiming more bytes than present
  std::string bad =
      "\x12\x10"
      "abc";
  std::vector<grpc::Slice> truncated{grpc::Slice(bad.data(), bad.size())};
  chunk.Reset();
  EXPECT_FALSE(DecodeFileChunk(truncated, &chunk));
  // a digest field longer than any digest
  std::string long_digest = "\x42\x41" + std::string(65, 'd');
  std::vector<grpc::Slice> too_long{
      grpc::Slice(long_digest.data(), long_digest.size())};
  chunk.Reset();
  EXPECT_FALSE(DecodeFileChunk(too_long, &chunk));
}

}  // namespace
}  // namespace jetback
