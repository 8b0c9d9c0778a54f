// Instance lifecycle: Init (crash recovery itself is crash_recovery.cc),
// Term, attach / detach, and the BackupSource view.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/checkpoint.h"
#include "engine/format.h"
#include "engine/instance_impl.h"
#include "jetback/status.h"

namespace jetback {

class InstanceImpl::SourceView : public BackupSource {
 public:
  explicit SourceView(InstanceImpl* inst) : inst_(inst) {}
  const InstanceOptions& options() const override { return inst_->options(); }
  Env* env() override { return inst_->env(); }
  bool backup_allowed() override { return inst_->backup_allowed(); }
  bool terminating() override { return inst_->terminating(); }
  bool service_stopped() override { return inst_->service_stopped(); }
  bool log_writable() override { return inst_->log_writable(); }
  std::vector<BackupDatabase*> Databases() override {
    return inst_->BackupDatabases();
  }
  uint32_t CurrentGeneration() override { return inst_->CurrentGeneration(); }
  LogPosition LogTip() override { return inst_->LogTip(); }
  absl::StatusOr<uint32_t> ReadCheckpointGeneration() override {
    return inst_->ReadCheckpointGeneration();
  }
  absl::StatusOr<uint32_t> RollLog() override { return inst_->RollLog(); }
  void PinLogs(uint32_t gen) override { inst_->PinLogs(gen); }
  void UnpinLogs() override { inst_->UnpinLogs(); }
  absl::StatusOr<std::vector<uint32_t>> ListArchiveGenerations() override {
    return inst_->ListArchiveGenerations();
  }
  std::string ArchiveLogPath(uint32_t gen) override {
    return inst_->ArchiveLogPath(gen);
  }
  absl::Status DeleteArchiveLog(uint32_t gen) override {
    return inst_->DeleteArchiveLog(gen);
  }

 private:
  InstanceImpl* inst_;
};

InstanceImpl::InstanceImpl(InstanceOptions options)
    : Instance(std::move(options)),
      env_(options_.env != nullptr ? options_.env : Env::Default()),
      pool_(options_.background_pool != nullptr ? options_.background_pool
                                                : BackgroundPool::Default()),
      source_(std::make_unique<SourceView>(this)),
      backup_(NewBackupEngine(source_.get())) {}

InstanceImpl::~InstanceImpl() {
  if (initialized()) Term(TermMode::kAbrupt).IgnoreError();
  StopFlusher();
}

LogOptions InstanceImpl::log_options() const {
  LogOptions o;
  o.env = env_;
  o.log_dir = options_.log_dir;
  o.base_name = options_.base_name;
  o.page_size = options_.page_size;
  o.log_file_size = options_.log_file_size;
  o.log_signature = log_signature_;
  return o;
}

absl::Status InstanceImpl::Init() {
  jetback::MutexLock life(&lifecycle_mu_);
  if (initialized()) {
    return JetStatus(jet::JET_errAlreadyInitialized, name());
  }
  JB_RETURN_IF_ERROR(env_->CreateDirs(options_.log_dir));
  JB_RETURN_IF_ERROR(env_->CreateDirs(options_.system_dir));
  if (!options_.data_dir.empty()) {
    JB_RETURN_IF_ERROR(env_->CreateDirs(options_.data_dir));
  }
  // Before reading anything: a second owner must not recover or write.
  absl::Status locked = LockDirectories();
  if (!locked.ok()) {
    dir_locks_.clear();
    return locked;
  }
  terminating_.store(false);
  backup_refused_.store(false);
  service_stopped_.store(false);
  stopped_all_.store(false);
  // Transaction ids only need to differ from any in the log so far.
  next_txn_.store(
      (static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())) << 8) | 1);
  absl::Status s = RecoverFromCrash();
  if (!s.ok()) {
    Shutdown(/*clean=*/false);
    return s;
  }
  {
    jetback::MutexLock lock(&flush_mu_);
    flush_task_ = pool_->Add([this] { FlushRound(); }, options_.flush_interval);
  }
  initialized_.store(true);
  return absl::OkStatus();
}

