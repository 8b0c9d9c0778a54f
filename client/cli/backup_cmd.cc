// `jetback backup`: streams a full or incremental backup into a backup set
// (cli/backup_set.h). Flow: Begin -> GetAttachInfo -> per database
// Open/ReadFile/Close -> GetLogInfo -> per log Open/ReadFile/Close ->
// [TruncateLog] -> End(normal) -> manifest. Any failure or Ctrl-C ends the
// backup with End(abort) and removes what was written, so nothing that looks
// complete is left behind.

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
#include "client/cli/backup_set.h"
#include "client/cli/commands.h"
#include "client/cli/output.h"
#include "client/cli/progress.h"
#include "client/cli/repository.h"
#include "jetback/esent.h"

namespace jetback::cli {
namespace {

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
};

absl::Status Interrupted() {
  return JetStatus(jet::JET_errBackupAbortByCaller, "interrupted (Ctrl-C)");
}

class BackupRun {
 public:
  // Writes into `set` when given (the --out directory), else into a new set
  // `set_id` of `repo`, created once the daemon has begun the backup.
  BackupRun(const GlobalOptions& g, const BackupArgs& args, Client* client,
            std::unique_ptr<SetWriter> set, Repository* repo,
            std::string set_id)
      : g_(g),
        args_(args),
        client_(client),
        progress_(!g.json() && isatty(STDERR_FILENO), stderr),
        set_(std::move(set)),
        repo_(repo),
        set_id_(std::move(set_id)) {}

  // Runs the whole backup; on failure everything written is removed.
  absl::Status Run() {
    start_ = absl::Now();
    manifest_.set_format_version(1);
    manifest_.set_instance(args_.instance);
    manifest_.set_kind(args_.incremental ? "incremental" : "full");
    manifest_.set_server(client_->server());
    manifest_.set_started_at(NowRfc3339());

    absl::Status status = Stream();
    progress_.Clear();
    if (status.ok()) return status;
    if (!ref_.backup_id.empty()) {
      // Ends the backup on the daemon whatever happened (even after -801).
      client_->EndBackup(ref_, JET_bitBackupEndAbort).IgnoreError();
    }
    if (set_ != nullptr) set_->Abandon();
    return status;
  }

  // Where the set is (or would have been) written.
  std::string location() const {
    return set_ != nullptr ? set_->location() : set_id_;
  }

  const Manifest& manifest() const { return manifest_; }
  uint64_t total_bytes() const { return total_bytes_; }
  absl::Duration elapsed() const { return absl::Now() - start_; }
  const v1::EndBackupResponse& end() const { return end_; }

 private:
  absl::Status Stream() {
    JB_ASSIGN_OR_RETURN(
        v1::BeginBackupResponse begun,
        client_->BeginBackup(args_.instance,
                             args_.incremental ? JET_bitBackupIncremental : 0,
                             absl::StrCat("jetback-cli pid ", getpid())));
    ref_ = {args_.instance, begun.backup_id()};
    manifest_.set_backup_id(begun.backup_id());
    manifest_.set_page_size(begun.page_size());
    if (g_interrupted.load()) return Interrupted();
    if (set_ == nullptr) {
      JB_ASSIGN_OR_RETURN(set_, repo_->CreateSet(set_id_));
    }

    if (!args_.incremental) {
      JB_ASSIGN_OR_RETURN(std::vector<std::string> databases,
                          client_->GetAttachInfo(ref_));
      for (const std::string& db : databases) {
        JB_RETURN_IF_ERROR(CopyFile(db, "database"));
      }
    }
    JB_ASSIGN_OR_RETURN(v1::LogInfo logs, client_->GetLogInfo(ref_));
    manifest_.set_gen_low(logs.gen_low());
    manifest_.set_gen_high(logs.gen_high());
    manifest_.set_base_name(logs.base_name());
    for (const std::string& log : logs.files()) {
      JB_RETURN_IF_ERROR(CopyFile(log, "log"));
    }
    if (args_.truncate_logs) {
      JB_RETURN_IF_ERROR(client_->TruncateLog(ref_).status());
      manifest_.set_truncated_logs(true);
    }
    if (g_interrupted.load()) return Interrupted();
    JB_ASSIGN_OR_RETURN(end_, client_->EndBackup(ref_, JET_bitBackupEndNormal));
    if (end_.outcome() != v1::BACKUP_OUTCOME_SUCCEEDED) {
      const JetErr err = end_.abort_jet_err() != 0
                             ? end_.abort_jet_err()
                             : jet::JET_errBackupAbortByServer;
      const std::string id = std::exchange(ref_.backup_id, "");  // ended
      if (err == jet::JET_errBackupAbortByServer) {
        return BackupStoppedStatus(id, end_.reason(), end_.initiator());
      }
      return JetStatusWithReason(err,
                                 "the daemon recorded the backup as aborted",
                                 end_.reason(), end_.initiator());
    }
    ref_.backup_id.clear();
    manifest_.set_finished_at(NowRfc3339());
    // Every file durable, then last the manifest: it makes the set.
    return set_->Finish(manifest_);
  }

