// Database file: header copies, buffer cache with undo, flushes, range lock.

#include "engine/db_file.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format.h"
#include "engine/log.h"
#include "jetback/status.h"

namespace jetback {

void RangeLock::Lock(uint32_t first, uint32_t count) {
  uint64_t end = uint64_t{first} + count;
  jetback::MutexLock lock(&mu_);
  auto free = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [f, e] : held_) {
      if (f < end && first < e) return false;
    }
    return true;
  };
  mu_.Await(jetback::Condition(&free));
  held_.emplace(first,
                static_cast<uint32_t>(std::min<uint64_t>(end, UINT32_MAX)));
}

void RangeLock::Unlock(uint32_t first, uint32_t count) {
  jetback::MutexLock lock(&mu_);
  auto range = held_.equal_range(first);
  for (auto it = range.first; it != range.second; ++it) {
    held_.erase(it);
    return;
  }
}

DbFile::DbFile(Env* env, std::string path, std::unique_ptr<File> file,
               uint32_t page_size, size_t cache_pages,
               DatabaseHeaderInfo header)
    : env_(env),
      path_(std::move(path)),
      file_(std::move(file)),
      page_size_(page_size),
      cache_pages_(std::max<size_t>(cache_pages, 16)),
      db_signature_(header.db_signature),
      header_(std::move(header)) {
  dbtime_.store(header_.dbtime);
}

DbFile::~DbFile() = default;

absl::StatusOr<std::unique_ptr<DbFile>> DbFile::Create(
    Env* env, const std::string& path, uint32_t page_size,
    uint64_t db_signature, uint64_t log_signature, size_t cache_pages) {
  auto opened = env->OpenFile(path, OpenMode::kCreateExclusive);
  if (!opened.ok()) {
    if (JetErrOf(opened.status()) == jet::JET_errFileAlreadyExists) {
      return JetStatus(jet::JET_errDatabaseDuplicate, path);
    }
    if (JetErrOf(opened.status()) == jet::JET_errFileNotFound) {
      return JetStatus(jet::JET_errInvalidPath, path);
    }
    return opened.status();
  }
  DatabaseHeaderInfo h;
  h.path = path;
  h.page_size = page_size;
  h.db_signature = db_signature;
  h.log_signature = log_signature;
  h.clean_shutdown = false;
  std::unique_ptr<DbFile> db(
      new DbFile(env, path, std::move(*opened), page_size, cache_pages, h));
  absl::Status s = db->WriteHeader(h);
  if (!s.ok()) {
    db.reset();
    env->DeleteFile(path).IgnoreError();
    return s;
  }
  return db;
}

absl::StatusOr<std::unique_ptr<DbFile>> DbFile::Open(Env* env,
                                                     const std::string& path,
                                                     uint32_t page_size,
                                                     size_t cache_pages) {
  JB_ASSIGN_OR_RETURN(auto file, env->OpenFile(path, OpenMode::kReadWrite));
  std::string page(page_size, '\0');
  absl::StatusOr<DatabaseHeaderInfo> header =
      JetStatus(jet::JET_errDatabaseCorrupted, "no header");
  for (uint32_t copy = 0; copy < format::kHeaderPages && !header.ok(); ++copy) {
    size_t got = 0;
    JB_RETURN_IF_ERROR(
        file->Read(uint64_t{copy} * page_size, page_size, page.data(), &got));
    header = format::DecodeDbHeader(absl::MakeConstSpan(page.data(), got));
  }
  if (!header.ok()) {
    return JetStatus(jet::JET_errDatabaseCorrupted,
                     absl::StrCat(path, ": ", header.status().message()));
  }
  if (header->page_size != page_size) {
    return JetStatus(jet::JET_errDatabaseCorrupted,
                     absl::StrCat(path, ": page size ", header->page_size,
                                  " differs from the instance's ", page_size));
  }
  header->path = path;
  return std::unique_ptr<DbFile>(new DbFile(
      env, path, std::move(file), page_size, cache_pages, std::move(*header)));
}

