#include "engine/backup_test_util.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace jetback::testing {

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl =
      absl::StrCat(base != nullptr ? base : "/tmp", "/jetback_backup_XXXXXX");
  char* made = mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr);
  return tmpl;
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  return dir + "/" + name;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

AlignedBuffer::AlignedBuffer(size_t size) : size_(size) {
  data_ =
      static_cast<char*>(std::aligned_alloc(4096, (size + 4095) / 4096 * 4096));
}
AlignedBuffer::~AlignedBuffer() { std::free(data_); }

absl::StatusOr<std::string> ReadWhole(BackupEngine& engine,
                                      absl::string_view id, uint64_t size,
                                      size_t chunk) {
  std::string out;
  std::string buf(chunk, '\0');
  for (uint64_t offset = 0; offset < size;) {
    JB_ASSIGN_OR_RETURN(size_t n,
                        engine.ReadAt(id, 0, offset, absl::MakeSpan(buf)));
    if (n == 0) break;
    out.append(buf.data(), n);
    offset += n;
  }
  return out;
}

namespace {

std::string FileName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

absl::Status StreamFile(BackupEngine& engine, const std::string& id,
                        const std::string& name, const std::string& dir,
                        size_t read_bytes) {
  JB_ASSIGN_OR_RETURN(OpenedFile opened, engine.OpenFile(id, name, 0));
  AlignedBuffer buf(read_bytes);
  std::ofstream out(JoinPath(dir, FileName(name)), std::ios::binary);
  uint64_t total = 0;
  for (;;) {
    JB_ASSIGN_OR_RETURN(
        size_t n,
        engine.Read(id, opened.handle, absl::MakeSpan(buf.data(), read_bytes)));
    if (n == 0) break;
    out.write(buf.data(), static_cast<std::streamsize>(n));
    total += n;
  }
  out.close();
  if (total != opened.size) {
    return absl::InternalError(
        absl::StrCat(name, ": streamed ", total, " of ", opened.size));
  }
  return engine.CloseFile(id, opened.handle).status();
}

}  // namespace

absl::StatusOr<StreamedSet> StreamBackupSet(BackupEngine& engine,
                                            const std::string& dir,
                                            const StreamOptions& options) {
  std::filesystem::create_directories(dir);
  StreamedSet set;
  JB_ASSIGN_OR_RETURN(
      set.begin,
      engine.Begin(options.incremental ? JET_bitBackupIncremental : 0, {}));
  const std::string id = set.begin.backup_id;
  if (options.after_begin) options.after_begin();
  if (!options.incremental) {
    JB_ASSIGN_OR_RETURN(std::vector<std::string> dbs, engine.GetAttachInfo(id));
    for (const std::string& db : dbs) {
      JB_RETURN_IF_ERROR(StreamFile(engine, id, db, dir, options.read_bytes));
      set.databases.push_back(FileName(db));
    }
  }
  JB_ASSIGN_OR_RETURN(set.logs, engine.GetLogInfo(id));
  for (const std::string& log : set.logs.files) {
    JB_RETURN_IF_ERROR(StreamFile(engine, id, log, dir, options.read_bytes));
  }
  if (options.truncate) JB_RETURN_IF_ERROR(engine.TruncateLog(id).status());
  JB_ASSIGN_OR_RETURN(set.end, engine.End(id, options.end_grbit));
  return set;
}

void CorruptFile(const std::string& path, uint64_t offset, size_t count) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  std::string bytes(count, '\0');
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(bytes.data(), static_cast<std::streamsize>(count));
  for (char& c : bytes) c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(count));
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void CopyFile(const std::string& from, const std::string& to) {
  WriteFileBytes(to, ReadFileBytes(from));
}

absl::Status PutRows(Database* db, absl::string_view table, int from, int count,
                     size_t value_size) {
  for (int i = from; i < from + count; ++i) {
    std::unique_ptr<Transaction> txn = db->Begin();
    std::string value(value_size, static_cast<char>('a' + i % 26));
    JB_RETURN_IF_ERROR(txn->Put(table, absl::StrFormat("k%08d", i), value));
    JB_RETURN_IF_ERROR(txn->Commit());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanTable(
    Database* db, absl::string_view table) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::unique_ptr<Transaction> txn = db->Begin();
  JB_RETURN_IF_ERROR(
      txn->Scan(table, "", "", [&](absl::string_view k, absl::string_view v) {
        rows.emplace_back(std::string(k), std::string(v));
        return true;
      }));
  txn->Rollback();
  return rows;
}

void BackupFixture::SetUp() {
  dir_ = MakeTempDir();
  registry_ = std::make_unique<InstanceRegistry>();
  instance_ = StartInstance(Options("main"));
  ASSERT_NE(instance_, nullptr);
}

void BackupFixture::TearDown() {
  registry_.reset();
  RemoveTree(dir_);
}

InstanceOptions BackupFixture::Options(const std::string& name) const {
  InstanceOptions o;
  o.name = name;
  o.log_dir = JoinPath(dir_, name + "/logs");
  o.system_dir = JoinPath(dir_, name + "/sys");
  o.page_size = page_size_;
  o.log_file_size = log_file_size_;
  o.cache_pages = 256;
  o.flush_interval = absl::Milliseconds(20);
  return o;
}

Instance* BackupFixture::StartInstance(InstanceOptions options,
                                       const std::string& db_name) {
  std::filesystem::create_directories(options.log_dir);
  std::filesystem::create_directories(options.system_dir);
  const std::string db_dir = JoinPath(dir_, options.name + "/db");
  std::filesystem::create_directories(db_dir);
  auto created = registry_->Create(options);
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) return nullptr;
  Instance* inst = *created;
  absl::Status init = inst->Init();
  EXPECT_TRUE(init.ok()) << init;
  if (!init.ok()) return nullptr;
  inst->backup().SetReadRetries(2, absl::Milliseconds(1));
  if (db_name.empty()) return inst;
  const std::string path = JoinPath(db_dir, db_name);
  Database* db = inst->FindDatabase(path);
  if (db == nullptr) {
    auto made = inst->CreateDatabase(path);
    EXPECT_TRUE(made.ok()) << made.status();
    if (!made.ok()) return nullptr;
    db = *made;
    EXPECT_TRUE(db->CreateTable("t").ok());
    EXPECT_TRUE(PutRows(db, "t", 0, 20).ok());
  }
  if (inst == instance_ || instance_ == nullptr) db_ = db;
  return inst;
}

StreamedSet BackupFixture::FullBackupToDir(const std::string& dir,
                                           bool truncate) {
  StreamOptions opts;
  opts.truncate = truncate;
  auto set = StreamBackupSet(backup(), dir, opts);
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *set : StreamedSet{};
}

}  // namespace jetback::testing