absl::Status InstanceImpl::LockDirectories() {
  const std::string holder =
      absl::StrCat("pid ", ::getpid(), " (", program_invocation_short_name,
                   "), instance ", name());
  std::set<std::string> dirs;
  for (const std::string* d :
       {&options_.system_dir, &options_.log_dir, &options_.data_dir}) {
    if (d->empty()) continue;
    std::string dir = std::filesystem::path(*d).lexically_normal().string();
    if (!dirs.insert(dir).second) continue;
    JB_ASSIGN_OR_RETURN(
        auto lock,
        env_->LockFile(absl::StrCat(dir, "/", options_.base_name, ".lock"),
                       holder));
    dir_locks_.push_back(std::move(lock));
  }
  return absl::OkStatus();
}

absl::Status InstanceImpl::LockDatabase(const std::string& path) {
  if (db_locks_.count(path) != 0) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<FileLock>> lock = env_->LockFile(path, "");
  if (!lock.ok()) {
    if (JetErrOf(lock.status()) != jet::JET_errFileAccessDenied) {
      return lock.status();
    }
    return JetStatus(jet::JET_errFileAccessDenied,
                     absl::StrCat("database ", path,
                                  " is in use by another process or instance "
                                  "(its lock files name the owner)"));
  }
  db_locks_[path] = *std::move(lock);
  return absl::OkStatus();
}

namespace {

// `path` relative to `dir` when it lies inside it (both lexically
// normalised), else nullopt.
std::optional<std::string> RelativeInside(const std::string& path,
                                          const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path rel = fs::path(path).lexically_normal().lexically_relative(
      fs::path(dir).lexically_normal());
  if (rel.empty() || rel.is_absolute() || *rel.begin() == ".." || rel == ".") {
    return std::nullopt;
  }
  return rel.generic_string();
}

}  // namespace

absl::StatusOr<std::string> InstanceImpl::RecordedPath(
    const std::string& path) const {
  if (options_.data_dir.empty()) return path;
  std::optional<std::string> rel = RelativeInside(path, options_.data_dir);
  if (!rel) {
    return JetStatus(jet::JET_errInvalidPath,
                     absl::StrCat(path, " is outside the data directory ",
                                  options_.data_dir, " of instance ", name()));
  }
  return *rel;
}

absl::StatusOr<std::string> InstanceImpl::ResolveRecordedPath(
    const std::string& recorded) const {
  const bool absolute = !recorded.empty() && recorded[0] == '/';
  if (options_.data_dir.empty()) {
    if (absolute) return recorded;
    return JetStatus(jet::JET_errInvalidPath,
                     absl::StrCat("the checkpoint names database ", recorded,
                                  " relative to a data directory, and "
                                  "instance ",
                                  name(), " has none configured"));
  }
  // Absolute paths come from checkpoints written before paths were
  // recorded relative; they are honoured only inside data_dir. Anything
  // else belongs to another state directory (this one was copied or moved).
  const std::string full =
      absolute ? recorded : absl::StrCat(options_.data_dir, "/", recorded);
  std::optional<std::string> rel = RelativeInside(full, options_.data_dir);
  if (!rel) {
    return JetStatus(
        jet::JET_errInvalidPath,
        absl::StrCat("the checkpoint in ", options_.system_dir,
                     " names database ", recorded,
                     ", outside this instance's data directory ",
                     options_.data_dir,
                     " (state directory copied or moved?); refusing to open "
                     "another instance's files"));
  }
  return absl::StrCat(options_.data_dir, "/", *rel);
}

absl::StatusOr<DatabaseImpl*> InstanceImpl::AddDatabase(
    std::unique_ptr<DbFile> file, bool recovered) {
  DatabaseHeaderInfo h = file->header();
  if (!recovered && !h.clean_shutdown) {
    return JetStatus(jet::JET_errDatabaseDirtyShutdown,
                     absl::StrCat(file->path(),
                                  " was not shut down cleanly; recover it "
                                  "with its logs first"));
  }
  h.clean_shutdown = false;
  h.log_signature = log_signature_;
  h.gen_min_required = log_->generation();
  h.gen_max_required = log_->generation();
  if (!recovered) {
    // Clean: all it committed is on its pages, and the generation it names
    // may be another log set's (a restored database: the set's gen_high). A
    // backup's trailer would ask for that generation of this log (-553).
    h.gen_max_committed = log_->generation();
  }
  JB_RETURN_IF_ERROR(file->WriteHeader(h));
  auto db = std::make_unique<DatabaseImpl>(this, std::move(file));
  DatabaseImpl* raw = db.get();
  {
    jetback::MutexLock lock(&dbs_mu_);
    dbs_.push_back(std::move(db));
  }
  // Open() may commit (a new tree), so the log must be up already.
  absl::Status s = raw->Open();
  if (!s.ok()) {
    jetback::MutexLock lock(&dbs_mu_);
    dbs_.pop_back();
    return s;
  }
  return raw;
}