DatabaseHeaderInfo DbFile::header() {
  jetback::MutexLock lock(&header_mu_);
  DatabaseHeaderInfo h = header_;
  h.dbtime = dbtime();
  return h;
}

absl::Status DbFile::WriteHeader(const DatabaseHeaderInfo& header) {
  jetback::MutexLock lock(&header_mu_);
  return WriteHeaderLocked(header);
}

absl::Status DbFile::UpdateHeader(
    const std::function<void(DatabaseHeaderInfo*)>& change) {
  jetback::MutexLock lock(&header_mu_);
  DatabaseHeaderInfo h = header_;
  change(&h);
  return WriteHeaderLocked(h);
}

absl::Status DbFile::WriteHeaderLocked(const DatabaseHeaderInfo& header) {
  DatabaseHeaderInfo h = header;
  h.dbtime = std::max(h.dbtime, dbtime());
  std::string page(page_size_, '\0');
  JB_RETURN_IF_ERROR(format::EncodeDbHeader(h, absl::MakeSpan(page)));
  // One copy at a time, so a torn write leaves the other intact.
  for (uint32_t copy = 0; copy < format::kHeaderPages; ++copy) {
    JB_RETURN_IF_ERROR(file_->Write(uint64_t{copy} * page_size_, page));
    JB_RETURN_IF_ERROR(file_->Sync());
  }
  header_ = h;
  header_.path = path_;
  return absl::OkStatus();
}

void DbFile::RaiseDbtime(uint64_t t) {
  uint64_t cur = dbtime_.load();
  while (cur < t && !dbtime_.compare_exchange_weak(cur, t)) {
  }
}

uint64_t DbFile::FlushedDbtime(uint32_t pgno) {
  return pgno < flush_map_.size() ? flush_map_[pgno] : 0;
}

absl::StatusOr<PagePtr> DbFile::Lookup(uint32_t pgno) {
  auto it = cache_.find(pgno);
  if (it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.page;
  }
  if (pgno == 0) {
    return JetStatus(jet::JET_errDatabaseCorrupted,
                     "page 0 is not a data page");
  }
  auto page = std::make_shared<CachedPage>(pgno, page_size_);
  size_t got = 0;
  JB_RETURN_IF_ERROR(file_->Read(format::PageOffset(pgno, page_size_),
                                 page_size_, page->bytes(), &got));
  JB_RETURN_IF_ERROR(
      format::VerifyPage(absl::MakeConstSpan(page->bytes(), page_size_), pgno,
                         FlushedDbtime(pgno)));
  EvictSome();
  lru_.push_front(pgno);
  cache_[pgno] = Entry{page, lru_.begin()};
  return page;
}

void DbFile::EvictSome() {
  if (cache_.size() < cache_pages_) return;
  int scanned = 0;
  auto it = lru_.end();
  while (cache_.size() >= cache_pages_ && it != lru_.begin() &&
         scanned++ < 128) {
    --it;
    Entry& e = cache_[*it];
    if (e.page->dirty || e.page->touched || e.page.use_count() > 1) continue;
    uint32_t pgno = *it;
    it = lru_.erase(it);
    cache_.erase(pgno);
  }
}

absl::StatusOr<PagePtr> DbFile::Read(uint32_t pgno) {
  jetback::MutexLock lock(&cache_mu_);
  return Lookup(pgno);
}

absl::StatusOr<PagePtr> DbFile::Write(uint32_t pgno) {
  jetback::MutexLock lock(&cache_mu_);
  JB_ASSIGN_OR_RETURN(PagePtr page, Lookup(pgno));
  if (txn_undo_.count(pgno) == 0) {
    Before b;
    b.data.reset(new char[page_size_]);
    std::memcpy(b.data.get(), page->bytes(), page_size_);
    b.dirty = page->dirty;
    b.rec_lsn = page->rec_lsn;
    b.page_lsn = page->page_lsn;
    txn_undo_.emplace(pgno, std::move(b));
  }
  page->touched = true;
  return page;
}

