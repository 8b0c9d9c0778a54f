// File: jetback/instance.h
//
// Storage instances: a write-ahead log in numbered generations, a checkpoint
// and up to six attached page-file databases of named, ordered key/value
// tables with transactions. Modelled on ESE (shared/DESIGN.md "Engine").
//
// Lifecycle: InstanceRegistry::Create -> Instance::Init (runs crash recovery)
// -> use -> Instance::Term. Every method returns JET_ERR-carrying statuses
// (jetback/status.h). Thread-safety: Instance, Database and the registry are
// safe for concurrent use; a Transaction belongs to one thread at a time.

#ifndef JETBACK_INSTANCE_H_
#define JETBACK_INSTANCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "jetback/env.h"

namespace jetback {

class BackgroundPool;
class BackupEngine;
class Database;
class Transaction;

struct InstanceOptions {
  std::string name;        // unique in the registry; non-empty
  std::string log_dir;     // log generations
  std::string system_dir;  // checkpoint file
  // Where the instance's databases live. When set, a database must lie
  // inside it (-1023 otherwise) and the checkpoint records its path relative
  // to it, so a copied or moved state directory opens only its own files.
  // Empty: any path, recorded as given.
  std::string data_dir;
  std::string base_name = "E00";     // exactly 3 characters
  uint32_t page_size = 8192;         // 4096, 8192, 16384 or 32768
  uint64_t log_file_size = 1 << 20;  // >= 64 KiB, a multiple of 4 KiB
  bool circular_logging = false;
  bool logging_enabled = true;  // false: Begin backup -> -516
  size_t cache_pages = 4096;    // buffer cache bound, in pages
  // How long the background flusher sleeps between rounds.
  absl::Duration flush_interval = absl::Milliseconds(200);
  // Runs the flusher; must outlive the instance. nullptr:
  // BackgroundPool::Default().
  BackgroundPool* background_pool = nullptr;
  Env* env = nullptr;  // nullptr: Env::Default()
};

// Generation range and mark of one backup, as stored in a database header
// (ESE's BKINFO).
struct BackupInfo {
  uint32_t mark_generation = 0;  // log position of the backup's mark
  uint32_t mark_offset = 0;
  int64_t mark_time_us = 0;  // wall clock, microseconds since epoch
  uint32_t gen_low = 0;
  uint32_t gen_high = 0;
  bool empty() const { return gen_low == 0 && gen_high == 0; }
};

// What a database header records (JetGetDatabaseFileInfo(JET_DbInfoMisc)).
struct DatabaseHeaderInfo {
  std::string path;
  uint32_t page_size = 0;
  uint32_t pgno_last = 0;  // last owned data page
  uint64_t db_signature = 0;
  uint64_t log_signature = 0;
  bool clean_shutdown = false;
  uint32_t gen_min_required = 0;
  uint32_t gen_max_required = 0;
  uint32_t gen_max_committed = 0;
  BackupInfo full_prev, inc_prev, copy_prev, diff_prev;
  BackupInfo full_cur;  // set only in a streamed copy
  uint64_t dbtime = 0;  // highest page stamp issued when the header was made
};

enum class TermMode {
  kComplete,   // JetTerm2(JET_bitTermComplete): -505 while a backup runs
  kAbrupt,     // JetTerm / JET_bitTermAbrupt: ends a backup as aborted
  kStopBackup  // JET_bitTermStopBackup: same as abrupt for backups
};

class Instance {
 public:
  virtual ~Instance() = default;

  const InstanceOptions& options() const { return options_; }
  const std::string& name() const { return options_.name; }

  // JetInit: opens or creates the log and checkpoint, runs crash recovery
  // (redo from the checkpoint, cutting a torn tail), re-attaches the
  // databases the checkpoint names. Errors: -528 missing log, -530 foreign
  // log, -533/-542 checkpoint, -1030 already initialised, -1022, -1808.
  virtual absl::Status Init() = 0;

  // JetTerm2. Flushes, writes a final checkpoint and marks databases clean.
  // kComplete while a backup runs -> -505 (and the backup keeps running).
  virtual absl::Status Term(TermMode mode) = 0;

  // Simulates a crash for tests: drops the cache and closes files without
  // flushing, checkpointing or marking anything clean.
  virtual void TermDirty() = 0;

  // Creates a new database file and attaches it. Errors: -1201 exists (or
  // attached), -1805 six attached, -505 backup running, -1808, -1023 bad path.
  virtual absl::StatusOr<Database*> CreateDatabase(const std::string& path) = 0;
  // Attaches an existing file. Errors: -1811 missing, -1201, -1805, -505,
  // -1206 not a database, -550 dirty (needs recovery with its logs).
  virtual absl::StatusOr<Database*> AttachDatabase(const std::string& path) = 0;
  // Flushes and detaches. Errors: -1203 not attached, -505 backup running.
  virtual absl::Status DetachDatabase(const std::string& path) = 0;

