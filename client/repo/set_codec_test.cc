#include "client/repo/set_codec.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/repo/backup_set.h"
#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback::repo {
namespace {

namespace fs = std::filesystem;

const char kKeyHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char kOtherKeyHex[] =
    "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

std::shared_ptr<const RepoKey> Key(const char* hex = kKeyHex) {
  auto key = RepoKey::FromText(hex, "test");
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? *key : nullptr;
}

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// JSON-like rows: what database pages of small records look like to zstd.
std::string Rows(size_t n) {
  std::string s;
  for (int i = 0; s.size() < n; ++i) {
    absl::StrAppend(&s, "{\"id\":", i, ",\"name\":\"user", i % 977,
                    "\",\"active\":", i % 3 == 0 ? "true" : "false", "}\n");
  }
  s.resize(n);
  return s;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

class SetCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "jb-codec-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    // Sizes around the cipher's message size, empty and several MiB.
    files_ = {{"demo.edb", Rows(3 << 20)},
              {"E0000000001.log", Random(kCipherChunk, 1)},
              {"E0000000002.log", Random(kCipherChunk + 1, 2)},
              {"E0000000003.log", ""},
              {"other.edb", Random(2 * kCipherChunk + 100000, 3)}};
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes the files through an EncodingSetWriter, as BackupRun does.
  Manifest WriteSet(const std::string& dir, const EncodeOptions& options) {
    bool created = false;
    EXPECT_TRUE(PrepareOutputDir(dir, &created).ok());
    auto writer =
        EncodingSetWriter(LocalSetWriter(dir, created), options, "backup-1234");
    Manifest m;
    m.set_format_version(kManifestFormatVersion);
    m.set_instance("demo");
    m.set_kind("full");
    m.set_backup_id("backup-1234");
    for (const auto& [name, data] : files_) {
      auto file = writer->CreateFile(name, true);
      EXPECT_TRUE(file.ok()) << file.status();
      // Odd-sized appends, as chunks arrive from the daemon.
      for (size_t at = 0; at < data.size(); at += 100003) {
        EXPECT_TRUE((*file)->Append(data.substr(at, 100003)).ok());
      }
      EXPECT_TRUE((*file)->Commit({}).ok());
      ManifestFile* f = m.add_files();
      f->set_name(name);
      f->set_kind(absl::EndsWith(name, ".log") ? "log" : "database");
      f->set_size((*file)->size());
      f->set_xxh3_128((*file)->xxh3_128_hex());
      f->set_sha256((*file)->sha256_hex());
      (*file)->AddStorageTo(f);
    }
    absl::Status finished = writer->Finish(m);
    EXPECT_TRUE(finished.ok()) << finished;
    auto read = ReadManifest(dir);
    EXPECT_TRUE(read.ok()) << read.status();
    return read.ok() ? *read : m;
  }

  // Decodes into a fresh staging directory and compares every file.
  absl::Status DecodeAndCompare(const std::string& dir, const RepoKey* key) {
    const std::string staging = absl::StrCat(root_, "/staging", ++stagings_);
    fs::create_directory(staging);
    JB_ASSIGN_OR_RETURN(std::string plain, PlainSetDir(dir, key, staging));
    for (const auto& [name, data] : files_) {
      EXPECT_EQ(Read(plain + "/" + name), data) << name;
    }
    JB_ASSIGN_OR_RETURN(Manifest m, ReadManifest(plain));
    EXPECT_TRUE(CheckSetFiles(plain, m).empty());
    return absl::OkStatus();
  }

  std::string root_;
  int stagings_ = 0;
  std::vector<std::pair<std::string, std::string>> files_;
};

struct RoundTrip {
  const char* name;
  const char* compress;
  bool encrypt;
};

TEST_F(SetCodecTest, RoundTripsEveryCombination) {
  for (const RoundTrip& c : std::vector<RoundTrip>{{"plain", "none", false},
                                                   {"zstd", "zstd", false},
                                                   {"zstd9", "zstd:9", false},
                                                   {"encrypted", "none", true},
                                                   {"both", "zstd", true}}) {
    SCOPED_TRACE(c.name);
    EncodeOptions options;
    options.compress = *ParseCompress(c.compress);
    if (c.encrypt) options.key = Key();
    const std::string dir = absl::StrCat(root_, "/", c.name);
    Manifest m = WriteSet(dir, options);
    EXPECT_EQ(IsEncoded(m), options.encoded());
    EXPECT_EQ(m.has_encryption(), c.encrypt);
    if (c.encrypt) {
      EXPECT_EQ(m.encryption().key_id(), Key()->id_hex());
      EXPECT_FALSE(absl::StrContains(Read(dir + "/manifest.json"), kKeyHex));
    }
    // The stored bytes check out without the key.
    EXPECT_TRUE(CheckSetFiles(dir, m).empty());
    const ManifestFile& db = m.files(0);
    if (options.compress.codec == kCodecZstd) {
      EXPECT_LT(db.stored_size() * 4, db.size());  // rows compress well
      // Incompressible data grows by little.
      EXPECT_LT(m.files(4).stored_size(), m.files(4).size() * 101 / 100);
    }
    absl::Status decoded = DecodeAndCompare(dir, options.key.get());
    EXPECT_TRUE(decoded.ok()) << decoded;
  }
}

TEST_F(SetCodecTest, OldSetsWithoutCodecFieldsAreUsedAsTheyAre) {
  const std::string dir = root_ + "/old";
  Manifest m = WriteSet(dir, EncodeOptions{});
  m.set_format_version(1);
  Write(dir + "/manifest.json", *ManifestToJson(m));
  ASSERT_FALSE(IsEncoded(m));
  auto plain = PlainSetDir(dir, nullptr, root_);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, dir);  // nothing to decode: the set itself
  EXPECT_TRUE(CheckSetFiles(dir, m).empty());
  // With a key, a plain set is refused unless plain sets are accepted:
  // nothing authenticates it.
  auto refused = PlainSetDir(dir, Key().get(), root_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(JetErrOf(refused.status()), jet::JET_errAccessDenied);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "not encrypted"))
      << refused.status();
  auto accepted =
      PlainSetDir(dir, RepoKey::AcceptingPlainSets(Key()).get(), root_);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(*accepted, dir);
}