PagePtr DbFile::New(uint32_t pgno) {
  jetback::MutexLock lock(&cache_mu_);
  auto it = cache_.find(pgno);
  PagePtr page;
  if (it != cache_.end()) {
    page = it->second.page;  // e.g. a page freed and reused in one group
  } else {
    EvictSome();
    page = std::make_shared<CachedPage>(pgno, page_size_);
    lru_.push_front(pgno);
    cache_[pgno] = Entry{page, lru_.begin()};
  }
  if (txn_undo_.count(pgno) == 0) {
    Before b;
    if (it != cache_.end()) {
      b.data.reset(new char[page_size_]);
      std::memcpy(b.data.get(), page->bytes(), page_size_);
      b.dirty = page->dirty;
      b.rec_lsn = page->rec_lsn;
      b.page_lsn = page->page_lsn;
    }
    txn_undo_.emplace(pgno, std::move(b));
  }
  std::memset(page->bytes(), 0, page_size_);
  page->touched = true;
  return page;
}

void DbFile::FinishTxn(uint64_t txn, std::vector<std::string>* records) {
  jetback::MutexLock lock(&cache_mu_);
  for (auto& [pgno, before] : txn_undo_) {
    PagePtr page = cache_[pgno].page;
    format::PageHeader h =
        format::ReadPageHeader(absl::MakeConstSpan(page->bytes(), page_size_));
    h.pgno = pgno;
    h.dbtime = dbtime_.fetch_add(1) + 1;
    std::memcpy(page->bytes(), &h, sizeof(h));
    format::SealPage(absl::MakeSpan(page->bytes(), page_size_));
    std::string rec;
    AppendPageImage(txn, db_signature_, pgno,
                    absl::string_view(page->bytes(), page_size_), &rec);
    records->push_back(std::move(rec));
    if (batch_undo_.count(pgno) == 0) {
      batch_undo_.emplace(pgno, std::move(before));
    }
  }
  txn_undo_.clear();
}

void DbFile::Restore(std::map<uint32_t, Before>& undo, bool untouch) {
  for (auto& [pgno, before] : undo) {
    auto it = cache_.find(pgno);
    if (it == cache_.end()) continue;
    PagePtr page = it->second.page;
    bool in_batch = batch_undo_.count(pgno) != 0 && &undo != &batch_undo_;
    if (before.data == nullptr) {
      if (page->dirty) --dirty_;
      lru_.erase(it->second.lru);
      cache_.erase(it);
      continue;
    }
    std::memcpy(page->bytes(), before.data.get(), page_size_);
    if (page->dirty != before.dirty) before.dirty ? ++dirty_ : --dirty_;
    page->dirty = before.dirty;
    page->rec_lsn = before.rec_lsn;
    page->page_lsn = before.page_lsn;
    if (untouch || !in_batch) page->touched = false;
  }
  undo.clear();
}

void DbFile::AbortTxn() {
  jetback::MutexLock lock(&cache_mu_);
  Restore(txn_undo_, false);
}

void DbFile::AbortBatch() {
  jetback::MutexLock lock(&cache_mu_);
  Restore(txn_undo_, true);
  Restore(batch_undo_, true);
}

void DbFile::CommitBatch(uint64_t start_lsn, uint64_t end_lsn) {
  jetback::MutexLock lock(&cache_mu_);
  for (auto& [pgno, before] : batch_undo_) {
    auto it = cache_.find(pgno);
    if (it == cache_.end()) continue;
    CachedPage& page = *it->second.page;
    page.touched = false;
    if (!page.dirty) {
      page.dirty = true;
      page.rec_lsn = start_lsn;
      ++dirty_;
    }
    page.page_lsn = end_lsn;
  }
  batch_undo_.clear();
}

