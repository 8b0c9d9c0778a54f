// The FileChunk decoder the client reads every ReadFile message with
// (DecodeFileChunk in proto/file_chunk_codec), fed the message split into
// 1-4 slices the way gRPC may deliver it. A decoded chunk's data views lie
// inside the input and digests stay short.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "proto/file_chunk_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // First byte: where to cut the rest into slices.
  const uint8_t cuts = data[0];
  const char* msg = reinterpret_cast<const char*>(data) + 1;
  const size_t n = size - 1;
  std::vector<size_t> points = {0};
  for (int i = 0; i < 3; ++i) {
    if ((cuts >> (2 * i)) & 3)
      points.push_back(n * ((cuts >> (2 * i)) & 3) / 4);
  }
  points.push_back(n);
  std::sort(points.begin(), points.end());
  std::vector<grpc::Slice> slices;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    slices.emplace_back(msg + points[i], points[i + 1] - points[i]);
  }
  jetback::DecodedChunk chunk;
  if (!jetback::DecodeFileChunk(slices, &chunk)) return 0;
  size_t data_bytes = 0;
  for (absl::string_view piece : chunk.data) {
    data_bytes += piece.size();
    bool inside = false;
    for (const grpc::Slice& s : slices) {
      const char* b = reinterpret_cast<const char*>(s.begin());
      if (piece.data() >= b && piece.data() + piece.size() <= b + s.size()) {
        inside = true;
      }
    }
    JB_FUZZ_CHECK(inside);
  }
  JB_FUZZ_CHECK(data_bytes <= n);
  JB_FUZZ_CHECK(chunk.xxh3_128.size() <= 64 && chunk.sha256.size() <= 64 &&
                chunk.stream_xxh3_128.size() <= 64);
  return 0;
}