// The checks CreateDatabase and AttachDatabase share, in ESE's order.
absl::Status InstanceImpl::CheckCanAttach(const std::string& path) {
  JB_RETURN_IF_ERROR(CheckUsable());
  if (backup_->InProgress()) {
    return JetStatus(jet::JET_errBackupInProgress, "backup running");
  }
  jetback::ReaderMutexLock lock(&dbs_mu_);
  if (FindLocked(path) != nullptr) {
    return JetStatus(jet::JET_errDatabaseDuplicate, path);
  }
  if (dbs_.size() >= 6) {
    return JetStatus(jet::JET_errTooManyAttachedDatabases,
                     "six databases attached");
  }
  return absl::OkStatus();
}

absl::StatusOr<Database*> InstanceImpl::CreateDatabase(
    const std::string& path) {
  jetback::MutexLock life(&lifecycle_mu_);
  JB_RETURN_IF_ERROR(CheckCanAttach(path));
  JB_RETURN_IF_ERROR(RecordedPath(path).status());
  absl::BitGen bits;
  JB_ASSIGN_OR_RETURN(
      auto file, DbFile::Create(env_, path, options_.page_size,
                                absl::Uniform<uint64_t>(bits, 1, UINT64_MAX),
                                log_signature_, options_.cache_pages));
  JB_RETURN_IF_ERROR(LockDatabase(path));
  JB_RETURN_IF_ERROR(env_->SyncDir(path.substr(0, path.rfind('/') + 1)));
  {
    jetback::MutexLock lock(&dbs_mu_);
    dbs_.push_back(std::make_unique<DatabaseImpl>(this, std::move(file)));
  }
  // Named in the checkpoint before anything is logged for it.
  {
    jetback::MutexLock lock(&ckpt_file_mu_);
    absl::Status s = WriteCheckpointFile(last_redo_lsn_);
    if (!s.ok()) {
      jetback::MutexLock l(&dbs_mu_);
      dbs_.pop_back();
      return s;
    }
  }
  DatabaseImpl* db;
  {
    jetback::ReaderMutexLock lock(&dbs_mu_);
    db = dbs_.back().get();
  }
  JB_RETURN_IF_ERROR(db->Open());
  return db;
}

absl::StatusOr<Database*> InstanceImpl::AttachDatabase(
    const std::string& path) {
  jetback::MutexLock life(&lifecycle_mu_);
  JB_RETURN_IF_ERROR(CheckCanAttach(path));
  JB_RETURN_IF_ERROR(RecordedPath(path).status());
  JB_RETURN_IF_ERROR(LockDatabase(path));
  absl::StatusOr<std::unique_ptr<DbFile>> file =
      DbFile::Open(env_, path, options_.page_size, options_.cache_pages);
  absl::StatusOr<DatabaseImpl*> added =
      file.ok() ? AddDatabase(*std::move(file), false)
                : absl::StatusOr<DatabaseImpl*>(file.status());
  if (!added.ok()) {
    db_locks_.erase(path);
    return added.status();
  }
  DatabaseImpl* db = *added;
  jetback::MutexLock lock(&ckpt_file_mu_);
  JB_RETURN_IF_ERROR(WriteCheckpointFile(last_redo_lsn_));
  return db;
}

