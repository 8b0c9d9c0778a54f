// `jetback backup`: arguments, Ctrl-C and printing around BackupRun
// (cli/backup_run.h), which streams a full or incremental backup into the
// --out directory (cli/backup_set.h) or a new set of a --repo repository
// (cli/repository.h). Any failure, stop or Ctrl-C ends the backup with
// End(abort) and removes what was written, so nothing that looks complete
// is left behind.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cli/commands.h"
#include "client/cli/output.h"
#include "client/cli/progress.h"
#include "client/repo/backup_run.h"
#include "client/repo/backup_set.h"
#include "client/repo/repository.h"
#include "client/repo/set_codec.h"
#include "jetback/esent.h"

namespace jetback::cli {
namespace {

using repo::BackupOptions;
using repo::BackupRun;
using repo::Manifest;
using repo::Repository;
using repo::SetWriter;

std::atomic<bool> g_interrupted{false};

void OnSigint(int) { g_interrupted.store(true); }

// SIGINT only sets the flag (SA_RESETHAND: a second Ctrl-C kills at once).
void InstallInterruptHandler() {
  struct sigaction sa = {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct BackupArgs {
  std::string instance;
  std::string out;
  RepoFlags repo;    // --repo: a new set HOST/INSTANCE/SETNAME in it
  std::string host;  // HOST of the set id; default: this machine's name
  bool incremental = false;
  bool truncate_logs = false;
  uint64_t max_rate = 0;  // bytes per second the daemon paces at; 0: none
  bool sha256 = false;    // also record SHA-256 in the manifest
  std::string wire_compress = "none";  // --wire-compress
};

std::string HostName() {
  char name[256] = "";
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name;
}

int RunBackup(const GlobalOptions& g, const BackupArgs& args) {
  if (args.out.empty() == args.repo.url.empty()) {
    std::fprintf(stderr,
                 "jetback: backup: give either --out DIR or --repo URL\n");
    return kExitUsage;
  }
  std::unique_ptr<SetWriter> set;
  std::unique_ptr<Repository> repo;
  std::string set_id;
  if (!args.out.empty()) {
    bool created = false;
    absl::Status prepared = repo::PrepareOutputDir(args.out, &created);
    if (!prepared.ok()) {
      const int code = ReportError("backup", prepared);
      return code == kExitJetError ? kExitUsage : code;
    }
    set = repo::LocalSetWriter(args.out, created);
  } else {
    auto opened = OpenRepoFrom(args.repo);
    if (!opened.ok()) {
      const int code = ReportError("backup", opened.status());
      return code == kExitJetError ? kExitUsage : code;
    }
    repo = *std::move(opened);
    set_id = absl::StrCat(
        args.host.empty() ? HostName() : args.host, "/", args.instance, "/",
        repo::NewSetName(args.incremental ? "incremental" : "full"));
  }
  repo::EncodeOptions encode;
  {
    // Compression is on by default in repositories; `--out DIR` keeps the
    // plain layout the engine reads as is unless asked otherwise.
    auto compress =
        repo::ParseCompress(!args.repo.compress.empty() ? args.repo.compress
                            : args.out.empty()          ? repo::kCodecZstd
                                                        : repo::kCodecNone);
    auto key = compress.ok()
                   ? repo::RepoKey::FromFileOrEnv(args.repo.key_file)
                   : absl::StatusOr<std::shared_ptr<const repo::RepoKey>>(
                         compress.status());
    if (!key.ok()) {
      if (set != nullptr) set->Abandon();
      const int code = ReportError("backup", key.status());
      return code == kExitJetError ? kExitUsage : code;
    }
    encode.compress = *compress;
    encode.key = *std::move(key);
  }
  auto client = ConnectFrom(g);
  if (!client.ok()) {
    if (set != nullptr) set->Abandon();
    return ReportError("backup", client.status());
  }
  InstallInterruptHandler();
  ProgressLine progress(!g.json() && isatty(STDERR_FILENO), stderr);
  BackupOptions options;
  options.instance = args.instance;
  options.incremental = args.incremental;
  options.truncate_logs = args.truncate_logs;
  options.sha256 = args.sha256;
  options.max_rate = args.max_rate;
  options.encode = std::move(encode);
  if (args.wire_compress == "zstd") options.wire_codec = WireCodec::kZstd;
  options.agent = absl::StrCat("jetback-cli pid ", getpid());
  options.interrupted = &g_interrupted;
  options.progress = [&progress](const std::string& file, uint64_t done,
                                 uint64_t total, uint64_t overall) {
    progress.Update(file, done, total, overall);
  };
  BackupRun run(client->get(), std::move(options), std::move(set), repo.get(),
                set_id);
  absl::Status status = run.Run();
  progress.Clear();
  const std::string where = run.location();
  if (!status.ok()) {
    if (g_interrupted.load()) {
      std::fprintf(stderr,
                   "jetback: backup: interrupted; the backup was ended with "
                   "EndBackup(abort) and nothing was kept in %s\n",
                   where.c_str());
      return kExitInterrupted;
    }
    if (JetErrOf(status) == jet::JET_errBackupAbortByServer) {
      // One line: which backup, who stopped it and why.
      std::fprintf(stderr,
                   "jetback: %s (JET_errBackupAbortByServer -801); "
                   "nothing was kept in %s\n",
                   std::string(status.message()).c_str(), where.c_str());
      return ExitCodeFor(status);
    }
    return ReportError(absl::StrCat("backup of instance ", args.instance,
                                    " failed; nothing was kept in ", where),
                       status);
  }
  const Manifest& m = run.manifest();
  const double seconds = absl::ToDoubleSeconds(run.elapsed());
  const double rate = seconds > 0 ? run.total_bytes() / seconds : 0;
  if (g.json()) {
    std::printf(
        "{\"ok\":true,\"instance\":%s,\"kind\":%s,\"dir\":%s,\"set\":%s,"
        "\"backup_id\":%s,"
        "\"files\":%d,\"bytes\":%llu,\"seconds\":%.3f,\"gen_low\":%u,"
        "\"gen_high\":%u,\"truncated_logs\":%s,\"wire_bytes\":%llu}\n",
        JsonString(m.instance()).c_str(), JsonString(m.kind()).c_str(),
        JsonString(where).c_str(), JsonString(set_id).c_str(),
        JsonString(m.backup_id()).c_str(), m.files_size(),
        static_cast<unsigned long long>(run.total_bytes()), seconds,
        m.gen_low(), m.gen_high(), m.truncated_logs() ? "true" : "false",
        static_cast<unsigned long long>(run.wire_bytes()));
  } else {
    std::printf(
        "backup %s of instance %s saved at %s: %d files, %s in %s (%s/s), "
        "logs %u-%u%s\n",
        m.kind().c_str(), m.instance().c_str(), where.c_str(), m.files_size(),
        HumanBytes(run.total_bytes()).c_str(),
        absl::StrFormat("%.1fs", seconds).c_str(),
        HumanBytes(static_cast<uint64_t>(rate)).c_str(), m.gen_low(),
        m.gen_high(), m.truncated_logs() ? ", logs truncated" : "");
  }
  return kExitOk;
}

}  // namespace

void AddBackupCommands(CLI::App& app, const GlobalOptions& g, RunFn* run) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* cmd = app.add_subcommand(
      "backup",
      "Stream a backup of an instance into a new backup set directory");
  cmd->add_option("--instance", args->instance, "Instance name")->required();
  cmd->add_option("--out", args->out,
                  "Output directory (created; must be empty if it exists)");
  cmd->add_option("--repo", args->repo.url,
                  "Repository for a new set HOST/INSTANCE/SETNAME: DIR, "
                  "file:///DIR or s3://BUCKET/PREFIX (instead of --out)");
  cmd->add_option("--host", args->host,
                  "HOST part of the set id (default: this machine's name)");
  AddRepoFlags(cmd, &args->repo, true);
  cmd->add_flag("--incremental", args->incremental,
                "Logs-only backup since the last truncating backup");
  cmd->add_flag("--truncate-logs", args->truncate_logs,
                "Delete the logs the backup made unnecessary (TruncateLog)");
  cmd->add_option("--max-rate", args->max_rate,
                  "Have jetbackd pace the backup at this many bytes per "
                  "second (the instance's max_backup_rate caps it)");
  cmd->add_option("--wire-compress", args->wire_compress,
                  "Have jetbackd compress the data it sends (zstd; chunks "
                  "that do not shrink go as they are). Worth it across a "
                  "slow link, not on a Unix socket. Default: none")
      ->check(CLI::IsMember({"none", "zstd"}));
  cmd->add_flag("--sha256", args->sha256,
                "Also record each file's SHA-256 in the manifest (XXH3-128 "
                "is always recorded; SHA-256 costs about 0.55 ms CPU per MiB)");
  cmd->callback(
      [&g, args, run] { *run = [&g, args] { return RunBackup(g, *args); }; });
}

}  // namespace jetback::cli
