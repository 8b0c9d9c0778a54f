// Instance lifecycle: Init with crash recovery, Term, attach / detach, and
// the BackupSource view.

#include <algorithm>
#include <cstring>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/checkpoint.h"
#include "engine/format.h"
#include "engine/instance_impl.h"
#include "engine/recovery.h"
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
  terminating_.store(false);
  backup_refused_.store(false);
  service_stopped_.store(false);
  stopped_all_.store(false);
  // Transaction ids only need to differ from any in the log so far.
  next_txn_.store(
      (static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())) << 8) | 1);
  absl::Status s = Recover();
  if (!s.ok()) {
    Shutdown(/*clean=*/false);
    return s;
  }
  {
    jetback::MutexLock lock(&flusher_mu_);
    flusher_stop_ = false;
  }
  flusher_ = std::thread([this] { FlusherLoop(); });
  initialized_.store(true);
  return absl::OkStatus();
}

absl::Status InstanceImpl::StartFresh() {
  absl::BitGen gen;
  log_signature_ = absl::Uniform<uint64_t>(gen, 1, UINT64_MAX);
  JB_RETURN_IF_ERROR(LogWriter::CreateGeneration(log_options(), 1, 0));
  JB_ASSIGN_OR_RETURN(log_, LogWriter::Open(log_options(), 1));
  return WriteCheckpointFile(log_->tip());
}

absl::Status InstanceImpl::Recover() {
  const LogOptions lo = log_options();
  const std::string current =
      LogPath(lo, format::CurrentLogName(options_.base_name));
  auto chk = ReadCheckpoint(env_, options_.system_dir, options_.base_name);
  JB_ASSIGN_OR_RETURN(std::vector<uint32_t> archives, ListArchiveGenerations());
  if (!chk.ok()) {
    if (JetErrOf(chk.status()) != jet::JET_errCheckpointFileNotFound) {
      return chk.status();
    }
    if (archives.empty() && !env_->FileExists(current)) return StartFresh();
    // A crash between creating the first log and the first checkpoint
    // leaves an empty generation 1 and nothing else.
    auto h = ReadLogHeader(env_, current);
    if (archives.empty() && h.ok() && h->generation == 1) {
      bool any = false;
      auto scan = ScanLogFile(env_, current, 1, 0, 1, true,
                              [&](uint64_t, const LogRecord&) {
                                any = true;
                                return absl::OkStatus();
                              });
      if (scan.ok() && !any) {
        JB_RETURN_IF_ERROR(env_->DeleteFile(current));
        return StartFresh();
      }
    }
    return chk.status();
  }
  if (chk->page_size != options_.page_size) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat("page size ", options_.page_size,
                     " differs from the log set's ", chk->page_size));
  }
  log_signature_ = chk->log_signature;
  const LogOptions o = log_options();
  if (!env_->FileExists(current)) {
    // Finish a roll cut short between its two renames.
    const std::string tmp =
        LogPath(o, absl::StrCat(options_.base_name, "tmp.log"));
    auto h = env_->FileExists(tmp) ? ReadLogHeader(env_, tmp)
                                   : absl::StatusOr<format::LogFileHeader>(
                                         JetStatus(jet::JET_errFileNotFound));
    if (!h.ok() || h->log_signature != log_signature_ ||
        !env_->FileExists(ArchiveLogPath(h->generation - 1))) {
      return JetStatus(jet::JET_errMissingLogFile,
                       absl::StrCat("current log missing: ", current));
    }
    JB_RETURN_IF_ERROR(env_->RenameFile(tmp, current));
    JB_RETURN_IF_ERROR(env_->SyncDir(options_.log_dir));
  }
  JB_ASSIGN_OR_RETURN(format::LogFileHeader cur, ReadLogHeader(env_, current));
  if (cur.log_signature != log_signature_) {
    return JetStatus(jet::JET_errBadLogSignature,
                     absl::StrCat(current, " belongs to another log set"));
  }
  LogPosition start = PositionOf(chk->redo_lsn);
  if (start.generation > cur.generation) {
    return JetStatus(
        jet::JET_errMissingLogFile,
        absl::StrCat("checkpoint needs generation ", start.generation,
                     ", log ends at ", cur.generation));
  }
  std::vector<RedoFile> files;
  for (uint32_t g = start.generation; g < cur.generation; ++g) {
    std::string path = ArchiveLogPath(g);
    if (!env_->FileExists(path)) {
      return JetStatus(jet::JET_errMissingLogFile,
                       absl::StrCat("missing log generation ", g, ": ", path));
    }
    files.push_back({g, path});
  }
  files.push_back({cur.generation, current});

  std::vector<std::unique_ptr<DbFile>> opened;
  std::map<uint64_t, File*> targets;
  for (const CheckpointInfo::Db& d : chk->databases) {
    JB_ASSIGN_OR_RETURN(auto db, DbFile::Open(env_, d.path, options_.page_size,
                                              options_.cache_pages));
    if (db->db_signature() != d.db_signature) {
      return JetStatus(jet::JET_errDatabaseCorrupted,
                       absl::StrCat(d.path,
                                    " is not the database the "
                                    "checkpoint names"));
    }
    db->RaiseDbtime(d.dbtime);
    targets[d.db_signature] = db->file();
    opened.push_back(std::move(db));
  }
  JB_ASSIGN_OR_RETURN(RedoStats stats,
                      RedoLogFiles(env_, options_.page_size, log_signature_,
                                   files, start.offset / format::kLogBlockSize,
                                   /*tolerate_tail=*/true, targets));
  // Cut the torn tail: zero everything after the last complete group.
  {
    JB_ASSIGN_OR_RETURN(auto f, env_->OpenFile(current, OpenMode::kReadWrite));
    uint64_t from = uint64_t{stats.end_block} * format::kLogBlockSize;
    JB_ASSIGN_OR_RETURN(uint64_t size, f->Size());
    if (from < size) {
      std::string zeros(size - from, '\0');
      JB_RETURN_IF_ERROR(f->Write(from, zeros));
      JB_RETURN_IF_ERROR(f->Sync());
    }
  }
  JB_ASSIGN_OR_RETURN(log_, LogWriter::Open(o, stats.end_block));
  for (auto& db : opened) {
    db->RaiseDbtime(stats.max_dbtime[db->db_signature()]);
    JB_RETURN_IF_ERROR(AddDatabase(std::move(db), true).status());
  }
  return WriteCheckpointFile(log_->tip());
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
  absl::BitGen bits;
  JB_ASSIGN_OR_RETURN(
      auto file, DbFile::Create(env_, path, options_.page_size,
                                absl::Uniform<uint64_t>(bits, 1, UINT64_MAX),
                                log_signature_, options_.cache_pages));
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
  JB_ASSIGN_OR_RETURN(auto file, DbFile::Open(env_, path, options_.page_size,
                                              options_.cache_pages));
  JB_ASSIGN_OR_RETURN(DatabaseImpl * db, AddDatabase(std::move(file), false));
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
  {
    jetback::MutexLock lock(&flusher_mu_);
    flusher_stop_ = true;
  }
  if (flusher_.joinable()) flusher_.join();
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
