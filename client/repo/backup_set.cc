#include "client/repo/backup_set.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "jetback/status.h"

namespace jetback::repo {
namespace {

absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::string_view path) {
  JetErr jet_err = jet::JET_errDiskIO;
  if (err == ENOSPC) jet_err = jet::JET_errDiskFull;
  if (err == ENOENT) jet_err = jet::JET_errFileNotFound;
  if (err == EEXIST) jet_err = jet::JET_errFileAlreadyExists;
  return JetStatus(jet_err,
                   absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

std::string Join(const std::string& dir, absl::string_view name) {
  return absl::StrCat(dir, "/", name);
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync directory", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "list", dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

absl::Status MakeDirs(const std::string& dir) {
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    prefix = dir.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "create directory", prefix);
    }
  }
  return absl::OkStatus();
}

std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

}  // namespace

absl::Status PrepareOutputDir(const std::string& dir, bool* created) {
  *created = false;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return JetStatus(jet::JET_errInvalidPath,
                       absl::StrCat(dir, " exists and is not a directory"));
    }
    JB_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
    if (!names.empty()) {
      return JetStatus(jet::JET_errBackupDirectoryNotEmpty,
                       absl::StrCat("output directory ", dir,
                                    " is not empty; nothing was written"));
    }
    return absl::OkStatus();
  }
  JB_RETURN_IF_ERROR(MakeDirs(dir));
  *created = true;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SetFileWriter>> SetFileWriter::Create(
    const std::string& dir, const std::string& name,
    const SetFileOptions& options) {
  std::unique_ptr<SetFileWriter> w(new SetFileWriter());
  w->dir_ = dir;
  w->name_ = name;
  w->sync_dir_ = options.sync_dir;
  const std::string part = w->PartPath();
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  if (options.direct) {
    w->fd_ = ::open(part.c_str(), kFlags | O_DIRECT, 0644);
    w->direct_ = w->fd_ >= 0;
    // EINVAL: the filesystem has no O_DIRECT; write buffered instead.
    if (w->fd_ < 0 && errno != EINVAL)
      return ErrnoStatus(errno, "create", part);
  }
  if (w->fd_ < 0) w->fd_ = ::open(part.c_str(), kFlags, 0644);
  if (w->fd_ < 0) return ErrnoStatus(errno, "create", part);
  w->digests_ = std::make_unique<StreamDigests>(options.sha256);
  return w;
}

SetFileWriter::~SetFileWriter() {
  if (!committed_) Abandon();
}

std::string SetFileWriter::PartPath() const {
  return Join(dir_, absl::StrCat(name_, kPartSuffix));
}

absl::Status SetFileWriter::LeaveDirect() {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) {
    return ErrnoStatus(errno, "switch to buffered writes", PartPath());
  }
  direct_ = false;
  return absl::OkStatus();
}

absl::Status SetFileWriter::Append(absl::string_view data) {
  if (fd_ < 0) {
    return JetStatus(jet::JET_errInternalError, "write to a closed set file");
  }
  digests_->Update(data);
  const bool aligned =
      reinterpret_cast<uintptr_t>(data.data()) % kDirectAlignment == 0 &&
      data.size() % kDirectAlignment == 0 && size_ % kDirectAlignment == 0;
  if (direct_ && !aligned) JB_RETURN_IF_ERROR(LeaveDirect());
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      // Some filesystems accept O_DIRECT at open and refuse the write.
      if (errno == EINVAL && direct_) {
        JB_RETURN_IF_ERROR(LeaveDirect());
        continue;
      }
      return ErrnoStatus(errno, "write", PartPath());
    }
    data.remove_prefix(static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
    // A short direct write leaves the offset unaligned.
    if (direct_ && !data.empty()) JB_RETURN_IF_ERROR(LeaveDirect());
  }
  return absl::OkStatus();
}

BackgroundAppender::BackgroundAppender() {
  for (size_t i = 0; i < kBuffers; ++i) {
    void* p = std::aligned_alloc(SetFileWriter::kDirectAlignment, kBufferSize);
    if (p == nullptr) throw std::bad_alloc();
    Buffer buffer;
    buffer.data.reset(static_cast<char*>(p));
    free_.push_back(std::move(buffer));
  }
  thread_ = std::thread([this] { Run(); });
}

BackgroundAppender::~BackgroundAppender() {
  {
    jetback::MutexLock lock(&mu_);
    stopping_ = true;
    full_.clear();
  }
  thread_.join();
}

void BackgroundAppender::Begin(SetFileWriter* writer) { writer_ = writer; }

