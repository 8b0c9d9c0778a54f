#include "proto/file_chunk_codec.h"

#include <algorithm>
#include <cstring>

#include "jetback/v1/backup.pb.h"

namespace jetback {
namespace {

using v1::FileChunk;

enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2 };

constexpr char Tag(int field, WireType type) {
  return static_cast<char>((field << 3) | type);
}

// Every tag of FileChunk fits one byte (field numbers < 16).
constexpr char kOffsetTag = Tag(FileChunk::kOffsetFieldNumber, kVarint);
constexpr char kDataTag = Tag(FileChunk::kDataFieldNumber, kLengthDelimited);
constexpr char kXxh3Tag = Tag(FileChunk::kXxh3FieldNumber, kFixed64);
constexpr char kLastTag = Tag(FileChunk::kLastFieldNumber, kVarint);
constexpr char kFileSizeTag = Tag(FileChunk::kFileSizeFieldNumber, kVarint);
constexpr char kXxh3128Tag =
    Tag(FileChunk::kXxh3128FieldNumber, kLengthDelimited);
constexpr char kStreamXxh3128Tag =
    Tag(FileChunk::kStreamXxh3128FieldNumber, kLengthDelimited);
constexpr char kCodecTag = Tag(FileChunk::kCodecFieldNumber, kVarint);
constexpr char kRawSizeTag = Tag(FileChunk::kRawSizeFieldNumber, kVarint);
static_assert(FileChunk::kRawSizeFieldNumber < 16);

char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

char* PutDigest(char* p, char tag, const ChunkDigest& d) {
  if (!d.present) return p;
  *p++ = tag;
  *p++ = static_cast<char>(d.bytes.size());
  std::memcpy(p, d.bytes.data(), d.bytes.size());
  return p + d.bytes.size();
}

// A read position in a sequence of slices.
class SliceCursor {
 public:
  explicit SliceCursor(const std::vector<grpc::Slice>& slices)
      : slices_(slices) {
    SkipEmpty();
  }
  bool done() const { return slice_ == slices_.size(); }

  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && !done(); shift += 7) {
      const uint8_t b = slices_[slice_].begin()[pos_];
      Advance(1);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Fixed(int bytes, uint64_t* v) {
    *v = 0;
    for (int i = 0; i < bytes; ++i) {
      if (done()) return false;
      *v |= static_cast<uint64_t>(slices_[slice_].begin()[pos_]) << (8 * i);
      Advance(1);
    }
    return true;
  }
  // Hands the next n bytes to visit(absl::string_view), one piece per slice
  // they span.
  template <typename Visit>
  bool Take(uint64_t n, Visit&& visit) {
    while (n > 0) {
      if (done()) return false;
      const grpc::Slice& s = slices_[slice_];
      const size_t here = std::min<uint64_t>(n, s.size() - pos_);
      visit(absl::string_view(reinterpret_cast<const char*>(s.begin()) + pos_,
                              here));
      Advance(here);
      n -= here;
    }
    return true;
  }
  // The next n bytes copied into *out; only for the short digest fields.
  bool TakeString(uint64_t n, std::string* out) {
    out->clear();
    return n <= 64 && Take(n, [out](absl::string_view p) {
             out->append(p.data(), p.size());
           });
  }

 private:
  void Advance(size_t n) {
    pos_ += n;
    SkipEmpty();
  }
  void SkipEmpty() {
    while (slice_ < slices_.size() && pos_ == slices_[slice_].size()) {
      ++slice_;
      pos_ = 0;
    }
  }
  const std::vector<grpc::Slice>& slices_;
  size_t slice_ = 0;
  size_t pos_ = 0;
};

}  // namespace

grpc::ByteBuffer EncodeFileChunk(const ChunkFields& f, grpc::Slice data,
                                 size_t n) {
  char head[2 + 2 * 10];
  char* p = head;
  if (f.offset != 0) {
    *p++ = kOffsetTag;
    p = PutVarint(p, f.offset);
  }
  if (n != 0) {
    *p++ = kDataTag;
    p = PutVarint(p, n);
  }
  char tail[1 + 8 + 2 + 1 + 10 + 2 * (2 + 16) + 2 * (1 + 10)];
  char* q = tail;
  if (f.xxh3 != 0) {
    *q++ = kXxh3Tag;
    for (int i = 0; i < 8; ++i) *q++ = static_cast<char>(f.xxh3 >> (8 * i));
  }
  if (f.last) {
    *q++ = kLastTag;
    *q++ = 1;
  }
  if (f.file_size != 0) {
    *q++ = kFileSizeTag;
    q = PutVarint(q, f.file_size);
  }
  q = PutDigest(q, kXxh3128Tag, f.xxh3_128);
  q = PutDigest(q, kStreamXxh3128Tag, f.stream_xxh3_128);
  if (f.codec != 0) {
    *q++ = kCodecTag;
    q = PutVarint(q, f.codec);
  }
  if (f.raw_size != 0) {
    *q++ = kRawSizeTag;
    q = PutVarint(q, f.raw_size);
  }
  grpc::Slice slices[3];
  size_t count = 0;
  if (p != head) slices[count++] = grpc::Slice(head, p - head);
  if (n != 0) slices[count++] = std::move(data);
  if (q != tail) slices[count++] = grpc::Slice(tail, q - tail);
  return grpc::ByteBuffer(slices, count);
}

void DecodedChunk::Reset() {
  offset = xxh3 = file_size = raw_size = 0;
  codec = 0;
  last = false;
  xxh3_128.clear();
  sha256.clear();
  stream_xxh3_128.clear();
  data.clear();
}

bool DecodeFileChunk(const std::vector<grpc::Slice>& slices,
                     DecodedChunk* chunk) {
  SliceCursor in(slices);
  while (!in.done()) {
    uint64_t tag = 0, v = 0;
    if (!in.Varint(&tag)) return false;
    const uint64_t field = tag >> 3;
    switch (tag & 7) {
      case kVarint:
        if (!in.Varint(&v)) return false;
        if (field == FileChunk::kOffsetFieldNumber) chunk->offset = v;
        if (field == FileChunk::kLastFieldNumber) chunk->last = v != 0;
        if (field == FileChunk::kFileSizeFieldNumber) chunk->file_size = v;
        if (field == FileChunk::kCodecFieldNumber) {
          chunk->codec = static_cast<uint32_t>(v);
        }
        if (field == FileChunk::kRawSizeFieldNumber) chunk->raw_size = v;
        break;
      case kFixed64:
        if (!in.Fixed(8, &v)) return false;
        if (field == FileChunk::kXxh3FieldNumber) chunk->xxh3 = v;
        break;
      case kLengthDelimited:
        if (!in.Varint(&v)) return false;
        if (field == FileChunk::kDataFieldNumber) {
          chunk->data.clear();  // the last occurrence wins
          if (!in.Take(v, [chunk](absl::string_view p) {
                chunk->data.push_back(p);
              })) {
            return false;
          }
        } else if (field == FileChunk::kSha256FieldNumber) {
          if (!in.TakeString(v, &chunk->sha256)) return false;
        } else if (field == FileChunk::kXxh3128FieldNumber) {
          if (!in.TakeString(v, &chunk->xxh3_128)) return false;
        } else if (field == FileChunk::kStreamXxh3128FieldNumber) {
          if (!in.TakeString(v, &chunk->stream_xxh3_128)) return false;
        } else if (!in.Take(v, [](absl::string_view) {})) {
          return false;
        }
        break;
      case 5:  // fixed32
        if (!in.Fixed(4, &v)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

}  // namespace jetback
