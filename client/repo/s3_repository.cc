// The S3 repository: set `id` lives under PREFIX/HOST/INSTANCE/SETNAME/,
// one object per file (uploaded in parts, several in flight) and
// manifest.json written last. A set without its manifest object is not a
// set: an interrupted backup leaves nothing that lists.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/digests.h"
#include "client/repo/backup_set.h"
#include "client/repo/repository.h"
#include "client/repo/set_codec.h"
#include "jetback/status.h"

namespace jetback::repo {
namespace {

class S3SetFile : public SetFile {
 public:
  S3SetFile(S3Client* client, const std::string& bucket, std::string key,
            const S3MultipartOptions& options, bool sha256,
            std::vector<std::string>* committed)
      : key_(std::move(key)),
        writer_(client, bucket, key_, options),
        digests_(sha256),
        committed_(committed) {}
  // writer_'s destructor aborts the upload unless it was completed.

  absl::Status Append(absl::string_view data) override {
    digests_.Update(data);
    return writer_.Append(data);
  }

  absl::Status Commit(absl::string_view expected_xxh3_128) override {
    const std::string xxh3 = digests_.Xxh3_128();
    xxh3_128_hex_ = absl::BytesToHexString(xxh3);
    const std::string sha = digests_.FinishSha256();
    sha256_hex_ = sha.empty() ? "" : absl::BytesToHexString(sha);
    if (!expected_xxh3_128.empty() && expected_xxh3_128 != xxh3) {
      writer_.Abort();
      return JetStatus(jet::JET_errReadVerifyFailure,
                       absl::StrCat(key_,
                                    ": the bytes uploaded differ from the "
                                    "ones the daemon read (XXH3-128)"));
    }
    JB_RETURN_IF_ERROR(writer_.Complete());
    committed_->push_back(key_);
    return absl::OkStatus();
  }

  uint64_t size() const override { return writer_.size(); }
  const std::string& xxh3_128_hex() const override { return xxh3_128_hex_; }
  const std::string& sha256_hex() const override { return sha256_hex_; }

 private:
  const std::string key_;
  S3MultipartWriter writer_;
  StreamDigests digests_;
  std::vector<std::string>* committed_;
  std::string xxh3_128_hex_, sha256_hex_;
};

class S3SetWriter : public SetWriter {
 public:
  S3SetWriter(S3Client* client, std::string bucket, std::string set_prefix,
              const S3MultipartOptions& options)
      : client_(client),
        bucket_(std::move(bucket)),
        set_prefix_(std::move(set_prefix)),
        options_(options) {}

  absl::StatusOr<std::unique_ptr<SetFile>> CreateFile(const std::string& name,
                                                      bool sha256) override {
    if (!names_.insert(name).second) {
      return JetStatus(jet::JET_errFileAlreadyExists,
                       absl::StrCat(name, " is in the set already"));
    }
    return std::make_unique<S3SetFile>(client_, bucket_, set_prefix_ + name,
                                       options_, sha256, &committed_);
  }

  absl::Status Finish(const Manifest& manifest) override {
    // Completed uploads are durable once CompleteMultipartUpload answered;
    // the manifest object makes the set.
    JB_ASSIGN_OR_RETURN(std::string json, ManifestToJson(manifest));
    return client_->PutObject(bucket_, set_prefix_ + kManifestName, json);
  }

  void Abandon() override {
    for (const std::string& key : committed_) {
      client_->DeleteObject(bucket_, key).IgnoreError();  // best effort
    }
    committed_.clear();
  }

  std::string location() const override {
    return absl::StrCat("s3://", bucket_, "/", set_prefix_);
  }

 private:
  S3Client* const client_;
  const std::string bucket_, set_prefix_;
  const S3MultipartOptions options_;
  std::set<std::string> names_;
  std::vector<std::string> committed_;  // keys of completed objects
};

class S3Repository : public Repository {
 public:
  S3Repository(std::string bucket, std::string prefix, const S3Config& s3,
               const RepoOptions& options)
      : bucket_(std::move(bucket)),
        prefix_(prefix.empty() ? "" : prefix + "/"),
        client_(s3),
        options_(options) {}

  absl::StatusOr<std::unique_ptr<SetWriter>> CreateSet(
      const std::string& id) override {
    JB_ASSIGN_OR_RETURN(std::vector<S3Object> there,
                        client_.ListObjects(bucket_, SetPrefix(id), 1));
    if (!there.empty()) {
      return JetStatus(jet::JET_errBackupDirectoryNotEmpty,
                       absl::StrCat(Location(id), " holds objects already"));
    }
    return std::make_unique<S3SetWriter>(&client_, bucket_, SetPrefix(id),
                                         options_.multipart);
  }