// Damage to an encrypted (and compressed) set: each row one way to break
// it, and the error every one must give.
struct Damage {
  const char* name;
  std::function<void(const std::string& dir)> damage;
  bool with_other_key;
  JetErr err;
  const char* names;  // what the message must say
};

TEST_F(SetCodecTest, DamagedEncryptedSetsAreRefusedNamingTheFile) {
  const std::string log1 = "/E0000000001.log", log2 = "/E0000000002.log";
  std::vector<Damage> rows = {
      {"flipped byte",
       [&](const std::string& d) {
         std::string s = Read(d + log2);
         s[s.size() / 2] ^= 0x01;
         Write(d + log2, s);
       },
       false, jet::JET_errReadVerifyFailure, "E0000000002.log"},
      {"flipped byte in the header",
       [&](const std::string& d) {
         std::string s = Read(d + log2);
         s[10] ^= 0x80;
         Write(d + log2, s);
       },
       false, jet::JET_errReadVerifyFailure, "E0000000002.log"},
      {"truncated mid-message",
       [&](const std::string& d) {
         std::string s = Read(d + log2);
         Write(d + log2, s.substr(0, s.size() - 7));
       },
       false, jet::JET_errReadVerifyFailure, "E0000000002.log"},
      {"last message cut off",
       [&](const std::string& d) {
         // other.edb spans several messages: drop exactly the last one.
         std::string s = Read(d + "/other.edb");
         const size_t message = kCipherChunk + 17;
         const size_t header = 8 + 24;
         const size_t whole = (s.size() - header - 1) / message;
         Write(d + "/other.edb", s.substr(0, header + whole * message));
       },
       false, jet::JET_errReadVerifyFailure, "other.edb: truncated"},
      {"swapped files",
       [&](const std::string& d) {
         std::string a = Read(d + log1), b = Read(d + log2);
         Write(d + log1, b);
         Write(d + log2, a);
       },
       false, jet::JET_errReadVerifyFailure, "E0000000001.log"},
      {"file from another set",
       [&](const std::string& d) {
         // The same name and key, but another backup id.
         std::string other = root_ + "/other-set";
         Manifest m = WriteSet(other, {.compress = {}, .key = Key()});
         Write(d + log1, Read(other + log1));
       },
       false, jet::JET_errReadVerifyFailure, "E0000000001.log"},
      {"wrong key", [](const std::string&) {}, true, jet::JET_errAccessDenied,
       "was encrypted with key id"},
      {"manifest changed",
       [&](const std::string& d) {
         auto m = ReadManifest(d);
         m->set_gen_high(99);
         Write(d + "/manifest.json", *ManifestToJson(*m));
       },
       false, jet::JET_errReadVerifyFailure, "manifest.json"},
      {"manifest stored size changed",
       [&](const std::string& d) {
         auto m = ReadManifest(d);
         m->mutable_files(1)->set_size(m->files(1).size() + 1);
         Write(d + "/manifest.json", *ManifestToJson(*m));
       },
       false, jet::JET_errReadVerifyFailure, "manifest.json"},
  };
  int n = 0;
  for (const Damage& row : rows) {
    SCOPED_TRACE(row.name);
    const std::string dir = absl::StrCat(root_, "/set", ++n);
    WriteSet(dir, {.compress = *ParseCompress("zstd"), .key = Key()});
    row.damage(dir);
    const std::string staging = absl::StrCat(root_, "/staging-", n);
    fs::create_directory(staging);
    auto key = row.with_other_key ? Key(kOtherKeyHex) : Key();
    auto plain = PlainSetDir(dir, key.get(), staging);
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(JetErrOf(plain.status()), row.err) << plain.status();
    EXPECT_TRUE(absl::StrContains(plain.status().message(), row.names))
        << plain.status();
    // Never wrong data left: the file that failed is not in the staging.
    for (const auto& [name, data] : files_) {
      if (fs::exists(staging + "/" + name)) {
        EXPECT_EQ(Read(staging + "/" + name), data) << name;
      }
    }
  }
}

