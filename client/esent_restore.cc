// ESE's offline restore entry points (jetback/esent.h, "ESE offline
// restore") over client/ese_set.h, the code `jetback restore` runs. ESE
// restores in place; here the set is restored into a staging directory and
// each database is then moved onto its destination, so a failed restore
// leaves every destination as it was.

#include <stdlib.h>  // mkdtemp

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "client/ese_set.h"
#include "jetback/esent.h"
#include "jetback/restore.h"
#include "jetback/status.h"

namespace jetback {
namespace {

namespace fs = std::filesystem;

constexpr long kMaxRestoreMap = 14;  // ESE: 2 x dbidMax
constexpr char kStagingPrefix[] = ".jetback-restore.";

bool Empty(const char* s) { return s == nullptr || *s == '\0'; }

absl::Status Invalid(absl::string_view why) {
  return JetStatus(jet::JET_errInvalidParameter, why);
}

// A directory made beside the destinations for the restore's work, with
// everything in it removed when done, whatever the outcome.
class StagingDir {
 public:
  static absl::StatusOr<std::unique_ptr<StagingDir>> Create(
      const std::string& parent) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string tmpl = (fs::path(parent) / kStagingPrefix).string() + "XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      return JetStatus(
          jet::JET_errDiskIO,
          absl::StrCat("cannot create a staging directory in ", parent));
    }
    return std::unique_ptr<StagingDir>(new StagingDir(tmpl));
  }
  ~StagingDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit StagingDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Reports to an ESE status callback; a null one is fine.
class Progress {
 public:
  explicit Progress(JET_PFNSTATUS pfn) : pfn_(pfn) {}
  void Begin() const { Call(JET_sntBegin, nullptr); }
  void Generation(uint32_t done, uint32_t total) const {
    JET_SNPROG prog;
    prog.cbStruct = sizeof(prog);
    prog.cunitDone = done;
    prog.cunitTotal = total;
    Call(JET_sntProgress, &prog);
  }
  void Complete() const { Call(JET_sntComplete, nullptr); }
  std::function<void(uint32_t, uint32_t)> ForSet(const EseSet& set) const {
    if (pfn_ == nullptr) return {};
    const uint32_t low = set.gen_low;
    return [this, low](uint32_t gen, uint32_t high) {
      Generation(gen - low + 1, high - low + 1);
    };
  }

 private:
  void Call(JET_SNT snt, void* pv) const {
    // ESE leaves the callback's result unused for restore progress.
    if (pfn_ != nullptr) (void)pfn_(0, JET_snpRestore, snt, pv);
  }
  JET_PFNSTATUS pfn_;
};

// A hard link, or a copy where the two paths are on different file
// systems. Never changes `from`.
absl::Status LinkOrCopy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::is_regular_file(from, ec)) {
    return JetStatus(jet::JET_errFileNotFound,
                     absl::StrCat(from.string(), " is missing"));
  }
  fs::create_hard_link(from, to, ec);
  if (ec) fs::copy_file(from, to, ec);
  if (ec) {
    return JetStatus(
        jet::JET_errDiskIO,
        absl::StrCat("cannot stage ", from.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

// Replaces `to` by `from` atomically: a rename, or across file systems a
// synced copy beside `to` renamed over it.
absl::Status MoveIntoPlace(const std::string& from, const std::string& to) {
  Env* env = Env::Default();
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    const std::string tmp = to + ".jetback-restore";
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      return JetStatus(jet::JET_errDiskIO,
                       absl::StrCat("cannot copy the restored database to ",
                                    tmp, ": ", ec.message()));
    }
    JB_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                        env->OpenFile(tmp, OpenMode::kReadWrite));
    JB_RETURN_IF_ERROR(file->Sync());
    JB_RETURN_IF_ERROR(env->RenameFile(tmp, to));
  }
  std::string dir = fs::path(to).parent_path().string();
  return env->SyncDir(dir.empty() ? "." : dir);
}

// Verifies and restores `set` into <staging>/target, then moves each
// database onto dest[name]. Destination directories must not belong to a
// running instance (-1032).
absl::Status RestoreAndPlace(const EseSet& set,
                             const std::map<std::string, std::string>& dest,
                             const StagingDir& staging,
                             const Progress& progress) {
  std::set<std::string> dirs;
  for (const auto& [name, path] : dest) {
    dirs.insert(fs::path(path).parent_path().string());
  }
  for (const std::string& dir : dirs) {
    JB_RETURN_IF_ERROR(CheckNoLiveInstance(Env::Default(), dir));
  }
  EseRestoreOptions options;
  options.target_dir = (fs::path(staging.path()) / "target").string();
  options.progress = progress.ForSet(set);
  JB_ASSIGN_OR_RETURN(RestoreResult restored, RestoreEseSet(set, options));
  for (const RestoredDatabase& db : restored.databases) {
    const std::string name = fs::path(db.path).filename().string();
    auto it = dest.find(name);
    if (it == dest.end()) {
      return JetStatus(jet::JET_errDatabaseNotFound,
                       absl::StrCat("no destination for ", name));
    }
    JB_RETURN_IF_ERROR(MoveIntoPlace(db.path, it->second));
  }
  progress.Complete();
  return absl::OkStatus();
}

