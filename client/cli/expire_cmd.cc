// `jetback expire`: retention over a repository (policy in cli/expire.h),
// and the verify records `jetback verify --repo` leaves (cli/verify_marker.h).

#include <algorithm>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cli/commands.h"
#include "client/cli/expire.h"
#include "client/cli/output.h"
#include "client/repo/repository.h"
#include "client/cli/verify_marker.h"
#include "jetback/status.h"
#include "version/version.h"

namespace jetback::cli {

using repo::IsS3Url;
namespace {

struct ExpireArgs {
  RepoFlags repo;
  std::string host, instance;
  int keep_full = -1;
  int keep_days = -1;
  bool dry_run = false;
};

absl::StatusOr<S3Config> S3ConfigFor(const RepoFlags& flags) {
  if (!IsS3Url(flags.url)) return S3Config();
  return S3ConfigFromEnv(flags.endpoint, flags.region);
}

void PrintJson(const ExpireArgs& args, const ExpirePlan& plan,
               const std::vector<std::string>& deleted,
               const absl::Status& failed) {
  std::printf("{\"ok\":%s,\"repo\":%s,\"dry_run\":%s,\"keep_full\":%d,",
              failed.ok() ? "true" : "false", JsonString(args.repo.url).c_str(),
              args.dry_run ? "true" : "false", args.keep_full);
  if (args.keep_days >= 0) {
    std::printf("\"keep_days\":%d,", args.keep_days);
  } else {
    std::printf("\"keep_days\":null,");
  }
  if (!failed.ok()) {
    std::printf("\"error\":%s,", JsonString(DescribeError(failed)).c_str());
  }
  std::printf("\"sets\":[");
  for (size_t i = 0; i < plan.sets.size(); ++i) {
    const ExpireDecision& d = plan.sets[i];
    const bool gone =
        std::find(deleted.begin(), deleted.end(), d.id) != deleted.end();
    std::printf(
        "%s{\"id\":%s,\"kind\":%s,\"started_at\":%s,\"bytes\":%llu,"
        "\"chain\":%s,\"action\":\"%s\",\"deleted\":%s,\"reason\":%s}",
        i == 0 ? "" : ",", JsonString(d.id).c_str(), JsonString(d.kind).c_str(),
        JsonString(d.started_at).c_str(),
        static_cast<unsigned long long>(d.bytes), JsonString(d.chain).c_str(),
        d.remove ? "delete" : "keep", gone ? "true" : "false",
        JsonString(d.reason).c_str());
  }
  std::printf("],\"delete_order\":[");
  for (size_t i = 0; i < plan.delete_order.size(); ++i) {
    std::printf("%s%s", i == 0 ? "" : ",",
                JsonString(plan.delete_order[i]).c_str());
  }
  std::printf("],\"deleted\":[");
  for (size_t i = 0; i < deleted.size(); ++i) {
    std::printf("%s%s", i == 0 ? "" : ",", JsonString(deleted[i]).c_str());
  }
  std::printf("]}\n");
}

int RunExpire(const GlobalOptions& g, const ExpireArgs& args) {
  auto repo = OpenRepoFrom(args.repo);
  if (!repo.ok()) return ReportError("expire", repo.status());
  auto s3 = S3ConfigFor(args.repo);
  if (!s3.ok()) return ReportError("expire", s3.status());
  std::string id_prefix;
  if (!args.host.empty()) {
    id_prefix = absl::StrCat(args.host, "/");
    if (!args.instance.empty()) absl::StrAppend(&id_prefix, args.instance, "/");
  }
  auto listed = (*repo)->ListSets(id_prefix);
  if (!listed.ok()) return ReportError("expire", listed.status());
  std::vector<SetEntry> sets;
  for (SetEntry& s : *listed) {
    // HOST/INSTANCE/SET: the instance is the id's middle part.
    const size_t a = s.id.find('/'), b = s.id.rfind('/');
    if (!args.instance.empty() &&
        s.id.substr(a + 1, b - a - 1) != args.instance)
      continue;
    sets.push_back(std::move(s));
  }

  // Which full set is verified decides what may go, so a record that
  // cannot be read stops the run rather than counting as "not verified".
  VerifyRecords records(*s3);
  std::map<std::string, VerifyRecord> verified;
  for (const SetEntry& s : sets) {
    if (s.manifest.kind() != "full") continue;
    auto record = records.Read(s);
    if (!record.ok()) {
      return ReportError(absl::StrCat("expire: verify record of ", s.id),
                         record.status());
    }
    if (record->has_value()) verified[s.id] = **record;
  }

  ExpirePolicy policy;
  policy.keep_full = args.keep_full;
  policy.keep_days = args.keep_days;
  policy.now = absl::Now();
  const ExpirePlan plan = PlanExpiry(sets, verified, policy);

  uint64_t delete_bytes = 0;
  for (const ExpireDecision& d : plan.sets) {
    if (d.remove) delete_bytes += d.bytes;
    if (g.json()) continue;
    std::printf("%-12s %-50s %-11s %s\n",
                d.remove ? (args.dry_run ? "would delete" : "delete") : "keep",
                d.id.c_str(), d.kind.c_str(), d.reason.c_str());
  }

  // Newest set of each chain first (plan.delete_order): stopping at any
  // point leaves every remaining incremental with its base.
  std::vector<std::string> deleted;
  absl::Status failed;
  if (!args.dry_run) {
    for (const std::string& id : plan.delete_order) {
      failed = (*repo)->DeleteSet(id);
      if (!failed.ok()) {
        failed = JetStatus(JetErrOf(failed),
                           absl::StrCat("deleting ", id, ": ", failed.message(),
                                        "; stopped, nothing after it deleted"));
        break;
      }
      deleted.push_back(id);
      if (!g.json()) std::printf("deleted %s\n", id.c_str());
      for (const SetEntry& s : sets) {
        if (s.id != id) continue;
        absl::Status removed = records.Remove(s);
        if (!removed.ok()) {
          std::fprintf(stderr, "jetback: expire: verify record of %s: %s\n",
                       id.c_str(), DescribeError(removed).c_str());
        }
      }
    }
  }

  const size_t kept = plan.sets.size() - plan.delete_order.size();
  if (g.json()) {
    PrintJson(args, plan, deleted, failed);
  } else {
    std::printf("%s %zu of %zu sets (%s bytes), kept %zu\n",
                args.dry_run ? "dry run: would delete" : "deleted",
                args.dry_run ? plan.delete_order.size() : deleted.size(),
                plan.sets.size(), absl::StrCat(delete_bytes).c_str(), kept);
  }
  if (!failed.ok()) return ReportError("expire", failed);
  return kExitOk;
}

}  // namespace

void RecordVerifyResult(const RepoFlags& flags, const std::string& id, bool ok,
                        bool deep) {
  auto repo = OpenRepoFrom(flags);
  auto s3 = S3ConfigFor(flags);
  absl::Status status = !repo.ok() ? repo.status() : s3.status();
  if (status.ok()) {
    auto sets = (*repo)->ListSets(id);
    status = sets.status();
    if (sets.ok()) {
      status = JetStatus(jet::JET_errFileNotFound,
                         absl::StrCat("no set ", id, " in ", flags.url));
      for (const SetEntry& s : *sets) {
        if (s.id != id) continue;
        VerifyRecord record;
        record.ok = ok;
        record.deep = deep;
        record.verified_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                                              absl::UTCTimeZone());
        record.by = VersionLine("jetback");
        status = VerifyRecords(*s3).Write(s, record);
      }
    }
  }
  if (!status.ok()) {
    std::fprintf(stderr, "jetback: verify: could not record the result: %s\n",
                 DescribeError(status).c_str());
  }
}

void AddExpireCommand(CLI::App& app, const GlobalOptions& g, RunFn* run) {
  auto args = std::make_shared<ExpireArgs>();
  CLI::App* cmd = app.add_subcommand(
      "expire",
      "Delete the sets a retention policy no longer needs, whole chains at "
      "a time");
  cmd->add_option("--repo", args->repo.url,
                  "Repository: DIR, file:///DIR or s3://BUCKET/PREFIX")
      ->required();
  cmd->add_option("--keep-full", args->keep_full,
                  "Keep the N newest full sets of each host and instance, "
                  "with their incremental sets")
      ->required()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--keep-days", args->keep_days,
                  "Also keep every chain with a set younger than D days")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--host", args->host, "Only this host's sets");
  cmd->add_option("--instance", args->instance, "Only this instance's sets");
  cmd->add_flag("--dry-run", args->dry_run,
                "Print what would be deleted; delete nothing");
  AddRepoFlags(cmd, &args->repo, false);
  cmd->callback(
      [&g, args, run] { *run = [&g, args] { return RunExpire(g, *args); }; });
}

}  // namespace jetback::cli
