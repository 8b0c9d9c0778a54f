// Per-file codecs of a set: zstd streaming compression and libsodium
// secretstream encryption, on the way in (EncodingSetWriter) and out
// (FileDecoder), and the manifest's key id and MAC.

#include "client/repo/set_codec.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/digests.h"
#include "client/repo/backup_set.h"
#include "client/repo/set_file_pipe.h"
#include "jetback/status.h"

namespace jetback::repo {
namespace {

// The first bytes of every encrypted file, before the secretstream header:
// says what follows, so a stray file is told apart from a damaged one.
constexpr char kEncryptedMagic[8] = {'j', 'b', 's', 's', '1', '\n', 0, 0};
constexpr size_t kHeaderBytes =
    sizeof(kEncryptedMagic) + crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr size_t kABytes = crypto_secretstream_xchacha20poly1305_ABYTES;

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

// Additional data of every message of a file: the set and the name.
std::string AdditionalData(const std::string& binding,
                           const std::string& name) {
  return absl::StrCat("jetback set file v1", std::string(1, '\0'), binding,
                      std::string(1, '\0'), name);
}

std::string ManifestMac(const Manifest& manifest, const RepoKey& key) {
  Manifest copy = manifest;
  copy.clear_manifest_mac();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    copy.SerializeToCodedStream(&coded);
  }
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac,
                         reinterpret_cast<const unsigned char*>(bytes.data()),
                         bytes.size(), key.mac_key());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(mac), sizeof(mac)));
}

absl::Status VerifyFailed(const std::string& name, absl::string_view what) {
  return JetStatus(jet::JET_errReadVerifyFailure,
                   absl::StrCat(name, ": ", what));
}

// ---- writing ---------------------------------------------------------------

class EncodedSetFile : public SetFile {
 public:
  EncodedSetFile(std::unique_ptr<SetFile> inner, const EncodeOptions& options,
                 const std::string& binding, const std::string& name,
                 bool sha256)
      : inner_(std::move(inner)),
        options_(options),
        name_(name),
        ad_(AdditionalData(binding, name)),
        digests_(sha256) {}
  ~EncodedSetFile() override {
    if (cctx_ != nullptr) ZSTD_freeCCtx(cctx_);
    sodium_memzero(&state_, sizeof(state_));
  }

