// Crash recovery at Init: reads the checkpoint, finishes a log roll cut
// short, replays the generations from the checkpoint's redo position onto
// the databases it names (the redo core, engine/redo.h) and cuts the current
// log's torn tail. Restore's replay of a backup set is restore_replay.cc.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "engine/checkpoint.h"
#include "engine/format.h"
#include "engine/instance_impl.h"
#include "engine/redo.h"
#include "jetback/status.h"

namespace jetback {

absl::Status InstanceImpl::StartFresh() {
  absl::BitGen gen;
  log_signature_ = absl::Uniform<uint64_t>(gen, 1, UINT64_MAX);
  JB_RETURN_IF_ERROR(LogWriter::CreateGeneration(log_options(), 1, 0));
  JB_ASSIGN_OR_RETURN(log_, LogWriter::Open(log_options(), 1));
  return WriteCheckpointFile(log_->tip());
}

absl::Status InstanceImpl::RecoverFromCrash() {
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
    JB_ASSIGN_OR_RETURN(std::string path, ResolveRecordedPath(d.path));
    JB_RETURN_IF_ERROR(LockDatabase(path));
    JB_ASSIGN_OR_RETURN(auto db, DbFile::Open(env_, path, options_.page_size,
                                              options_.cache_pages));
    if (db->db_signature() != d.db_signature) {
      return JetStatus(jet::JET_errDatabaseCorrupted,
                       absl::StrCat(path,
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

}  // namespace jetback