absl::Status InstanceImpl::DetachDatabase(const std::string& path) {
  jetback::MutexLock life(&lifecycle_mu_);
  JB_RETURN_IF_ERROR(CheckUsable());
  if (backup_->InProgress()) {
    return JetStatus(jet::JET_errBackupInProgress, "backup running");
  }
  std::unique_ptr<DatabaseImpl> db;
  {
    jetback::MutexLock lock(&dbs_mu_);
    DatabaseImpl* found = FindLocked(path);
    if (found == nullptr) return JetStatus(jet::JET_errDatabaseNotFound, path);
    JB_RETURN_IF_ERROR(found->file()->Flush(UINT64_MAX));
    for (auto it = dbs_.begin(); it != dbs_.end(); ++it) {
      if (it->get() == found) {
        db = std::move(*it);
        dbs_.erase(it);
        break;
      }
    }
  }
  absl::Status s = db->file()->UpdateHeader([&](DatabaseHeaderInfo* h) {
    h->clean_shutdown = true;
    h->gen_max_required = CurrentGeneration();
    h->gen_max_committed = CurrentGeneration();
  });
  const std::string detached = db->path();
  db.reset();
  db_locks_.erase(detached);  // after the file is closed
  jetback::MutexLock lock(&ckpt_file_mu_);
  absl::Status c = WriteCheckpointFile(last_redo_lsn_);
  return s.ok() ? c : s;
}

DatabaseImpl* InstanceImpl::FindLocked(absl::string_view path_or_name) {
  for (auto& db : dbs_) {
    if (db->path() == path_or_name || db->name() == path_or_name) {
      return db.get();
    }
  }
  return nullptr;
}

std::vector<Database*> InstanceImpl::Databases() {
  jetback::ReaderMutexLock lock(&dbs_mu_);
  std::vector<Database*> out;
  for (auto& db : dbs_) out.push_back(db.get());
  return out;
}

std::vector<BackupDatabase*> InstanceImpl::BackupDatabases() {
  jetback::ReaderMutexLock lock(&dbs_mu_);
  std::vector<BackupDatabase*> out;
  for (auto& db : dbs_) out.push_back(db.get());
  return out;
}

Database* InstanceImpl::FindDatabase(absl::string_view path_or_name) {
  jetback::ReaderMutexLock lock(&dbs_mu_);
  return FindLocked(path_or_name);
}

void InstanceImpl::StopFlusher() {
  // Waits for a round in progress, as joining the old per-instance thread
  // did.
  BackgroundPool::Task* task;
  {
    jetback::MutexLock lock(&flush_mu_);
    task = flush_task_;
    flush_task_ = nullptr;
  }
  if (task != nullptr) pool_->Remove(task);
}

void InstanceImpl::Shutdown(bool clean) {
  StopFlusher();
  if (clean && log_ != nullptr) {
    Checkpoint().IgnoreError();
    jetback::ReaderMutexLock lock(&dbs_mu_);
    for (auto& db : dbs_) {
      if (db->file()->dirty_pages() != 0) continue;  // flush failed: stay dirty
      db->file()
          ->UpdateHeader([&](DatabaseHeaderInfo* h) {
            h->clean_shutdown = true;
            h->gen_max_required = log_->generation();
            h->gen_max_committed = log_->generation();
          })
          .IgnoreError();
    }
  }
  {
    jetback::MutexLock lock(&dbs_mu_);
    dbs_.clear();
  }
  log_.reset();
  db_locks_.clear();
  dir_locks_.clear();
  initialized_.store(false);
}

absl::Status InstanceImpl::Term(TermMode mode) {
  if (mode == TermMode::kComplete && backup_->InProgress()) {
    // ESE clears "backup allowed" before refusing: a new Begin gets -523.
    backup_refused_.store(true);
    return JetStatus(jet::JET_errBackupInProgress,
                     "a backup is running; end it or terminate abruptly");
  }
  jetback::MutexLock life(&lifecycle_mu_);
  if (!initialized()) {
    return JetStatus(jet::JET_errNotInitialized, name());
  }
  terminating_.store(true);
  // End skips its entry checks only through AbortForTerm (End itself
  // refuses once terminating_ is set).
  backup_->AbortForTerm("instance terminating");
  Shutdown(/*clean=*/true);
  return absl::OkStatus();
}

void InstanceImpl::TermDirty() {
  jetback::MutexLock life(&lifecycle_mu_);
  terminating_.store(true);
  backup_->AbortForTerm("instance terminated dirty");
  Shutdown(/*clean=*/false);
}

uint32_t InstanceImpl::CurrentGeneration() {
  return log_ != nullptr ? log_->generation() : 0;
}

uint32_t InstanceImpl::CheckpointGeneration() { return checkpoint_gen_.load(); }