bool SameDirectory(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

// The set as one directory for ReadEseSet: <staging>/set holding links to
// the archive logs of `backup_log_dir` and to each mapped streamed file
// (`sources`: staged name -> path).
absl::StatusOr<EseSet> StageMappedSet(
    const char* backup_log_dir,
    const std::map<std::string, std::string>& sources,
    const StagingDir& staging, EseSetOptions options) {
  const fs::path set_dir = fs::path(staging.path()) / "set";
  std::error_code ec;
  fs::create_directory(set_dir, ec);
  for (const auto& entry : fs::directory_iterator(backup_log_dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec) || name.size() != 15 ||
        name.compare(11, 4, ".log") != 0) {
      continue;  // only archive logs (ReadEseSet checks the names)
    }
    JB_RETURN_IF_ERROR(LinkOrCopy(entry.path(), set_dir / name));
  }
  if (ec) {
    return JetStatus(
        jet::JET_errFileNotFound,
        absl::StrCat("cannot read ", backup_log_dir, ": ", ec.message()));
  }
  for (const auto& [name, path] : sources) {
    JB_RETURN_IF_ERROR(LinkOrCopy(path, set_dir / name));
    options.databases.push_back(name);
  }
  options.dir = set_dir.string();
  return ReadEseSet(options);
}

absl::Status ExternalRestore(
    const char* checkpoint_dir, const char* log_dir, const JET_RSTMAP_A* map,
    long map_count, const char* backup_log_dir, const JET_LOGINFO* log_info,
    const char* target_name, const char* target_log_dir,
    const char* target_checkpoint_dir, JET_PFNSTATUS pfn) {
  // The argument checks of ese-semantics.md 5.1, in its order.
  if (log_info == nullptr || log_info->cbSize != sizeof(JET_LOGINFO)) {
    return Invalid("pLogInfo is NULL or its cbSize is wrong");
  }
  if (Empty(target_log_dir) != Empty(target_checkpoint_dir)) {
    return Invalid("give both target paths or neither");
  }
  if (!Empty(target_name) && !Empty(target_log_dir)) {
    return Invalid("give a target instance name or target paths, not both");
  }
  if (!Empty(target_name)) {
    return JetStatus(jet::JET_errBadRestoreTargetInstance,
                     absl::StrCat("no running instance ", target_name,
                                  " in this process to restore into"));
  }
  if (map_count < 0 || map_count > kMaxRestoreMap ||
      (map_count > 0 && map == nullptr)) {
    return Invalid("the restore map must have 0..14 entries");
  }
  if (Empty(log_dir) || Empty(backup_log_dir)) {
    return Invalid("szLogPath and szBackupLogPath are required");
  }
  if (map_count == 0 && SameDirectory(log_dir, backup_log_dir)) {
    return Invalid(
        "with no restore map the databases land in szLogPath, which must "
        "not be the backup log directory");
  }
  const size_t base_len =
      strnlen(log_info->szBaseName, sizeof(log_info->szBaseName));
  if (base_len != 0 && base_len != JET_BASE_NAME_LENGTH) {
    return Invalid("szBaseName must be 3 characters (or empty)");
  }
  if (log_info->ulGenLow > UINT32_MAX || log_info->ulGenHigh > UINT32_MAX) {
    return Invalid("generation out of range");
  }
  EseSetOptions options;
  options.base_name.assign(log_info->szBaseName, base_len);
  options.gen_low = static_cast<uint32_t>(log_info->ulGenLow);
  options.gen_high = static_cast<uint32_t>(log_info->ulGenHigh);

  // streamed file -> destination, by the file name staged.
  std::map<std::string, std::string> sources, dest;
  for (long i = 0; i < map_count; ++i) {
    if (Empty(map[i].szNewDatabaseName)) {
      return Invalid("a restore map entry has no szNewDatabaseName");
    }
    const fs::path path(map[i].szNewDatabaseName);
    const std::string name = path.filename().string();
    if (SameDirectory(path.parent_path().empty() ? "." : path.parent_path(),
                      backup_log_dir)) {
      return Invalid(absl::StrCat(
          path.string(),
          " lies in the backup log directory, which is never modified"));
    }
    if (!sources.emplace(name, path.string()).second) {
      return Invalid(absl::StrCat("two restore map entries are named ", name));
    }
    dest[name] = path.string();
  }
  if (!Empty(checkpoint_dir)) {
    std::error_code ec;
    fs::create_directories(checkpoint_dir, ec);
  }

  Progress progress(pfn);
  progress.Begin();
  JB_ASSIGN_OR_RETURN(std::unique_ptr<StagingDir> staging,
                      StagingDir::Create(log_dir));
  if (map_count == 0) {
    // Every streamed database of the backup directory, into szLogPath.
    options.dir = backup_log_dir;
    JB_ASSIGN_OR_RETURN(EseSet set, ReadEseSet(options));
    for (const std::string& name : set.databases) {
      dest[name] = (fs::path(log_dir) / name).string();
    }
    return RestoreAndPlace(set, dest, *staging, progress);
  }
  JB_ASSIGN_OR_RETURN(EseSet set, StageMappedSet(backup_log_dir, sources,
                                                 *staging, std::move(options)));
  return RestoreAndPlace(set, dest, *staging, progress);
}

