// Repository addresses on the command line: --repo and its S3 knobs,
// `jetback sets list|delete|uploads`, and staging sets for verify / restore.

#include <stdlib.h>  // mkdtemp

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/commands.h"
#include "client/cli/output.h"
#include "client/repo/backup_set.h"
#include "client/repo/repository.h"
#include "client/repo/set_codec.h"
#include "jetback/status.h"

namespace jetback::cli {

using repo::Manifest;
using repo::Repository;
using repo::SetEntry;

absl::StatusOr<std::unique_ptr<Repository>> OpenRepoFrom(
    const RepoFlags& flags) {
  repo::RepoOptions options;
  JB_ASSIGN_OR_RETURN(options.key,
                      repo::RepoKey::FromFileOrEnv(flags.key_file));
  if (flags.allow_unencrypted) {
    options.key = repo::RepoKey::AcceptingPlainSets(options.key);
  }
  S3Config s3;
  if (repo::IsS3Url(flags.url)) {
    JB_ASSIGN_OR_RETURN(s3, S3ConfigFromEnv(flags.endpoint, flags.region));
  }
  options.multipart.part_size =
      static_cast<size_t>(flags.part_size_mib * 1024 * 1024);
  options.multipart.concurrency = flags.upload_concurrency;
  return repo::OpenRepository(flags.url, s3, options);
}

void AddRepoFlags(CLI::App* cmd, RepoFlags* flags, bool with_upload_knobs) {
  cmd->add_option("--endpoint", flags->endpoint,
                  "S3 endpoint URL (default $AWS_ENDPOINT_URL)");
  cmd->add_option("--region", flags->region,
                  "S3 region (default $AWS_REGION, else us-east-1)");
  cmd->add_option("--key-file", flags->key_file,
                  "Repository key (64 hex digits or base64 of 32 bytes); "
                  "default $JETBACK_REPO_KEY. backup encrypts with it; "
                  "verify and restore decrypt");
  if (!with_upload_knobs) {
    cmd->add_flag("--allow-unencrypted", flags->allow_unencrypted,
                  "With a key: also accept sets that are not encrypted "
                  "(nothing authenticates them)");
    return;
  }
  cmd->add_option("--compress", flags->compress,
                  "none, zstd or zstd:LEVEL (1-19); default zstd:1 with "
                  "--repo, none with --out");
  cmd->add_option("--part-size", flags->part_size_mib,
                  "S3 multipart part size, MiB (S3 needs >= 5)")
      ->check(CLI::Range(5.0, 5120.0));
  cmd->add_option("--upload-concurrency", flags->upload_concurrency,
                  "S3 parts in flight per file")
      ->check(CLI::Range(1, 64));
}

int WithSetsFromRepo(const RepoFlags& flags,
                     const std::vector<std::string*>& set_ids,
                     const std::function<int()>& body, bool verifying) {
  std::unique_ptr<Repository> repo;
  std::shared_ptr<const repo::RepoKey> key;
  if (flags.url.empty()) {
    bool encoded = false;
    std::vector<std::pair<std::string, repo::Manifest>> manifests;
    for (const std::string* dir : set_ids) {
      auto manifest = repo::ReadManifest(*dir);
      encoded = encoded || (manifest.ok() && repo::IsEncoded(*manifest));
      if (manifest.ok()) manifests.emplace_back(*dir, *std::move(manifest));
    }
    auto loaded = repo::RepoKey::FromFileOrEnv(flags.key_file);
    if (!loaded.ok()) return ReportError("key", loaded.status());
    key = *std::move(loaded);
    if (flags.allow_unencrypted) key = repo::RepoKey::AcceptingPlainSets(key);
    if (!encoded) {
      // A key given means authenticated sets only (or --allow-unencrypted).
      for (const auto& [dir, manifest] : manifests) {
        absl::Status plain = repo::CheckManifestKey(manifest, key.get(), dir);
        if (!plain.ok()) {
          return ReportError(verifying ? "verify" : "restore", plain);
        }
      }
      return body();
    }
  } else {
    auto opened = OpenRepoFrom(flags);
    if (!opened.ok()) return ReportError("repository", opened.status());
    repo = *std::move(opened);
  }
  namespace fs = std::filesystem;
  std::string staging =
      (fs::temp_directory_path() / "jetback-staging-XXXXXX").string();
  if (mkdtemp(staging.data()) == nullptr) {
    return ReportError("staging", JetStatus(jet::JET_errDiskIO,
                                            "cannot create a temporary "
                                            "directory"));
  }
  int code = kExitOk;
  for (size_t i = 0; i < set_ids.size() && code == kExitOk; ++i) {
    const std::string dir = absl::StrCat(staging, "/", i);
    std::error_code ec;
    fs::create_directory(dir, ec);
    auto local = repo != nullptr
                     ? repo->LocalCopy(*set_ids[i], dir)
                     : repo::PlainSetDir(*set_ids[i], key.get(), dir);
    if (!local.ok()) {
      code = ReportError(
          repo != nullptr ? absl::StrCat("set ", *set_ids[i], " in ", flags.url)
                          : absl::StrCat("set ", *set_ids[i]),
          local.status());
      if (verifying &&
          JetErrOf(local.status()) == jet::JET_errReadVerifyFailure) {
        code = kExitVerifyFailed;
      }
    } else {
      *set_ids[i] = *local;
    }
  }
  if (code == kExitOk) code = body();
  std::error_code ec;
  fs::remove_all(staging, ec);
  return code;
}

namespace {

struct SetsArgs {
  RepoFlags repo;
  std::string host, instance;
  std::string id;      // delete
  bool abort = false;  // uploads
};

int RunSetsList(const GlobalOptions& g, const SetsArgs& args) {
  auto repo = OpenRepoFrom(args.repo);
  if (!repo.ok()) return ReportError("sets list", repo.status());
  std::string id_prefix;
  if (!args.host.empty()) {
    id_prefix = absl::StrCat(args.host, "/");
    if (!args.instance.empty()) absl::StrAppend(&id_prefix, args.instance, "/");
  }
  auto sets = (*repo)->ListSets(id_prefix);
  if (!sets.ok()) return ReportError("sets list", sets.status());
  if (g.json()) std::printf("[");
  bool first = true;
  // Ids sort by host, instance, then time: an incremental's chain starts at
  // the latest full of its host and instance before it.
  std::string last_full;
  for (const SetEntry& s : *sets) {
    const Manifest& m = s.manifest;
    const std::string owner = s.id.substr(0, s.id.rfind('/') + 1);
    if (!absl::StartsWith(last_full, owner)) last_full.clear();
    if (m.kind() == "full") last_full = s.id;
    const std::string base =
        m.kind() == "full" ? "" : (last_full.empty() ? "?" : last_full);
    if (!args.instance.empty() && m.instance() != args.instance) continue;
    if (g.json()) {
      std::printf(
          "%s{\"id\":%s,\"location\":%s,\"kind\":%s,\"instance\":%s,"
          "\"finished_at\":%s,\"bytes\":%llu,\"files\":%d,\"gen_low\":%u,"
          "\"gen_high\":%u,\"base_full\":%s}",
          first ? "" : ",", JsonString(s.id).c_str(),
          JsonString(s.location).c_str(), JsonString(m.kind()).c_str(),
          JsonString(m.instance()).c_str(), JsonString(m.finished_at()).c_str(),
          static_cast<unsigned long long>(s.bytes), m.files_size(), m.gen_low(),
          m.gen_high(), JsonString(base).c_str());
    } else {
      if (first) {
        std::printf("%-50s %-11s %-12s %-20s %10s  %-9s %s\n", "SET", "KIND",
                    "INSTANCE", "FINISHED", "BYTES", "LOGS", "CHAIN FROM");
      }
      const std::string logs = absl::StrCat(m.gen_low(), "-", m.gen_high());
      std::printf("%-50s %-11s %-12s %-20s %10llu  %-9s %s\n", s.id.c_str(),
                  m.kind().c_str(), m.instance().c_str(),
                  m.finished_at().c_str(),
                  static_cast<unsigned long long>(s.bytes), logs.c_str(),
                  base.empty() ? "-" : base.c_str());
    }
    first = false;
  }
  if (g.json()) std::printf("]\n");
  return kExitOk;
}

int RunSetsDelete(const GlobalOptions& g, const SetsArgs& args) {
  auto repo = OpenRepoFrom(args.repo);
  if (!repo.ok()) return ReportError("sets delete", repo.status());
  absl::Status status = (*repo)->DeleteSet(args.id);
  if (!status.ok()) return ReportError("sets delete", status);
  if (g.json()) {
    std::printf("{\"ok\":true,\"deleted\":%s}\n", JsonString(args.id).c_str());
  } else {
    std::printf("deleted set %s\n", args.id.c_str());
  }
  return kExitOk;
}

int RunSetsUploads(const GlobalOptions& g, const SetsArgs& args) {
  auto repo = OpenRepoFrom(args.repo);
  if (!repo.ok()) return ReportError("sets uploads", repo.status());
  auto uploads = (*repo)->IncompleteUploads();
  if (!uploads.ok()) return ReportError("sets uploads", uploads.status());
  int code = kExitOk;
  if (g.json()) std::printf("[");
  for (size_t i = 0; i < uploads->size(); ++i) {
    const S3Upload& u = (*uploads)[i];
    bool aborted = false;
    if (args.abort) {
      absl::Status status = (*repo)->AbortUpload(u);
      aborted = status.ok();
      if (!status.ok())
        code = ReportError(absl::StrCat("abort ", u.key), status);
    }
    if (g.json()) {
      std::printf(
          "%s{\"key\":%s,\"upload_id\":%s,\"initiated\":%s,"
          "\"aborted\":%s}",
          i == 0 ? "" : ",", JsonString(u.key).c_str(),
          JsonString(u.upload_id).c_str(), JsonString(u.initiated).c_str(),
          aborted ? "true" : "false");
    } else {
      std::printf("%s%s  %s  %s\n", aborted ? "aborted " : "", u.key.c_str(),
                  u.initiated.c_str(), u.upload_id.c_str());
    }
  }
  if (g.json()) std::printf("]\n");
  return code;
}

}  // namespace

void AddSetsCommands(CLI::App& app, const GlobalOptions& g, RunFn* run) {
  CLI::App* sets =
      app.add_subcommand("sets", "List or delete the sets in a repository");
  sets->require_subcommand(1);
  auto args = std::make_shared<SetsArgs>();

  CLI::App* list = sets->add_subcommand(
      "list", "Complete sets (those with a manifest), oldest first per host");
  list->add_option("--repo", args->repo.url,
                   "Repository: DIR, file:///DIR or s3://BUCKET/PREFIX")
      ->required();
  list->add_option("--host", args->host, "Only this host's sets");
  list->add_option("--instance", args->instance, "Only this instance's sets");
  AddRepoFlags(list, &args->repo, false);
  list->callback(
      [&g, args, run] { *run = [&g, args] { return RunSetsList(g, *args); }; });

  CLI::App* del = sets->add_subcommand("delete", "Delete one set");
  del->add_option("--repo", args->repo.url,
                  "Repository: DIR, file:///DIR or s3://BUCKET/PREFIX")
      ->required();
  del->add_option("SET", args->id, "HOST/INSTANCE/SETNAME")->required();
  AddRepoFlags(del, &args->repo, false);
  del->callback([&g, args, run] {
    *run = [&g, args] { return RunSetsDelete(g, *args); };
  });

  CLI::App* uploads = sets->add_subcommand(
      "uploads", "Incomplete multipart uploads under the repository (S3)");
  uploads
      ->add_option("--repo", args->repo.url,
                   "Repository: s3://BUCKET/PREFIX (a directory has none)")
      ->required();
  uploads->add_flag("--abort", args->abort, "Abort each one listed");
  AddRepoFlags(uploads, &args->repo, false);
  uploads->callback([&g, args, run] {
    *run = [&g, args] { return RunSetsUploads(g, *args); };
  });
}

}  // namespace jetback::cli
