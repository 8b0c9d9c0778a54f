// Restore and offline verification of a backup set (ese-semantics.md
// section 5.1 with explicit generation bounds). The backup directory is only
// ever read.

#include "jetback/restore.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/format.h"
#include "engine/restore_check.h"
#include "engine/restore_replay.h"
#include "jetback/status.h"

namespace jetback {
namespace {

using restore_internal::CheckLogChain;
using restore_internal::CheckStreamedDatabase;
using restore_internal::JoinPath;
using restore_internal::StreamedDatabase;

constexpr size_t kCopyChunk = 4 << 20;

// Copies [0, length) of `from` into a new file `to`. With page_dbtimes, also
// records the dbtime of every database page copied (0 for zero or invalid
// pages) for replay (RestoreReplayTarget::page_dbtimes).
absl::Status CopyRange(Env* env, const std::string& from, const std::string& to,
                       uint64_t length, uint32_t page_size = 0,
                       std::vector<uint64_t>* page_dbtimes = nullptr) {
  JB_ASSIGN_OR_RETURN(std::unique_ptr<File> in,
                      env->OpenFile(from, OpenMode::kReadOnly));
  JB_ASSIGN_OR_RETURN(std::unique_ptr<File> out,
                      env->OpenFile(to, OpenMode::kCreateExclusiveDirect));
  // Aligned, so the copy bypasses the page cache (see OpenMode).
  std::unique_ptr<char, decltype(&std::free)> buf(
      static_cast<char*>(std::aligned_alloc(4096, kCopyChunk)), &std::free);
  if (buf == nullptr) throw std::bad_alloc();
  for (uint64_t pos = 0; pos < length;) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(kCopyChunk, length - pos));
    size_t got = 0;
    JB_RETURN_IF_ERROR(in->Read(pos, n, buf.get(), &got));
    if (got != n) {
      return JetStatus(jet::JET_errDiskIO, absl::StrCat(from, " is short"));
    }
    JB_RETURN_IF_ERROR(out->Write(pos, absl::string_view(buf.get(), n)));
    if (page_dbtimes != nullptr) {
      // Chunks are page multiples, so pages never straddle two.
      for (uint64_t at = 0; at + page_size <= n; at += page_size) {
        const uint64_t page_index = (pos + at) / page_size;
        if (page_index < format::kHeaderPages) continue;
        const uint32_t pgno =
            static_cast<uint32_t>(page_index - format::kHeaderPages + 1);
        if (pgno >= page_dbtimes->size()) page_dbtimes->resize(pgno + 1, 0);
        (*page_dbtimes)[pgno] = format::VerifiedDbtime(
            absl::MakeConstSpan(buf.get() + at, page_size), pgno);
      }
    }
    pos += n;
  }
  return out->Sync();
}

// The restored file is the stream without its trailer page: [header]
// [shadow][pages]. Its header needs logs up to gen_high and no longer claims
// to be a streamed copy.
absl::Status WriteRestoredDatabase(Env* env, const StreamedDatabase& db,
                                   const std::string& to, uint32_t gen_high,
                                   std::vector<uint64_t>* page_dbtimes) {
  const uint64_t page = db.page_size;
  JB_RETURN_IF_ERROR(CopyRange(env, db.path, to, db.file_size - page,
                               db.page_size, page_dbtimes));
  DatabaseHeaderInfo header = db.header;
  header.gen_max_required = std::max(header.gen_max_required, gen_high);
  header.gen_max_committed = std::max(header.gen_max_committed, gen_high);
  header.clean_shutdown = false;
  header.full_cur = BackupInfo{};
  std::string page_bytes(page, '\0');
  JB_RETURN_IF_ERROR(
      format::EncodeDbHeader(header, absl::MakeSpan(page_bytes)));
  JB_ASSIGN_OR_RETURN(std::unique_ptr<File> out,
                      env->OpenFile(to, OpenMode::kReadWrite));
  for (uint64_t i = 0; i < format::kHeaderPages; ++i) {
    JB_RETURN_IF_ERROR(out->Write(i * page, page_bytes));
  }
  return out->Sync();
}

absl::StatusOr<std::vector<std::string>> DatabaseNames(
    Env* env, const RestoreOptions& options) {
  if (!options.databases.empty()) {
    // Names come from a manifest, which a hostile set controls: each is a
    // file inside backup_dir and lands inside target_dir, nowhere else.
    for (const std::string& name : options.databases) {
      JB_RETURN_IF_ERROR(restore_internal::CheckPlainName(name));
    }
    return options.databases;
  }
  return restore_internal::FindDatabaseFiles(env, options.backup_dir,
                                             options.base_name);
}

}  // namespace

