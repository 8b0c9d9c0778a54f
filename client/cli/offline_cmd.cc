// `jetback verify` and `jetback restore`: offline work on backup sets, with
// the engine's VerifyBackupSet / Restore (jetback/restore.h). The set
// directories are never modified.

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/backup_set.h"
#include "client/cli/commands.h"
#include "client/cli/ese_restore_cmd.h"
#include "client/cli/output.h"
#include "client/cli/point_in_time.h"
#include "jetback/restore.h"

namespace jetback::cli {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> DatabaseNames(const Manifest& m) {
  std::vector<std::string> names;
  for (const auto& f : m.files()) {
    if (f.kind() == "database") names.push_back(f.name());
  }
  return names;
}

// Manifest and per-file size / digests, then the engine's page, header and
// log-chain checks. Prints each problem naming its file; true when clean.
bool CheckSet(const std::string& dir, const Manifest& m) {
  bool ok = true;
  for (const FileProblem& p : CheckSetFiles(dir, m)) {
    std::fprintf(stderr, "jetback: verify: %s/%s: %s\n", dir.c_str(),
                 p.name.c_str(), p.problem.c_str());
    ok = false;
  }
  if (!ok) return false;  // the engine would only repeat what is known
  RestoreOptions options;
  options.backup_dir = dir;
  options.base_name = m.base_name().empty() ? "E00" : m.base_name();
  options.gen_low = m.gen_low();
  options.gen_high = m.gen_high();
  options.databases = DatabaseNames(m);
  auto verified = VerifyBackupSet(options);
  if (!verified.ok()) {
    std::fprintf(stderr, "jetback: verify: %s: %s\n", dir.c_str(),
                 DescribeError(verified.status()).c_str());
    return false;
  }
  for (const auto& f : verified->files) {
    if (!f.status.ok()) {
      std::fprintf(stderr, "jetback: verify: %s/%s: %s\n", dir.c_str(),
                   f.name.c_str(), DescribeError(f.status).c_str());
      ok = false;
    }
  }
  return ok;
}

struct RestoreArgs {
  std::string full;
  std::vector<std::string> incrementals;
  std::string to;
  GenerationRange range;  // ESE-style sets only
  UntilArgs until;        // point-in-time restore (client/cli/point_in_time.h)
};

// Restores a chain (full set + incremental sets, in order) into `to`. A
// chain is staged as hard links (copies across file systems) in a
// temporary directory beside `to`, since Restore wants one directory.
absl::Status RestoreChain(const RestoreArgs& args, std::string* summary,
                          RestoreResult* stats = nullptr) {
  RestoreOptions until;  // bad input fails before anything is read
  JB_RETURN_IF_ERROR(ApplyUntil(args.until, &until));
  JB_ASSIGN_OR_RETURN(Manifest full, ReadManifest(args.full));
  if (full.kind() != "full") {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat(args.full, " is an ", full.kind(),
                                  " set; a restore starts from a full set"));
  }
  std::vector<std::pair<std::string, Manifest>> sets = {{args.full, full}};
  uint32_t gen_high = full.gen_high();
  for (const std::string& dir : args.incrementals) {
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
    sets.emplace_back(dir, inc);
  }
  for (const auto& [dir, m] : sets) {
    for (const FileProblem& p : CheckSetFiles(dir, m)) {
      return JetStatus(jet::JET_errDatabaseCorrupted,
                       absl::StrCat(dir, "/", p.name, ": ", p.problem));
    }
  }
  std::error_code ec;
  // A running instance's directory: name its owner, not just "not empty".
  JB_RETURN_IF_ERROR(CheckNoLiveInstance(Env::Default(), args.to));
  if (fs::exists(args.to, ec) && !fs::is_empty(args.to, ec)) {
    return JetStatus(jet::JET_errBackupDirectoryNotEmpty,
                     absl::StrCat("restore target ", args.to,
                                  " is not empty; nothing was overwritten"));
  }

