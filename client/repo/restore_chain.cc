// Restore of a chain of plain set directories through the engine's Restore,
// set verification, and chain resolution inside a repository.

#include "client/repo/restore_chain.h"

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "jetback/status.h"

namespace jetback::repo {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> DatabaseNames(const Manifest& m) {
  std::vector<std::string> names;
  for (const auto& f : m.files()) {
    if (f.kind() == "database") names.push_back(f.name());
  }
  return names;
}

std::string BaseNameOf(const Manifest& m) {
  return m.base_name().empty() ? "E00" : m.base_name();
}

// HOST/INSTANCE/ of HOST/INSTANCE/SETNAME.
std::string OwnerOf(const std::string& id) {
  return id.substr(0, id.rfind('/') + 1);
}

// Links (or copies) each set's files into one staging directory, the first
// set holding a name winning; a later set's copy of it must be the same.
absl::Status Stage(const std::vector<std::pair<std::string, Manifest>>& sets,
                   const std::string& staging) {
  std::map<std::string, std::pair<std::string, const ManifestFile*>> first;
  for (const auto& [dir, m] : sets) {
    for (const auto& f : m.files()) {
      auto seen = first.find(f.name());
      if (seen != first.end()) {
        auto same = SameContent(*seen->second.second,
                                seen->second.first + "/" + f.name(), f,
                                dir + "/" + f.name());
        if (!same.ok() || !*same) {
          return JetStatus(jet::JET_errGivenLogFileIsNotContiguous,
                           absl::StrCat(dir, "/", f.name(),
                                        " differs from the same file in an "
                                        "earlier set of the chain"));
        }
        continue;
      }
      first[f.name()] = {dir, &f};
      const fs::path from = fs::path(dir) / f.name();
      const fs::path to = fs::path(staging) / f.name();
      std::error_code ec;
      fs::create_hard_link(from, to, ec);
      if (ec) fs::copy_file(from, to, ec);
      if (ec) {
        return JetStatus(jet::JET_errDiskIO,
                         absl::StrCat("cannot stage ", from.string()));
      }
    }
  }
  return absl::OkStatus();
}

// "JET_errReadVerifyFailure (-1018): <message>", as the CLI prints errors.
std::string DescribeStatus(const absl::Status& status) {
  const JetErr err = JetErrOf(status);
  return absl::StrCat(JetErrSymbol(err), " (", err, "): ", status.message());
}

}  // namespace

std::vector<FileProblem> VerifySet(const std::string& dir,
                                   const Manifest& manifest) {
  std::vector<FileProblem> problems = CheckSetFiles(dir, manifest);
  if (!problems.empty()) return problems;  // the engine would only repeat
  RestoreOptions options;
  options.backup_dir = dir;
  options.base_name = BaseNameOf(manifest);
  options.gen_low = manifest.gen_low();
  options.gen_high = manifest.gen_high();
  options.databases = DatabaseNames(manifest);
  auto verified = VerifyBackupSet(options);
  if (!verified.ok()) {
    problems.push_back({"", DescribeStatus(verified.status())});
    return problems;
  }
  for (const auto& f : verified->files) {
    if (!f.status.ok()) problems.push_back({f.name, DescribeStatus(f.status)});
  }
  return problems;
}

