#include "client/digests.h"

#include <openssl/evp.h>
#if defined(__x86_64__) || defined(__i386__)
// XXH3 through libxxhash's runtime dispatch (AVX2 / AVX-512 when the CPU
// has them): about 3.5x the default SSE2 code path, same hashes.
#include <xxh_x86dispatch.h>
#endif

namespace jetback {

std::string CanonicalXxh3_128(const XXH3_state_t* state) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state));
  return std::string(reinterpret_cast<const char*>(canonical.digest),
                     sizeof(canonical.digest));
}

StreamDigests::StreamDigests(bool sha256) : xxh3_(XXH3_createState()) {
  XXH3_128bits_reset(xxh3_);
  if (sha256) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    sha256_ = ctx;
  }
}

StreamDigests::~StreamDigests() {
  XXH3_freeState(xxh3_);
  if (sha256_ != nullptr) EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(sha256_));
}

void StreamDigests::Update(absl::string_view data) {
  XXH3_128bits_update(xxh3_, data.data(), data.size());
  UpdateSha256(data);
}

void StreamDigests::UpdateSha256(absl::string_view data) {
  if (sha256_ == nullptr) return;
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(sha256_), data.data(), data.size());
}

std::string StreamDigests::FinishSha256() {
  if (sha256_ == nullptr) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(sha256_), digest, &len);
  return std::string(reinterpret_cast<char*>(digest), len);
}

}  // namespace jetback