absl::Status CheckNoLiveInstance(Env* env, const std::string& dir) {
  std::vector<std::string> dirs = {dir};
  auto names = env->ListDir(dir);
  if (!names.ok()) return absl::OkStatus();  // nothing there yet
  for (const std::string& n : *names) {
    if (env->ListDir(JoinPath(dir, n)).ok()) dirs.push_back(JoinPath(dir, n));
  }
  for (const std::string& d : dirs) {
    auto files = env->ListDir(d);
    if (!files.ok()) continue;
    for (const std::string& f : *files) {
      if (f.size() < 5 || f.compare(f.size() - 5, 5, ".lock") != 0) continue;
      // Taken and dropped at once: only a live owner makes this fail.
      absl::StatusOr<std::unique_ptr<FileLock>> lock =
          env->LockFile(JoinPath(d, f), "");
      if (!lock.ok() &&
          JetErrOf(lock.status()) == jet::JET_errFileAccessDenied) {
        return JetStatus(jet::JET_errFileAccessDenied,
                         absl::StrCat(dir, " belongs to a running instance: ",
                                      lock.status().message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RestoreResult> Restore(const RestoreOptions& options) {
  Env* env = options.env != nullptr ? options.env : Env::Default();
  if (options.gen_low == 0 || options.gen_high < options.gen_low) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "restore needs 0 < gen_low <= gen_high");
  }
  if (options.backup_dir.empty() || options.target_dir.empty() ||
      options.base_name.size() != 3) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        "restore needs a backup dir, a target dir and a base name");
  }
  if (options.until_time.has_value() && options.until_generation != 0) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "restore to a time or to a generation, not both");
  }
  JB_RETURN_IF_ERROR(CheckNoLiveInstance(env, options.target_dir));
  if (auto existing = env->ListDir(options.target_dir);
      existing.ok() && !existing->empty()) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat(options.target_dir, " is not empty"));
  }
  // Step 1: the log chain.
  JB_ASSIGN_OR_RETURN(restore_internal::LogSet logs,
                      CheckLogChain(env, options.backup_dir, options.base_name,
                                    options.gen_low, options.gen_high));
  // Step 4: every database, before anything is written.
  JB_ASSIGN_OR_RETURN(std::vector<std::string> names,
                      DatabaseNames(env, options));
  std::vector<StreamedDatabase> dbs;
  for (const std::string& name : names) {
    JB_ASSIGN_OR_RETURN(
        StreamedDatabase db,
        CheckStreamedDatabase(env, JoinPath(options.backup_dir, name),
                              logs.log_signature));
    if (db.header.full_cur.gen_low < options.gen_low) {
      return JetStatus(jet::JET_errStartingRestoreLogTooHigh,
                       absl::StrCat(name, " needs logs from generation ",
                                    db.header.full_cur.gen_low,
                                    ", below gen_low ", options.gen_low));
    }
    if (db.trailer.backup.gen_high > options.gen_high) {
      return JetStatus(jet::JET_errEndingRestoreLogTooLow,
                       absl::StrCat(name, " needs logs up to generation ",
                                    db.trailer.backup.gen_high,
                                    ", above gen_high ", options.gen_high));
    }
    dbs.push_back(std::move(db));
  }
  // A database copy is fuzzy: it may hold any transaction committed before
  // its trailer was made, so replay cannot stop inside those generations.
  uint32_t required = options.gen_low;
  for (const StreamedDatabase& db : dbs) {
    required = std::max(required, db.trailer.backup.gen_high);
  }
  const bool point_in_time =
      options.until_time.has_value() || options.until_generation != 0;
  if (options.until_generation != 0 && options.until_generation < required) {
    return JetStatus(
        jet::JET_errEndingRestoreLogTooLow,
        absl::StrCat("generation ", options.until_generation,
                     " lies before the end of what the backup's database "
                     "copies need: the earliest is generation ",
                     required));
  }

  const std::string log_dir = JoinPath(options.target_dir, "logs");
  JB_RETURN_IF_ERROR(env->CreateDirs(log_dir));
  RestoreResult result;
  RestoreReplayOptions redo;
  redo.env = env;
  redo.log_dir = log_dir;
  redo.base_name = options.base_name;
  redo.page_size = logs.page_size;
  redo.gen_low = options.gen_low;
  redo.gen_high = options.gen_high;
  if (point_in_time) {
    RedoStop stop;
    if (options.until_time.has_value()) {
      stop.until_time_us = absl::ToUnixMicros(*options.until_time);
    }
    stop.until_generation = options.until_generation;
    stop.required_generation = required;
    redo.stop = stop;
  }
  // Page dbtimes seen while copying: replay need not read the pages back.
  std::vector<std::vector<uint64_t>> page_dbtimes(dbs.size());
  for (size_t i = 0; i < dbs.size(); ++i) {
    const std::string to = JoinPath(options.target_dir, names[i]);
    JB_RETURN_IF_ERROR(WriteRestoredDatabase(env, dbs[i], to, options.gen_high,
                                             &page_dbtimes[i]));
    redo.page_size = dbs[i].page_size;
    redo.targets.push_back({dbs[i].header.db_signature, to, &page_dbtimes[i]});
    result.databases.push_back(
        {to, dbs[i].header.full_cur.gen_low, dbs[i].trailer.backup.gen_high});
  }
  for (uint32_t g = options.gen_low; g <= options.gen_high && g != 0; ++g) {
    const std::string name = format::ArchiveLogName(options.base_name, g);
    const std::string from = JoinPath(options.backup_dir, name);
    JB_ASSIGN_OR_RETURN(uint64_t size, env->FileSize(from));
    JB_RETURN_IF_ERROR(CopyRange(env, from, JoinPath(log_dir, name), size));
  }
  JB_RETURN_IF_ERROR(env->SyncDir(log_dir));
  JB_RETURN_IF_ERROR(env->SyncDir(options.target_dir));
  if (options.progress) {
    const uint32_t high = options.gen_high;
    auto report = options.progress;
    redo.progress = [report, high](uint32_t gen) { report(gen, high); };
  }
  const absl::Time replay_start = absl::Now();
  JB_ASSIGN_OR_RETURN(RestoreReplayResult replayed,
                      ReplayArchiveLogsForRestore(redo));
  result.log_bytes_replayed = replayed.log_bytes;
  result.point.reached =
      replayed.stopped || (options.until_generation != 0 &&
                           options.until_generation <= options.gen_high);
  result.point.generation = replayed.commit_generation;
  if (replayed.last_commit_time_us != 0) {
    result.point.last_commit_time =
        absl::FromUnixMicros(replayed.last_commit_time_us);
  }
  result.point.transactions_replayed = replayed.transactions;
  result.point.transactions_skipped = replayed.skipped;
  if (result.point.reached) {
    // Every generation up to here is wholly applied: the copies need them,
    // the last transaction replayed lies in one, or the point names it.
    const uint32_t applied =
        std::max({required, result.point.generation, options.until_generation});
    if (applied < options.gen_high) {
      result.point.dropped_gen_low = applied + 1;
      result.point.dropped_gen_high = options.gen_high;
    }
  }
  result.replay_time = absl::Now() - replay_start;

  // The result must be clean, consistent databases.
  for (const RestoredDatabase& db : result.databases) {
    JB_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                        env->OpenFile(db.path, OpenMode::kReadOnly));
    uint32_t page_size = 0;
    JB_ASSIGN_OR_RETURN(
        DatabaseHeaderInfo header,
        restore_internal::ReadHeaderPage(file.get(), &page_size));
    if (!header.clean_shutdown) {
      return JetStatus(jet::JET_errDatabaseDirtyShutdown,
                       absl::StrCat(db.path, " is not clean after replay"));
    }
  }
  // The log copies go once the databases are clean: they need no log, and
  // <target>/logs is where an instance started on the target keeps its own
  // by default (jetbackd: DATA/logs). Archived generations there without a
  // checkpoint stop it from starting (-542), and after a point in time they
  // hold transactions the user chose not to restore (in the point's own
  // generation those after the point, in later ones all): nothing may ever
  // replay them. The sets keep every generation. Highest first: a crash
  // midway leaves generations an instance refuses, never a chain that
  // looks complete up to the point.
  for (uint32_t g = options.gen_high; g >= options.gen_low && g != 0; --g) {
    JB_RETURN_IF_ERROR(env->DeleteFile(
        JoinPath(log_dir, format::ArchiveLogName(options.base_name, g))));
    ++result.logs_removed;
  }
  JB_RETURN_IF_ERROR(env->SyncDir(log_dir));
  return result;
}

}  // namespace jetback
