// Log replay: RedoLogFiles (shared core) and ReplayArchiveLogs (restore).

#include "engine/redo.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/format.h"
#include "engine/log.h"
#include "engine/recovery.h"
#include "jetback/status.h"

namespace jetback {
namespace {

struct PendingImage {
  uint64_t db_signature;
  uint32_t pgno;
  std::string page;
};

// Writes `image` unless the page already holds it or something newer. The
// page's dbtime comes from `known` when the caller tracks it (restore), else
// from reading the page; `known` is kept up to date either way.
absl::Status ApplyImage(File* file, uint32_t page_size, uint32_t pgno,
                        absl::string_view image, std::string* scratch,
                        std::vector<uint64_t>* known) {
  const uint64_t offset = format::PageOffset(pgno, page_size);
  uint64_t have = 0;
  if (known != nullptr) {
    if (pgno < known->size()) have = (*known)[pgno];
  } else {
    scratch->assign(page_size, '\0');
    size_t got = 0;
    JB_RETURN_IF_ERROR(file->Read(offset, page_size, scratch->data(), &got));
    if (got == page_size) {
      have = format::VerifiedDbtime(absl::MakeConstSpan(*scratch), pgno);
    }
  }
  const uint64_t image_dbtime =
      format::ReadPageHeader(absl::MakeConstSpan(image.data(), image.size()))
          .dbtime;
  if (have != 0 && have >= image_dbtime) {
    return absl::OkStatus();  // the disk already has this or newer
  }
  JB_RETURN_IF_ERROR(file->Write(offset, image));
  if (known != nullptr) {
    if (pgno >= known->size()) known->resize(uint64_t{pgno} + 1, 0);
    (*known)[pgno] = image_dbtime;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RedoStats> RedoLogFiles(
    Env* env, uint32_t page_size, uint64_t log_signature,
    const std::vector<RedoFile>& files, uint32_t start_block,
    bool tolerate_tail, const std::map<uint64_t, File*>& targets,
    const std::map<uint64_t, std::vector<uint64_t>*>& page_dbtimes) {
  RedoStats stats;
  uint64_t pending_txn = 0;
  std::vector<PendingImage> pending;
  std::string scratch;
  for (size_t i = 0; i < files.size(); ++i) {
    const RedoFile& f = files[i];
    bool last = i + 1 == files.size();
    auto fn = [&](uint64_t, const LogRecord& rec) -> absl::Status {
      if (rec.type == LogRecordType::kPageImage) {
        if (rec.txn != pending_txn) {
          pending.clear();
          pending_txn = rec.txn;
        }
        if (rec.page.size() != page_size) {
          return JetStatus(jet::JET_errLogFileCorrupt,
                           "page image of another page size");
        }
        if (targets.count(rec.db_signature) != 0) {
          pending.push_back(
              {rec.db_signature, rec.pgno, std::string(rec.page)});
        }
        return absl::OkStatus();
      }
      // Commit: the transaction's images become redo-able.
      if (rec.txn == pending_txn) {
        for (const PendingImage& img : pending) {
          auto known = page_dbtimes.find(img.db_signature);
          JB_RETURN_IF_ERROR(ApplyImage(
              targets.at(img.db_signature), page_size, img.pgno, img.page,
              &scratch, known == page_dbtimes.end() ? nullptr : known->second));
          uint64_t dbtime =
              format::ReadPageHeader(absl::MakeConstSpan(img.page)).dbtime;
          uint64_t& t = stats.max_dbtime[img.db_signature];
          t = std::max(t, dbtime);
          uint32_t& p = stats.max_pgno[img.db_signature];
          p = std::max(p, img.pgno);
        }
        ++stats.transactions;
      }
      pending.clear();
      pending_txn = 0;
      return absl::OkStatus();
    };
    JB_ASSIGN_OR_RETURN(
        LogScan scan,
        ScanLogFile(env, f.path, f.generation, log_signature,
                    i == 0 ? start_block : 1, last && tolerate_tail, fn));
    if (log_signature == 0) log_signature = scan.header.log_signature;
    stats.last_generation = f.generation;
    stats.end_block = scan.end_block;
    stats.last_create_time_us = scan.header.create_time_us;
    stats.log_bytes += uint64_t{scan.end_block} * format::kLogBlockSize;
  }
  for (const auto& [sig, file] : targets) JB_RETURN_IF_ERROR(file->Sync());
  return stats;
}

absl::StatusOr<RedoResult> ReplayArchiveLogs(const RedoOptions& options) {
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
  for (const RedoTarget& t : options.targets) {
    JB_ASSIGN_OR_RETURN(auto file, env->OpenFile(t.path, OpenMode::kReadWrite));
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
    targets[t.db_signature] = file.get();
    if (t.page_dbtimes != nullptr)
      page_dbtimes[t.db_signature] = t.page_dbtimes;
    opened.push_back(std::move(file));
    headers.push_back(h);
  }
  RedoResult result;
  JB_ASSIGN_OR_RETURN(
      RedoStats stats,
      RedoLogFiles(env, options.page_size, first.log_signature, files, 1,
                   /*tolerate_tail=*/true, targets, page_dbtimes));
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
  return result;
}

}  // namespace jetback