  absl::Status Init() {
    if (options_.compress.codec == kCodecZstd) {
      cctx_ = ZSTD_createCCtx();
      if (cctx_ == nullptr) {
        return JetStatus(jet::JET_errOutOfMemory, "zstd context");
      }
      ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel,
                             options_.compress.level);
      ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 0);  // XXH3 is ours
      zout_.resize(ZSTD_CStreamOutSize());
    }
    if (options_.key) {
      if (!SodiumReady()) {
        return JetStatus(jet::JET_errInternalError, "libsodium init failed");
      }
      std::string header(kEncryptedMagic, sizeof(kEncryptedMagic));
      header.resize(kHeaderBytes);
      crypto_secretstream_xchacha20poly1305_init_push(
          &state_,
          reinterpret_cast<unsigned char*>(header.data()) +
              sizeof(kEncryptedMagic),
          options_.key->file_key());
      JB_RETURN_IF_ERROR(Store(header));
      cipher_.resize(kCipherChunk + kABytes);
    }
    return absl::OkStatus();
  }

  absl::Status Append(absl::string_view data) override {
    digests_.Update(data);
    size_ += data.size();
    if (cctx_ == nullptr) return Encrypt(data, false);
    return Compress(data, ZSTD_e_continue);
  }

  absl::Status Commit(absl::string_view expected_xxh3_128) override {
    if (cctx_ != nullptr) JB_RETURN_IF_ERROR(Compress({}, ZSTD_e_end));
    JB_RETURN_IF_ERROR(Encrypt({}, true));
    const std::string xxh3 = digests_.Xxh3_128();
    if (!expected_xxh3_128.empty() && expected_xxh3_128 != xxh3) {
      return JetStatus(jet::JET_errReadVerifyFailure,
                       absl::StrCat(name_,
                                    ": the bytes stored differ from the "
                                    "daemon's XXH3-128 of the file"));
    }
    xxh3_128_hex_ = absl::BytesToHexString(xxh3);
    const std::string sha = digests_.FinishSha256();
    sha256_hex_ = sha.empty() ? "" : absl::BytesToHexString(sha);
    return inner_->Commit({});
  }

  uint64_t size() const override { return size_; }
  const std::string& xxh3_128_hex() const override { return xxh3_128_hex_; }
  const std::string& sha256_hex() const override { return sha256_hex_; }
  void AddStorageTo(ManifestFile* entry) const override {
    entry->set_codec(options_.compress.codec);
    entry->set_stored_size(inner_->size());
    entry->set_stored_xxh3_128(inner_->xxh3_128_hex());
  }

 private:
  absl::Status Store(absl::string_view data) { return inner_->Append(data); }

  absl::Status Compress(absl::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    for (;;) {
      ZSTD_outBuffer out{zout_.data(), zout_.size(), 0};
      const size_t left = ZSTD_compressStream2(cctx_, &out, &in, mode);
      if (ZSTD_isError(left)) {
        return JetStatus(
            jet::JET_errInternalError,
            absl::StrCat(name_, ": zstd: ", ZSTD_getErrorName(left)));
      }
      if (out.pos > 0) {
        JB_RETURN_IF_ERROR(
            Encrypt(absl::string_view(zout_.data(), out.pos), false));
      }
      const bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) return absl::OkStatus();
    }
  }

  // Passes `data` on, encrypted in kCipherChunk messages when there is a
  // key; `last` pushes what is held with the FINAL tag.
  absl::Status Encrypt(absl::string_view data, bool last) {
    if (!options_.key) return data.empty() ? absl::OkStatus() : Store(data);
    while (!data.empty()) {
      // A full chunk is pushed only once more follows, so the last
      // message (FINAL) is never empty unless the file is.
      if (held_.size() == kCipherChunk) JB_RETURN_IF_ERROR(Push(false));
      const size_t n = std::min(data.size(), kCipherChunk - held_.size());
      held_.append(data.data(), n);
      data.remove_prefix(n);
    }
    if (last) JB_RETURN_IF_ERROR(Push(true));
    return absl::OkStatus();
  }

  absl::Status Push(bool final) {
    unsigned long long len = 0;
    crypto_secretstream_xchacha20poly1305_push(
        &state_, reinterpret_cast<unsigned char*>(cipher_.data()), &len,
        reinterpret_cast<const unsigned char*>(held_.data()), held_.size(),
        reinterpret_cast<const unsigned char*>(ad_.data()), ad_.size(),
        final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    held_.clear();
    return Store(absl::string_view(cipher_.data(), len));
  }

  std::unique_ptr<SetFile> inner_;
  const EncodeOptions options_;
  const std::string name_, ad_;
  StreamDigests digests_;  // of the bytes as streamed
  uint64_t size_ = 0;
  ZSTD_CCtx* cctx_ = nullptr;
  std::vector<char> zout_;
  crypto_secretstream_xchacha20poly1305_state state_{};
  std::string held_;    // plaintext of the next message
  std::string cipher_;  // one message's ciphertext
  std::string xxh3_128_hex_, sha256_hex_;
};

class EncodingWriter : public SetWriter {
 public:
  EncodingWriter(std::unique_ptr<SetWriter> inner, EncodeOptions options,
                 std::string binding)
      : inner_(std::move(inner)),
        options_(std::move(options)),
        binding_(std::move(binding)) {}

  absl::StatusOr<std::unique_ptr<SetFile>> CreateFile(const std::string& name,
                                                      bool sha256) override {
    // The inner file's own digest is of the stored bytes: XXH3 only.
    JB_ASSIGN_OR_RETURN(std::unique_ptr<SetFile> inner,
                        inner_->CreateFile(name, false));
    auto file = std::make_unique<EncodedSetFile>(std::move(inner), options_,
                                                 binding_, name, sha256);
    JB_RETURN_IF_ERROR(file->Init());
    if (!options_.pipe) return file;
    return PipedSetFile(std::move(file));
  }