  // Attached databases in attach order. Pointers stay valid until detach.
  virtual std::vector<Database*> Databases() = 0;
  // By full path or by file name; nullptr when not attached.
  virtual Database* FindDatabase(absl::string_view path_or_name) = 0;

  // Current log generation (the one E00.log holds) and the checkpoint's.
  virtual uint32_t CurrentGeneration() = 0;
  virtual uint32_t CheckpointGeneration() = 0;
  // Transactions committed (durable) since Init, for metrics.
  virtual uint64_t CommittedTransactions() = 0;
  // Closes the current generation and starts the next; returns the new
  // current generation once the old one is durable and renamed.
  virtual absl::StatusOr<uint32_t> RollLog() = 0;

  // The streaming-backup state machine of this instance.
  virtual BackupEngine& backup() = 0;

  // JetStopServiceInstance2 (ese-semantics.md section 2.5).
  virtual absl::Status StopService(uint32_t grbit) = 0;

  // True between a successful Init and Term.
  virtual bool initialized() const = 0;

  // A liveness probe: takes and releases every lock that attach / detach, a
  // commit (the queue and each database's tree), the checkpointer and the
  // backup engine hold while they work, and reads each database's catalog.
  // Returns only once none of them is stuck, so a caller bounds it with a
  // deadline of its own. Errors: -1029 not initialized, -1090 after a fatal
  // log error, the catalog read's error.
  virtual absl::Status Probe() = 0;

 protected:
  explicit Instance(InstanceOptions options) : options_(std::move(options)) {}
  InstanceOptions options_;
};

// Process-wide set of instances, knowing single- vs multi-instance mode
// (more than one instance created -> multi).
class InstanceRegistry {
 public:
  InstanceRegistry();
  ~InstanceRegistry();

  // JetCreateInstance. Errors: -1003 bad options or duplicate name.
  absl::StatusOr<Instance*> Create(InstanceOptions options);
  // By name. Empty name is the legacy non-Instance form: -1081 with several
  // instances, -1003 with none, else the only instance. Unknown: -1003.
  absl::StatusOr<Instance*> Lookup(absl::string_view name);
  // Terms (abrupt) if needed and forgets the instance.
  absl::Status Remove(absl::string_view name);
  std::vector<Instance*> List();
  bool multi_instance_mode();

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// One attached database file.
class Database {
 public:
  virtual ~Database() = default;
  virtual const std::string& path() const = 0;
  // The file name part of path().
  virtual std::string name() const = 0;
  virtual DatabaseHeaderInfo HeaderInfo() = 0;

  // Errors: -1002 bad name (empty, > 64 bytes, NUL), -1303 exists.
  virtual absl::Status CreateTable(absl::string_view table) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListTables() = 0;

  // Starts a transaction. Its writes are invisible to others until Commit.
  virtual std::unique_ptr<Transaction> Begin() = 0;
};

// Limits of keys and values.
inline constexpr size_t kMaxKeySize = 1024;           // -408 above
inline constexpr size_t kMaxValueSize = 1024 * 1024;  // -1026 above

class Transaction {
 public:
  virtual ~Transaction() = default;  // rolls back if not committed

  // Insert or replace. Errors: -1305 no table, -408, -1026.
  virtual absl::Status Put(absl::string_view table, absl::string_view key,
                           absl::string_view value) = 0;
  // Insert only. Errors: -1605 key exists, plus Put's.
  virtual absl::Status Insert(absl::string_view table, absl::string_view key,
                              absl::string_view value) = 0;
  // Errors: -1601 not found, -1305.
  virtual absl::Status Delete(absl::string_view table,
                              absl::string_view key) = 0;
  // Sees this transaction's own writes. Errors: -1601, -1305.
  virtual absl::StatusOr<std::string> Get(absl::string_view table,
                                          absl::string_view key) = 0;
  // Calls fn for each key in [start, end) in order (empty end: no bound)
  // until fn returns false. Sees this transaction's own writes.
  virtual absl::Status Scan(
      absl::string_view table, absl::string_view start, absl::string_view end,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) = 0;

  // Applies atomically and returns once durable on disk (group commit).
  // On error nothing of the transaction is visible. Errors: -1808 disk
  // full, -1022 I/O, -1090 instance failed earlier.
  virtual absl::Status Commit() = 0;
  virtual void Rollback() = 0;
  // Log generation that holds the commit record (valid after Commit).
  virtual uint32_t commit_generation() const = 0;
};

}  // namespace jetback

#endif  // JETBACK_INSTANCE_H_