TEST_F(SetCodecTest, EncryptedSetWithoutAKeyIsAccessDenied) {
  const std::string dir = root_ + "/enc";
  WriteSet(dir, {.compress = {}, .key = Key()});
  fs::create_directory(root_ + "/s");
  auto plain = PlainSetDir(dir, nullptr, root_ + "/s");
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(JetErrOf(plain.status()), jet::JET_errAccessDenied);
  EXPECT_TRUE(absl::StrContains(plain.status().message(), "--key-file"));
}

TEST_F(SetCodecTest, DamagedCompressedSetsFailToDecode) {
  const std::string dir = root_ + "/z";
  Manifest m = WriteSet(dir, {.compress = *ParseCompress("zstd")});
  std::string s = Read(dir + "/demo.edb");
  s[s.size() / 2] ^= 0x40;
  Write(dir + "/demo.edb", s);
  // Seen without decoding, by the stored digest...
  auto problems = CheckSetFiles(dir, m);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].name, "demo.edb");
  // ...and when decoding.
  fs::create_directory(root_ + "/s");
  auto plain = PlainSetDir(dir, nullptr, root_ + "/s");
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(JetErrOf(plain.status()), jet::JET_errReadVerifyFailure);
  EXPECT_TRUE(absl::StrContains(plain.status().message(), "demo.edb"))
      << plain.status();
  Write(dir + "/demo.edb", s.substr(0, s.size() / 3));
  fs::remove_all(root_ + "/s");
  fs::create_directory(root_ + "/s");
  plain = PlainSetDir(dir, nullptr, root_ + "/s");
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(JetErrOf(plain.status()), jet::JET_errReadVerifyFailure);
}

TEST(ParseCompressTest, Table) {
  struct Row {
    const char* text;
    bool ok;
    const char* codec;
    int level;
  };
  for (const Row& r : std::vector<Row>{{"none", true, "none", 1},
                                       {"zstd", true, "zstd", 1},
                                       {"zstd:3", true, "zstd", 3},
                                       {"zstd:19", true, "zstd", 19},
                                       {"zstd:0", false, "", 0},
                                       {"zstd:20", false, "", 0},
                                       {"zstd:", false, "", 0},
                                       {"zstdx", false, "", 0},
                                       {"lz4", false, "", 0}}) {
    auto parsed = ParseCompress(r.text);
    EXPECT_EQ(parsed.ok(), r.ok) << r.text;
    if (!parsed.ok()) {
      EXPECT_EQ(JetErrOf(parsed.status()), jet::JET_errInvalidParameter);
      continue;
    }
    EXPECT_EQ(parsed->codec, r.codec) << r.text;
    if (std::string(r.codec) == "zstd") EXPECT_EQ(parsed->level, r.level);
  }
}

TEST(RepoKeyTest, HexAndBase64GiveTheSameKeyIdAndBadTextIsRefused) {
  auto hex = RepoKey::FromText(absl::StrCat("  ", kKeyHex, "\n"), "t");
  ASSERT_TRUE(hex.ok()) << hex.status();
  auto b64 = RepoKey::FromText(
      absl::Base64Escape(absl::HexStringToBytes(kKeyHex)), "t");
  ASSERT_TRUE(b64.ok()) << b64.status();
  EXPECT_EQ((*hex)->id_hex(), (*b64)->id_hex());
  EXPECT_EQ((*hex)->id_hex().size(), 32u);
  EXPECT_EQ((*hex)->id_hex().find("0001020304"), std::string::npos);
  EXPECT_NE((*hex)->id_hex(), Key(kOtherKeyHex)->id_hex());
  for (const char* bad : {"", "00ff", "not a key at all", "zz"}) {
    auto key = RepoKey::FromText(bad, "$JETBACK_REPO_KEY");
    ASSERT_FALSE(key.ok()) << bad;
    EXPECT_EQ(JetErrOf(key.status()), jet::JET_errInvalidParameter);
    EXPECT_TRUE(absl::StrContains(key.status().message(), "JETBACK_REPO_KEY"));
  }
}

}  // namespace
}  // namespace jetback::repo