  absl::Status Finish(const Manifest& manifest) override {
    if (!options_.key) return inner_->Finish(manifest);
    Manifest sealed = manifest;
    ManifestEncryption* enc = sealed.mutable_encryption();
    enc->set_cipher(kCipher);
    enc->set_key_id(options_.key->id_hex());
    enc->set_chunk_size(kCipherChunk);
    sealed.set_manifest_mac(ManifestMac(sealed, *options_.key));
    return inner_->Finish(sealed);
  }

  void Abandon() override { inner_->Abandon(); }
  std::string location() const override { return inner_->location(); }

 private:
  std::unique_ptr<SetWriter> inner_;
  const EncodeOptions options_;
  const std::string binding_;
};

// ---- reading ---------------------------------------------------------------

class Decoder : public FileDecoder {
 public:
  Decoder(const Manifest& manifest, const ManifestFile& file,
          const RepoKey* key, Sink sink)
      : file_(file),
        key_(manifest.has_encryption() ? key : nullptr),
        chunk_(manifest.encryption().chunk_size()),
        ad_(AdditionalData(manifest.backup_id(), file.name())),
        sink_(std::move(sink)),
        digests_(false) {}
  ~Decoder() override {
    if (dctx_ != nullptr) ZSTD_freeDCtx(dctx_);
    sodium_memzero(&state_, sizeof(state_));
  }

  absl::Status Init() {
    if (key_ != nullptr && (chunk_ == 0 || chunk_ > (64u << 20))) {
      return VerifyFailed(file_.name(), "the manifest's chunk_size is bad");
    }
    if (file_.codec() == kCodecZstd) {
      dctx_ = ZSTD_createDCtx();
      if (dctx_ == nullptr) {
        return JetStatus(jet::JET_errOutOfMemory, "zstd context");
      }
      zout_.resize(ZSTD_DStreamOutSize());
    } else if (!file_.codec().empty() && file_.codec() != kCodecNone) {
      return JetStatus(
          jet::JET_errInvalidParameter,
          absl::StrCat(file_.name(), ": unknown codec '", file_.codec(), "'"));
    }
    plain_.resize(chunk_);
    return absl::OkStatus();
  }

