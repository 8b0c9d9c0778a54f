#include "client/repo/backup_set.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback::repo {
namespace {

namespace fs = std::filesystem;

class BackupSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "jb-set-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // A two-file set with its manifest.
  Manifest WriteSet(const std::string& dir) {
    bool created = false;
    EXPECT_TRUE(PrepareOutputDir(dir, &created).ok());
    Manifest m;
    m.set_format_version(1);
    m.set_instance("demo");
    m.set_kind("full");
    m.set_gen_low(3);
    m.set_gen_high(4);
    for (const auto& [name, data] :
         std::vector<std::pair<std::string, std::string>>{
             {"demo.edb", std::string(3 * 8192, 'd')},
             {"E0000000003.log", "log three"}}) {
      auto w = SetFileWriter::Create(dir, name, {.sha256 = true});
      EXPECT_TRUE(w.ok());
      EXPECT_TRUE((*w)->Append(data.substr(0, 5)).ok());
      EXPECT_TRUE((*w)->Append(data.substr(5)).ok());
      EXPECT_TRUE(fs::exists(dir + "/" + name + ".part"));
      EXPECT_TRUE((*w)->Commit().ok());
      EXPECT_FALSE(fs::exists(dir + "/" + name + ".part"));
      ManifestFile* f = m.add_files();
      f->set_name(name);
      f->set_size((*w)->size());
      f->set_xxh3_128((*w)->xxh3_128_hex());
      f->set_sha256((*w)->sha256_hex());
    }
    EXPECT_TRUE(WriteManifest(dir, m).ok());
    return m;
  }

  std::string root_;
};

TEST_F(BackupSetTest, PrepareCreatesOrAcceptsEmptyButRefusesNonEmpty) {
  bool created = false;
  const std::string dir = root_ + "/a/b";
  ASSERT_TRUE(PrepareOutputDir(dir, &created).ok());
  EXPECT_TRUE(created);
  EXPECT_TRUE(fs::is_directory(dir));
  ASSERT_TRUE(PrepareOutputDir(dir, &created).ok());
  EXPECT_FALSE(created);

  std::ofstream(dir + "/keep") << "precious";
  absl::Status status = PrepareOutputDir(dir, &created);
  EXPECT_EQ(JetErrOf(status), jet::JET_errBackupDirectoryNotEmpty);
  EXPECT_EQ(Read(dir + "/keep"), "precious");
}

TEST_F(BackupSetTest, ManifestRoundTripsAndFilesCheckOut) {
  const std::string dir = root_ + "/set";
  Manifest written = WriteSet(dir);
  auto read = ReadManifest(dir);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->instance(), "demo");
  EXPECT_EQ(read->gen_high(), 4u);
  ASSERT_EQ(read->files_size(), 2);
  EXPECT_EQ(read->files(0).size(), 3u * 8192);
  EXPECT_EQ(read->files(0).sha256().size(), 64u);
  EXPECT_EQ(read->files(0).xxh3_128().size(), 32u);
  EXPECT_TRUE(CheckSetFiles(dir, *read).empty());
}

TEST_F(BackupSetTest, EachRecordedDigestIsChecked) {
  const std::string dir = root_ + "/set";
  Manifest m = WriteSet(dir);
  auto digests = DigestFile(dir + "/demo.edb", true);
  ASSERT_TRUE(digests.ok());
  EXPECT_EQ(digests->xxh3_128, m.files(0).xxh3_128());
  EXPECT_EQ(digests->sha256, m.files(0).sha256());
  // Known SHA-256 of "log three" pins the hex form.
  EXPECT_EQ(DigestFile(dir + "/E0000000003.log", true)->sha256,
            "790e5d6719bf64790c2044a4640efdc9e415723922e3e50fe7f1928b7c57d3c2");
  Manifest only_sha = m, only_xxh3 = m, none = m;
  only_sha.mutable_files(0)->clear_xxh3_128();
  only_xxh3.mutable_files(0)->clear_sha256();
  none.mutable_files(0)->clear_xxh3_128();
  none.mutable_files(0)->clear_sha256();
  EXPECT_TRUE(CheckSetFiles(dir, only_sha).empty());
  EXPECT_TRUE(CheckSetFiles(dir, only_xxh3).empty());
  auto problems = CheckSetFiles(dir, none);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].problem, "the manifest records no digest");
  only_sha.mutable_files(0)->set_sha256(std::string(64, '0'));
  problems = CheckSetFiles(dir, only_sha);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].problem.find("SHA-256"), std::string::npos);
}

