// File: client/digests.h
//
// The digests jetback keeps of a byte stream: XXH3-128 always (what the
// daemon sends, canonical 16-byte form), SHA-256 when asked for. Shared by
// the client's ReadFile checks and the CLI's backup-set writer and verifier.

#ifndef JETBACK_CLIENT_DIGESTS_H_
#define JETBACK_CLIENT_DIGESTS_H_

#include <xxhash.h>

#include <string>

#include "absl/strings/string_view.h"

namespace jetback {

// XXH3-128 of what `state` has seen so far, canonical (big-endian) bytes.
// O(1): finishing a copy of the state.
std::string CanonicalXxh3_128(const XXH3_state_t* state);

class StreamDigests {
 public:
  explicit StreamDigests(bool sha256);
  ~StreamDigests();
  StreamDigests(const StreamDigests&) = delete;
  StreamDigests& operator=(const StreamDigests&) = delete;

  // Both digests.
  void Update(absl::string_view data);
  // SHA-256 only, for a caller that feeds xxh3_state() itself.
  void UpdateSha256(absl::string_view data);
  XXH3_state_t* xxh3_state() { return xxh3_; }

  // Canonical XXH3-128 of everything so far.
  std::string Xxh3_128() const { return CanonicalXxh3_128(xxh3_); }
  // Finishes SHA-256 (raw 32 bytes); empty unless asked for. Once.
  std::string FinishSha256();

 private:
  XXH3_state_t* xxh3_;
  void* sha256_ = nullptr;  // EVP_MD_CTX
};

}  // namespace jetback

#endif  // JETBACK_CLIENT_DIGESTS_H_