  absl::Status Update(absl::string_view stored) override {
    if (key_ == nullptr) return Decompress(stored);
    held_.append(stored.data(), stored.size());
    if (!header_done_) {
      if (held_.size() < kHeaderBytes) return absl::OkStatus();
      if (std::memcmp(held_.data(), kEncryptedMagic, sizeof(kEncryptedMagic)) !=
          0) {
        return VerifyFailed(file_.name(), "not an encrypted jetback file");
      }
      if (crypto_secretstream_xchacha20poly1305_init_pull(
              &state_,
              reinterpret_cast<const unsigned char*>(held_.data()) +
                  sizeof(kEncryptedMagic),
              key_->file_key()) != 0) {
        return VerifyFailed(file_.name(), "bad encryption header");
      }
      header_done_ = true;
      held_.erase(0, kHeaderBytes);
    }
    // A whole message is opened only once more bytes follow it: the last
    // one is left for Finish, which wants it to carry the FINAL tag.
    const size_t message = chunk_ + kABytes;
    size_t at = 0;
    while (held_.size() - at > message) {
      JB_RETURN_IF_ERROR(
          Pull(absl::string_view(held_).substr(at, message), false));
      at += message;
    }
    held_.erase(0, at);
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (key_ != nullptr) {
      if (!header_done_ || held_.size() < kABytes) {
        return VerifyFailed(file_.name(),
                            "truncated (the encrypted stream ends before its "
                            "final message)");
      }
      JB_RETURN_IF_ERROR(Pull(held_, true));
      held_.clear();
    }
    if (dctx_ != nullptr && !frame_done_) {
      return VerifyFailed(file_.name(),
                          "truncated (the zstd frame does not end)");
    }
    if (size_ != file_.size()) {
      return VerifyFailed(
          file_.name(),
          absl::StrCat("decodes to ", size_, " bytes, the manifest says ",
                       file_.size()));
    }
    if (!file_.xxh3_128().empty() &&
        absl::BytesToHexString(digests_.Xxh3_128()) != file_.xxh3_128()) {
      return VerifyFailed(file_.name(),
                          "XXH3-128 of the decoded bytes differs from the "
                          "manifest (file changed)");
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Pull(absl::string_view message, bool last) {
    unsigned long long len = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(
            &state_, reinterpret_cast<unsigned char*>(plain_.data()), &len,
            &tag, reinterpret_cast<const unsigned char*>(message.data()),
            message.size(), reinterpret_cast<const unsigned char*>(ad_.data()),
            ad_.size()) != 0) {
      return VerifyFailed(
          file_.name(),
          "authentication failed: damaged, or not this set's file of that "
          "name (swapped or moved)");
    }
    const bool final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (final != last) {
      return VerifyFailed(
          file_.name(),
          final ? "data after the encrypted stream's final message"
                : "truncated (the encrypted stream has no final message)");
    }
    return Decompress(absl::string_view(plain_.data(), len));
  }

  absl::Status Decompress(absl::string_view data) {
    if (dctx_ == nullptr) return Plain(data);
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    bool flush = true;  // a full output buffer may leave output inside
    while (in.pos < in.size || flush) {
      if (frame_done_) {
        if (in.pos < in.size) {
          return VerifyFailed(file_.name(), "data after the zstd frame");
        }
        break;
      }
      ZSTD_outBuffer out{zout_.data(), zout_.size(), 0};
      const size_t ret = ZSTD_decompressStream(dctx_, &out, &in);
      if (ZSTD_isError(ret)) {
        return VerifyFailed(file_.name(),
                            absl::StrCat("zstd: ", ZSTD_getErrorName(ret)));
      }
      if (ret == 0) frame_done_ = true;
      JB_RETURN_IF_ERROR(Plain(absl::string_view(zout_.data(), out.pos)));
      flush = out.pos == out.size;
    }
    return absl::OkStatus();
  }

  absl::Status Plain(absl::string_view data) {
    if (data.empty()) return absl::OkStatus();
    size_ += data.size();
    if (size_ > file_.size()) {
      return VerifyFailed(
          file_.name(), absl::StrCat("decodes to more than the ", file_.size(),
                                     " bytes the manifest says"));
    }
    digests_.Update(data);
    return sink_(data);
  }

  const ManifestFile file_;
  const RepoKey* const key_;
  const uint32_t chunk_;
  const std::string ad_;
  Sink sink_;
  StreamDigests digests_;
  uint64_t size_ = 0;
  ZSTD_DCtx* dctx_ = nullptr;
  bool frame_done_ = false;
  std::vector<char> zout_;
  crypto_secretstream_xchacha20poly1305_state state_{};
  bool header_done_ = false;
  std::string held_;  // ciphertext not yet opened
  std::string plain_;
};

}  // namespace

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return JetStatus(
          errno == ENOSPC ? jet::JET_errDiskFull : jet::JET_errDiskIO,
          absl::StrCat("writing ", path, ": ", std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<CompressOptions> ParseCompress(absl::string_view text) {
  CompressOptions options;
  if (text == kCodecNone) {
    options.codec = kCodecNone;
    return options;
  }
  absl::string_view rest = text;
  if (absl::ConsumePrefix(&rest, kCodecZstd)) {
    options.codec = kCodecZstd;
    if (rest.empty()) return options;
    int level = 0;
    if (absl::ConsumePrefix(&rest, ":") && absl::SimpleAtoi(rest, &level) &&
        level >= 1 && level <= 19) {
      options.level = level;
      return options;
    }
  }
  return JetStatus(jet::JET_errInvalidParameter,
                   absl::StrCat("--compress '", text,
                                "': use none, zstd or zstd:LEVEL (1-19)"));
}

RepoKey::~RepoKey() {
  sodium_memzero(file_key_.data(), file_key_.size());
  sodium_memzero(mac_key_.data(), mac_key_.size());
}

absl::StatusOr<std::shared_ptr<const RepoKey>> RepoKey::FromText(
    absl::string_view text, absl::string_view origin) {
  if (!SodiumReady()) {
    return JetStatus(jet::JET_errInternalError, "libsodium init failed");
  }
  text = absl::StripAsciiWhitespace(text);
  std::string raw;
  bool hex = text.size() == 2 * kBytes;
  for (char c : text) hex = hex && absl::ascii_isxdigit(c);
  if (hex) {
    raw = absl::HexStringToBytes(text);
  } else if (!absl::Base64Unescape(text, &raw)) {
    raw.clear();
  }
  if (raw.size() != kBytes) {
    sodium_memzero(raw.data(), raw.size());
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat(origin,
                                  ": a repository key is 32 bytes, written "
                                  "as 64 hex digits or in base64"));
  }
  std::shared_ptr<RepoKey> key(new RepoKey());
  const auto* master = reinterpret_cast<const unsigned char*>(raw.data());
  unsigned char id[16];
  crypto_kdf_derive_from_key(id, sizeof(id), 1, "jb-keyid", master);
  crypto_kdf_derive_from_key(key->file_key_.data(), key->file_key_.size(), 2,
                             "jb-files", master);
  crypto_kdf_derive_from_key(key->mac_key_.data(), key->mac_key_.size(), 3,
                             "jb-manif", master);
  sodium_memzero(raw.data(), raw.size());
  key->id_hex_ = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(id), sizeof(id)));
  return std::shared_ptr<const RepoKey>(std::move(key));
}

