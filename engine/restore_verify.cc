// VerifyBackupSet: every page, header copy and trailer of each streamed
// database and every block of each log, read-only, one result per file.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format.h"
#include "engine/restore_check.h"
#include "jetback/restore.h"
#include "jetback/status.h"

namespace jetback {
namespace {

using restore_internal::JoinPath;

constexpr uint64_t kVerifyChunk = 1 << 20;

absl::Status VerifyDatabaseFile(Env* env, const std::string& path,
                                uint64_t log_signature) {
  JB_ASSIGN_OR_RETURN(
      restore_internal::StreamedDatabase db,
      restore_internal::CheckStreamedDatabase(env, path, log_signature));
  JB_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                      env->OpenFile(path, OpenMode::kReadOnly));
  const uint64_t page = db.page_size;
  const uint64_t chunk = std::max(page, kVerifyChunk / page * page);
  const uint64_t data_end = db.file_size - page;  // trailer checked above
  std::string buf(chunk, '\0');
  std::string first_header;
  for (uint64_t pos = 0; pos < data_end;) {
    const uint64_t n = std::min(chunk, data_end - pos);
    size_t got = 0;
    JB_RETURN_IF_ERROR(file->Read(pos, n, buf.data(), &got));
    if (got != n) return JetStatus(jet::JET_errDiskIO, "short read");
    for (uint64_t off = 0; off < n; off += page) {
      const uint64_t index = (pos + off) / page;
      absl::Span<const char> p(buf.data() + off, page);
      if (index < format::kHeaderPages) {
        // Both header copies must decode and be identical.
        JB_RETURN_IF_ERROR(format::DecodeDbHeader(p).status());
        if (index == 0) {
          first_header.assign(p.data(), p.size());
        } else if (first_header != absl::string_view(p.data(), p.size())) {
          return JetStatus(jet::JET_errDatabaseCorrupted,
                           "the two header copies differ");
        }
        continue;
      }
      absl::Status st = format::VerifyPage(p, static_cast<uint32_t>(index - 1));
      if (!st.ok()) {
        return JetStatus(JetErrOf(st), absl::StrCat(path, ": ", st.message()));
      }
    }
    pos += n;
  }
  return absl::OkStatus();
}

absl::Status VerifyLogFile(Env* env, const std::string& path, uint32_t gen,
                           format::LogFileHeader* header) {
  JB_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                      env->OpenFile(path, OpenMode::kReadOnly));
  JB_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size == 0 || size % format::kLogBlockSize != 0) {
    return JetStatus(
        jet::JET_errLogFileCorrupt,
        absl::StrCat(path, ": size ", size, " is not whole blocks"));
  }
  std::string buf(kVerifyChunk, '\0');
  for (uint64_t pos = 0; pos < size;) {
    const uint64_t n = std::min<uint64_t>(kVerifyChunk, size - pos);
    size_t got = 0;
    JB_RETURN_IF_ERROR(file->Read(pos, n, buf.data(), &got));
    if (got != n) return JetStatus(jet::JET_errDiskIO, "short read");
    absl::Span<const char> data(buf.data(), n);
    if (pos == 0) {
      auto h = format::DecodeLogHeader(data);
      if (!h.ok()) {
        return JetStatus(jet::JET_errLogReadVerifyFailure,
                         absl::StrCat(path, ": ", h.status().message()));
      }
      *header = *h;
    }
    JB_RETURN_IF_ERROR(format::VerifyLogBlocks(gen, pos, data));
    pos += n;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VerifyResult> VerifyBackupSet(const RestoreOptions& options) {
  Env* env = options.env != nullptr ? options.env : Env::Default();
  JB_ASSIGN_OR_RETURN(std::vector<std::string> names,
                      env->ListDir(options.backup_dir));
  // Logs present, by generation, within the requested bounds if any.
  std::map<uint32_t, std::string> logs;
  for (const std::string& name : names) {
    auto gen = format::ParseArchiveLogName(options.base_name, name);
    if (!gen.has_value()) continue;
    if (options.gen_low != 0 && *gen < options.gen_low) continue;
    if (options.gen_high != 0 && *gen > options.gen_high) continue;
    logs[*gen] = name;
  }
  VerifyResult result;
  uint64_t log_signature = 0;
  if (!logs.empty()) {
    const uint32_t low =
        options.gen_low != 0 ? options.gen_low : logs.begin()->first;
    const uint32_t high =
        options.gen_high != 0 ? options.gen_high : logs.rbegin()->first;
    bool have_prev = false;
    format::LogFileHeader prev;
    for (uint32_t g = low; g <= high && g >= low; ++g) {
      VerifyResult::FileResult fr;
      fr.name = format::ArchiveLogName(options.base_name, g);
      auto it = logs.find(g);
      if (it == logs.end()) {
        fr.status =
            JetStatus(jet::JET_errFileNotFound,
                      absl::StrCat(fr.name, " is missing from the set"));
        have_prev = false;
        result.files.push_back(std::move(fr));
        continue;
      }
      format::LogFileHeader header;
      fr.status = VerifyLogFile(env, JoinPath(options.backup_dir, it->second),
                                g, &header);
      if (fr.status.ok()) {
        if (log_signature == 0) log_signature = header.log_signature;
        if (header.log_signature != log_signature) {
          fr.status =
              JetStatus(jet::JET_errGivenLogFileHasBadSignature,
                        absl::StrCat(fr.name, " is from another log set"));
        } else if (have_prev &&
                   header.prev_create_time_us != prev.create_time_us) {
          fr.status = JetStatus(
              jet::JET_errGivenLogFileIsNotContiguous,
              absl::StrCat(fr.name, " does not follow generation ", g - 1));
        }
      }
      have_prev = fr.status.ok();
      prev = header;
      result.files.push_back(std::move(fr));
    }
  }
  std::vector<std::string> dbs = options.databases;
  for (const std::string& name : dbs) {
    JB_RETURN_IF_ERROR(restore_internal::CheckPlainName(name));
  }
  if (dbs.empty()) {
    JB_ASSIGN_OR_RETURN(dbs, restore_internal::FindDatabaseFiles(
                                 env, options.backup_dir, options.base_name));
  }
  for (const std::string& name : dbs) {
    VerifyResult::FileResult fr;
    fr.name = name;
    fr.status = VerifyDatabaseFile(env, JoinPath(options.backup_dir, name),
                                   log_signature);
    result.files.push_back(std::move(fr));
  }
  return result;
}

}  // namespace jetback
