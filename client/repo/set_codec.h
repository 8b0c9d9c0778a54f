// File: client/repo/set_codec.h
//
// How a set's files are stored: as streamed, or compressed (zstd, one frame
// per file) and/or encrypted (libsodium crypto_secretstream_xchacha20poly1305,
// after compression). Both streamed, never a whole file in memory. The
// manifest keeps each file's size and digests over the bytes as streamed
// (the daemon's), plus the codec, stored size and stored digest; with
// encryption the manifest is authenticated by an HMAC. Layout and framing:
// engine/BACKUP_SET_FORMAT.md.
//
// Errors: -1003 bad option or key text; -1907 (JET_errAccessDenied) an
// encrypted set without a key, or with a key of another id; -1018
// (JET_errReadVerifyFailure) naming the file when a stored file or the
// manifest fails authentication, is truncated, damaged, or was swapped
// with another file. Never are wrong bytes passed on as good: a decoder's
// output is only trusted once Finish returned OK.
// Thread-safety: none; one thread per writer, decoder or key use.

#ifndef JETBACK_CLIENT_REPO_SET_CODEC_H_
#define JETBACK_CLIENT_REPO_SET_CODEC_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/repo/repository.h"
#include "repo/manifest.pb.h"

namespace jetback::repo {

inline constexpr char kCodecNone[] = "none";
inline constexpr char kCodecZstd[] = "zstd";
inline constexpr char kCipher[] = "xchacha20poly1305-secretstream";
// Level of `--compress zstd` without one. Measured with
// bench/set_codec_bench.cc (bench/results/set-codec-2026-12-02.md): on
// JSON-like rows zstd:1 took 2.6 ms CPU per MiB against 8.7 for zstd:3, for
// the same ratio (0.17 vs 0.18); on random bytes both store ~1.000.
inline constexpr int kDefaultZstdLevel = 1;
// Plaintext bytes per secretstream message.
inline constexpr uint32_t kCipherChunk = 64 * 1024;
// The environment variable holding the repository key (hex or base64).
inline constexpr char kKeyEnv[] = "JETBACK_REPO_KEY";

struct CompressOptions {
  std::string codec = kCodecNone;  // kCodecNone or kCodecZstd
  int level = kDefaultZstdLevel;
};
// "none", "zstd" or "zstd:LEVEL" (1-19); -1003 otherwise.
absl::StatusOr<CompressOptions> ParseCompress(absl::string_view text);

// A 32-byte repository key and what is derived from it (crypto_kdf):
// the key id recorded in manifests, the file key and the manifest MAC key.
// The key itself is never written anywhere.
class RepoKey {
 public:
  static constexpr size_t kBytes = 32;
  // 64 hex digits or the base64 of 32 bytes, surrounding white space
  // ignored; `origin` names where it came from in errors (-1003).
  static absl::StatusOr<std::shared_ptr<const RepoKey>> FromText(
      absl::string_view text, absl::string_view origin);
  // The file at `path` holds the key as text (-1811 when missing).
  static absl::StatusOr<std::shared_ptr<const RepoKey>> FromFile(
      const std::string& path);
  // `path` when given, else $JETBACK_REPO_KEY when set, else no key.
  static absl::StatusOr<std::shared_ptr<const RepoKey>> FromFileOrEnv(
      const std::string& path);
  ~RepoKey();

  // The same key, but verify and restore also accept sets that are not
  // encrypted (--allow-unencrypted). By default a key means "authenticated
  // sets only": a plain set put in an encrypted repository is refused.
  static std::shared_ptr<const RepoKey> AcceptingPlainSets(
      const std::shared_ptr<const RepoKey>& key);
  bool accepts_plain_sets() const { return accepts_plain_sets_; }

  const std::string& id_hex() const { return id_hex_; }
  const uint8_t* file_key() const { return file_key_.data(); }
  const uint8_t* mac_key() const { return mac_key_.data(); }

 private:
  RepoKey() = default;
  std::string id_hex_;
  std::array<uint8_t, 32> file_key_{}, mac_key_{};
  bool accepts_plain_sets_ = false;
};

struct EncodeOptions {
  CompressOptions compress;
  std::shared_ptr<const RepoKey> key;  // encrypts when set
  // Compress and encrypt on a thread of each file's own (set_file_pipe.h)
  // rather than in Append's caller, the thread receiving the stream. Off
  // only to measure the difference (bench/set_codec_bench.cc --no-pipe).
  bool pipe = true;
  bool encoded() const { return compress.codec != kCodecNone || key; }
};

// Wraps `inner` so each file is stored as `options` say. `binding` (the
// backup id) and each file's name go into every encrypted message's
// additional data, so a file moved to another name or set fails to
// decrypt. Finish adds the encryption block and manifest_mac.
std::unique_ptr<SetWriter> EncodingSetWriter(std::unique_ptr<SetWriter> inner,
                                             EncodeOptions options,
                                             std::string binding);

// Whether `file` of `manifest` is stored otherwise than as streamed.
bool IsEncoded(const Manifest& manifest, const ManifestFile& file);
bool IsEncoded(const Manifest& manifest);

// For an encrypted set: the key is given (-1907), of the set's key id
// (-1907 "set X was encrypted with key id K, not the given key") and the
// manifest's MAC holds (-1018). OK for a set that is not encrypted.
// `where` names the set in messages.
// Writes all of `data` to `fd` (retrying short writes and EINTR); -1808
// JET_errDiskFull on ENOSPC, else -1022 naming `path`.
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path);

absl::Status CheckManifestKey(const Manifest& manifest, const RepoKey* key,
                              const std::string& where);

// Turns the stored bytes of one file back into the streamed ones, passing
// them to `sink` as they come; Finish checks that the stream ended where
// it should, then the size and XXH3-128 against the manifest.
// REQUIRES: CheckManifestKey(manifest, key) returned OK.
class FileDecoder {
 public:
  using Sink = std::function<absl::Status(absl::string_view)>;
  static absl::StatusOr<std::unique_ptr<FileDecoder>> Create(
      const Manifest& manifest, const ManifestFile& file, const RepoKey* key,
      Sink sink);
  virtual ~FileDecoder() = default;
  virtual absl::Status Update(absl::string_view stored) = 0;
  virtual absl::Status Finish() = 0;
};

// The manifest of the decoded copy: every file as streamed, no encryption.
Manifest PlainManifest(const Manifest& manifest);

// Decodes the stored file `from` into a new file `to` (-1018 naming the
// file when it does not decode to what the manifest says).
absl::Status DecodeFile(const Manifest& manifest, const ManifestFile& file,
                        const RepoKey* key, const std::string& from,
                        const std::string& to);

// A directory of plain files for the set in `dir`: `dir` itself when
// nothing is encoded, else `staging` (an empty directory) after decoding
// every file into it and writing PlainManifest there. `set_name` names
// the set in key errors (default: `dir`).
absl::StatusOr<std::string> PlainSetDir(const std::string& dir,
                                        const RepoKey* key,
                                        const std::string& staging,
                                        const std::string& set_name = "");

}  // namespace jetback::repo

#endif  // JETBACK_CLIENT_REPO_SET_CODEC_H_
