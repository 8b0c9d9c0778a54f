// File: engine/backup_test_util.h
//
// Test helpers for the backup and restore tests: a scratch instance with a
// database, a helper that streams a whole backup set into a directory, file
// damage helpers and JET_ERR assertions.

#ifndef JETBACK_ENGINE_BACKUP_TEST_UTIL_H_
#define JETBACK_ENGINE_BACKUP_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "jetback/backup.h"
#include "jetback/instance.h"
#include "jetback/status.h"

namespace jetback::testing {

inline JetErr ErrOf(const absl::Status& s) { return JetErrOf(s); }
template <typename T>
JetErr ErrOf(const absl::StatusOr<T>& s) {
  return JetErrOf(s.status());
}
#define EXPECT_JET(expr, err) EXPECT_EQ(::jetback::testing::ErrOf(expr), (err))
#define ASSERT_JET(expr, err) ASSERT_EQ(::jetback::testing::ErrOf(expr), (err))
#define ASSERT_OK(expr) ASSERT_EQ(::jetback::testing::ErrOf(expr), 0)

// A fresh directory under TEST_TMPDIR or /tmp; removed by RemoveTree.
std::string MakeTempDir();
void RemoveTree(const std::string& path);
std::string JoinPath(const std::string& dir, const std::string& name);
std::vector<std::string> ListDir(const std::string& dir);

// A 4 KiB-aligned buffer, as ESE's ReadFile requires.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t size);
  ~AlignedBuffer();
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  absl::Span<char> span() { return absl::MakeSpan(data_, size_); }
  char* data() { return data_; }

 private:
  char* data_;
  size_t size_;
};

struct StreamOptions {
  bool incremental = false;
  bool truncate = true;
  // At least three pages of the largest page size (32 KiB): ESE's first
  // database read must hold both header copies and page 1.
  size_t read_bytes = 128 * 1024;
  uint32_t end_grbit = JET_bitBackupEndNormal;
  // Called after Begin (before any file is read).
  std::function<void()> after_begin;
};

struct StreamedSet {
  BeginResult begin;
  LogList logs;
  EndResult end;
  std::vector<std::string> databases;  // file names in the set directory
};

// Runs a whole backup (Begin ... End) and writes each database stream and
// log under its file name into `dir` (created if needed).
absl::StatusOr<StreamedSet> StreamBackupSet(BackupEngine& engine,
                                            const std::string& dir,
                                            const StreamOptions& options = {});

// Reads a whole open stream with ReadAt into a string.
absl::StatusOr<std::string> ReadWhole(BackupEngine& engine,
                                      absl::string_view id, uint64_t size,
                                      size_t chunk = 64 * 1024);

// Flips `count` bytes at `offset` of a file.
void CorruptFile(const std::string& path, uint64_t offset, size_t count);
std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);
void CopyFile(const std::string& from, const std::string& to);

// Commits `count` single-row transactions "k<from..>" into `table`.
absl::Status PutRows(Database* db, absl::string_view table, int from, int count,
                     size_t value_size = 100);
// Every key/value of a table.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanTable(
    Database* db, absl::string_view table);

// An instance in its own directory with one database "db1.edb" holding
// table "t" with a few committed rows.
class BackupFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  InstanceOptions Options(const std::string& name) const;
  // Creates and initialises an instance; with a database when `db_name`.
  Instance* StartInstance(InstanceOptions options,
                          const std::string& db_name = "db1.edb");
  BackupEngine& backup() { return instance_->backup(); }
  std::string DbPath() const { return db_->path(); }
  // Begin + read the whole database + GetLogInfo + all logs (+ truncate).
  StreamedSet FullBackupToDir(const std::string& dir, bool truncate = true);

  std::string dir_;
  uint32_t page_size_ = 4096;
  uint64_t log_file_size_ = 64 * 1024;
  std::unique_ptr<InstanceRegistry> registry_;
  Instance* instance_ = nullptr;
  Database* db_ = nullptr;
};

}  // namespace jetback::testing

#endif  // JETBACK_ENGINE_BACKUP_TEST_UTIL_H_