  absl::StatusOr<std::vector<SetEntry>> ListSets(
      const std::string& id_prefix) override {
    JB_ASSIGN_OR_RETURN(std::vector<S3Object> objects,
                        client_.ListObjects(bucket_, prefix_ + id_prefix));
    // id -> bytes of its files; ids with a manifest object.
    std::map<std::string, uint64_t> bytes;
    std::vector<std::string> complete;
    for (const S3Object& object : objects) {
      absl::string_view rest = object.key;
      rest.remove_prefix(prefix_.size());
      size_t slash = 0;
      for (int i = 0; i < 3 && slash != absl::string_view::npos; ++i) {
        slash = rest.find('/', i == 0 ? 0 : slash + 1);
      }
      if (slash == absl::string_view::npos) continue;  // not a set's object
      const std::string id(rest.substr(0, slash));
      absl::string_view name = rest.substr(slash + 1);
      if (name == kManifestName) {
        complete.push_back(id);
      } else {
        bytes[id] += object.size;
      }
    }
    std::vector<SetEntry> out;
    for (const std::string& id : complete) {
      JB_ASSIGN_OR_RETURN(Manifest manifest, ReadManifestOf(id));
      out.push_back({id, Location(id), bytes[id], std::move(manifest)});
    }
    std::sort(out.begin(), out.end(),
              [](const SetEntry& a, const SetEntry& b) { return a.id < b.id; });
    return out;
  }

  absl::StatusOr<std::string> LocalCopy(const std::string& id,
                                        const std::string& staging) override {
    JB_ASSIGN_OR_RETURN(Manifest manifest, ReadManifestOf(id));
    JB_RETURN_IF_ERROR(CheckManifestKey(manifest, options_.key.get(), id));
    for (const ManifestFile& file : manifest.files()) {
      JB_RETURN_IF_ERROR(Download(manifest, file, SetPrefix(id) + file.name(),
                                  absl::StrCat(staging, "/", file.name())));
    }
    // The manifest last, as in a set directory written by backup.
    JB_RETURN_IF_ERROR(WriteManifest(staging, PlainManifest(manifest)));
    return staging;
  }

  absl::Status DeleteSet(const std::string& id) override {
    JB_RETURN_IF_ERROR(ReadManifestOf(id).status());
    JB_RETURN_IF_ERROR(
        client_.DeleteObject(bucket_, SetPrefix(id) + kManifestName));
    JB_ASSIGN_OR_RETURN(std::vector<S3Object> objects,
                        client_.ListObjects(bucket_, SetPrefix(id)));
    for (const S3Object& object : objects) {
      JB_RETURN_IF_ERROR(client_.DeleteObject(bucket_, object.key));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<S3Upload>> IncompleteUploads() override {
    return client_.ListMultipartUploads(bucket_, prefix_);
  }
  absl::Status AbortUpload(const S3Upload& upload) override {
    return client_.AbortMultipartUpload(bucket_, upload.key, upload.upload_id);
  }

  std::string url() const override {
    return absl::StrCat("s3://", bucket_, "/", prefix_);
  }

 private:
  std::string SetPrefix(const std::string& id) const {
    return absl::StrCat(prefix_, id, "/");
  }
  std::string Location(const std::string& id) const {
    return absl::StrCat("s3://", bucket_, "/", SetPrefix(id));
  }

  absl::StatusOr<Manifest> ReadManifestOf(const std::string& id) {
    const std::string key = SetPrefix(id) + kManifestName;
    absl::StatusOr<std::string> json = client_.GetObject(bucket_, key);
    if (JetErrOf(json.status()) == jet::JET_errFileNotFound &&
        !absl::StrContains(json.status().message(), "NoSuchBucket")) {
      return JetStatus(jet::JET_errFileNotFound,
                       absl::StrCat("no complete set ", id, " in ", url(),
                                    " (no ", kManifestName, ")"));
    }
    JB_RETURN_IF_ERROR(json.status());
    return ManifestFromJson(*json, Location(id) + kManifestName);
  }

  // The object `key` into `path`, decoded as the manifest says.
  absl::Status Download(const Manifest& manifest, const ManifestFile& file,
                        const std::string& key, const std::string& path) {
    int fd =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      return JetStatus(jet::JET_errDiskIO,
                       absl::StrCat("cannot create ", path));
    }
    auto write = [&](absl::string_view data) {
      return WriteAll(fd, data, path);
    };
    absl::Status status;
    if (IsEncoded(manifest, file)) {
      auto decoder =
          FileDecoder::Create(manifest, file, options_.key.get(), write);
      status = decoder.status();
      if (status.ok()) {
        status = client_.GetObject(bucket_, key, [&](absl::string_view data) {
          return (*decoder)->Update(data);
        });
      }
      if (status.ok()) status = (*decoder)->Finish();
      if (!status.ok() && JetErrOf(status) == jet::JET_errReadVerifyFailure) {
        status = JetStatus(
            jet::JET_errReadVerifyFailure,
            absl::StrCat("s3://", bucket_, "/", key, ": ", status.message()));
      }
    } else {
      status = client_.GetObject(bucket_, key, write);
    }
    if (::close(fd) != 0 && status.ok()) {
      status = JetStatus(jet::JET_errDiskIO, absl::StrCat("closing ", path));
    }
    if (!status.ok()) ::unlink(path.c_str());  // never leave wrong bytes
    return status;
  }

  const std::string bucket_;
  const std::string prefix_;  // "" or "PREFIX/"
  S3Client client_;
  const RepoOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Repository>> OpenS3Repository(
    const std::string& bucket, const std::string& prefix, const S3Config& s3,
    const RepoOptions& options) {
  return std::make_unique<S3Repository>(bucket, prefix, s3, options);
}

}  // namespace jetback::repo