absl::Status InstanceImpl::StopService(uint32_t grbit) {
  if (!initialized()) return JetStatus(jet::JET_errNotInitialized, name());
  if ((grbit & JET_bitStopServiceResume) != 0) {
    if (stopped_all_.load()) {
      return JetStatus(jet::JET_errClientRequestToStopJetService,
                       "a full stop cannot be resumed");
    }
    service_stopped_.store(false);
    return absl::OkStatus();
  }
  if ((grbit & JET_bitStopServiceStopAndEmitLog) != 0 &&
      grbit != JET_bitStopServiceStopAndEmitLog) {
    return JetStatus(jet::JET_errInvalidGrbit, "StopAndEmitLog must be alone");
  }
  if (grbit == JET_bitStopServiceAll) {
    stopped_all_.store(true);
    service_stopped_.store(true);
  }
  return absl::OkStatus();
}

absl::Status InstanceImpl::Probe() {
  jetback::MutexLock life(&lifecycle_mu_);
  if (!initialized()) return JetStatus(jet::JET_errNotInitialized, name());
  { jetback::MutexLock lock(&queue_mu_); }
  { jetback::MutexLock lock(&ckpt_mu_); }
  { jetback::MutexLock lock(&ckpt_file_mu_); }
  { jetback::MutexLock lock(&flush_mu_); }
  pool_->Probe();
  backup_->Progress();  // the backup engine's state and stop locks
  if (log_ == nullptr || log_->failed()) {
    return JetStatus(jet::JET_errInstanceUnavailable,
                     absl::StrCat(name(), ": the log failed"));
  }
  std::vector<DatabaseImpl*> dbs;
  {
    jetback::ReaderMutexLock lock(&dbs_mu_);
    for (auto& db : dbs_) dbs.push_back(db.get());
  }
  // lifecycle_mu_ keeps them attached. A commit holds the tree lock of each
  // database it writes until its log group is durable.
  for (DatabaseImpl* db : dbs) {
    { jetback::ReaderMutexLock tree(&db->file()->tree_mu()); }
    JB_ASSIGN_OR_RETURN(std::vector<std::string> tables, db->ListTables());
    if (tables.empty()) continue;
    absl::StatusOr<std::string> read = db->Begin()->Get(tables[0], "probe");
    if (!read.ok() && JetErrOf(read.status()) != jet::JET_errRecordNotFound) {
      return read.status();
    }
  }
  return absl::OkStatus();
}

bool InstanceImpl::backup_allowed() {
  return initialized() && !terminating() && !backup_refused_.load();
}

bool InstanceImpl::log_writable() {
  return initialized() && log_ != nullptr && !log_->failed();
}

LogPosition InstanceImpl::LogTip() {
  return log_ != nullptr ? PositionOf(log_->tip()) : LogPosition{};
}

absl::StatusOr<uint32_t> InstanceImpl::ReadCheckpointGeneration() {
  // Not between a checkpoint's rename and its checkpoint_gen_ update:
  // DeleteArchiveLog must allow every generation below what is read here.
  jetback::MutexLock lock(&ckpt_file_mu_);
  JB_ASSIGN_OR_RETURN(
      CheckpointInfo info,
      ReadCheckpoint(env_, options_.system_dir, options_.base_name));
  return PositionOf(info.redo_lsn).generation;
}

absl::StatusOr<std::vector<uint32_t>> InstanceImpl::ListArchiveGenerations() {
  JB_ASSIGN_OR_RETURN(auto names, env_->ListDir(options_.log_dir));
  std::vector<uint32_t> gens;
  for (const std::string& n : names) {
    auto g = format::ParseArchiveLogName(options_.base_name, n);
    if (g) gens.push_back(*g);
  }
  std::sort(gens.begin(), gens.end());
  return gens;
}

std::string InstanceImpl::ArchiveLogPath(uint32_t gen) {
  return absl::StrCat(options_.log_dir, "/",
                      format::ArchiveLogName(options_.base_name, gen));
}

absl::Status InstanceImpl::DeleteArchiveLog(uint32_t gen) {
  if (gen >= checkpoint_gen_.load() || gen >= CurrentGeneration()) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat("generation ", gen, " is still needed by the checkpoint"));
  }
  absl::Status s = env_->DeleteFile(ArchiveLogPath(gen));
  if (!s.ok() && JetErrOf(s) != jet::JET_errFileNotFound) return s;
  return absl::OkStatus();
}

}  // namespace jetback
