// The streaming-backup state machine of one instance (ese-semantics.md
// sections 2-4): begin, attach info, files, reads, stop and lease. The log
// phase and End live in backup_logs.cc.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/backup_engine.h"
#include "engine/format.h"
#include "jetback/status.h"

namespace jetback {
namespace backup_internal {
namespace {

constexpr uint32_t kValidBeginBits =
    JET_bitBackupIncremental | JET_bitBackupSurrogate | JET_bitInternalCopy;

int64_t NowMicros(absl::Time t) { return absl::ToUnixMicros(t); }

std::string BaseName(absl::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path
                                                      : path.substr(slash + 1));
}

}  // namespace

absl::Status BackupEngineImpl::Gate() {
  if (source_->service_stopped()) {
    return JetStatus(jet::JET_errClientRequestToStopJetService,
                     "StopService was called on this instance");
  }
  if (source_->terminating()) {
    return JetStatus(jet::JET_errTermInProgress, "instance is terminating");
  }
  return absl::OkStatus();
}

absl::Status BackupEngineImpl::CheckStop() {
  if (!stop_.load(std::memory_order_acquire)) return absl::OkStatus();
  MutexLock lock(&stop_mu_);
  if (!stop_.load(std::memory_order_relaxed)) return absl::OkStatus();
  return BackupStoppedStatus(stop_backup_id_, stop_reason_, stop_initiator_);
}

absl::Status BackupEngineImpl::SleepUnlessStopped(absl::Duration d) {
  {
    MutexLock lock(&stop_mu_);
    auto stopped = [this] { return stop_.load(std::memory_order_relaxed); };
    stop_mu_.AwaitWithTimeout(Condition(&stopped), d);
  }
  return CheckStop();
}

void BackupEngineImpl::ClearStop(const std::string& new_id) {
  MutexLock lock(&stop_mu_);
  stop_.store(false, std::memory_order_release);
  stop_reason_.clear();
  stop_initiator_.clear();
  stop_backup_id_ = new_id;
}

std::string BackupEngineImpl::Stop(absl::string_view reason,
                                   absl::string_view initiator) {
  MutexLock lock(&stop_mu_);
  stop_reason_ = std::string(reason);
  stop_initiator_ = std::string(initiator);
  stop_.store(true, std::memory_order_release);
  return stop_backup_id_;
}

absl::StatusOr<Running*> BackupEngineImpl::RunningLocked(absl::string_view id) {
  const absl::Time now = absl::Now();
  ExpireLocked(now);
  if (!run_.has_value()) {
    return JetStatus(jet::JET_errNoBackup, "no backup is in progress");
  }
  if (!id.empty() && id != run_->id) {
    return JetStatus(jet::JET_errNoBackup,
                     absl::StrCat("backup ", id, " is not in progress"));
  }
  run_->last_call_at = now;
  return &*run_;
}

bool BackupEngineImpl::ExpireLocked(absl::Time now) {
  if (!run_.has_value() || lease_ <= absl::ZeroDuration() ||
      run_->active_calls > 0 || now - run_->last_call_at < lease_) {
    return false;
  }
  EndResult how;
  how.abort_jet_err = jet::JET_errInstanceUnavailable;
  how.reason = "lease expired";
  how.initiator = "server";
  EndLocked(how);
  return true;
}

void BackupEngineImpl::EndLocked(const EndResult& how) {
  // The caller's result says how it ended; only the counters stay.
  const absl::Time now = absl::Now();
  ++stats_.ended;
  stats_.duration_sum += now - run_->started_at;
  if (how.succeeded) {
    ++stats_.succeeded;
    (run_->full ? stats_.last_full_success : stats_.last_incremental_success) =
        now;
  } else if (how.abort_jet_err == jet::JET_errBackupAbortByServer) {
    ++stats_.aborted_stopped;
  } else if (how.abort_jet_err == jet::JET_errBackupAbortByCaller) {
    ++stats_.aborted_by_client;
  } else if (how.abort_jet_err == jet::JET_errInstanceUnavailable) {
    ++stats_.aborted_lease;
  } else {
    ++stats_.aborted_error;
  }
  run_->open.reset();
  source_->UnpinLogs();
  run_.reset();
  in_progress_.store(false);
  ClearStop("");
}

absl::Status BackupEngineImpl::FailLocked(absl::Status error) {
  EndResult how;
  how.abort_jet_err = JetErrOf(error);
  how.reason = std::string(error.message());
  how.initiator = "server";
  EndLocked(how);
  return error;
}

absl::StatusOr<BeginResult> BackupEngineImpl::Begin(
    uint32_t grbit, const BeginOptions& options) {
  JB_RETURN_IF_ERROR(Gate());
  if (!source_->backup_allowed()) {
    return JetStatus(jet::JET_errBackupNotAllowedYet,
                     "instance is not initialised or is terminating");
  }
  const InstanceOptions& opts = source_->options();
  if (!opts.logging_enabled) {
    return JetStatus(jet::JET_errLoggingDisabled, "logging is disabled");
  }
  if (!source_->log_writable()) {
    return JetStatus(jet::JET_errLogWriteFail, "the log cannot be written");
  }
  if ((grbit & ~kValidBeginBits) != 0) {
    return JetStatus(jet::JET_errInvalidGrbit,
                     absl::StrFormat("invalid Begin grbit 0x%x", grbit));
  }
  const bool incremental = (grbit & JET_bitBackupIncremental) != 0;
  const bool surrogate = (grbit & JET_bitBackupSurrogate) != 0;
  if ((incremental || surrogate) && opts.circular_logging) {
    return JetStatus(jet::JET_errInvalidBackup,
                     "incremental backup with circular logging");
  }
  if ((grbit & JET_bitInternalCopy) != 0 &&
      (grbit & (JET_bitBackupIncremental | JET_bitBackupSurrogate)) != 0) {
    return JetStatus(jet::JET_errInvalidGrbit,
                     "internal copy combined with incremental or surrogate");
  }

  MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  ExpireLocked(now);
  if (run_.has_value()) {
    return JetStatus(jet::JET_errBackupInProgress, "a backup is in progress");
  }
  if (surrogate) {
    return JetStatus(jet::JET_errFeatureNotAvailable,
                     "surrogate backups are not supported");
  }
  Running r;
  absl::BitGen bits;
  r.id = absl::StrFormat("%016x", absl::Uniform<uint64_t>(bits));
  r.serial = next_serial_++;
  r.full = !incremental;
  r.phase = incremental ? BackupPhase::kLogs : BackupPhase::kDatabases;
  r.options = options;
  r.started_at = r.last_call_at = now;
  ClearStop(r.id);  // a stop issued before this backup has no effect on it
  for (BackupDatabase* db : source_->Databases()) {
    DbEntry entry;
    entry.db = db;
    r.dbs.push_back(entry);
  }
  auto fail = [this](absl::Status st) {
    ClearStop("");
    return st;
  };
  uint32_t pin = 0;
  if (incremental) {
    for (const DbEntry& e : r.dbs) {
      if (e.db->HeaderInfo().full_prev.gen_low == 0) {
        return fail(JetStatus(
            jet::JET_errMissingFullBackup,
            absl::StrCat(e.db->path(), " has no truncating full backup")));
      }
    }
    auto gens = source_->ListArchiveGenerations();
    if (!gens.ok()) return fail(gens.status());
    pin = gens->empty() ? source_->CurrentGeneration() : gens->front();
  } else {
    const LogPosition tip = source_->LogTip();
    r.mark.mark_generation = tip.generation;
    r.mark.mark_offset = tip.offset;
    r.mark.mark_time_us = NowMicros(now);
    auto checkpoint = source_->ReadCheckpointGeneration();
    if (!checkpoint.ok()) return fail(checkpoint.status());
    r.copy_mic = pin = *checkpoint;
    for (const DbEntry& e : r.dbs) {
      const DatabaseHeaderInfo h = e.db->HeaderInfo();
      r.bytes_total += (uint64_t{h.pgno_last} + 3) * opts.page_size;
    }
  }
  source_->PinLogs(pin);
  BeginResult result;
  result.backup_id = r.id;
  result.incremental = incremental;
  result.checkpoint_generation = r.copy_mic;
  run_ = std::move(r);
  in_progress_.store(true);
  ++stats_.begun;
  return result;
}

absl::StatusOr<std::vector<std::string>> BackupEngineImpl::GetAttachInfo(
    absl::string_view backup_id) {
  JB_RETURN_IF_ERROR(Gate());
  MutexLock lock(&mu_);
  JB_ASSIGN_OR_RETURN(Running * r, RunningLocked(backup_id));
  JB_RETURN_IF_ERROR(CheckStop());
  if (!r->full) {
    return JetStatus(jet::JET_errInvalidBackupSequence,
                     "GetAttachInfo during an incremental backup");
  }
  std::vector<std::string> paths;
  for (const DbEntry& e : r->dbs) paths.push_back(e.db->path());
  return paths;
}

absl::StatusOr<OpenedFile> BackupEngineImpl::OpenFile(
    absl::string_view backup_id, absl::string_view name, uint64_t offset) {
  JB_RETURN_IF_ERROR(Gate());
  MutexLock lock(&mu_);
  JB_ASSIGN_OR_RETURN(Running * r, RunningLocked(backup_id));
  JB_RETURN_IF_ERROR(CheckStop());
  const uint32_t page = source_->options().page_size;
  if (name.empty()) {
    return JetStatus(jet::JET_errInvalidParameter, "empty file name");
  }
  if (offset % page != 0 || (offset > 0 && offset < 3 * uint64_t{page})) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("bad resume offset ", offset,
                                  ": a page multiple of at least 3 pages"));
  }
  if (r->open) {
    return JetStatus(jet::JET_errOutOfMemory,
                     "the backup file slot is in use; close the open file");
  }
  for (DbEntry& e : r->dbs) {
    if (e.db->path() == name) return OpenDatabase(*r, e, offset);
  }
  if (r->phase == BackupPhase::kDatabases) {
    return JetStatus(jet::JET_errDatabaseNotFound,
                     absl::StrCat(name, " is not an attached database"));
  }
  return OpenLog(*r, name, offset);
}

