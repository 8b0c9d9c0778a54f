// Repository addresses and the local-directory repository: each set a
// directory ROOT/HOST/INSTANCE/SETNAME written as `backup --out` writes one.

#include "client/repo/repository.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/repo/backup_set.h"
#include "client/repo/set_codec.h"
#include "jetback/status.h"

namespace jetback::repo {

// In s3_repository.cc.
absl::StatusOr<std::unique_ptr<Repository>> OpenS3Repository(
    const std::string& bucket, const std::string& prefix, const S3Config& s3,
    const RepoOptions& options);

namespace {

namespace fs = std::filesystem;

class LocalSetFile : public SetFile {
 public:
  LocalSetFile(std::unique_ptr<SetFileWriter> writer,
               BackgroundAppender* appender)
      : writer_(std::move(writer)), appender_(appender) {
    appender_->Begin(writer_.get());
  }
  // The appender lets go of the writer before the writer deletes its .part.
  ~LocalSetFile() override {
    if (!finished_) appender_->Finish().IgnoreError();  // abandoned anyway
  }

  absl::Status Append(absl::string_view data) override {
    return appender_->Append(data);
  }
  absl::Status Commit(absl::string_view expected_xxh3_128) override {
    finished_ = true;
    JB_RETURN_IF_ERROR(appender_->Finish());
    return writer_->Commit(expected_xxh3_128);
  }
  uint64_t size() const override { return writer_->size(); }
  const std::string& xxh3_128_hex() const override {
    return writer_->xxh3_128_hex();
  }
  const std::string& sha256_hex() const override {
    return writer_->sha256_hex();
  }

 private:
  std::unique_ptr<SetFileWriter> writer_;
  BackgroundAppender* appender_;
  bool finished_ = false;
};

class LocalWriter : public SetWriter {
 public:
  LocalWriter(std::string dir, bool created)
      : dir_(std::move(dir)), created_(created) {}

  absl::StatusOr<std::unique_ptr<SetFile>> CreateFile(const std::string& name,
                                                      bool sha256) override {
    if (!names_.insert(name).second) {
      return JetStatus(jet::JET_errFileAlreadyExists,
                       absl::StrCat(name, " is in the set already"));
    }
    written_.push_back(name);
    JB_ASSIGN_OR_RETURN(
        std::unique_ptr<SetFileWriter> writer,
        SetFileWriter::Create(
            dir_, name, SetFileOptions{.direct = true, .sha256 = sha256}));
    return std::make_unique<LocalSetFile>(std::move(writer), &appender_);
  }

  absl::Status Finish(const Manifest& manifest) override {
    // Every file's rename durable, then last the manifest: its presence
    // marks the set complete.
    JB_RETURN_IF_ERROR(SyncSetDir(dir_));
    return WriteManifest(dir_, manifest);
  }

  void Abandon() override { RemoveSetFiles(dir_, written_, created_); }
  std::string location() const override { return dir_; }

 private:
  const std::string dir_;
  const bool created_;
  std::set<std::string> names_;
  std::vector<std::string> written_;
  BackgroundAppender appender_;  // one writer thread for every file
};

// HOST/INSTANCE/SETNAME, each a plain file name.
absl::Status CheckSetId(const std::string& id) {
  std::vector<std::string> parts = absl::StrSplit(id, '/');
  bool ok = parts.size() == 3;
  for (const std::string& p : parts) {
    ok = ok && !p.empty() && p != "." && p != ".." && p.size() <= 255;
  }
  if (!ok) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("'", id,
                                  "' is not a set id (HOST/INSTANCE/SETNAME, "
                                  "as `jetback sets list` prints them)"));
  }
  return absl::OkStatus();
}

class LocalRepository : public Repository {
 public:
  LocalRepository(std::string root, const RepoOptions& options)
      : root_(std::move(root)), options_(options) {}

  absl::StatusOr<std::unique_ptr<SetWriter>> CreateSet(
      const std::string& id) override {
    JB_RETURN_IF_ERROR(CheckSetId(id));
    const std::string dir = absl::StrCat(root_, "/", id);
    bool created = false;
    JB_RETURN_IF_ERROR(PrepareOutputDir(dir, &created));
    return LocalSetWriter(dir, created);
  }