absl::Status BackgroundAppender::Append(absl::string_view data) {
  while (!data.empty()) {
    if (filling_.data == nullptr) {
      jetback::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !free_.empty() || !status_.ok();
      };
      mu_.Await(jetback::Condition(&ready));
      if (!status_.ok()) return status_;
      filling_ = std::move(free_.back());
      free_.pop_back();
      filling_.used = 0;
      filling_.writer = writer_;
    }
    const size_t n = std::min(data.size(), kBufferSize - filling_.used);
    std::memcpy(filling_.data.get() + filling_.used, data.data(), n);
    filling_.used += n;
    data.remove_prefix(n);
    if (filling_.used == kBufferSize) {
      jetback::MutexLock lock(&mu_);
      full_.push_back(std::move(filling_));
      filling_ = Buffer{};
    }
  }
  jetback::MutexLock lock(&mu_);
  return status_;
}

absl::Status BackgroundAppender::Finish() {
  jetback::MutexLock lock(&mu_);
  if (filling_.data != nullptr) {
    if (filling_.used > 0) {
      full_.push_back(std::move(filling_));
    } else {
      free_.push_back(std::move(filling_));
    }
    filling_ = Buffer{};
  }
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return full_.empty() && writing_ == 0;
  };
  mu_.Await(jetback::Condition(&drained));
  absl::Status status = status_;
  status_ = absl::OkStatus();  // the next file starts clean
  writer_ = nullptr;
  return status;
}

void BackgroundAppender::Run() {
  jetback::MutexLock lock(&mu_);
  while (true) {
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !full_.empty() || stopping_;
    };
    mu_.Await(jetback::Condition(&ready));
    if (stopping_) return;
    Buffer buffer = std::move(full_.front());
    full_.pop_front();
    ++writing_;
    // After an error the file's remaining buffers are only recycled.
    if (status_.ok()) {
      mu_.Unlock();
      absl::Status status = buffer.writer->Append(
          absl::string_view(buffer.data.get(), buffer.used));
      mu_.Lock();
      if (!status.ok() && status_.ok()) status_ = status;
    }
    --writing_;
    buffer.used = 0;
    buffer.writer = nullptr;
    free_.push_back(std::move(buffer));
  }
}

absl::Status SyncSetDir(const std::string& dir) { return SyncDir(dir); }

absl::Status SetFileWriter::Commit(absl::string_view expected_xxh3_128) {
  const std::string xxh3 = digests_->Xxh3_128();
  if (!expected_xxh3_128.empty() && expected_xxh3_128 != xxh3) {
    return JetStatus(jet::JET_errReadVerifyFailure,
                     absl::StrCat(name_,
                                  ": the bytes written differ from the "
                                  "daemon's XXH3-128 of the file"));
  }
  xxh3_128_hex_ = Hex(xxh3);
  sha256_hex_ = Hex(digests_->FinishSha256());
  const std::string part = PartPath();
  const std::string final_path = Join(dir_, name_);
  if (::fsync(fd_) != 0) return ErrnoStatus(errno, "fsync", part);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return ErrnoStatus(errno, "close", part);
  }
  fd_ = -1;
  if (::rename(part.c_str(), final_path.c_str()) != 0) {
    return ErrnoStatus(errno, "rename", part);
  }
  committed_ = true;
  return sync_dir_ ? SyncDir(dir_) : absl::OkStatus();
}

void SetFileWriter::Abandon() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_) ::unlink(PartPath().c_str());
}

absl::StatusOr<std::string> ManifestToJson(const Manifest& manifest) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(manifest, &json, options)
           .ok()) {
    return JetStatus(jet::JET_errInternalError, "cannot encode the manifest");
  }
  return json;
}

absl::Status WriteManifest(const std::string& dir, const Manifest& manifest) {
  JB_ASSIGN_OR_RETURN(std::string json, ManifestToJson(manifest));
  JB_ASSIGN_OR_RETURN(auto writer, SetFileWriter::Create(dir, kManifestName));
  JB_RETURN_IF_ERROR(writer->Append(json));
  return writer->Commit();
}

absl::StatusOr<Manifest> ReadManifest(const std::string& dir) {
  const std::string path = Join(dir, kManifestName);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return JetStatus(jet::JET_errFileNotFound,
                       absl::StrCat(dir, " has no ", kManifestName,
                                    ": not a complete backup set"));
    }
    return ErrnoStatus(errno, "open", path);
  }
  std::string json;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "read", path);
    }
    if (n == 0) break;
    json.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return ManifestFromJson(json, path);
}

