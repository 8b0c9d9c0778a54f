#include "engine/restore_check.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "jetback/status.h"

namespace jetback::restore_internal {

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

absl::Status CheckPlainName(absl::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
      name.find('/') != absl::string_view::npos ||
      name.find('\0') != absl::string_view::npos) {
    return JetStatus(jet::JET_errInvalidPath,
                     absl::StrCat("'", absl::CHexEscape(name.substr(0, 64)),
                                  "' is not a file name inside the set"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LogSet> CheckLogChain(Env* env, const std::string& dir,
                                     const std::string& base, uint32_t low,
                                     uint32_t high) {
  LogSet set;
  int64_t prev_create = 0;
  std::string block(format::kLogBlockSize, '\0');
  for (uint32_t g = low; g <= high && g >= low; ++g) {
    const std::string path = JoinPath(dir, format::ArchiveLogName(base, g));
    auto file = env->OpenFile(path, OpenMode::kReadOnly);
    if (!file.ok()) {
      return JetStatus(jet::JET_errFileNotFound,
                       absl::StrCat("backup log ", path, " is missing"));
    }
    size_t got = 0;
    JB_RETURN_IF_ERROR((*file)->Read(0, block.size(), block.data(), &got));
    if (got != block.size()) {
      return JetStatus(jet::JET_errLogFileCorrupt,
                       absl::StrCat(path, ": shorter than its header"));
    }
    auto header = format::DecodeLogHeader(block);
    if (!header.ok()) {
      return JetStatus(jet::JET_errLogFileCorrupt,
                       absl::StrCat(path, ": ", header.status().message()));
    }
    if (g == low) {
      set.log_signature = header->log_signature;
      set.page_size = header->page_size;
    } else if (header->log_signature != set.log_signature) {
      return JetStatus(jet::JET_errGivenLogFileHasBadSignature,
                       absl::StrCat(path, " belongs to another log set"));
    }
    if (header->generation != g ||
        (g > low && header->prev_create_time_us != prev_create)) {
      return JetStatus(
          jet::JET_errGivenLogFileIsNotContiguous,
          absl::StrCat(path, " does not follow generation ", g - 1));
    }
    prev_create = header->create_time_us;
  }
  return set;
}

absl::StatusOr<DatabaseHeaderInfo> ReadHeaderPage(File* file,
                                                  uint32_t* page_size) {
  std::string pages(2 * 32768, '\0');
  size_t got = 0;
  JB_RETURN_IF_ERROR(file->Read(0, pages.size(), pages.data(), &got));
  for (uint64_t copy = 0; copy < format::kHeaderPages; ++copy) {
    for (uint32_t size : {4096u, 8192u, 16384u, 32768u}) {
      if (got < (copy + 1) * size) break;
      auto header = format::DecodeDbHeader(
          absl::MakeConstSpan(pages.data() + copy * size, size));
      if (header.ok() && header->page_size == size) {
        *page_size = size;
        return header;
      }
    }
  }
  return JetStatus(jet::JET_errDatabaseCorrupted, "not a database file");
}

absl::StatusOr<StreamedDatabase> CheckStreamedDatabase(Env* env,
                                                       const std::string& path,
                                                       uint64_t log_signature) {
  StreamedDatabase db;
  db.path = path;
  JB_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                      env->OpenFile(path, OpenMode::kReadOnly));
  auto header = ReadHeaderPage(file.get(), &db.page_size);
  if (!header.ok()) {
    return JetStatus(jet::JET_errDatabaseCorrupted,
                     absl::StrCat(path, ": ", header.status().message()));
  }
  db.header = *std::move(header);
  if (db.header.full_cur.gen_low == 0) {
    return JetStatus(jet::JET_errRestoreOfNonBackupDatabase,
                     absl::StrCat(path, " is not a streamed backup copy"));
  }
  JB_ASSIGN_OR_RETURN(db.file_size, file->Size());
  const uint64_t page = db.page_size;
  if (db.file_size % page != 0 || db.file_size < 3 * page) {
    return JetStatus(jet::JET_errBadPatchPage,
                     absl::StrCat(path, ": size ", db.file_size,
                                  " leaves no whole trailer page"));
  }
  std::string trailer_page(page, '\0');
  size_t got = 0;
  JB_RETURN_IF_ERROR(
      file->Read(db.file_size - page, page, trailer_page.data(), &got));
  auto trailer = format::DecodeTrailer(trailer_page);
  if (!trailer.ok() || got != page) {
    return JetStatus(jet::JET_errBadPatchPage,
                     absl::StrCat(path, ": the trailer page is damaged"));
  }
  db.trailer = *std::move(trailer);
  const BackupInfo& cur = db.header.full_cur;
  const BackupInfo& tb = db.trailer.backup;
  if (db.trailer.db_signature != db.header.db_signature ||
      db.trailer.log_signature != db.header.log_signature ||
      tb.mark_generation != cur.mark_generation ||
      tb.mark_offset != cur.mark_offset ||
      tb.mark_time_us != cur.mark_time_us || tb.gen_low != cur.gen_low ||
      (uint64_t{db.trailer.pgno_last} + 3) * page != db.file_size) {
    return JetStatus(
        jet::JET_errDatabasePatchFileMismatch,
        absl::StrCat(path, ": the trailer is from another backup"));
  }
  if (log_signature != 0 && db.header.log_signature != log_signature) {
    return JetStatus(
        jet::JET_errDatabasePatchFileMismatch,
        absl::StrCat(path, " was not written with this backup's log set"));
  }
  return db;
}

absl::StatusOr<std::vector<std::string>> FindDatabaseFiles(
    Env* env, const std::string& dir, const std::string& base) {
  JB_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(dir));
  std::sort(names.begin(), names.end());
  std::vector<std::string> out;
  for (const std::string& name : names) {
    if (format::ParseArchiveLogName(base, name).has_value() ||
        name == format::CurrentLogName(base) ||
        name == format::CheckpointName(base) || absl::EndsWith(name, ".log")) {
      continue;
    }
    auto file = env->OpenFile(JoinPath(dir, name), OpenMode::kReadOnly);
    if (!file.ok()) continue;  // a directory or unreadable: not a database
    uint32_t page_size = 0;
    if (ReadHeaderPage(file->get(), &page_size).ok()) out.push_back(name);
  }
  return out;
}

}  // namespace jetback::restore_internal
