// File: engine/fault_env.h
//
// An Env for tests that injects faults into an underlying env: named atomic
// knobs (disk full, write/sync/read errors, fail the Nth I/O) and a crash
// mode that remembers unsynced writes so DropUnsyncedData() can put every
// file back to its last synced state, as a power cut would.
//
// Thread-safety: knobs may be flipped from any thread while I/O runs.

#ifndef JETBACK_ENGINE_FAULT_ENV_H_
#define JETBACK_ENGINE_FAULT_ENV_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "jetback/mutex.h"
#include "jetback/env.h"

namespace jetback {

class FaultEnv : public EnvWrapper {
 public:
  explicit FaultEnv(Env* target) : EnvWrapper(target) {}

  // Writes fail with -1808 / -1022, syncs with -1022, reads with -1022.
  std::atomic<bool> no_space{false};
  std::atomic<bool> write_error{false};
  std::atomic<bool> sync_error{false};
  std::atomic<bool> read_error{false};
  // Fails the Nth read/write/sync from now (1 = the next) with -1022, once.
  void FailNthIo(int64_t n) { io_countdown_.store(n); }
  // How many I/O calls (read, write, sync) went through.
  int64_t io_count() const { return io_count_.load(); }
  // Knobs apply only to files whose path contains this (empty: all).
  void SetPathFilter(const std::string& substring);

  // Crash mode: from now on remember what every write overwrote until the
  // file is synced. DropUnsyncedData() undoes those writes (files must be
  // closed first, e.g. after Instance::TermDirty).
  void TrackUnsynced(bool on) { track_.store(on); }
  absl::Status DropUnsyncedData();

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 OpenMode mode) override;
  absl::Status DeleteFile(const std::string& path) override;
  absl::Status RenameFile(const std::string& from,
                          const std::string& to) override;

 private:
  friend class FaultFile;
  struct Undo {
    uint64_t offset;
    std::string old_data;
  };
  struct Unsynced {
    bool known_size = false;
    uint64_t synced_size = 0;
    std::vector<Undo> undo;
  };
  bool Applies(const std::string& path);
  // Counts one I/O and says whether the Nth-I/O fault fires for it.
  bool CountIo();
  void RecordWrite(const std::string& path, File* file, uint64_t offset,
                   size_t n);
  void RecordSync(const std::string& path, File* file);

  std::atomic<int64_t> io_countdown_{0};
  std::atomic<int64_t> io_count_{0};
  std::atomic<bool> track_{false};
  jetback::Mutex mu_;
  std::string filter_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Unsynced> unsynced_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jetback

#endif  // JETBACK_ENGINE_FAULT_ENV_H_
