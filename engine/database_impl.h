// File: engine/database_impl.h
//
// An attached database: named tables over one B+tree (keys prefixed with
// a 4-byte big-endian table id; id 0 is the catalog of table names), the
// Transaction implementation that buffers writes until commit, and the
// BackupDatabase view for the streaming backup.
//
// Thread-safety: as jetback/instance.h; the tree is guarded by the
// DbFile's tree lock, the catalog map by catalog_mu_.

#ifndef JETBACK_ENGINE_DATABASE_IMPL_H_
#define JETBACK_ENGINE_DATABASE_IMPL_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "jetback/mutex.h"
#include "engine/backup_source.h"
#include "engine/btree.h"
#include "engine/db_file.h"
#include "jetback/instance.h"

namespace jetback {

// What a database needs from its instance: the group-commit pipeline.
class CommitPipeline {
 public:
  virtual ~CommitPipeline() = default;
  // Runs apply() under the database's exclusive tree lock as part of a
  // group commit and returns once the group is durable (or failed, with
  // every change of apply undone). *generation gets the commit's log
  // generation.
  virtual absl::Status CommitTo(DbFile* db,
                                const std::function<absl::Status()>& apply,
                                uint32_t* generation) = 0;
  virtual absl::Status CheckUsable() = 0;
  virtual size_t cache_pages() const = 0;
  virtual uint32_t current_generation() = 0;
};

class DatabaseImpl : public Database, public BackupDatabase {
 public:
  DatabaseImpl(CommitPipeline* pipeline, std::unique_ptr<DbFile> file);
  // Creates the tree if the file has none, loads the table catalog.
  absl::Status Open();

  const std::string& path() const override { return file_->path(); }
  std::string name() const override;
  DatabaseHeaderInfo HeaderInfo() override;
  absl::Status CreateTable(absl::string_view table) override;
  absl::StatusOr<std::vector<std::string>> ListTables() override;
  std::unique_ptr<Transaction> Begin() override;

  absl::Status ReadPages(uint32_t first, uint32_t count,
                         absl::Span<char> out) override;
  absl::Status StampBackup(BackupSlotKind kind,
                           const BackupInfo& info) override;

  DbFile* file() { return file_.get(); }
  BTree* tree() { return &tree_; }
  CommitPipeline* pipeline() { return pipeline_; }
  // Table id for a name. Errors: -1305.
  absl::StatusOr<uint32_t> TableId(absl::string_view table);

 private:
  CommitPipeline* pipeline_;
  std::unique_ptr<DbFile> file_;
  BTree tree_;
  jetback::Mutex catalog_mu_;
  std::map<std::string, uint32_t, std::less<>> tables_
      ABSL_GUARDED_BY(catalog_mu_);
};

// Key of `key` in table `id`: 4-byte big-endian id, then the key.
std::string TableKey(uint32_t id, absl::string_view key);

}  // namespace jetback

#endif  // JETBACK_ENGINE_DATABASE_IMPL_H_
