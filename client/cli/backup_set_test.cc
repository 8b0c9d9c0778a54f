#include "client/cli/backup_set.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback::cli {
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
      auto w = SetFileWriter::Create(dir, name);
      EXPECT_TRUE(w.ok());
      EXPECT_TRUE((*w)->Append(data.substr(0, 5)).ok());
      EXPECT_TRUE((*w)->Append(data.substr(5)).ok());
      EXPECT_TRUE(fs::exists(dir + "/" + name + ".part"));
      EXPECT_TRUE((*w)->Commit().ok());
      EXPECT_FALSE(fs::exists(dir + "/" + name + ".part"));
      ManifestFile* f = m.add_files();
      f->set_name(name);
      f->set_size((*w)->size());
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
  EXPECT_TRUE(CheckSetFiles(dir, *read).empty());
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
  EXPECT_NE(problems[0].problem.find("SHA-256"), std::string::npos);

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
}  // namespace jetback::cli
