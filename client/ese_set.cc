// ESE-style backup sets: layout discovery here, every check and the replay
// in the engine (jetback/restore.h), so `jetback restore` and the C restore
// entry points give the same results for the same set.

#include "client/ese_set.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/format.h"
#include "jetback/status.h"

namespace jetback {
namespace {

constexpr char kManifestName[] = "manifest.json";

std::string Join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// The base name of an archive log name (3 characters + 8 hex digits +
// ".log"), or empty. Five-digit legacy names are not produced by jetback's
// instances, so they are not recognised here.
std::string ArchiveLogBase(const std::string& name) {
  if (name.size() != 15 || !absl::EndsWith(name, ".log")) return "";
  std::string base = name.substr(0, 3);
  return format::ParseArchiveLogName(base, name).has_value() ? base : "";
}

// Files an ESE log directory or agent may leave beside the streamed files
// that are not databases: logs of any kind, checkpoints, reserve logs, the
// JetBackupInstance *.pat markers, and hidden files.
bool IsNonDatabaseName(const std::string& name) {
  for (const char* suffix : {".log", ".chk", ".jrs", ".pat", ".jtx", ".jcp"}) {
    if (absl::EndsWith(name, suffix)) return true;
  }
  return name.empty() || name[0] == '.' || name == kManifestName;
}

absl::Status WithFileName(const std::string& name, const absl::Status& st) {
  if (st.ok() || absl::StrContains(st.message(), name)) return st;
  return JetStatus(JetErrOf(st), absl::StrCat(name, ": ", st.message()));
}

}  // namespace

bool LooksLikeEseSet(const std::string& dir, Env* env) {
  if (env == nullptr) env = Env::Default();
  auto names = env->ListDir(dir);
  if (!names.ok()) return false;
  bool has_log = false;
  for (const std::string& name : *names) {
    if (name == kManifestName) return false;
    if (!ArchiveLogBase(name).empty()) has_log = true;
  }
  return has_log;
}

absl::StatusOr<EseSet> ReadEseSet(const EseSetOptions& options) {
  Env* env = options.env != nullptr ? options.env : Env::Default();
  if (!options.base_name.empty() && options.base_name.size() != 3) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("base name '", options.base_name,
                                  "' is not 3 characters"));
  }
  if (options.gen_low != 0 && options.gen_high != 0 &&
      options.gen_low > options.gen_high) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("generation range ", options.gen_low, "-",
                                  options.gen_high, " is empty"));
  }
  auto listed = env->ListDir(options.dir);
  if (!listed.ok()) {
    return JetStatus(jet::JET_errFileNotFound,
                     absl::StrCat("cannot read the set directory ", options.dir,
                                  ": ", listed.status().message()));
  }
  std::vector<std::string> names = *std::move(listed);
  std::sort(names.begin(), names.end());

  // Generations present, per base name.
  std::map<std::string, std::set<uint32_t>> logs;
  for (const std::string& name : names) {
    const std::string base = ArchiveLogBase(name);
    if (base.empty()) continue;
    if (!options.base_name.empty() && base != options.base_name) continue;
    logs[base].insert(*format::ParseArchiveLogName(base, name));
  }
  if (logs.empty()) {
    return JetStatus(
        jet::JET_errFileNotFound,
        absl::StrCat(options.dir, " holds no archive log (",
                     options.base_name.empty() ? "E00" : options.base_name,
                     "XXXXXXXX.log)"));
  }
  if (logs.size() > 1) {
    std::vector<std::string> bases;
    for (const auto& [base, gens] : logs) bases.push_back(base);
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat(options.dir, " holds logs of base names ",
                     absl::StrJoin(bases, ", "), "; name the one to restore"));
  }

  EseSet set;
  set.dir = options.dir;
  set.base_name = logs.begin()->first;
  const std::set<uint32_t>& gens = logs.begin()->second;
  set.logs_low = *gens.begin();
  set.logs_high = *gens.rbegin();
  set.range_derived = options.gen_low == 0 && options.gen_high == 0;
  set.gen_low = options.gen_low != 0 ? options.gen_low : set.logs_low;
  set.gen_high = options.gen_high != 0 ? options.gen_high : set.logs_high;
  if (set.gen_low > set.gen_high) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("generation range ", set.gen_low, "-",
                                  set.gen_high, " is empty (the set holds ",
                                  set.logs_low, "-", set.logs_high, ")"));
  }

  if (!options.databases.empty()) {
    set.databases = options.databases;
  } else {
    for (const std::string& name : names) {
      if (IsNonDatabaseName(name)) continue;
      // Sub-directories are not part of the set.
      if (env->ListDir(Join(options.dir, name)).ok()) continue;
      set.databases.push_back(name);
    }
  }
  for (const std::string& name : set.databases) {
    // "logs" is Restore's scratch directory in the target.
    if (name.empty() || name == "." || name == ".." || name == "logs" ||
        name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      return JetStatus(
          jet::JET_errInvalidPath,
          absl::StrCat("'", name, "' cannot name a database of the set"));
    }
  }
  std::sort(set.databases.begin(), set.databases.end());
  if (set.databases.empty()) {
    return JetStatus(
        jet::JET_errDatabaseCorrupted,
        absl::StrCat(options.dir, " holds logs but no streamed database"));
  }
  return set;
}

absl::StatusOr<VerifyResult> VerifyEseSet(const EseSet& set, Env* env) {
  RestoreOptions options;
  options.backup_dir = set.dir;
  options.base_name = set.base_name;
  options.gen_low = set.gen_low;
  options.gen_high = set.gen_high;
  options.databases = set.databases;
  options.env = env;
  return VerifyBackupSet(options);
}

absl::Status FirstProblem(const VerifyResult& verified) {
  for (const VerifyResult::FileResult& f : verified.files) {
    if (!f.status.ok()) return WithFileName(f.name, f.status);
  }
  return absl::OkStatus();
}

absl::StatusOr<RestoreResult> RestoreEseSet(const EseSet& set,
                                            const EseRestoreOptions& options) {
  JB_ASSIGN_OR_RETURN(VerifyResult verified, VerifyEseSet(set, options.env));
  for (const VerifyResult::FileResult& f : verified.files) {
    if (f.status.ok()) continue;
    // A damaged log block is -612 while streaming; restore calls it -501.
    if (JetErrOf(f.status) == jet::JET_errLogReadVerifyFailure &&
        format::ParseArchiveLogName(set.base_name, f.name).has_value()) {
      return JetStatus(jet::JET_errLogFileCorrupt,
                       absl::StrCat(f.name, ": ", f.status.message()));
    }
    return WithFileName(f.name, f.status);
  }

  RestoreOptions restore;
  restore.backup_dir = set.dir;
  restore.target_dir = options.target_dir;
  restore.base_name = set.base_name;
  restore.gen_low = set.gen_low;
  restore.gen_high = set.gen_high;
  restore.databases = set.databases;
  restore.env = options.env;
  restore.progress = options.progress;
  absl::StatusOr<RestoreResult> restored = Restore(restore);
  const JetErr err = JetErrOf(restored.status());
  if (set.range_derived && (err == jet::JET_errEndingRestoreLogTooLow ||
                            err == jet::JET_errStartingRestoreLogTooHigh)) {
    // The range came from the logs present, so the likely cause is a log
    // missing at an end of the set.
    return JetStatus(
        err, absl::StrCat(restored.status().message(), " (the set holds ",
                          set.base_name, " logs ", set.logs_low, "-",
                          set.logs_high, "; is a log missing?)"));
  }
  return restored;
}

}  // namespace jetback
