// File: proto/file_chunk_codec.h
//
// The one wire codec of v1::FileChunk outside protobuf's own: the daemon
// encodes each ReadFile message around a slice that owns the read buffer
// (no copy of the data), and the client decodes the data as views into
// gRPC's received slices (no copy either). Both are wire-identical to the
// generated message; file_chunk_codec_test checks the round trip against it.
//
// Thread-safety: stateless functions.

#ifndef JETBACK_PROTO_FILE_CHUNK_CODEC_H_
#define JETBACK_PROTO_FILE_CHUNK_CODEC_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace jetback {

// A 16-byte XXH3-128 in canonical (big-endian) form, or absent.
struct ChunkDigest {
  bool present = false;
  std::array<unsigned char, 16> bytes{};
};

// v1::FileChunk's fields other than data, as the daemon sends them.
struct ChunkFields {
  uint64_t offset = 0;
  uint64_t xxh3 = 0;  // 0: absent
  bool last = false;
  uint64_t file_size = 0;
  ChunkDigest xxh3_128;
  ChunkDigest stream_xxh3_128;
  uint32_t codec = 0;     // v1::ChunkCodec of data; 0: raw (absent)
  uint64_t raw_size = 0;  // with a codec: the decoded size
};

// Encodes FileChunk{fields, data} as protobuf's serializer would (fields in
// number order, proto3 defaults left out). `data` (may be empty) becomes
// part of the message without a copy.
grpc::ByteBuffer EncodeFileChunk(const ChunkFields& fields, grpc::Slice data,
                                 size_t data_size);

// A FileChunk as read straight from gRPC's slices; `data` views them (a
// message arrives in several), valid while the slices live.
struct DecodedChunk {
  uint64_t offset = 0;
  uint64_t xxh3 = 0;  // 0: absent
  bool last = false;
  uint64_t file_size = 0;
  std::string xxh3_128;  // raw bytes; empty when absent
  std::string sha256;    // sent by old daemons only
  std::string stream_xxh3_128;
  uint32_t codec = 0;  // v1::ChunkCodec; 0: data is raw
  uint64_t raw_size = 0;
  std::vector<absl::string_view> data;

  // Empties every field, keeping the buffers (one object per stream).
  void Reset();
};

// Decodes FileChunk's wire form; unknown fields are skipped as protobuf
// does. False on malformed input (truncated, bad wire type, digest fields
// longer than 64 bytes).
bool DecodeFileChunk(const std::vector<grpc::Slice>& slices,
                     DecodedChunk* chunk);

}  // namespace jetback

#endif  // JETBACK_PROTO_FILE_CHUNK_CODEC_H_
