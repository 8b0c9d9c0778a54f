// File: client/repo/backup_run.h
//
// One backup of an instance into a set: the sequence of the ESE streaming
// backup API over a Client, each file streamed into a SetFile and committed
// against the daemon's XXH3-128, the manifest written last. `jetback backup`
// is argument parsing and printing around it.
//
// Errors: the daemon's JET_ERR statuses (-801 with reason and initiator
// when stopped), the set's (repo/repository.h), -800 when interrupted. On
// any error the backup is ended with EndBackup(abort) and the set abandoned.
// Thread-safety: one thread; `interrupted` may be set from anywhere.

#ifndef JETBACK_CLIENT_REPO_BACKUP_RUN_H_
#define JETBACK_CLIENT_REPO_BACKUP_RUN_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/repo/repository.h"
#include "client/repo/set_codec.h"
#include "jetback/client.h"
#include "repo/manifest.pb.h"

namespace jetback::repo {

struct BackupOptions {
  std::string instance;
  bool incremental = false;
  bool truncate_logs = false;  // TruncateLog before EndBackup
  bool sha256 = false;         // also record SHA-256 per file
  uint64_t max_rate = 0;       // bytes/s the daemon paces at; 0: none
  WireCodec wire_codec = WireCodec::kNone;  // --wire-compress
  std::string agent;           // BeginBackup's agent name
  // How the set's files are stored: compression, encryption (set_codec.h).
  EncodeOptions encode;
  // Checked between files and by ReadFile; when set the run ends with -800.
  const std::atomic<bool>* interrupted = nullptr;
  // After each chunk: file name, its bytes done, its size, all bytes so far.
  std::function<void(const std::string&, uint64_t, uint64_t, uint64_t)>
      progress;
};

// The -800 status of an interrupted run.
absl::Status InterruptedStatus();

class BackupRun {
 public:
  // Writes into `set` when given (e.g. an --out directory), else into a new
  // set `set_id` of `repo`, created once the daemon has begun the backup.
  BackupRun(Client* client, BackupOptions options,
            std::unique_ptr<SetWriter> set, Repository* repo,
            std::string set_id);

  // Runs the whole backup; on failure everything written is removed.
  absl::Status Run();

  // Where the set is (or would have been) written.
  std::string location() const;
  const Manifest& manifest() const { return manifest_; }
  uint64_t total_bytes() const { return total_bytes_; }
  // Data bytes received, as sent (compressed, with --wire-compress).
  uint64_t wire_bytes() const { return wire_bytes_; }
  absl::Duration elapsed() const { return absl::Now() - start_; }
  const v1::EndBackupResponse& end() const { return end_; }

 private:
  absl::Status Stream();
  absl::Status CopyFile(const std::string& source, const std::string& kind);
  bool interrupted() const {
    return options_.interrupted != nullptr && options_.interrupted->load();
  }

  const BackupOptions options_;
  Client* const client_;
  BackupRef ref_;
  Manifest manifest_;
  v1::EndBackupResponse end_;
  std::set<std::string> names_;
  uint64_t total_bytes_ = 0;
  uint64_t wire_bytes_ = 0;
  absl::Time start_;
  std::unique_ptr<SetWriter> set_;
  Repository* const repo_;
  const std::string set_id_;
};

}  // namespace jetback::repo

#endif  // JETBACK_CLIENT_REPO_BACKUP_RUN_H_
