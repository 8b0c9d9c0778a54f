// The redo core: committed page images from a run of log generations onto
// open database files (engine/redo.h).

#include "engine/redo.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/format.h"
#include "engine/log.h"
#include "engine/log_scanner.h"
#include "jetback/status.h"

namespace jetback {
namespace {

// An image waiting for its transaction's commit: a view into the scanner's
// buffer, or into `owned` once the scan moves to the next generation (a
// transaction split by a log roll).
struct PendingImage {
  uint64_t db_signature;
  uint32_t pgno;
  absl::string_view page;
  std::string owned;
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

// Whether the commit `rec` of generation `gen` lies beyond `stop`.
absl::StatusOr<bool> BeyondStop(const RedoStop& stop, uint32_t gen,
                                const LogRecord& rec) {
  bool beyond = stop.until_generation != 0 && gen > stop.until_generation;
  if (!beyond && stop.until_time_us.has_value()) {
    if (rec.commit_time_us == 0) {
      if (gen <= stop.required_generation) return false;  // applied anyway
      return JetStatus(
          jet::JET_errInvalidParameter,
          absl::StrCat("log generation ", gen,
                       " was written in log format 1, which records no "
                       "commit times: restore to a generation instead"));
    }
    beyond = rec.commit_time_us > *stop.until_time_us;
  }
  if (beyond && gen <= stop.required_generation) {
    return JetStatus(
        jet::JET_errEndingRestoreLogTooLow,
        absl::StrCat("the point lies before the end of what the backup's "
                     "database copies need: every transaction through log "
                     "generation ",
                     stop.required_generation, " is replayed (transaction ",
                     rec.txn, " of generation ", gen, " committed at ",
                     rec.commit_time_us, " us since the epoch, after it)"));
  }
  return beyond;
}

}  // namespace

absl::StatusOr<RedoStats> RedoLogFiles(
    Env* env, uint32_t page_size, uint64_t log_signature,
    const std::vector<RedoFile>& files, uint32_t start_block,
    bool tolerate_tail, const std::map<uint64_t, File*>& targets,
    const std::map<uint64_t, std::vector<uint64_t>*>& page_dbtimes,
    bool read_ahead, const RedoStop* stop, bool direct_reads) {
  RedoStats stats;
  uint64_t pending_txn = 0;
  std::vector<PendingImage> pending;
  std::string scratch;
  // Reads the next generation on a thread while one is replayed (restore
  // copies logs with O_DIRECT: they start cold).
  LogScanner scanner(env, {.direct_reads = direct_reads});
  for (size_t i = 0; i < files.size(); ++i) {
    const RedoFile& f = files[i];
    bool last = i + 1 == files.size();
    auto fn = [&](uint64_t, const LogRecord& rec) -> absl::Status {
      if (stats.stopped) {
        // Past the point: only count the commits left out.
        if (rec.type == LogRecordType::kCommit) ++stats.skipped;
        return absl::OkStatus();
      }
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
          pending.push_back({rec.db_signature, rec.pgno, rec.page, {}});
        }
        return absl::OkStatus();
      }
      if (stop != nullptr) {
        JB_ASSIGN_OR_RETURN(bool beyond, BeyondStop(*stop, f.generation, rec));
        if (beyond) {
          stats.stopped = true;
          ++stats.skipped;
          pending.clear();
          pending_txn = 0;
          return absl::OkStatus();
        }
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
        stats.commit_generation = f.generation;
        stats.last_commit_time_us = rec.commit_time_us;
      }
      pending.clear();
      pending_txn = 0;
      return absl::OkStatus();
    };
    JB_ASSIGN_OR_RETURN(
        LogScan scan,
        scanner.Scan(f.path, f.generation, log_signature,
                     i == 0 ? start_block : 1, last && tolerate_tail, fn,
                     read_ahead && !last ? files[i + 1].path : ""));
    // The next Scan reuses this generation's buffer.
    for (PendingImage& img : pending) {
      if (img.owned.empty()) {
        img.owned.assign(img.page.data(), img.page.size());
        img.page = img.owned;
      }
    }
    if (log_signature == 0) log_signature = scan.header.log_signature;
    stats.last_generation = f.generation;
    stats.end_block = scan.end_block;
    stats.last_create_time_us = scan.header.create_time_us;
    stats.log_bytes += uint64_t{scan.end_block} * format::kLogBlockSize;
  }
  for (const auto& [sig, file] : targets) JB_RETURN_IF_ERROR(file->Sync());
  return stats;
}

}  // namespace jetback