absl::StatusOr<std::shared_ptr<const RepoKey>> RepoKey::FromFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return JetStatus(jet::JET_errFileNotFound,
                     absl::StrCat("cannot read the key file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  auto key = FromText(s, absl::StrCat("key file ", path));
  sodium_memzero(s.data(), s.size());
  return key;
}

absl::StatusOr<std::shared_ptr<const RepoKey>> RepoKey::FromFileOrEnv(
    const std::string& path) {
  if (!path.empty()) return FromFile(path);
  const char* env = std::getenv(kKeyEnv);
  if (env == nullptr || *env == '\0') return std::shared_ptr<const RepoKey>();
  return FromText(env, absl::StrCat("$", kKeyEnv));
}

std::shared_ptr<const RepoKey> RepoKey::AcceptingPlainSets(
    const std::shared_ptr<const RepoKey>& key) {
  if (key == nullptr) return key;
  auto copy = std::shared_ptr<RepoKey>(new RepoKey(*key));
  copy->accepts_plain_sets_ = true;
  return copy;
}

std::unique_ptr<SetWriter> EncodingSetWriter(std::unique_ptr<SetWriter> inner,
                                             EncodeOptions options,
                                             std::string binding) {
  if (!options.encoded()) return inner;
  return std::make_unique<EncodingWriter>(std::move(inner), std::move(options),
                                          std::move(binding));
}

bool IsEncoded(const Manifest& manifest, const ManifestFile& file) {
  return manifest.has_encryption() ||
         (!file.codec().empty() && file.codec() != kCodecNone);
}

bool IsEncoded(const Manifest& manifest) {
  for (const ManifestFile& f : manifest.files()) {
    if (IsEncoded(manifest, f)) return true;
  }
  return manifest.has_encryption();
}

absl::Status CheckManifestKey(const Manifest& manifest, const RepoKey* key,
                              const std::string& where) {
  if (!manifest.has_encryption()) {
    // Nothing authenticates a plain set: with a key given, one put in place
    // of an encrypted set (or beside them) must not pass unnoticed.
    if (key == nullptr || key->accepts_plain_sets()) return absl::OkStatus();
    return JetStatus(
        jet::JET_errAccessDenied,
        absl::StrCat("set ", where,
                     " is not encrypted, but a key was given (key id ",
                     key->id_hex(),
                     "): nothing authenticates it; add --allow-unencrypted to "
                     "accept it"));
  }
  const ManifestEncryption& enc = manifest.encryption();
  if (enc.cipher() != kCipher) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat("set ", where, ": unknown cipher '", enc.cipher(), "'"));
  }
  if (key == nullptr) {
    return JetStatus(
        jet::JET_errAccessDenied,
        absl::StrCat("set ", where, " is encrypted (key id ", enc.key_id(),
                     "): give its key with "
                     "--key-file or $",
                     kKeyEnv));
  }
  if (key->id_hex() != enc.key_id()) {
    return JetStatus(
        jet::JET_errAccessDenied,
        absl::StrCat("set ", where, " was encrypted with key id ", enc.key_id(),
                     ", not the given key (key id ", key->id_hex(), ")"));
  }
  if (!SodiumReady()) {
    return JetStatus(jet::JET_errInternalError, "libsodium init failed");
  }
  const std::string mac = ManifestMac(manifest, *key);
  if (manifest.manifest_mac().size() != mac.size() ||
      sodium_memcmp(mac.data(), manifest.manifest_mac().data(), mac.size()) !=
          0) {
    return JetStatus(jet::JET_errReadVerifyFailure,
                     absl::StrCat(where, "/", kManifestName,
                                  ": authentication failed (changed after "
                                  "it was written)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileDecoder>> FileDecoder::Create(
    const Manifest& manifest, const ManifestFile& file, const RepoKey* key,
    Sink sink) {
  if (manifest.has_encryption() && key == nullptr) {
    return JetStatus(jet::JET_errAccessDenied,
                     absl::StrCat(file.name(), ": encrypted, and no key"));
  }
  auto decoder =
      std::make_unique<Decoder>(manifest, file, key, std::move(sink));
  JB_RETURN_IF_ERROR(decoder->Init());
  return decoder;
}

Manifest PlainManifest(const Manifest& manifest) {
  Manifest plain = manifest;
  plain.clear_encryption();
  plain.clear_manifest_mac();
  for (ManifestFile& f : *plain.mutable_files()) {
    f.clear_codec();
    f.clear_stored_size();
    f.clear_stored_xxh3_128();
  }
  return plain;
}

absl::Status DecodeFile(const Manifest& manifest, const ManifestFile& file,
                        const RepoKey* key, const std::string& from,
                        const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return JetStatus(
        errno == ENOENT ? jet::JET_errFileNotFound : jet::JET_errDiskIO,
        absl::StrCat("open ", from, ": ", std::strerror(errno)));
  }
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    ::close(in);
    return JetStatus(jet::JET_errDiskIO,
                     absl::StrCat("create ", to, ": ", std::strerror(errno)));
  }
  absl::Status status;
  auto decoder = FileDecoder::Create(
      manifest, file, key,
      [&](absl::string_view data) { return WriteAll(out, data, to); });
  status = decoder.status();
  std::vector<char> buf(1 << 20);
  while (status.ok()) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = JetStatus(jet::JET_errDiskIO, absl::StrCat("read ", from));
      break;
    }
    if (n == 0) {
      status = (*decoder)->Finish();
      break;
    }
    status = (*decoder)->Update(
        absl::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(in);
  if (::close(out) != 0 && status.ok()) {
    status = JetStatus(jet::JET_errDiskIO, absl::StrCat("close ", to));
  }
  if (!status.ok()) ::unlink(to.c_str());  // never leave wrong bytes
  return status;
}

absl::StatusOr<std::string> PlainSetDir(const std::string& dir,
                                        const RepoKey* key,
                                        const std::string& staging,
                                        const std::string& set_name) {
  JB_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(dir));
  JB_RETURN_IF_ERROR(
      CheckManifestKey(manifest, key, set_name.empty() ? dir : set_name));
  if (!IsEncoded(manifest)) return dir;
  for (const ManifestFile& f : manifest.files()) {
    absl::Status decoded = DecodeFile(manifest, f, key, dir + "/" + f.name(),
                                      staging + "/" + f.name());
    if (!decoded.ok()) {
      return JetStatus(JetErrOf(decoded),
                       absl::StrCat(dir, "/", decoded.message()));
    }
  }
  JB_RETURN_IF_ERROR(WriteManifest(staging, PlainManifest(manifest)));
  return staging;
}

}  // namespace jetback::repo