absl::StatusOr<OpenedFile> BackupEngineImpl::OpenDatabase(Running& r,
                                                          DbEntry& entry,
                                                          uint64_t offset) {
  if (!r.full || r.phase == BackupPhase::kLogs) {
    return FailLocked(JetStatus(
        jet::JET_errInvalidBackupSequence,
        absl::StrCat("database ", entry.db->path(),
                     " opened in the log phase; the backup has ended")));
  }
  const uint32_t page = source_->options().page_size;
  // The header is copied before the size is read (section 3.2), so the
  // minimum log it records covers every page copied.
  DatabaseHeaderInfo header = entry.db->HeaderInfo();
  header.full_cur = r.mark;
  header.full_cur.gen_low = r.copy_mic;
  header.full_cur.gen_high = 0;
  std::string header_page(page, '\0');
  JB_RETURN_IF_ERROR(
      format::EncodeDbHeader(header, absl::MakeSpan(header_page)));
  const uint32_t pgno_last = header.pgno_last;
  BackupDatabase* db = entry.db;
  const BackupInfo mark = r.mark;
  const uint32_t copy_mic = r.copy_mic;
  auto trailer = [this, db, page, pgno_last, mark,
                  copy_mic]() -> absl::StatusOr<std::string> {
    const DatabaseHeaderInfo h = db->HeaderInfo();
    format::TrailerInfo t;
    t.backup = mark;
    t.backup.gen_low = copy_mic;
    t.backup.gen_high =
        std::max(source_->CurrentGeneration(), h.gen_max_committed);
    t.db_signature = h.db_signature;
    t.log_signature = h.log_signature;
    t.gen_min_required = h.gen_min_required;
    t.gen_max_required = h.gen_max_required;
    t.gen_max_committed = h.gen_max_committed;
    t.pgno_last = pgno_last;
    std::string out(page, '\0');
    JB_RETURN_IF_ERROR(format::EncodeTrailer(t, absl::MakeSpan(out)));
    return out;
  };
  auto stream = Stream::ForDatabase(db, std::move(header_page), page, pgno_last,
                                    std::move(trailer));
  if (offset > stream->size()) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "resume offset beyond the end of the stream");
  }
  entry.in_session = true;
  entry.done = false;
  entry.dropped_by = absl::OkStatus();
  stream->cursor = offset;
  r.open = stream;
  r.open_offset = offset;
  OpenedFile opened;
  opened.size = stream->size();
  return opened;
}

