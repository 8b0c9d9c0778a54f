// `jetback verify` / `jetback restore` for ESE-style sets (no manifest, so
// no sizes or digests to check first): the engine's page and log-chain
// checks and its restore, through client/ese_set.h as the C restore entry
// points use them.

#include "client/cli/ese_restore_cmd.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/output.h"
#include "client/ese_set.h"
#include "jetback/restore.h"
#include "jetback/status.h"

namespace jetback::cli {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<EseSet> ReadSet(const std::string& dir,
                               const GenerationRange& range) {
  EseSetOptions options;
  options.dir = dir;
  options.gen_low = range.gen_low;
  options.gen_high = range.gen_high;
  return ReadEseSet(options);
}

// "logs 5-9 (from the logs present)": the range and where it came from.
std::string RangeText(const EseSet& set) {
  return absl::StrCat(
      set.base_name, " logs ", set.gen_low, "-", set.gen_high,
      set.range_derived ? " (from the logs present)" : " (as given)");
}

// Text mode only: JSON output says it in its own fields.
void SayEseStyle(const GlobalOptions& g, const EseSet& set) {
  if (g.json()) return;
  std::printf(
      "%s has no manifest.json: treated as an ESE-style set, %s, "
      "databases %s\n",
      set.dir.c_str(), RangeText(set).c_str(),
      absl::StrJoin(set.databases, ", ").c_str());
}

}  // namespace

void AddGenerationRangeOptions(CLI::App* cmd, GenerationRange* range) {
  cmd->add_option("--gen-low", range->gen_low,
                  "ESE-style set (no manifest.json): first log generation to "
                  "replay (default: the lowest present)");
  cmd->add_option("--gen-high", range->gen_high,
                  "ESE-style set: last log generation to replay (default: "
                  "the highest present)");
}

int RunIfEseStyleSet(const std::string& command, const std::string& dir,
                     const GenerationRange& range,
                     const std::function<int()>& run_ese) {
  if (LooksLikeEseSet(dir)) return run_ese();
  if (range.given()) {
    std::fprintf(stderr,
                 "jetback: %s: --gen-low / --gen-high apply only to an "
                 "ESE-style set (no manifest.json); %s is not one\n",
                 command.c_str(), dir.c_str());
    return kExitUsage;
  }
  return -1;
}

int RunEseVerify(const GlobalOptions& g, const std::string& dir, bool deep,
                 const GenerationRange& range) {
  absl::StatusOr<EseSet> set = ReadSet(dir, range);
  if (!set.ok()) {
    ReportError(absl::StrCat("verify ", dir), set.status());
    return kExitVerifyFailed;
  }
  SayEseStyle(g, *set);
  absl::StatusOr<VerifyResult> verified = VerifyEseSet(*set);
  if (!verified.ok()) {
    ReportError(absl::StrCat("verify ", dir), verified.status());
    return kExitVerifyFailed;
  }
  bool ok = true;
  for (const auto& f : verified->files) {
    if (f.status.ok()) continue;
    std::fprintf(stderr, "jetback: verify: %s/%s: %s\n", dir.c_str(),
                 f.name.c_str(), DescribeError(f.status).c_str());
    ok = false;
  }
  if (ok && deep) {
    absl::StatusOr<std::string> scratch = MakeScratchDir("jetback-verify");
    if (!scratch.ok()) return ReportError("verify --deep", scratch.status());
    const std::string& tmpl = *scratch;
    EseRestoreOptions options;
    options.target_dir = tmpl + "/restored";
    absl::StatusOr<RestoreResult> restored = RestoreEseSet(*set, options);
    std::error_code ec;
    fs::remove_all(tmpl, ec);
    if (!restored.ok()) {
      ReportError(absl::StrCat("verify --deep ", dir, ": trial restore"),
                  restored.status());
      ok = false;
    }
  }
  if (!ok) {
    std::fprintf(stderr, "jetback: verify: %s: FAILED\n", dir.c_str());
    if (g.json()) {
      std::printf("{\"ok\":false,\"dir\":%s,\"ese_set\":true}\n",
                  JsonString(dir).c_str());
    }
    return kExitVerifyFailed;
  }
  if (g.json()) {
    std::printf(
        "{\"ok\":true,\"dir\":%s,\"ese_set\":true,\"files\":%zu,"
        "\"gen_low\":%u,\"gen_high\":%u,\"deep\":%s}\n",
        JsonString(dir).c_str(), verified->files.size(), set->gen_low,
        set->gen_high, deep ? "true" : "false");
  } else {
    std::printf("ESE-style set %s OK: %zu databases, %s%s\n", dir.c_str(),
                set->databases.size(), RangeText(*set).c_str(),
                deep ? ", trial restore passed" : "");
  }
  return kExitOk;
}

int RunEseRestore(const GlobalOptions& g, const std::string& dir,
                  const std::vector<std::string>& incrementals,
                  const std::string& to, const GenerationRange& range) {
  if (!incrementals.empty()) {
    std::fprintf(stderr,
                 "jetback: restore: %s is an ESE-style set: put the "
                 "incremental's logs into its directory instead of "
                 "--incremental\n",
                 dir.c_str());
    return kExitUsage;
  }
  const std::string context = absl::StrCat("restore ", dir);
  absl::StatusOr<EseSet> set = ReadSet(dir, range);
  if (!set.ok()) return ReportError(context, set.status());
  SayEseStyle(g, *set);
  // As for a manifest set: a running instance's directory names its owner,
  // and nothing already in the target is ever overwritten.
  absl::Status live = CheckNoLiveInstance(Env::Default(), to);
  if (!live.ok()) return ReportError(context, live);
  std::error_code ec;
  if (fs::exists(to, ec) && !fs::is_empty(to, ec)) {
    ReportError(context, JetStatus(jet::JET_errBackupDirectoryNotEmpty,
                                   absl::StrCat("restore target ", to,
                                                " is not empty; nothing was "
                                                "overwritten")));
    return kExitUsage;
  }
  EseRestoreOptions options;
  options.target_dir = to;
  absl::StatusOr<RestoreResult> restored = RestoreEseSet(*set, options);
  if (!restored.ok()) return ReportError(context, restored.status());
  if (g.json()) {
    std::printf(
        "{\"ok\":true,\"to\":%s,\"ese_set\":true,\"gen_low\":%u,"
        "\"gen_high\":%u,\"log_bytes_replayed\":%llu,"
        "\"replay_seconds\":%.3f}\n",
        JsonString(to).c_str(), set->gen_low, set->gen_high,
        static_cast<unsigned long long>(restored->log_bytes_replayed),
        absl::ToDoubleSeconds(restored->replay_time));
    return kExitOk;
  }
  std::vector<std::string> dbs;
  for (const auto& db : restored->databases) dbs.push_back(db.path);
  std::printf("restored ESE-style set %s (%s) into %s: %s%s\n", dir.c_str(),
              RangeText(*set).c_str(), to.c_str(),
              absl::StrJoin(dbs, ", ").c_str(),
              absl::StrFormat("; replayed %.1f MiB of log in %.2fs",
                              restored->log_bytes_replayed / 1048576.0,
                              absl::ToDoubleSeconds(restored->replay_time))
                  .c_str());
  return kExitOk;
}

}  // namespace jetback::cli