absl::Status RestoreInstance(JET_INSTANCE instance, const char* backup_dir,
                             const char* dest_dir, JET_PFNSTATUS pfn) {
  if (instance != 0 && instance != JET_instanceNil) {
    return Invalid(
        "a connected instance is running; restore offline with instance 0");
  }
  if (Empty(backup_dir) || Empty(dest_dir)) {
    return Invalid("the backup and destination directories are required");
  }
  if (SameDirectory(backup_dir, dest_dir)) {
    return Invalid("the destination is the backup directory");
  }
  EseSetOptions options;
  options.dir = backup_dir;
  Progress progress(pfn);
  progress.Begin();
  JB_ASSIGN_OR_RETURN(EseSet set, ReadEseSet(options));
  std::map<std::string, std::string> dest;
  for (const std::string& name : set.databases) {
    dest[name] = (fs::path(dest_dir) / name).string();
  }
  JB_ASSIGN_OR_RETURN(std::unique_ptr<StagingDir> staging,
                      StagingDir::Create(dest_dir));
  return RestoreAndPlace(set, dest, *staging, progress);
}

// The one place a restore's status becomes a C JET_ERR; nothing is thrown
// across the C boundary.
template <typename Fn>
JET_ERR ToJetErr(Fn&& fn) {
  try {
    return JetErrOf(fn());
  } catch (const std::bad_alloc&) {
    return jet::JET_errOutOfMemory;
  } catch (...) {
    return jet::JET_errDiskIO;
  }
}

}  // namespace
}  // namespace jetback

extern "C" {

JET_ERR JetExternalRestore2(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath,
                            JET_RSTMAP_A* rgrstmap, long crstfilemap,
                            JET_PSTR szBackupLogPath, JET_LOGINFO* pLogInfo,
                            JET_PSTR szTargetInstanceName,
                            JET_PSTR szTargetInstanceLogPath,
                            JET_PSTR szTargetInstanceCheckpointPath,
                            JET_PFNSTATUS pfn) {
  return jetback::ToJetErr([&] {
    return jetback::ExternalRestore(
        szCheckpointFilePath, szLogPath, rgrstmap, crstfilemap, szBackupLogPath,
        pLogInfo, szTargetInstanceName, szTargetInstanceLogPath,
        szTargetInstanceCheckpointPath, pfn);
  });
}

JET_ERR JetExternalRestore(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath,
                           JET_RSTMAP_A* rgrstmap, long crstfilemap,
                           JET_PSTR szBackupLogPath, long genLow, long genHigh,
                           JET_PFNSTATUS pfn) {
  if (genLow < 0 || genHigh < 0) return jetback::jet::JET_errInvalidParameter;
  JET_LOGINFO info;
  std::memset(&info, 0, sizeof(info));
  info.cbSize = sizeof(info);
  info.ulGenLow = static_cast<unsigned long>(genLow);
  info.ulGenHigh = static_cast<unsigned long>(genHigh);
  return JetExternalRestore2(szCheckpointFilePath, szLogPath, rgrstmap,
                             crstfilemap, szBackupLogPath, &info, nullptr,
                             nullptr, nullptr, pfn);
}

JET_ERR JetRestoreInstance(JET_INSTANCE instance, JET_PCSTR sz,
                           JET_PCSTR szDest, JET_PFNSTATUS pfn) {
  return jetback::ToJetErr(
      [&] { return jetback::RestoreInstance(instance, sz, szDest, pfn); });
}

}  // extern "C"