absl::StatusOr<OpenedFile> BackupEngineImpl::OpenLog(Running& r,
                                                     absl::string_view name,
                                                     uint64_t offset) {
  const InstanceOptions& opts = source_->options();
  std::optional<uint32_t> gen =
      format::ParseArchiveLogName(opts.base_name, BaseName(name));
  if (!gen.has_value()) {
    return FailLocked(JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat(name,
                     " is not an archive log name; the backup has ended")));
  }
  // Only what GetLogInfo listed for this backup, and only by the path it
  // listed: a client-supplied path never reaches the file system, so
  // copies elsewhere, "dir/../" forms and unlisted generations are refused
  // before anything is opened or sized.
  if (!r.logs_prepared || *gen < r.copy_mic || *gen >= r.copy_mac) {
    return FailLocked(JetStatus(
        jet::JET_errMissingFileToBackup,
        absl::StrCat("log generation ", *gen,
                     " was not listed for this backup; the backup has ended")));
  }
  const std::string path = source_->ArchiveLogPath(*gen);
  if (name != path) {
    return FailLocked(JetStatus(
        jet::JET_errInvalidPath,
        absl::StrCat("log generation ", *gen,
                     " may only be opened by the path GetLogInfo listed; the "
                     "backup has ended")));
  }
  // Under mu_: the open must not block (a FIFO would) nor follow a link.
  auto file = source_->env()->OpenFile(path, OpenMode::kReadOnlyRegular);
  if (!file.ok()) {
    if (JetErrOf(file.status()) == jet::JET_errFileNotFound) {
      return FailLocked(JetStatus(
          jet::JET_errMissingFileToBackup,
          absl::StrCat(name, " does not exist; the backup has ended")));
    }
    return FailLocked(file.status());
  }
  auto size = (*file)->Size();
  if (!size.ok()) return FailLocked(size.status());
  if (offset > *size) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "resume offset beyond the end of the log");
  }
  auto stream =
      Stream::ForLog(path, std::move(*file), *gen, *size, opts.page_size);
  stream->cursor = offset;
  r.open = stream;
  r.open_offset = offset;
  OpenedFile opened;
  opened.size = *size;
  opened.is_log = true;
  opened.generation = *gen;
  return opened;
}