  absl::Status CopyFile(const std::string& source, const std::string& kind) {
    if (g_interrupted.load()) return Interrupted();
    const std::string name = FileNameOf(source);
    if (name.empty() || name == kManifestName || !names_.insert(name).second) {
      return JetStatus(
          jet::JET_errInvalidPath,
          absl::StrCat("cannot store '", source,
                       "' in the set: duplicate or reserved name"));
    }
    JB_ASSIGN_OR_RETURN(v1::OpenFileResponse opened,
                        client_->OpenFile(ref_, source));
    const uint32_t handle = opened.handle();
    auto writer = set_->CreateFile(name, args_.sha256);
    if (!writer.ok()) {
      client_->CloseFile(ref_, handle).IgnoreError();
      return writer.status();
    }
    uint64_t done = 0;
    auto read = client_->ReadFile(
        ref_, handle, 0, 0,
        [&](uint64_t, absl::string_view data) -> absl::Status {
          JB_RETURN_IF_ERROR((*writer)->Append(data));
          done += data.size();
          total_bytes_ += data.size();
          progress_.Update(name, done, opened.size(), total_bytes_);
          return absl::OkStatus();
        },
        &g_interrupted,
        ReadFileOptions{.max_bytes_per_second = args_.max_rate});
    if (!read.ok()) {
      client_->CloseFile(ref_, handle).IgnoreError();
      return read.status();
    }
    if (!read->reached_end || read->bytes != opened.size()) {
      client_->CloseFile(ref_, handle).IgnoreError();
      return JetStatus(jet::JET_errDiskIO,
                       absl::StrCat(source, ": got ", read->bytes, " of ",
                                    opened.size(), " bytes"));
    }
    JB_ASSIGN_OR_RETURN(v1::CloseFileResponse closed,
                        client_->CloseFile(ref_, handle));
    if (!closed.complete()) {
      return JetStatus(jet::JET_errInvalidBackupSequence,
                       absl::StrCat(source, " was not counted as copied"));
    }
    // The digest check proves the bytes on their way to the set are the
    // ones the daemon read, not just the ones that crossed the wire.
    JB_RETURN_IF_ERROR((*writer)->Commit(read->xxh3_128));
    ManifestFile* file = manifest_.add_files();
    file->set_name(name);
    file->set_kind(kind);
    file->set_size((*writer)->size());
    file->set_xxh3_128((*writer)->xxh3_128_hex());
    file->set_sha256((*writer)->sha256_hex());
    file->set_source(source);
    return absl::OkStatus();
  }

  const GlobalOptions& g_;
  const BackupArgs& args_;
  Client* client_;
  ProgressLine progress_;
  BackupRef ref_;
  Manifest manifest_;
  v1::EndBackupResponse end_;
  std::set<std::string> names_;
  uint64_t total_bytes_ = 0;
  absl::Time start_;
  std::unique_ptr<SetWriter> set_;
  Repository* repo_;
  const std::string set_id_;
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
    absl::Status prepared = PrepareOutputDir(args.out, &created);
    if (!prepared.ok()) {
      const int code = ReportError("backup", prepared);
      return code == kExitJetError ? kExitUsage : code;
    }
    set = LocalSetWriter(args.out, created);
  } else {
    auto opened = OpenRepoFrom(args.repo);
    if (!opened.ok()) {
      const int code = ReportError("backup", opened.status());
      return code == kExitJetError ? kExitUsage : code;
    }
    repo = *std::move(opened);
    set_id = absl::StrCat(
        args.host.empty() ? HostName() : args.host, "/", args.instance, "/",
        NewSetName(args.incremental ? "incremental" : "full"));
  }
  auto client = ConnectFrom(g);
  if (!client.ok()) {
    if (set != nullptr) set->Abandon();
    return ReportError("backup", client.status());
  }
  InstallInterruptHandler();
  BackupRun run(g, args, client->get(), std::move(set), repo.get(), set_id);
  absl::Status status = run.Run();
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
        "\"gen_high\":%u,\"truncated_logs\":%s}\n",
        JsonString(m.instance()).c_str(), JsonString(m.kind()).c_str(),
        JsonString(where).c_str(), JsonString(set_id).c_str(),
        JsonString(m.backup_id()).c_str(), m.files_size(),
        static_cast<unsigned long long>(run.total_bytes()), seconds,
        m.gen_low(), m.gen_high(), m.truncated_logs() ? "true" : "false");
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
  cmd->add_flag("--sha256", args->sha256,
                "Also record each file's SHA-256 in the manifest (XXH3-128 "
                "is always recorded; SHA-256 costs about 0.55 ms CPU per MiB)");
  cmd->callback(
      [&g, args, run] { *run = [&g, args] { return RunBackup(g, *args); }; });
}

}  // namespace jetback::cli