  std::string backup_dir = args.full;
  std::string staging;
  if (sets.size() > 1) {
    std::string parent = fs::absolute(args.to).parent_path().string();
    fs::create_directories(parent, ec);
    std::string tmpl = absl::StrCat(parent, "/.jetback-restore-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      return JetStatus(
          jet::JET_errDiskIO,
          absl::StrCat("cannot create a staging directory in ", parent));
    }
    staging = tmpl;
    // name -> (set directory, entry) of the first set holding it
    std::map<std::string, std::pair<std::string, const ManifestFile*>> first;
    for (const auto& [dir, m] : sets) {
      for (const auto& f : m.files()) {
        auto seen = first.find(f.name());
        if (seen != first.end()) {
          auto same = SameContent(*seen->second.second,
                                  seen->second.first + "/" + f.name(), f,
                                  dir + "/" + f.name());
          if (!same.ok() || !*same) {
            fs::remove_all(staging, ec);
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
        fs::create_hard_link(from, to, ec);
        if (ec) fs::copy_file(from, to, ec);
        if (ec) {
          fs::remove_all(staging, ec);
          return JetStatus(jet::JET_errDiskIO,
                           absl::StrCat("cannot stage ", from.string()));
        }
      }
    }
    backup_dir = staging;
  }
  RestoreOptions options;
  options.backup_dir = backup_dir;
  options.target_dir = args.to;
  options.base_name = full.base_name().empty() ? "E00" : full.base_name();
  options.gen_low = full.gen_low();
  options.gen_high = gen_high;
  options.databases = DatabaseNames(full);
  options.until_time = until.until_time;
  options.until_generation = until.until_generation;
  auto restored = Restore(options);
  if (!staging.empty()) fs::remove_all(staging, ec);
  if (!restored.ok()) return restored.status();
  std::vector<std::string> dbs;
  for (const auto& db : restored->databases) dbs.push_back(db.path);
  const double replay_s = absl::ToDoubleSeconds(restored->replay_time);
  *summary = absl::StrCat(
      "restored ", full.instance(), " (", sets.size(),
      sets.size() == 1 ? " set" : " sets", ", logs ", full.gen_low(), "-",
      gen_high, ") into ", args.to, ": ", absl::StrJoin(dbs, ", "),
      absl::StrFormat("; replayed %.1f MiB of log in %.2fs",
                      restored->log_bytes_replayed / 1048576.0, replay_s));
  if (args.until.given()) {
    absl::StrAppend(summary, "\n", DescribePoint(restored->point));
  }
  if (stats != nullptr) *stats = *restored;
  return absl::OkStatus();
}

int RunVerify(const GlobalOptions& g, const std::string& dir, bool deep,
              const GenerationRange& range) {
  const int ese = RunIfEseStyleSet(
      "verify", dir, range, [&] { return RunEseVerify(g, dir, deep, range); });
  if (ese >= 0) return ese;
  auto manifest = ReadManifest(dir);
  if (!manifest.ok()) {
    ReportError(absl::StrCat("verify ", dir), manifest.status());
    return kExitVerifyFailed;
  }
  if (!CheckSet(dir, *manifest)) {
    std::fprintf(stderr, "jetback: verify: %s: FAILED\n", dir.c_str());
    if (g.json())
      std::printf("{\"ok\":false,\"dir\":%s}\n", JsonString(dir).c_str());
    return kExitVerifyFailed;
  }
  if (deep) {
    if (manifest->kind() != "full") {
      std::fprintf(stderr,
                   "jetback: verify --deep: %s is an incremental set; restore "
                   "its chain with `jetback restore FULL --incremental %s "
                   "--to DIR`\n",
                   dir.c_str(), dir.c_str());
      return kExitUsage;
    }
    absl::StatusOr<std::string> scratch = MakeScratchDir("jetback-verify");
    if (!scratch.ok()) return ReportError("verify --deep", scratch.status());
    const std::string& tmpl = *scratch;
    RestoreArgs args{dir, {}, tmpl + "/restored"};
    std::string summary;
    absl::Status restored = RestoreChain(args, &summary);
    std::error_code ec;
    fs::remove_all(tmpl, ec);
    if (!restored.ok()) {
      ReportError(absl::StrCat("verify --deep ", dir, ": trial restore"),
                  restored);
      return kExitVerifyFailed;
    }
  }
  if (g.json()) {
    std::printf("{\"ok\":true,\"dir\":%s,\"files\":%d,\"deep\":%s}\n",
                JsonString(dir).c_str(), manifest->files_size(),
                deep ? "true" : "false");
  } else {
    std::printf("backup set %s OK: %s of %s, %d files, logs %u-%u%s\n",
                dir.c_str(), manifest->kind().c_str(),
                manifest->instance().c_str(), manifest->files_size(),
                manifest->gen_low(), manifest->gen_high(),
                deep ? ", trial restore passed" : "");
  }
  return kExitOk;
}

int RunRestore(const GlobalOptions& g, const RestoreArgs& args) {
  const int ese = RunIfEseStyleSet("restore", args.full, args.range, [&] {
    if (args.until.given()) {
      return ReportError("restore",
                         JetStatus(jet::JET_errInvalidParameter,
                                   "--until and --until-generation need a "
                                   "jetback set (manifest.json); an ESE-style "
                                   "set restores to its last log"));
    }
    return RunEseRestore(g, args.full, args.incrementals, args.to, args.range);
  });
  if (ese >= 0) return ese;
  std::string summary;
  RestoreResult stats;
  absl::Status status = RestoreChain(args, &summary, &stats);
  if (!status.ok()) {
    const int code = ReportError("restore", status);
    return JetErrOf(status) == jet::JET_errBackupDirectoryNotEmpty ? kExitUsage
                                                                   : code;
  }
  if (g.json()) {
    std::printf(
        "{\"ok\":true,\"to\":%s,\"log_bytes_replayed\":%llu,"
        "\"replay_seconds\":%.3f%s}\n",
        JsonString(args.to).c_str(),
        static_cast<unsigned long long>(stats.log_bytes_replayed),
        absl::ToDoubleSeconds(stats.replay_time),
        args.until.given()
            ? absl::StrCat(",\"point\":", PointJson(stats.point)).c_str()
            : "");
  } else {
    std::printf("%s\n", summary.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddOfflineCommands(CLI::App& app, const GlobalOptions& g, RunFn* run) {
  struct VerifyArgs {
    std::string dir;
    bool deep = false;
    GenerationRange range;
    RepoFlags repo;  // --repo: DIR is a set id in it
  };
  auto verify = std::make_shared<VerifyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Check a backup set offline: manifest, sizes, digests, page checksums, "
      "log chain");
  cmd->add_option("DIR", verify->dir, "Backup set directory")->required();
  cmd->add_flag("--deep", verify->deep,
                "Also restore into a temporary directory and check the "
                "databases");
  AddGenerationRangeOptions(cmd, &verify->range);
  cmd->add_option("--repo", verify->repo.url,
                  "DIR is a set id (HOST/INSTANCE/SETNAME) in this repository");
  AddRepoFlags(cmd, &verify->repo, false);
  cmd->callback([&g, verify, run] {
    *run = [&g, verify] {
      return WithSetsFromRepo(verify->repo, {&verify->dir}, [&] {
        return RunVerify(g, verify->dir, verify->deep, verify->range);
      });
    };
  });

  auto restore = std::make_shared<RestoreArgs>();
  cmd = app.add_subcommand(
      "restore",
      "Restore a full set (plus incremental sets) offline, or the set an "
      "ESE agent streamed (databases + logs, no manifest.json)");
  cmd->add_option("DIR", restore->full, "Full backup set")->required();
  cmd->add_option("--incremental", restore->incrementals,
                  "Incremental sets, oldest first");
  cmd->add_option("--to", restore->to, "Target directory (new or empty)")
      ->required();
  AddGenerationRangeOptions(cmd, &restore->range);
  cmd->add_option("--until", restore->until.time,
                  "Point in time: replay only transactions committed at or "
                  "before TIME (RFC 3339, or local YYYY-MM-DD HH:MM[:SS])");
  cmd->add_option("--until-generation", restore->until.generation,
                  "Point in time: replay only transactions committed in log "
                  "generations up to G")
      ->check(CLI::PositiveNumber);
  auto repo = std::make_shared<RepoFlags>();
  cmd->add_option("--repo", repo->url,
                  "DIR and --incremental are set ids in this repository");
  AddRepoFlags(cmd, repo.get(), false);
  cmd->callback([&g, restore, repo, run] {
    *run = [&g, restore, repo] {
      std::vector<std::string*> sets = {&restore->full};
      for (std::string& inc : restore->incrementals) sets.push_back(&inc);
      return WithSetsFromRepo(*repo, sets,
                              [&] { return RunRestore(g, *restore); });
    };
  });
}

}  // namespace jetback::cli
