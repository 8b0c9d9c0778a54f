// File: jetback/env.h
//
// All engine file I/O goes through an Env, so tests can inject faults
// (disk full, I/O errors, lost unsynced writes) without touching the engine.
// Env::Default() is POSIX (pread/pwrite/fdatasync). EnvWrapper forwards every
// call, so a fault env overrides only what it needs.
//
// Errors are JET_ERR statuses: ENOSPC -> -1808 JET_errDiskFull,
// ENOENT -> -1811 JET_errFileNotFound, EEXIST -> -1814, other -> -1022
// JET_errDiskIO, a lock held elsewhere -> -1032 JET_errFileAccessDenied.
// Thread-safety: Env and File methods are safe to call
// concurrently (positional I/O only).

#ifndef JETBACK_ENV_H_
#define JETBACK_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jetback {

class File {
 public:
  virtual ~File() = default;
  // Reads up to n bytes at offset into scratch; *read < n only at EOF.
  virtual absl::Status Read(uint64_t offset, size_t n, char* scratch,
                            size_t* read) = 0;
  // Writes all of data at offset (extends the file as needed).
  virtual absl::Status Write(uint64_t offset, absl::string_view data) = 0;
  // Makes every completed write durable (fdatasync).
  virtual absl::Status Sync() = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  virtual absl::StatusOr<uint64_t> Size() = 0;
  // A hint: start writing back what is dirty, without waiting, so a later
  // Sync has less to do. Default: nothing.
  virtual void StartWriteback() {}
  // A hint: the whole file will be read soon; start reading it into the
  // page cache without waiting. Default: nothing.
  virtual void WillNeed() {}
};

// An exclusive advisory lock (flock) held until the object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class OpenMode {
  kReadOnly,         // must exist
  kReadWrite,        // must exist
  kCreate,           // read-write, created when missing
  kCreateExclusive,  // read-write, -1814 when it exists
  // As kCreateExclusive, for a file written once in large sequential pieces
  // and not read back soon (restore's copies): writes bypass the page cache
  // (O_DIRECT) when buffer, offset and length are 4 KiB aligned, and fall
  // back to buffered writes otherwise or where the filesystem refuses.
  kCreateExclusiveDirect,
  // As kReadWrite, writes bypassing the page cache as kCreateExclusiveDirect
  // describes (restore's replay into a copied database).
  kReadWriteDirect,
  // As kReadOnly, reads bypassing the page cache (O_DIRECT) when buffer,
  // offset and length are 4 KiB aligned, buffered otherwise or where the
  // filesystem refuses (restore's replay of cold log generations).
  kReadOnlyDirect,
  // As kReadOnly, for a file named by something the engine does not fully
  // control: never follows a final symlink (-1023), never blocks in open
  // (a FIFO or device would) and refuses anything but a regular file (-1023).
  kReadOnlyRegular
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX env. Never deleted.
  static Env* Default();

  virtual absl::StatusOr<std::unique_ptr<File>> OpenFile(
      const std::string& path, OpenMode mode) = 0;
  virtual absl::Status DeleteFile(const std::string& path) = 0;
  // Atomic replace of `to` (rename(2)).
  virtual absl::Status RenameFile(const std::string& from,
                                  const std::string& to) = 0;
  // fsync of a directory, so creates/renames/deletes in it are durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // mkdir -p.
  virtual absl::Status CreateDirs(const std::string& dir) = 0;
  // File names (not paths) in dir, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Takes an exclusive flock on `path` without waiting. With a non-empty
  // `holder` the file is a lock file: created when missing and, once
  // locked, rewritten to hold `holder`. With an empty one the file must
  // exist and is left unchanged (a database locked in place). Errors: -1032
  // when another open file holds the lock, naming the holder a lock file
  // records; -1811, -1022.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path, absl::string_view holder) = 0;
};

// Forwards everything to a target env.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 OpenMode mode) override {
    return target_->OpenFile(path, mode);
  }
  absl::Status DeleteFile(const std::string& path) override {
    return target_->DeleteFile(path);
  }
  absl::Status RenameFile(const std::string& from,
                          const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  absl::Status SyncDir(const std::string& dir) override {
    return target_->SyncDir(dir);
  }
  absl::Status CreateDirs(const std::string& dir) override {
    return target_->CreateDirs(dir);
  }
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override {
    return target_->ListDir(dir);
  }
  bool FileExists(const std::string& path) override {
    return target_->FileExists(path);
  }
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    return target_->FileSize(path);
  }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path, absl::string_view holder) override {
    return target_->LockFile(path, holder);
  }

 private:
  Env* target_;
};

}  // namespace jetback

#endif  // JETBACK_ENV_H_
