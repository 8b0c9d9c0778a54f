#include "client/cli/backup_set.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "jetback/status.h"

namespace jetback::cli {
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

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
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
    const std::string& dir, const std::string& name) {
  std::unique_ptr<SetFileWriter> w(new SetFileWriter());
  w->dir_ = dir;
  w->name_ = name;
  const std::string part = Join(dir, absl::StrCat(name, kPartSuffix));
  w->fd_ = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (w->fd_ < 0) return ErrnoStatus(errno, "create", part);
  auto* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  w->sha_ = ctx;
  return w;
}

SetFileWriter::~SetFileWriter() {
  if (!committed_) Abandon();
  if (sha_ != nullptr) EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(sha_));
}

absl::Status SetFileWriter::Append(absl::string_view data) {
  if (fd_ < 0) {
    return JetStatus(jet::JET_errInternalError, "write to a closed set file");
  }
  JB_RETURN_IF_ERROR(
      WriteAll(fd_, data, Join(dir_, absl::StrCat(name_, kPartSuffix))));
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(sha_), data.data(), data.size());
  size_ += data.size();
  return absl::OkStatus();
}

BackgroundAppender::BackgroundAppender(SetFileWriter* writer)
    : writer_(writer), thread_([this] { Run(); }) {}

BackgroundAppender::~BackgroundAppender() { Finish().IgnoreError(); }

absl::Status BackgroundAppender::Append(absl::string_view data) {
  jetback::MutexLock lock(&mu_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.size() < kDepth || !status_.ok();
  };
  mu_.Await(jetback::Condition(&room));
  if (!status_.ok()) return status_;
  queue_.emplace_back(data);
  return absl::OkStatus();
}

absl::Status BackgroundAppender::Finish() {
  {
    jetback::MutexLock lock(&mu_);
    closed_ = true;
  }
  if (thread_.joinable()) thread_.join();
  jetback::MutexLock lock(&mu_);
  return status_;
}

void BackgroundAppender::Run() {
  while (true) {
    std::string chunk;
    {
      jetback::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || closed_;
      };
      mu_.Await(jetback::Condition(&ready));
      if (queue_.empty()) return;
      chunk = std::move(queue_.front());
      queue_.pop_front();
    }
    absl::Status status = writer_->Append(chunk);
    if (!status.ok()) {
      jetback::MutexLock lock(&mu_);
      status_ = status;
      queue_.clear();
      return;
    }
  }
}

absl::Status SetFileWriter::Commit() {
  const std::string part = Join(dir_, absl::StrCat(name_, kPartSuffix));
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
  JB_RETURN_IF_ERROR(SyncDir(dir_));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(sha_), digest, &len);
  digest_.assign(reinterpret_cast<char*>(digest), len);
  return absl::OkStatus();
}

void SetFileWriter::Abandon() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_) {
    ::unlink(Join(dir_, absl::StrCat(name_, kPartSuffix)).c_str());
  }
}

std::string SetFileWriter::sha256_hex() const { return Hex(digest_); }

absl::Status WriteManifest(const std::string& dir, const Manifest& manifest) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(manifest, &json, options)
           .ok()) {
    return JetStatus(jet::JET_errInternalError, "cannot encode the manifest");
  }
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
  Manifest manifest;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &manifest);
  if (!parsed.ok()) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat(path, " does not parse: ", parsed.message().as_string()));
  }
  if (manifest.format_version() != 1) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat(path, ": unknown format_version ",
                                  manifest.format_version()));
  }
  return manifest;
}

absl::StatusOr<std::string> FileSha256Hex(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
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
    EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  JB_RETURN_IF_ERROR(status);
  return Hex(std::string(reinterpret_cast<char*>(digest), len));
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
    if (static_cast<uint64_t>(st.st_size) != file.size()) {
      problems.push_back(
          {file.name(),
           absl::StrCat("size ", st.st_size, ", manifest says ", file.size())});
      continue;
    }
    auto sha = FileSha256Hex(path);
    if (!sha.ok()) {
      problems.push_back({file.name(), std::string(sha.status().message())});
    } else if (*sha != file.sha256()) {
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

}  // namespace jetback::cli
