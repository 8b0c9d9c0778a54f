// File: engine/db_file.h
//
// One database file: its header pages, a bounded buffer cache of data
// pages, the per-transaction and per-group-commit undo images, the flush
// map (dbtime of the last write issued per page, for the lost-flush check)
// and the range lock that keeps flushes out of pages a backup is copying.
//
// Locking: tree_mu() is the database's reader/writer lock. Readers of the
// tree hold it shared; the commit leader holds it exclusively while it
// applies a group and until the group is durable (so nothing uncommitted
// is ever visible). Write()/New() and the Txn/Batch calls REQUIRE it
// exclusively. The cache's own state is guarded by an inner mutex.

#ifndef JETBACK_ENGINE_DB_FILE_H_
#define JETBACK_ENGINE_DB_FILE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "jetback/env.h"
#include "jetback/instance.h"
#include "jetback/mutex.h"

namespace jetback {

struct CachedPage {
  CachedPage(uint32_t pgno, uint32_t size)
      : pgno(pgno), data(new char[size]()) {}
  char* bytes() { return data.get(); }
  const uint32_t pgno;
  std::unique_ptr<char[]> data;
  // Guarded by the cache mutex.
  bool dirty = false;
  bool touched = false;   // changed by the group being applied
  uint64_t rec_lsn = 0;   // first log position not yet on disk
  uint64_t page_lsn = 0;  // end of the group that logged the latest image
};
using PagePtr = std::shared_ptr<CachedPage>;

// Keeps page writes and backup reads of overlapping ranges apart.
class RangeLock {
 public:
  void Lock(uint32_t first, uint32_t count);
  void Unlock(uint32_t first, uint32_t count);

 private:
  jetback::Mutex mu_;
  std::multimap<uint32_t, uint32_t> held_ ABSL_GUARDED_BY(mu_);  // first->end
};

class DbFile {
 public:
  // Creates the file with both header pages (fsynced). -1201 if it exists.
  static absl::StatusOr<std::unique_ptr<DbFile>> Create(
      Env* env, const std::string& path, uint32_t page_size,
      uint64_t db_signature, uint64_t log_signature, size_t cache_pages);
  // Opens and reads the header (falls back to the shadow). Errors: -1811,
  // -1206 (no valid header or another page size).
  static absl::StatusOr<std::unique_ptr<DbFile>> Open(Env* env,
                                                      const std::string& path,
                                                      uint32_t page_size,
                                                      size_t cache_pages);
  ~DbFile();

  const std::string& path() const { return path_; }
  uint32_t page_size() const { return page_size_; }
  uint64_t db_signature() const { return db_signature_; }
  File* file() { return file_.get(); }
  jetback::Mutex& tree_mu() ABSL_LOCK_RETURNED(tree_mu_) { return tree_mu_; }

  DatabaseHeaderInfo header();
  // Writes both header copies (fsync after each) and keeps it in memory.
  absl::Status WriteHeader(const DatabaseHeaderInfo& header);
  // Read-modify-write of the header under one lock, then WriteHeader.
  absl::Status UpdateHeader(
      const std::function<void(DatabaseHeaderInfo*)>& change);
  uint64_t dbtime() const { return dbtime_.load(); }
  void RaiseDbtime(uint64_t t);

  // Cached page, loaded and verified on a miss (-1018/-1118/-1119/-1022).
  absl::StatusOr<PagePtr> Read(uint32_t pgno);
  // As Read, and records the page's before-image for the transaction.
  absl::StatusOr<PagePtr> Write(uint32_t pgno);
  // A fresh zero page not yet on disk (allocation past the end).
  PagePtr New(uint32_t pgno);

  // Stamps (dbtime, checksum) every page the transaction changed and
  // appends their images to *records; keeps their undo for the batch.
  void FinishTxn(uint64_t txn, std::vector<std::string>* records);
  // Puts back the pages the current transaction changed.
  void AbortTxn();
  // The group [start, end) is durable: its pages become dirty.
  void CommitBatch(uint64_t start_lsn, uint64_t end_lsn);
  // The group failed: puts back every page it changed.
  void AbortBatch();

  // Writes every dirty page whose log is durable (<= durable_lsn), then
  // fsyncs. Pages a backup is reading are waited for. Flushes may overlap;
  // a page's writes never go back to an older dbtime.
  absl::Status Flush(uint64_t durable_lsn);
  // Smallest rec_lsn of a dirty page; UINT64_MAX when clean.
  uint64_t MinRecLsn();
  size_t dirty_pages();
  size_t cached_pages();

  // Backup: reads [first, first+count) from the file under the range lock
  // and verifies each page against the flush map.
  absl::Status ReadPagesForBackup(uint32_t first, uint32_t count,
                                  absl::Span<char> out);

 private:
  struct Before {
    std::unique_ptr<char[]> data;  // null: the page was new
    bool dirty = false;
    uint64_t rec_lsn = 0;
    uint64_t page_lsn = 0;
  };
  struct Entry {
    PagePtr page;
    std::list<uint32_t>::iterator lru;
  };
  DbFile(Env* env, std::string path, std::unique_ptr<File> file,
         uint32_t page_size, size_t cache_pages, DatabaseHeaderInfo header);
  absl::StatusOr<PagePtr> Lookup(uint32_t pgno)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cache_mu_);
  void EvictSome() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cache_mu_);
  void Restore(std::map<uint32_t, Before>& undo, bool untouch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cache_mu_);
  uint64_t FlushedDbtime(uint32_t pgno)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cache_mu_);

  Env* env_;
  const std::string path_;
  std::unique_ptr<File> file_;
  const uint32_t page_size_;
  const size_t cache_pages_;
  uint64_t db_signature_;
  std::atomic<uint64_t> dbtime_{0};
  jetback::Mutex tree_mu_;
  RangeLock range_lock_;

  absl::Status WriteHeaderLocked(const DatabaseHeaderInfo& header)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(header_mu_);

  jetback::Mutex header_mu_;
  DatabaseHeaderInfo header_ ABSL_GUARDED_BY(header_mu_);

  jetback::Mutex cache_mu_ ABSL_ACQUIRED_AFTER(tree_mu_);
  std::unordered_map<uint32_t, Entry> cache_ ABSL_GUARDED_BY(cache_mu_);
  std::list<uint32_t> lru_ ABSL_GUARDED_BY(cache_mu_);  // front: recent
  size_t dirty_ ABSL_GUARDED_BY(cache_mu_) = 0;
  std::vector<uint64_t> flush_map_ ABSL_GUARDED_BY(cache_mu_);
  // Only the commit leader (exclusive tree_mu_) touches these.
  std::map<uint32_t, Before> txn_undo_;
  std::map<uint32_t, Before> batch_undo_;
};

}  // namespace jetback

#endif  // JETBACK_ENGINE_DB_FILE_H_
