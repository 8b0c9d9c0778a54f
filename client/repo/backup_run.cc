// The backup sequence: Begin -> GetAttachInfo -> per database
// Open/ReadFile/Close -> GetLogInfo -> per log Open/ReadFile/Close ->
// [TruncateLog] -> End(normal) -> manifest, into a SetWriter. Any failure
// or interruption ends the backup with End(abort) and abandons the set, so
// nothing that looks complete is left behind.

#include "client/repo/backup_run.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/repo/backup_set.h"
#include "client/repo/restore_chain.h"
#include "jetback/esent.h"
#include "jetback/status.h"

namespace jetback::repo {

absl::Status InterruptedStatus() {
  return JetStatus(jet::JET_errBackupAbortByCaller, "interrupted (Ctrl-C)");
}

BackupRun::BackupRun(Client* client, BackupOptions options,
                     std::unique_ptr<SetWriter> set, Repository* repo,
                     std::string set_id)
    : options_(std::move(options)),
      client_(client),
      set_(std::move(set)),
      repo_(repo),
      set_id_(std::move(set_id)) {}

absl::Status BackupRun::Run() {
  start_ = absl::Now();
  manifest_.set_format_version(kManifestFormatVersion);
  manifest_.set_instance(options_.instance);
  manifest_.set_kind(options_.incremental ? "incremental" : "full");
  manifest_.set_server(client_->server());
  manifest_.set_started_at(NowRfc3339());

  absl::Status status = Stream();
  if (status.ok()) return status;
  if (!ref_.backup_id.empty()) {
    // Ends the backup on the daemon whatever happened (even after -801).
    client_->EndBackup(ref_, JET_bitBackupEndAbort).IgnoreError();
  }
  if (set_ != nullptr) set_->Abandon();
  return status;
}

std::string BackupRun::location() const {
  return set_ != nullptr ? set_->location() : set_id_;
}

absl::Status BackupRun::Stream() {
  JB_ASSIGN_OR_RETURN(
      v1::BeginBackupResponse begun,
      client_->BeginBackup(options_.instance,
                           options_.incremental ? JET_bitBackupIncremental : 0,
                           options_.agent));
  ref_ = {options_.instance, begun.backup_id()};
  manifest_.set_backup_id(begun.backup_id());
  manifest_.set_page_size(begun.page_size());
  if (interrupted()) return InterruptedStatus();
  if (set_ == nullptr) {
    if (options_.incremental) {
      // The chain a restore of this set follows (repo/restore_chain.h).
      JB_ASSIGN_OR_RETURN(
          std::string base,
          LatestSetOf(repo_, set_id_.substr(0, set_id_.rfind('/') + 1)));
      manifest_.set_base_set(base);
    }
    JB_ASSIGN_OR_RETURN(set_, repo_->CreateSet(set_id_));
  }
  // The backup id binds each encrypted file to this set.
  set_ = EncodingSetWriter(std::move(set_), options_.encode, begun.backup_id());

  if (!options_.incremental) {
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
  if (options_.truncate_logs) {
    JB_RETURN_IF_ERROR(client_->TruncateLog(ref_).status());
    manifest_.set_truncated_logs(true);
  }
  if (interrupted()) return InterruptedStatus();
  JB_ASSIGN_OR_RETURN(end_, client_->EndBackup(ref_, JET_bitBackupEndNormal));
  if (end_.outcome() != v1::BACKUP_OUTCOME_SUCCEEDED) {
    const JetErr err = end_.abort_jet_err() != 0
                           ? end_.abort_jet_err()
                           : jet::JET_errBackupAbortByServer;
    const std::string id = std::exchange(ref_.backup_id, "");  // ended
    if (err == jet::JET_errBackupAbortByServer) {
      return BackupStoppedStatus(id, end_.reason(), end_.initiator());
    }
    return JetStatusWithReason(err, "the daemon recorded the backup as aborted",
                               end_.reason(), end_.initiator());
  }
  ref_.backup_id.clear();
  manifest_.set_finished_at(NowRfc3339());
  // Every file durable, then last the manifest: it makes the set.
  return set_->Finish(manifest_);
}

absl::Status BackupRun::CopyFile(const std::string& source,
                                 const std::string& kind) {
  if (interrupted()) return InterruptedStatus();
  const std::string name = FileNameOf(source);
  if (name.empty() || name == kManifestName || !names_.insert(name).second) {
    return JetStatus(jet::JET_errInvalidPath,
                     absl::StrCat("cannot store '", source,
                                  "' in the set: duplicate or reserved name"));
  }
  JB_ASSIGN_OR_RETURN(v1::OpenFileResponse opened,
                      client_->OpenFile(ref_, source));
  const uint32_t handle = opened.handle();
  auto writer = set_->CreateFile(name, options_.sha256);
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
        if (options_.progress) {
          options_.progress(name, done, opened.size(), total_bytes_);
        }
        return absl::OkStatus();
      },
      options_.interrupted,
      ReadFileOptions{.max_bytes_per_second = options_.max_rate,
                      .wire_codec = options_.wire_codec});
  if (read.ok()) wire_bytes_ += read->wire_bytes;
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
  (*writer)->AddStorageTo(file);
  return absl::OkStatus();
}

}  // namespace jetback::repo