absl::StatusOr<size_t> BackupEngineImpl::ReadAt(absl::string_view backup_id,
                                                uint32_t handle,
                                                uint64_t offset,
                                                absl::Span<char> out) {
  JB_RETURN_IF_ERROR(Gate());
  std::shared_ptr<Stream> stream;
  uint64_t serial = 0;
  ReadPolicy policy;
  {
    MutexLock lock(&mu_);
    JB_ASSIGN_OR_RETURN(Running * r, RunningLocked(backup_id));
    JB_RETURN_IF_ERROR(CheckStop());
    if (handle != 0 || !r->open) {
      return JetStatus(jet::JET_errInvalidParameter, "file handle is not open");
    }
    stream = r->open;
    const uint32_t page = stream->page_size();
    if (out.empty() || out.size() % page != 0 ||
        (offset % page != 0 && offset != stream->size()) ||
        offset > stream->size()) {
      return JetStatus(jet::JET_errInvalidParameter,
                       absl::StrCat("read of ", out.size(), " bytes at ",
                                    offset, ": not whole pages of ", page,
                                    " bytes inside the stream"));
    }
    serial = r->serial;
    policy = policy_;
    ++r->active_calls;
  }
  absl::StatusOr<size_t> n = stream->ReadAt(offset, out, policy, this);

  MutexLock lock(&mu_);
  if (!run_.has_value() || run_->serial != serial) {
    if (!n.ok()) return n.status();
    return JetStatus(jet::JET_errNoBackup, "the backup ended during the read");
  }
  Running& r = *run_;
  --r.active_calls;
  r.last_call_at = absl::Now();
  if (!n.ok()) {
    if (JetErrOf(n.status()) == jet::JET_errBackupAbortByServer) {
      return n.status();
    }
    if (r.open != stream) return n.status();
    if (stream->is_log()) return FailLocked(n.status());
    // A database error drops that database from this backup (section 3.4).
    for (DbEntry& e : r.dbs) {
      if (e.db == stream->database()) {
        e.in_session = false;
        e.done = false;
        e.dropped_by = n.status();
      }
    }
    r.open.reset();
    return n.status();
  }
  stream->MarkHandedOut(offset, offset + *n);
  r.bytes_done += *n;
  stats_.bytes_streamed += *n;
  return n;
}