TEST_F(BackupSetTest, SameContentUsesTheCommonDigestOrTheFiles) {
  const std::string dir = root_ + "/set";
  Manifest m = WriteSet(dir);
  const std::string log = dir + "/E0000000003.log";
  ManifestFile a = m.files(1), b = m.files(1);
  EXPECT_TRUE(*SameContent(a, log, b, log));
  b.set_xxh3_128(std::string(32, '0'));
  EXPECT_FALSE(*SameContent(a, log, b, log));
  // No digest in common: a has only XXH3-128, b only SHA-256 -> the files
  // are hashed.
  a.clear_sha256();
  b = m.files(1);
  b.clear_xxh3_128();
  EXPECT_TRUE(*SameContent(a, log, b, log));
  const std::string other = root_ + "/other.log";
  std::ofstream(other) << "log thre3";
  EXPECT_FALSE(*SameContent(a, log, b, other));
  b.set_size(4);
  EXPECT_FALSE(*SameContent(a, log, b, log));
}

// Sizes that are not multiples of anything, so the appender's aligned
// buffers, the direct writes and the buffered tail all get exercised.
TEST_F(BackupSetTest, BackgroundAppenderWritesExactBytesDirect) {
  std::string data(BackgroundAppender::kBufferSize * 2 + 123457, '\0');
  uint32_t x = 12345;
  for (char& c : data) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  auto w = SetFileWriter::Create(root_, "big.edb", {.direct = true});
  ASSERT_TRUE(w.ok()) << w.status();
  BackgroundAppender appender;
  appender.Begin(w->get());
  size_t at = 0;
  for (size_t piece = 1; at < data.size(); piece = piece * 3 + 4097) {
    const size_t n = std::min(piece, data.size() - at);
    ASSERT_TRUE(appender.Append(absl::string_view(data).substr(at, n)).ok());
    at += n;
  }
  ASSERT_TRUE(appender.Finish().ok());
  EXPECT_EQ((*w)->size(), data.size());
  EXPECT_FALSE((*w)->direct());  // the unaligned tail went buffered
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(data.data(), data.size()));
  ASSERT_TRUE(
      (*w)->Commit(absl::string_view(reinterpret_cast<char*>(c.digest), 16))
          .ok());
  EXPECT_EQ(Read(root_ + "/big.edb"), data);
  EXPECT_EQ(DigestFile(root_ + "/big.edb", false)->xxh3_128,
            (*w)->xxh3_128_hex());
}

// One appender, file after file (as `jetback backup` uses it): each file
// gets exactly its bytes, and an error in one file does not carry over.
TEST_F(BackupSetTest, OneAppenderServesFileAfterFile) {
  BackgroundAppender appender;
  for (int i = 0; i < 3; ++i) {
    const std::string data(BackgroundAppender::kBufferSize + 4096 * i + 7,
                           static_cast<char>('a' + i));
    const std::string name = "f" + std::to_string(i);
    auto w = SetFileWriter::Create(root_, name, {.direct = true});
    ASSERT_TRUE(w.ok());
    appender.Begin(w->get());
    ASSERT_TRUE(appender.Append(data).ok());
    ASSERT_TRUE(appender.Finish().ok());
    ASSERT_TRUE((*w)->Commit().ok());
    EXPECT_EQ(Read(root_ + "/" + name), data);
  }
  // A writer whose file is already closed fails every append...
  auto closed = SetFileWriter::Create(root_, "closed");
  ASSERT_TRUE(closed.ok());
  ASSERT_TRUE((*closed)->Commit().ok());
  appender.Begin(closed->get());
  absl::Status status =
      appender.Append(std::string(3 * BackgroundAppender::kBufferSize, 'x'));
  absl::Status finished = appender.Finish();
  EXPECT_EQ(JetErrOf(status.ok() ? finished : status),
            jet::JET_errInternalError);
  EXPECT_EQ(JetErrOf(finished), jet::JET_errInternalError);
  // ...and the next file is written as if nothing happened.
  auto next = SetFileWriter::Create(root_, "next");
  ASSERT_TRUE(next.ok());
  appender.Begin(next->get());
  ASSERT_TRUE(appender.Append("after the error").ok());
  ASSERT_TRUE(appender.Finish().ok());
  ASSERT_TRUE((*next)->Commit().ok());
  EXPECT_EQ(Read(root_ + "/next"), "after the error");
}

