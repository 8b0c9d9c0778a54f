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
#include "client/cli/commands.h"
#include "client/cli/ese_restore_cmd.h"
#include "client/cli/output.h"
#include "client/cli/point_in_time.h"
#include "client/repo/backup_set.h"
#include "client/repo/restore_chain.h"

namespace jetback::cli {
namespace {

namespace fs = std::filesystem;
using repo::FileProblem;
using repo::Manifest;
using repo::ReadManifest;
using repo::RestoreChain;
using repo::VerifySet;

// Prints each problem of the set in `dir` naming its file; true when clean.
bool CheckSet(const std::string& dir, const Manifest& m) {
  std::vector<FileProblem> problems = VerifySet(dir, m);
  for (const FileProblem& p : problems) {
    if (p.name.empty()) {
      std::fprintf(stderr, "jetback: verify: %s: %s\n", dir.c_str(),
                   p.problem.c_str());
    } else {
      std::fprintf(stderr, "jetback: verify: %s/%s: %s\n", dir.c_str(),
                   p.name.c_str(), p.problem.c_str());
    }
  }
  return problems.empty();
}

struct RestoreArgs {
  std::string full;
  std::vector<std::string> incrementals;
  std::string to;
  GenerationRange range;  // ESE-style sets only
  UntilArgs until;        // point-in-time restore (client/cli/point_in_time.h)
};

std::vector<std::string> ChainOf(const RestoreArgs& args) {
  std::vector<std::string> dirs = {args.full};
  dirs.insert(dirs.end(), args.incrementals.begin(), args.incrementals.end());
  return dirs;
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
    auto restored = RestoreChain({dir}, tmpl + "/restored");
    std::error_code ec;
    fs::remove_all(tmpl, ec);
    if (!restored.ok()) {
      ReportError(absl::StrCat("verify --deep ", dir, ": trial restore"),
                  restored.status());
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
  RestoreOptions until;  // bad input fails before anything is read
  if (absl::Status bad = ApplyUntil(args.until, &until); !bad.ok()) {
    return ReportError("restore", bad);
  }
  auto restored = RestoreChain(ChainOf(args), args.to, until);
  if (!restored.ok()) {
    const int code = ReportError("restore", restored.status());
    return JetErrOf(restored.status()) == jet::JET_errBackupDirectoryNotEmpty
               ? kExitUsage
               : code;
  }
  const RestoreResult& stats = restored->engine;
  if (g.json()) {
    std::printf(
        "{\"ok\":true,\"to\":%s,\"log_bytes_replayed\":%llu,"
        "\"replay_seconds\":%.3f,\"logs_removed\":%u%s}\n",
        JsonString(args.to).c_str(),
        static_cast<unsigned long long>(stats.log_bytes_replayed),
        absl::ToDoubleSeconds(stats.replay_time), stats.logs_removed,
        args.until.given()
            ? absl::StrCat(",\"point\":", PointJson(stats.point)).c_str()
            : "");
  } else {
    std::vector<std::string> dbs;
    for (const auto& db : stats.databases) dbs.push_back(db.path);
    std::printf(
        "restored %s (%d %s, logs %u-%u) into %s: %s; replayed %.1f MiB of log "
        "in %.2fs\n",
        restored->instance.c_str(), restored->sets,
        restored->sets == 1 ? "set" : "sets", restored->gen_low,
        restored->gen_high, args.to.c_str(), absl::StrJoin(dbs, ", ").c_str(),
        stats.log_bytes_replayed / 1048576.0,
        absl::ToDoubleSeconds(stats.replay_time));
    if (args.until.given()) {
      std::printf("%s\n", DescribePoint(stats.point).c_str());
    }
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
      const std::string id = verify->dir;  // replaced by a local copy
      const int code = WithSetsFromRepo(
          verify->repo, {&verify->dir},
          [&] {
            return RunVerify(g, verify->dir, verify->deep, verify->range);
          },
          /*verifying=*/true);
      // A set in a repository remembers its last verify (for expire).
      if (!verify->repo.url.empty() &&
          (code == kExitOk || code == kExitVerifyFailed)) {
        RecordVerifyResult(verify->repo, id, code == kExitOk, verify->deep);
      }
      return code;
    };
  });

  auto restore = std::make_shared<RestoreArgs>();
  cmd = app.add_subcommand(
      "restore",
      "Restore a full set (plus incremental sets) offline, or the set an "
      "ESE agent streamed (databases + logs, no manifest.json)");
  cmd->add_option("DIR", restore->full,
                  "Full backup set (with --repo: a set id; an incremental "
                  "set brings its chain)");
  auto set_id = std::make_shared<std::string>();
  cmd->add_option("--set", *set_id,
                  "With --repo: the set id (HOST/INSTANCE/SETNAME) to "
                  "restore, instead of DIR; for an incremental set the full "
                  "set and incrementals it builds on are found in the "
                  "repository");
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
  cmd->callback([&g, restore, repo, set_id, run] {
    *run = [&g, restore, repo, set_id]() -> int {
      if (!set_id->empty()) {
        if (!restore->full.empty() || repo->url.empty()) {
          std::fprintf(stderr,
                       "jetback: restore: --set ID goes with --repo URL and "
                       "instead of DIR\n");
          return kExitUsage;
        }
        restore->full = *set_id;
      }
      if (restore->full.empty()) {
        std::fprintf(stderr,
                     "jetback: restore: give DIR (or --repo URL "
                     "--set ID)\n");
        return kExitUsage;
      }
      if (!repo->url.empty() && restore->incrementals.empty()) {
        // One set id: the repository knows its chain.
        auto opened = OpenRepoFrom(*repo);
        if (!opened.ok()) return ReportError("repository", opened.status());
        auto chain = repo::ResolveChain(opened->get(), restore->full);
        if (!chain.ok()) {
          return ReportError(absl::StrCat("restore of set ", restore->full),
                             chain.status());
        }
        restore->full = (*chain)[0];
        restore->incrementals.assign(chain->begin() + 1, chain->end());
      }
      std::vector<std::string*> sets = {&restore->full};
      for (std::string& inc : restore->incrementals) sets.push_back(&inc);
      return WithSetsFromRepo(*repo, sets,
                              [&] { return RunRestore(g, *restore); });
    };
  });
}

}  // namespace jetback::cli
