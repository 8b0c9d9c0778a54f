// File: engine/instance_impl.h
//
// The Instance implementation: lifecycle (instance.cc), crash recovery
// (crash_recovery.cc), the group-commit pipeline and background flusher /
// checkpointer (commit.cc), and the BackupSource the streaming backup
// reads through.
//
// Group commit: committers queue; the front one becomes leader, takes
// every queued request, applies each under its database's exclusive tree
// lock, writes all page images and commit records as one log group, syncs
// once, then marks the pages dirty and releases the locks.

#ifndef JETBACK_ENGINE_INSTANCE_IMPL_H_
#define JETBACK_ENGINE_INSTANCE_IMPL_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "engine/backup_source.h"
#include "engine/database_impl.h"
#include "engine/log.h"
#include "jetback/background_pool.h"
#include "jetback/backup.h"
#include "jetback/instance.h"
#include "jetback/mutex.h"

namespace jetback {

class InstanceImpl : public Instance, public CommitPipeline {
 public:
  explicit InstanceImpl(InstanceOptions options);
  ~InstanceImpl() override;

  // Instance.
  absl::Status Init() override;
  absl::Status Term(TermMode mode) override;
  void TermDirty() override;
  absl::StatusOr<Database*> CreateDatabase(const std::string& path) override;
  absl::StatusOr<Database*> AttachDatabase(const std::string& path) override;
  absl::Status DetachDatabase(const std::string& path) override;
  std::vector<Database*> Databases() override;
  Database* FindDatabase(absl::string_view path_or_name) override;
  uint32_t CurrentGeneration() override;
  uint32_t CheckpointGeneration() override;
  uint64_t CommittedTransactions() override { return committed_.load(); }
  absl::StatusOr<uint32_t> RollLog() override;
  BackupEngine& backup() override { return *backup_; }
  absl::Status StopService(uint32_t grbit) override;
  bool initialized() const override { return initialized_.load(); }
  absl::Status Probe() override;

  // What the BackupSource view (instance.cc) forwards to.
  Env* env() { return env_; }
  bool backup_allowed();
  bool terminating() { return terminating_.load(); }
  bool service_stopped() { return service_stopped_.load(); }
  bool log_writable();
  std::vector<BackupDatabase*> BackupDatabases();
  LogPosition LogTip();
  absl::StatusOr<uint32_t> ReadCheckpointGeneration();
  void PinLogs(uint32_t gen) { pinned_gen_.store(gen); }
  void UnpinLogs() { pinned_gen_.store(0); }
  absl::StatusOr<std::vector<uint32_t>> ListArchiveGenerations();
  std::string ArchiveLogPath(uint32_t gen);
  absl::Status DeleteArchiveLog(uint32_t gen);

  // CommitPipeline.
  absl::Status CommitTo(DbFile* db, const std::function<absl::Status()>& apply,
                        uint32_t* generation) override;
  absl::Status CheckUsable() override;
  size_t cache_pages() const override { return options_.cache_pages; }
  uint32_t current_generation() override { return CurrentGeneration(); }

 private:
  struct Request {
    DbFile* db = nullptr;  // nullptr: a log roll
    const std::function<absl::Status()>* apply = nullptr;
    absl::Status status;
    uint32_t generation = 0;
    bool done = false;
  };
  // BackupSource::Databases and Instance::Databases differ in return type
  // only, so the BackupSource is a small forwarding view.
  class SourceView;

  // Crash recovery (crash_recovery.cc): brings the databases the checkpoint
  // names up to the end of the log, or starts a new log set when there is
  // none. Errors: -501 damaged log, -528, -530, -533, -1206, -1022.
  absl::Status RecoverFromCrash() ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_);
  absl::Status StartFresh();
  // Exclusive locks on the instance's directories (a lock file
  // <dir>/<base>.lock naming this process) and on each database file, held
  // while the instance is up. Errors: -1032 naming the holder.
  absl::Status LockDirectories() ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_);
  absl::Status LockDatabase(const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_);
  // A database path as the checkpoint records it (relative to data_dir),
  // and back. Errors: -1023 outside data_dir.
  absl::StatusOr<std::string> RecordedPath(const std::string& path) const;
  absl::StatusOr<std::string> ResolveRecordedPath(
      const std::string& recorded) const;
  absl::Status CheckCanAttach(const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_);
  absl::StatusOr<DatabaseImpl*> AddDatabase(std::unique_ptr<DbFile> file,
                                            bool recovered);
  absl::Status Submit(Request* request);
  void LeadBatch(std::vector<Request*>& batch);
  void FlushRound();
  void KickFlusher();
  // Flushes every database and writes a checkpoint at the oldest position
  // still needed; removes old generations with circular logging.
  absl::Status Checkpoint();
  absl::Status WriteCheckpointFile(uint64_t redo_lsn);
  void StopFlusher();
  void Shutdown(bool clean) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_);
  LogOptions log_options() const;
  DatabaseImpl* FindLocked(absl::string_view path_or_name)
      ABSL_SHARED_LOCKS_REQUIRED(dbs_mu_);

  Env* env_;
  BackgroundPool* pool_;
  std::unique_ptr<SourceView> source_;
  std::unique_ptr<BackupEngine> backup_;
  std::atomic<bool> initialized_{false};
  std::atomic<bool> terminating_{false};
  std::atomic<bool> backup_refused_{false};  // a Term(kComplete) was refused
  std::atomic<bool> service_stopped_{false};
  std::atomic<bool> stopped_all_{false};
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint32_t> pinned_gen_{0};
  std::atomic<uint32_t> checkpoint_gen_{0};
  uint64_t log_signature_ = 0;
  std::unique_ptr<LogWriter> log_;
  std::atomic<uint64_t> next_txn_{1};
  // Commit time of the last batch, so times in the log never go backwards
  // when the wall clock does (point-in-time restore stops at the first
  // later one). Only the commit leader touches it.
  int64_t last_commit_time_us_ = 0;

  jetback::Mutex lifecycle_mu_;  // Init / Term / attach / detach
  std::vector<std::unique_ptr<FileLock>> dir_locks_
      ABSL_GUARDED_BY(lifecycle_mu_);
  std::map<std::string, std::unique_ptr<FileLock>> db_locks_
      ABSL_GUARDED_BY(lifecycle_mu_);

  jetback::Mutex dbs_mu_;
  std::vector<std::unique_ptr<DatabaseImpl>> dbs_ ABSL_GUARDED_BY(dbs_mu_);

  jetback::Mutex queue_mu_;
  std::deque<Request*> queue_ ABSL_GUARDED_BY(queue_mu_);

  jetback::Mutex ckpt_mu_;  // one checkpoint writer at a time
  bool batch_in_flight_ ABSL_GUARDED_BY(ckpt_mu_) = false;
  uint64_t batch_start_ ABSL_GUARDED_BY(ckpt_mu_) = 0;
  uint64_t last_redo_lsn_ = 0;  // guarded by ckpt_file_mu_
  jetback::Mutex ckpt_file_mu_ ABSL_ACQUIRED_AFTER(ckpt_mu_);

  // The periodic flush + checkpoint, run by the shared pool_ (an idle
  // instance owns no thread). Set by Init, cleared by StopFlusher; a kick
  // reads it under the shared lock so Remove never frees it under a Kick.
  jetback::Mutex flush_mu_;
  BackgroundPool::Task* flush_task_ ABSL_GUARDED_BY(flush_mu_) = nullptr;
};

}  // namespace jetback

#endif  // JETBACK_ENGINE_INSTANCE_IMPL_H_