absl::Status DbFile::Flush(uint64_t durable_lsn) {
  struct Copy {
    uint32_t pgno;
    uint64_t dbtime;
    std::string data;
  };
  std::vector<Copy> copies;
  {
    jetback::ReaderMutexLock tree(&tree_mu_);
    jetback::MutexLock lock(&cache_mu_);
    for (auto& [pgno, e] : cache_) {
      CachedPage& p = *e.page;
      if (!p.dirty || p.touched || p.page_lsn > durable_lsn) continue;
      Copy c{pgno, 0, std::string(p.bytes(), page_size_)};
      c.dbtime = format::ReadPageHeader(absl::MakeConstSpan(c.data)).dbtime;
      copies.push_back(std::move(c));
    }
  }
  if (copies.empty()) return absl::OkStatus();
  std::sort(copies.begin(), copies.end(),
            [](const Copy& a, const Copy& b) { return a.pgno < b.pgno; });
  absl::Status status;
  size_t written = 0;
  for (; written < copies.size(); ++written) {
    const Copy& c = copies[written];
    range_lock_.Lock(c.pgno, 1);
    bool newer_on_disk;
    {
      jetback::MutexLock lock(&cache_mu_);
      newer_on_disk = FlushedDbtime(c.pgno) > c.dbtime;
    }
    // Flushes overlap (the flusher and a committer's back-pressure flush):
    // a copy taken before another flush wrote a later image, and maybe
    // marked the page clean, must not overwrite that image.
    if (!newer_on_disk) {
      status = file_->Write(format::PageOffset(c.pgno, page_size_), c.data);
      if (status.ok()) {
        jetback::MutexLock lock(&cache_mu_);
        if (flush_map_.size() <= c.pgno) flush_map_.resize(c.pgno + 1024, 0);
        flush_map_[c.pgno] = c.dbtime;
      }
    }
    range_lock_.Unlock(c.pgno, 1);
    if (!status.ok()) break;
  }
  if (status.ok()) status = file_->Sync();
  if (!status.ok()) return status;
  jetback::ReaderMutexLock tree(&tree_mu_);
  jetback::MutexLock lock(&cache_mu_);
  for (const Copy& c : copies) {
    auto it = cache_.find(c.pgno);
    if (it == cache_.end()) continue;
    CachedPage& p = *it->second.page;
    if (p.dirty && !p.touched &&
        format::ReadPageHeader(absl::MakeConstSpan(p.bytes(), page_size_))
                .dbtime == c.dbtime) {
      p.dirty = false;
      p.rec_lsn = 0;
      p.page_lsn = 0;
      --dirty_;
    }
  }
  return absl::OkStatus();
}

uint64_t DbFile::MinRecLsn() {
  jetback::MutexLock lock(&cache_mu_);
  uint64_t min = UINT64_MAX;
  for (auto& [pgno, e] : cache_) {
    if (e.page->dirty) min = std::min(min, e.page->rec_lsn);
  }
  return min;
}

size_t DbFile::dirty_pages() {
  jetback::MutexLock lock(&cache_mu_);
  return dirty_;
}

size_t DbFile::cached_pages() {
  jetback::MutexLock lock(&cache_mu_);
  return cache_.size();
}

absl::Status DbFile::ReadPagesForBackup(uint32_t first, uint32_t count,
                                        absl::Span<char> out) {
  if (first == 0 || out.size() < size_t{count} * page_size_) {
    return JetStatus(jet::JET_errInvalidParameter, "bad page range");
  }
  range_lock_.Lock(first, count);
  size_t got = 0;
  absl::Status s = file_->Read(format::PageOffset(first, page_size_),
                               size_t{count} * page_size_, out.data(), &got);
  if (s.ok()) {
    std::memset(out.data() + got, 0, size_t{count} * page_size_ - got);
    jetback::MutexLock lock(&cache_mu_);
    for (uint32_t i = 0; i < count && s.ok(); ++i) {
      s = format::VerifyPage(
          absl::MakeConstSpan(out.data() + size_t{i} * page_size_, page_size_),
          first + i, FlushedDbtime(first + i));
    }
  }
  range_lock_.Unlock(first, count);
  return s;
}

}  // namespace jetback