absl::StatusOr<ChainRestoreResult> RestoreChain(
    const std::vector<std::string>& set_dirs, const std::string& to,
    const RestoreOptions& until) {
  if (set_dirs.empty()) {
    return JetStatus(jet::JET_errInvalidParameter, "no set to restore");
  }
  JB_ASSIGN_OR_RETURN(Manifest full, ReadManifest(set_dirs[0]));
  if (full.kind() != "full") {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat(set_dirs[0], " is an ", full.kind(),
                                  " set; a restore starts from a full set"));
  }
  std::vector<std::pair<std::string, Manifest>> sets = {{set_dirs[0], full}};
  uint32_t gen_high = full.gen_high();
  for (size_t i = 1; i < set_dirs.size(); ++i) {
    const std::string& dir = set_dirs[i];
    JB_ASSIGN_OR_RETURN(Manifest inc, ReadManifest(dir));
    if (inc.kind() != "incremental" || inc.instance() != full.instance()) {
      return JetStatus(
          jet::JET_errInvalidParameter,
          absl::StrCat(dir, " is not an incremental set of ", full.instance()));
    }
    if (inc.gen_low() > gen_high + 1 || inc.gen_high() < gen_high) {
      return JetStatus(
          jet::JET_errGivenLogFileIsNotContiguous,
          absl::StrCat(dir, " holds logs ", inc.gen_low(), "-", inc.gen_high(),
                       ", which do not continue ", gen_high));
    }
    gen_high = inc.gen_high();
    sets.emplace_back(dir, std::move(inc));
  }
  for (const auto& [dir, m] : sets) {
    for (const FileProblem& p : CheckSetFiles(dir, m)) {
      return JetStatus(jet::JET_errDatabaseCorrupted,
                       absl::StrCat(dir, "/", p.name, ": ", p.problem));
    }
  }
  std::error_code ec;
  // A running instance's directory: name its owner, not just "not empty".
  JB_RETURN_IF_ERROR(CheckNoLiveInstance(Env::Default(), to));
  if (fs::exists(to, ec) && !fs::is_empty(to, ec)) {
    return JetStatus(jet::JET_errBackupDirectoryNotEmpty,
                     absl::StrCat("restore target ", to,
                                  " is not empty; nothing was overwritten"));
  }

  std::string backup_dir = set_dirs[0];
  std::string staging;
  if (sets.size() > 1) {
    std::string parent = fs::absolute(to).parent_path().string();
    fs::create_directories(parent, ec);
    std::string tmpl = absl::StrCat(parent, "/.jetback-restore-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      return JetStatus(
          jet::JET_errDiskIO,
          absl::StrCat("cannot create a staging directory in ", parent));
    }
    staging = tmpl;
    absl::Status staged = Stage(sets, staging);
    if (!staged.ok()) {
      fs::remove_all(staging, ec);
      return staged;
    }
    backup_dir = staging;
  }
  RestoreOptions options;
  options.backup_dir = backup_dir;
  options.target_dir = to;
  options.base_name = BaseNameOf(full);
  options.gen_low = full.gen_low();
  options.gen_high = gen_high;
  options.databases = DatabaseNames(full);
  options.until_time = until.until_time;
  options.until_generation = until.until_generation;
  auto restored = Restore(options);
  if (!staging.empty()) fs::remove_all(staging, ec);
  JB_RETURN_IF_ERROR(restored.status());
  ChainRestoreResult result;
  result.instance = full.instance();
  result.sets = static_cast<int>(sets.size());
  result.gen_low = full.gen_low();
  result.gen_high = gen_high;
  result.engine = *std::move(restored);
  return result;
}

absl::StatusOr<std::string> LatestSetOf(Repository* repo,
                                        const std::string& owner) {
  JB_ASSIGN_OR_RETURN(std::vector<SetEntry> sets, repo->ListSets(owner));
  std::string latest;
  for (const SetEntry& s : sets) {
    if (OwnerOf(s.id) == owner) latest = std::max(latest, s.id);
  }
  return latest;
}

absl::StatusOr<std::vector<std::string>> ResolveChain(Repository* repo,
                                                      const std::string& id) {
  const std::string owner = OwnerOf(id);
  JB_ASSIGN_OR_RETURN(std::vector<SetEntry> listed, repo->ListSets(owner));
  std::map<std::string, const SetEntry*> sets;  // in id (= time) order
  for (const SetEntry& s : listed) {
    if (OwnerOf(s.id) == owner) sets[s.id] = &s;
  }
  auto it = sets.find(id);
  if (it == sets.end()) {
    return JetStatus(jet::JET_errFileNotFound,
                     absl::StrCat("no complete set ", id, " in ", repo->url()));
  }
  std::vector<std::string> chain = {id};
  std::set<std::string> seen = {id};
  while (it->second->manifest.kind() != "full") {
    const std::string& base = it->second->manifest.base_set();
    const std::string from = it->first;
    if (!base.empty()) {
      it = sets.find(base);
      if (it == sets.end()) {
        return JetStatus(jet::JET_errFileNotFound,
                         absl::StrCat("set ", from, " builds on set ", base,
                                      ", which is not in ", repo->url()));
      }
    } else if (it == sets.begin()) {  // an older set: its predecessor
      it = sets.end();
    } else {
      --it;
    }
    if (it == sets.end() || !seen.insert(it->first).second) {
      return JetStatus(jet::JET_errMissingFullBackup,
                       absl::StrCat("no full set starts the chain of ", id,
                                    " in ", repo->url()));
    }
    chain.push_back(it->first);
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

}  // namespace jetback::repo