  absl::StatusOr<std::vector<SetEntry>> ListSets(
      const std::string& id_prefix) override {
    std::vector<SetEntry> out;
    std::error_code ec;
    if (!fs::is_directory(root_, ec)) {
      return JetStatus(jet::JET_errFileNotFound,
                       absl::StrCat("repository ", root_, " does not exist"));
    }
    // Exactly three levels: HOST/INSTANCE/SETNAME.
    for (const auto& host : fs::directory_iterator(root_, ec)) {
      if (!host.is_directory()) continue;
      for (const auto& inst : fs::directory_iterator(host.path(), ec)) {
        if (!inst.is_directory()) continue;
        for (const auto& set : fs::directory_iterator(inst.path(), ec)) {
          const std::string id =
              absl::StrCat(host.path().filename().string(), "/",
                           inst.path().filename().string(), "/",
                           set.path().filename().string());
          if (!absl::StartsWith(id, id_prefix)) continue;
          auto manifest = ReadManifest(set.path().string());
          if (!manifest.ok()) continue;  // incomplete: not a set
          SetEntry entry{id, set.path().string(), 0, *std::move(manifest)};
          for (const auto& f : entry.manifest.files()) {
            entry.bytes += f.stored_size() != 0 ? f.stored_size() : f.size();
          }
          out.push_back(std::move(entry));
        }
      }
    }
    std::sort(out.begin(), out.end(),
              [](const SetEntry& a, const SetEntry& b) { return a.id < b.id; });
    return out;
  }

  absl::StatusOr<std::string> LocalCopy(const std::string& id,
                                        const std::string& staging) override {
    JB_RETURN_IF_ERROR(CheckSetId(id));
    const std::string dir = absl::StrCat(root_, "/", id);
    return PlainSetDir(dir, options_.key.get(), staging, id);
  }

  absl::Status DeleteSet(const std::string& id) override {
    JB_RETURN_IF_ERROR(CheckSetId(id));
    const std::string dir = absl::StrCat(root_, "/", id);
    JB_RETURN_IF_ERROR(ReadManifest(dir).status());
    std::error_code ec;
    fs::remove(absl::StrCat(dir, "/", kManifestName), ec);
    if (!ec) fs::remove_all(dir, ec);
    if (ec) {
      return JetStatus(jet::JET_errDiskIO,
                       absl::StrCat("deleting ", dir, ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<S3Upload>> IncompleteUploads() override {
    return std::vector<S3Upload>();
  }
  absl::Status AbortUpload(const S3Upload& upload) override {
    return JetStatus(jet::JET_errFeatureNotAvailable,
                     "a directory repository has no uploads");
  }

  std::string url() const override { return root_; }

 private:
  const std::string root_;
  const RepoOptions options_;
};

}  // namespace

std::unique_ptr<SetWriter> LocalSetWriter(const std::string& dir,
                                          bool created) {
  return std::make_unique<LocalWriter>(dir, created);
}

bool IsS3Url(absl::string_view url) { return absl::StartsWith(url, "s3://"); }

absl::StatusOr<std::unique_ptr<Repository>> OpenRepository(
    const std::string& url, const S3Config& s3, const RepoOptions& options) {
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "s3://")) {
    std::vector<std::string> parts =
        absl::StrSplit(rest, absl::MaxSplits('/', 1));
    std::string prefix = parts.size() > 1 ? parts[1] : "";
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (parts[0].empty()) {
      return JetStatus(jet::JET_errInvalidParameter,
                       absl::StrCat("'", url, "' names no bucket"));
    }
    return OpenS3Repository(parts[0], prefix, s3, options);
  }
  if (absl::ConsumePrefix(&rest, "file://")) {
    if (!absl::StartsWith(rest, "/")) {
      return JetStatus(jet::JET_errInvalidParameter,
                       absl::StrCat("'", url,
                                    "': file:// needs an absolute path "
                                    "(file:///DIR)"));
    }
  } else if (absl::StrContains(rest, "://")) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("'", url,
                                  "': repositories are DIR, file:///DIR or "
                                  "s3://BUCKET/PREFIX"));
  }
  if (rest.empty()) {
    return JetStatus(jet::JET_errInvalidParameter, "empty repository path");
  }
  std::string root(rest);
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return std::make_unique<LocalRepository>(root, options);
}

std::string NewSetName(absl::string_view kind) {
  return absl::StrCat(
      absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()), "-",
      kind);
}

}  // namespace jetback::repo