absl::StatusOr<size_t> BackupEngineImpl::Read(absl::string_view backup_id,
                                              uint32_t handle,
                                              absl::Span<char> buffer) {
  JB_RETURN_IF_ERROR(Gate());
  std::string id;
  std::shared_ptr<Stream> stream;
  uint64_t cursor = 0;
  {
    MutexLock lock(&mu_);
    JB_ASSIGN_OR_RETURN(Running * r, RunningLocked(backup_id));
    JB_RETURN_IF_ERROR(CheckStop());
    const uint32_t page = source_->options().page_size;
    if (reinterpret_cast<uintptr_t>(buffer.data()) % 4096 != 0) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "read buffer is not 4 KiB aligned");
    }
    if (buffer.size() % page != 0 || buffer.size() / page == 0) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "read size is not a non-zero page multiple");
    }
    if (handle != 0 || !r->open) {
      return JetStatus(jet::JET_errInvalidParameter, "file handle is not open");
    }
    stream = r->open;
    cursor = stream->cursor;
    const uint64_t min_pages = stream->is_log() ? 2 : 3;
    if (cursor == 0 && buffer.size() / page < min_pages) {
      return JetStatus(
          jet::JET_errInvalidParameter,
          absl::StrCat("the first read needs at least ", min_pages, " pages"));
    }
    id = r->id;
  }
  if (cursor >= stream->size()) return size_t{0};
  JB_ASSIGN_OR_RETURN(size_t n, ReadAt(id, handle, cursor, buffer));
  MutexLock lock(&mu_);
  if (run_.has_value() && run_->open == stream) stream->cursor = cursor + n;
  return n;
}

absl::StatusOr<OpenedFile> BackupEngineImpl::OpenFileInfo(
    absl::string_view backup_id, uint32_t handle) {
  JB_RETURN_IF_ERROR(Gate());
  MutexLock lock(&mu_);
  JB_ASSIGN_OR_RETURN(Running * r, RunningLocked(backup_id));
  JB_RETURN_IF_ERROR(CheckStop());
  if (handle != 0 || !r->open) {
    return JetStatus(jet::JET_errInvalidParameter, "file handle is not open");
  }
  OpenedFile info;
  info.size = r->open->size();
  info.is_log = r->open->is_log();
  info.generation = r->open->is_log() ? r->open->generation() : 0;
  return info;
}

absl::StatusOr<ClosedFile> BackupEngineImpl::CloseFile(
    absl::string_view backup_id, uint32_t handle) {
  JB_RETURN_IF_ERROR(Gate());
  MutexLock lock(&mu_);
  JB_ASSIGN_OR_RETURN(Running * r, RunningLocked(backup_id));
  if (handle != 0 || !r->open) {
    return JetStatus(jet::JET_errInvalidParameter, "file handle is not open");
  }
  std::shared_ptr<Stream> stream = std::move(r->open);
  const bool whole = stream->ReadToEnd(r->open_offset);
  if (stream->is_log()) {
    if (whole) r->logs_copied.insert(stream->generation());
  } else {
    for (DbEntry& e : r->dbs) {
      if (e.db == stream->database()) e.done = whole && e.in_session;
    }
  }
  return ClosedFile{.complete = whole};
}

}  // namespace backup_internal

std::unique_ptr<BackupEngine> NewBackupEngine(BackupSource* source) {
  return std::make_unique<backup_internal::BackupEngineImpl>(source);
}

}  // namespace jetback