TEST_F(BackupSetTest, CommitRefusesBytesThatDifferFromTheExpectedDigest) {
  {
    auto w = SetFileWriter::Create(root_, "demo.edb", {.direct = true});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("some bytes").ok());
    absl::Status status = (*w)->Commit(std::string(16, 'x'));
    EXPECT_EQ(JetErrOf(status), jet::JET_errReadVerifyFailure);
    EXPECT_FALSE(fs::exists(root_ + "/demo.edb"));
  }
  EXPECT_TRUE(fs::is_empty(root_));  // the .part went with the writer
}

TEST_F(BackupSetTest, TamperingIsFoundAndNamed) {
  const std::string dir = root_ + "/set";
  Manifest m = WriteSet(dir);
  {
    std::fstream f(dir + "/demo.edb",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8192 * 2 + 17);
    f.put('X');
  }
  auto problems = CheckSetFiles(dir, m);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].name, "demo.edb");
  EXPECT_NE(problems[0].problem.find("XXH3-128"), std::string::npos);

  fs::resize_file(dir + "/E0000000003.log", 3);
  std::ofstream(dir + "/E0000000009.log.part") << "junk";
  problems = CheckSetFiles(dir, m);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[1].name, "E0000000003.log");
  EXPECT_NE(problems[1].problem.find("size"), std::string::npos);
  EXPECT_EQ(problems[2].name, "E0000000009.log.part");

  fs::remove(dir + "/demo.edb");
  problems = CheckSetFiles(dir, m);
  EXPECT_EQ(problems[0].problem, "missing");
}

TEST_F(BackupSetTest, MissingOrBadManifest) {
  EXPECT_EQ(JetErrOf(ReadManifest(root_).status()), jet::JET_errFileNotFound);
  std::ofstream(root_ + "/manifest.json") << "{ not json";
  EXPECT_EQ(JetErrOf(ReadManifest(root_).status()),
            jet::JET_errInvalidParameter);
}

// Found while writing fuzz/manifest_fuzzer (its invariant would catch it):
// names are joined to set and staging directories, so a hostile manifest
// must not name files outside them.
TEST_F(BackupSetTest, ManifestNamesOutsideTheSetAreRefused) {
  for (const char* name :
       {"../escape", "a/b", "..", ".", "", "/etc/shadow", "manifest.json"}) {
    std::ofstream(root_ + "/manifest.json")
        << "{\"formatVersion\": 1, \"files\": [{\"name\": \"" << name
        << "\", \"size\": \"1\"}]}";
    EXPECT_EQ(JetErrOf(ReadManifest(root_).status()), jet::JET_errInvalidPath)
        << name;
  }
  std::ofstream(root_ + "/manifest.json")
      << "{\"formatVersion\": 1, \"files\": [{\"name\": \"demo.edb\"}]}";
  EXPECT_TRUE(ReadManifest(root_).ok());
}

TEST_F(BackupSetTest, AbandonedWriterLeavesNothing) {
  {
    auto w = SetFileWriter::Create(root_, "demo.edb");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("partial").ok());
  }  // destroyed uncommitted
  EXPECT_TRUE(fs::is_empty(root_));
  // A .part that exists is never reused.
  std::ofstream(root_ + "/x.part") << "x";
  EXPECT_EQ(JetErrOf(SetFileWriter::Create(root_, "x").status()),
            jet::JET_errFileAlreadyExists);
}

TEST_F(BackupSetTest, RemoveSetFilesCleansUp) {
  const std::string dir = root_ + "/set";
  WriteSet(dir);
  std::ofstream(dir + "/E0000000004.log.part") << "half";
  RemoveSetFiles(
      dir, {"demo.edb", "E0000000003.log", "E0000000004.log", "manifest.json"},
      /*remove_dir=*/true);
  EXPECT_FALSE(fs::exists(dir));
}

TEST(FileNameOfTest, LastComponent) {
  EXPECT_EQ(FileNameOf("/a/b/demo.edb"), "demo.edb");
  EXPECT_EQ(FileNameOf("demo.edb"), "demo.edb");
  EXPECT_EQ(FileNameOf("/a/"), "");
}

}  // namespace
}  // namespace jetback::repo
