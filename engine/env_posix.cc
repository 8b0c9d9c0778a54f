// Env::Default(): POSIX files with positional I/O and fdatasync.

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "jetback/env.h"
#include "jetback/status.h"

namespace jetback {
namespace {

absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::string_view path) {
  JetErr jet = jet::JET_errDiskIO;
  if (err == ENOSPC || err == EDQUOT) jet = jet::JET_errDiskFull;
  if (err == ENOENT) jet = jet::JET_errFileNotFound;
  if (err == EEXIST) jet = jet::JET_errFileAlreadyExists;
  if (err == EACCES || err == EPERM) jet = jet::JET_errAccessDenied;
  return JetStatus(jet, absl::StrCat(what, " ", path, ": ", strerror(err)));
}

constexpr uint64_t kDirectAlignment = 4096;

class PosixFile : public File {
 public:
  PosixFile(int fd, std::string path, bool direct = false)
      : fd_(fd), path_(std::move(path)), direct_(direct) {}
  ~PosixFile() override { close(fd_); }

  absl::Status Read(uint64_t offset, size_t n, char* scratch,
                    size_t* read) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = pread(fd_, scratch + done, n - done, offset + done);
      if (r < 0) {
        if (errno == EINTR) continue;
        // A direct file read with an unaligned buffer: rare, so go buffered.
        if (errno == EINVAL && direct_) {
          JB_RETURN_IF_ERROR(LeaveDirect());
          continue;
        }
        *read = done;
        return ErrnoStatus(errno, "read", path_);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    *read = done;
    return absl::OkStatus();
  }

  absl::Status Write(uint64_t offset, absl::string_view data) override {
    if (direct_ &&
        (offset % kDirectAlignment != 0 ||
         data.size() % kDirectAlignment != 0 ||
         reinterpret_cast<uintptr_t>(data.data()) % kDirectAlignment != 0)) {
      JB_RETURN_IF_ERROR(LeaveDirect());
    }
    size_t done = 0;
    while (done < data.size()) {
      ssize_t r =
          pwrite(fd_, data.data() + done, data.size() - done, offset + done);
      if (r < 0) {
        if (errno == EINTR) continue;
        // Some filesystems accept O_DIRECT at open and refuse the write.
        if (errno == EINVAL && direct_) {
          JB_RETURN_IF_ERROR(LeaveDirect());
          continue;
        }
        return ErrnoStatus(errno, "write", path_);
      }
      done += static_cast<size_t>(r);
      // A short direct write leaves the rest unaligned.
      if (direct_ && done < data.size()) JB_RETURN_IF_ERROR(LeaveDirect());
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync", path_);
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus(errno, "ftruncate", path_);
    }
    return absl::OkStatus();
  }

  void WillNeed() override {
    (void)posix_fadvise(fd_, 0, 0, POSIX_FADV_WILLNEED);
  }

  void StartWriteback() override {
    // Linux only; a failure just leaves the work to the next Sync.
    (void)sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
  }

  absl::StatusOr<uint64_t> Size() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoStatus(errno, "fstat", path_);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  absl::Status LeaveDirect() {
    const int flags = fcntl(fd_, F_GETFL);
    if (flags < 0 || fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) {
      return ErrnoStatus(errno, "switch to buffered writes", path_);
    }
    direct_ = false;
    return absl::OkStatus();
  }

  int fd_;
  std::string path_;
  bool direct_;
};

class PosixFileLock : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { close(fd_); }  // closing drops the flock

 private:
  int fd_;
};

class PosixEnv : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                 OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kReadOnly:
      case OpenMode::kReadOnlyDirect:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadOnlyRegular:
        flags |= O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
        break;
      case OpenMode::kReadWrite:
      case OpenMode::kReadWriteDirect:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateExclusive:
      case OpenMode::kCreateExclusiveDirect:
        flags |= O_RDWR | O_CREAT | O_EXCL;
        break;
    }
    if (path.empty()) {
      return JetStatus(jet::JET_errInvalidPath, "empty file path");
    }
    if (mode == OpenMode::kCreateExclusiveDirect ||
        mode == OpenMode::kReadWriteDirect ||
        mode == OpenMode::kReadOnlyDirect) {
      int fd = open(path.c_str(), flags | O_DIRECT, 0644);
      if (fd >= 0) return std::unique_ptr<File>(new PosixFile(fd, path, true));
      // EINVAL: no O_DIRECT on this filesystem; open it buffered below.
      if (errno != EINVAL) return ErrnoStatus(errno, "open", path);
    }
    int fd = open(path.c_str(), flags, 0644);
    if (fd < 0) {
      if (mode == OpenMode::kReadOnlyRegular && errno == ELOOP) {
        return JetStatus(jet::JET_errInvalidPath,
                         absl::StrCat("open ", path, ": a symbolic link"));
      }
      return ErrnoStatus(errno, "open", path);
    }
    if (mode == OpenMode::kReadOnlyRegular) {
      // O_NONBLOCK only made the open itself safe; reads of a regular file
      // never block on it, and the flag is cleared so nothing else sees it.
      struct stat st;
      if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
          fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        close(fd);
        return JetStatus(jet::JET_errInvalidPath,
                         absl::StrCat("open ", path, ": not a regular file"));
      }
    }
    return std::unique_ptr<File>(new PosixFile(fd, path));
  }

  absl::Status DeleteFile(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return ErrnoStatus(errno, "unlink", path);
    return absl::OkStatus();
  }

  absl::Status RenameFile(const std::string& from,
                          const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus(errno, "rename", from);
    }
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& dir) override {
    int fd = open(dir.empty() ? "." : dir.c_str(),
                  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open dir", dir);
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0) return ErrnoStatus(err, "fsync dir", dir);
    return absl::OkStatus();
  }

  absl::Status CreateDirs(const std::string& dir) override {
    if (dir.empty()) return JetStatus(jet::JET_errInvalidPath, "empty dir");
    std::string partial;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = dir.find('/', pos + 1);
      partial = dir.substr(0, pos);
      if (partial.empty()) continue;
      if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, "mkdir", partial);
      }
    }
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return JetStatus(jet::JET_errInvalidPath,
                       absl::StrCat("not a directory: ", dir));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus(errno, "opendir", dir);
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    closedir(d);
    return names;
  }

  bool FileExists(const std::string& path) override {
    return access(path.c_str(), F_OK) == 0;
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path, absl::string_view holder) override {
    const bool lock_file = !holder.empty();
    int fd = open(
        path.c_str(),
        lock_file ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      std::string who;
      // A lock file names its holder; a database locked in place does not.
      if (err == EWOULDBLOCK && (lock_file || absl::EndsWith(path, ".lock"))) {
        char buf[256];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0) who.assign(buf, static_cast<size_t>(n));
        while (!who.empty() && (who.back() == '\n' || who.back() == '\0')) {
          who.pop_back();
        }
      }
      close(fd);
      if (err != EWOULDBLOCK) return ErrnoStatus(err, "flock", path);
      return JetStatus(jet::JET_errFileAccessDenied,
                       absl::StrCat(path, " is locked by ",
                                    who.empty() ? "another process" : who));
    }
    if (lock_file) {
      std::string text = absl::StrCat(holder, "\n");
      if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) !=
                                       static_cast<ssize_t>(text.size())) {
        const int err = errno;
        close(fd);
        return ErrnoStatus(err, "write", path);
      }
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }
};

}  // namespace

Env* Env::Default() {
  static Env* env = new PosixEnv;
  return env;
}

}  // namespace jetback