absl::StatusOr<Manifest> ManifestFromJson(const std::string& json,
                                          const std::string& path) {
  Manifest manifest;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &manifest);
  if (!parsed.ok()) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat(path, " does not parse: ", parsed.message().as_string()));
  }
  if (manifest.format_version() != 1 &&
      manifest.format_version() != kManifestFormatVersion) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat(path, ": unknown format_version ",
                                  manifest.format_version()));
  }
  // verify and restore join these names to set and staging directories: a
  // hostile set must not reach files outside them.
  for (int i = 0; i < manifest.files_size(); ++i) {
    const std::string& name = manifest.files(i).name();
    if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
        name == kManifestName || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      return JetStatus(jet::JET_errInvalidPath,
                       absl::StrCat(path, ": files[", i,
                                    "].name is not a file name in the set"));
    }
  }
  return manifest;
}

absl::StatusOr<FileDigestsHex> DigestFile(const std::string& path,
                                          bool sha256) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  StreamDigests digests(sha256);
  std::vector<char> buf(1 << 20);
  absl::Status status;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus(errno, "read", path);
      break;
    }
    if (n == 0) break;
    digests.Update(absl::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  JB_RETURN_IF_ERROR(status);
  return FileDigestsHex{Hex(digests.Xxh3_128()), Hex(digests.FinishSha256())};
}

absl::StatusOr<bool> SameContent(const ManifestFile& a,
                                 const std::string& a_path,
                                 const ManifestFile& b,
                                 const std::string& b_path) {
  if (a.size() != b.size()) return false;
  if (!a.xxh3_128().empty() && !b.xxh3_128().empty()) {
    return a.xxh3_128() == b.xxh3_128();
  }
  if (!a.sha256().empty() && !b.sha256().empty()) {
    return a.sha256() == b.sha256();
  }
  JB_ASSIGN_OR_RETURN(FileDigestsHex da, DigestFile(a_path, false));
  JB_ASSIGN_OR_RETURN(FileDigestsHex db, DigestFile(b_path, false));
  return da.xxh3_128 == db.xxh3_128;
}

std::vector<FileProblem> CheckSetFiles(const std::string& dir,
                                       const Manifest& manifest) {
  std::vector<FileProblem> problems;
  std::set<std::string> listed = {kManifestName};
  for (const ManifestFile& file : manifest.files()) {
    listed.insert(file.name());
    const std::string path = Join(dir, file.name());
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      problems.push_back({file.name(), "missing"});
      continue;
    }
    // A compressed or encrypted file is checked as stored; its contents
    // are checked when it is decoded (repo/set_codec.h).
    const bool as_stored = !file.stored_xxh3_128().empty();
    const uint64_t size = as_stored ? file.stored_size() : file.size();
    if (static_cast<uint64_t>(st.st_size) != size) {
      problems.push_back(
          {file.name(), absl::StrCat("size ", st.st_size, ", manifest says ",
                                     size, as_stored ? " (stored)" : "")});
      continue;
    }
    if (file.xxh3_128().empty() && file.sha256().empty()) {
      problems.push_back({file.name(), "the manifest records no digest"});
      continue;
    }
    auto digests = DigestFile(path, !as_stored && !file.sha256().empty());
    if (!digests.ok()) {
      problems.push_back(
          {file.name(), std::string(digests.status().message())});
    } else if (as_stored) {
      if (digests->xxh3_128 != file.stored_xxh3_128()) {
        problems.push_back({file.name(),
                            "XXH3-128 of the stored bytes differs from the "
                            "manifest (file changed)"});
      }
    } else if (!file.xxh3_128().empty() &&
               digests->xxh3_128 != file.xxh3_128()) {
      problems.push_back(
          {file.name(), "XXH3-128 differs from the manifest (file changed)"});
    } else if (!file.sha256().empty() && digests->sha256 != file.sha256()) {
      problems.push_back(
          {file.name(), "SHA-256 differs from the manifest (file changed)"});
    }
  }
  auto names = ListDir(dir);
  if (names.ok()) {
    for (const std::string& name : *names) {
      if (listed.count(name) == 0) {
        problems.push_back({name, "not listed in the manifest"});
      }
    }
  }
  return problems;
}

void RemoveSetFiles(const std::string& dir,
                    const std::vector<std::string>& names, bool remove_dir) {
  for (const std::string& name : names) {
    ::unlink(Join(dir, name).c_str());
    ::unlink(Join(dir, absl::StrCat(name, kPartSuffix)).c_str());
  }
  SyncDir(dir).IgnoreError();
  if (remove_dir) ::rmdir(dir.c_str());
}

std::string FileNameOf(absl::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path
                                                      : path.substr(slash + 1));
}

std::string NowRfc3339() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                          absl::UTCTimeZone());
}

}  // namespace jetback::repo
