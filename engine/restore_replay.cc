// Restore's replay of archived generations onto restored databases
// (engine/restore_replay.h), on top of the redo core (engine/redo.h).

#include "engine/restore_replay.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/format.h"
#include "engine/log.h"
#include "engine/redo.h"
#include "engine/replay_writer.h"
#include "jetback/status.h"

namespace jetback {

absl::StatusOr<RestoreReplayResult> ReplayArchiveLogsForRestore(
    const RestoreReplayOptions& options) {
  Env* env = options.env != nullptr ? options.env : Env::Default();
  if (options.gen_low == 0 || options.gen_high < options.gen_low) {
    return JetStatus(jet::JET_errInvalidParameter, "bad generation range");
  }
  std::vector<RedoFile> files;
  for (uint32_t g = options.gen_low; g <= options.gen_high; ++g) {
    std::string path = absl::StrCat(
        options.log_dir, "/", format::ArchiveLogName(options.base_name, g));
    if (!env->FileExists(path)) {
      return JetStatus(jet::JET_errMissingLogFile,
                       absl::StrCat("missing log generation ", g, ": ", path));
    }
    files.push_back({g, path});
  }
  JB_ASSIGN_OR_RETURN(auto first, ReadLogHeader(env, files[0].path));
  std::vector<std::unique_ptr<File>> opened;
  std::map<uint64_t, File*> targets;
  std::map<uint64_t, std::vector<uint64_t>*> page_dbtimes;
  std::vector<DatabaseHeaderInfo> headers;
  std::string page(options.page_size, '\0');
  for (const RestoreReplayTarget& t : options.targets) {
    JB_ASSIGN_OR_RETURN(
        std::unique_ptr<File> file,
        env->OpenFile(t.path, options.writes == ReplayWrites::kDirect
                                  ? OpenMode::kReadWriteDirect
                                  : OpenMode::kReadWrite));
    size_t got = 0;
    JB_RETURN_IF_ERROR(file->Read(0, page.size(), page.data(), &got));
    JB_ASSIGN_OR_RETURN(
        DatabaseHeaderInfo h,
        format::DecodeDbHeader(absl::MakeConstSpan(page.data(), got)));
    if (h.db_signature != t.db_signature || h.page_size != options.page_size) {
      return JetStatus(
          jet::JET_errDatabaseCorrupted,
          absl::StrCat(t.path, ": signature or page size differs"));
    }
    if (options.writes != ReplayWrites::kThrough) {
      file = std::make_unique<ReplayWriter>(std::move(file), options.page_size,
                                            options.write_budget_bytes);
    }
    targets[t.db_signature] = file.get();
    if (t.page_dbtimes != nullptr)
      page_dbtimes[t.db_signature] = t.page_dbtimes;
    opened.push_back(std::move(file));
    headers.push_back(h);
  }
  RestoreReplayResult result;
  JB_ASSIGN_OR_RETURN(
      RedoStats stats,
      RedoLogFiles(env, options.page_size, first.log_signature, files, 1,
                   /*tolerate_tail=*/true, targets, page_dbtimes,
                   options.read_ahead,
                   options.stop.has_value() ? &*options.stop : nullptr,
                   options.direct_reads));
  if (options.progress) {
    for (const RedoFile& f : files) options.progress(f.generation);
  }
  for (size_t i = 0; i < options.targets.size(); ++i) {
    DatabaseHeaderInfo& h = headers[i];
    uint64_t sig = options.targets[i].db_signature;
    h.clean_shutdown = true;
    h.gen_min_required = options.gen_high;
    h.gen_max_required = options.gen_high;
    h.dbtime = std::max(h.dbtime, stats.max_dbtime[sig]);
    h.pgno_last = std::max(h.pgno_last, stats.max_pgno[sig]);
    h.log_signature = first.log_signature;
    JB_RETURN_IF_ERROR(format::EncodeDbHeader(h, absl::MakeSpan(page)));
    for (uint32_t copy = 0; copy < format::kHeaderPages; ++copy) {
      JB_RETURN_IF_ERROR(
          opened[i]->Write(uint64_t{copy} * options.page_size, page));
      JB_RETURN_IF_ERROR(opened[i]->Sync());
    }
  }
  result.log_bytes = stats.log_bytes;
  result.last_generation = stats.last_generation;
  result.transactions = stats.transactions;
  result.stopped = stats.stopped;
  result.skipped = stats.skipped;
  result.commit_generation = stats.commit_generation;
  result.last_commit_time_us = stats.last_commit_time_us;
  return result;
}

}  // namespace jetback
