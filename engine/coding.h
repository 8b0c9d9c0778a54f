// File: engine/coding.h
//
// Little-endian field writers and readers over fixed buffers, for the
// on-disk formats. Writes past the end are dropped and reads past the end
// give zeros; callers size their buffers (ok() tells whether all fit).

#ifndef JETBACK_ENGINE_CODING_H_
#define JETBACK_ENGINE_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace jetback {

class Writer {
 public:
  explicit Writer(absl::Span<char> out) : out_(out) {}
  void U16(uint16_t v) { Raw(&v, sizeof(v)); }
  void U32(uint32_t v) { Raw(&v, sizeof(v)); }
  void U64(uint64_t v) { Raw(&v, sizeof(v)); }
  void Bytes(absl::string_view s) { Raw(s.data(), s.size()); }
  size_t pos() const { return pos_; }
  bool ok() const { return ok_; }

 private:
  void Raw(const void* p, size_t n) {
    if (pos_ + n > out_.size()) {
      ok_ = false;
      return;
    }
    std::memcpy(out_.data() + pos_, p, n);
    pos_ += n;
  }
  absl::Span<char> out_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Reader {
 public:
  explicit Reader(absl::Span<const char> in) : in_(in) {}
  uint16_t U16() { return Get<uint16_t>(); }
  uint32_t U32() { return Get<uint32_t>(); }
  uint64_t U64() { return Get<uint64_t>(); }
  absl::string_view Bytes(size_t n) {
    if (pos_ + n > in_.size()) {
      ok_ = false;
      pos_ = in_.size();
      return {};
    }
    absl::string_view s(in_.data() + pos_, n);
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool ok() const { return ok_; }

 private:
  template <typename T>
  T Get() {
    T v{};
    if (pos_ + sizeof(T) > in_.size()) {
      ok_ = false;
      pos_ = in_.size();
      return v;
    }
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  absl::Span<const char> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace jetback

#endif  // JETBACK_ENGINE_CODING_H_
