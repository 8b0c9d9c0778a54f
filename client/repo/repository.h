// File: client/repo/repository.h
//
// Where backup sets live: a repository holds sets, a set is written file by
// file and becomes visible only when its manifest is written, last. Two
// implementations: a local directory (repo/backup_set.h: .part files,
// O_DIRECT, fsync, rename) and S3-compatible object storage (each file an
// object, uploaded in parts with several in flight; the manifest object
// last). Both layouts: engine/BACKUP_SET_FORMAT.md.
//
// Addresses: "DIR" or "file:///DIR", and "s3://BUCKET[/PREFIX]". A set's
// id inside a repository is HOST/INSTANCE/SETNAME, so hosts can share one
// bucket without collisions.
//
// Errors are JET_ERR statuses (repo/backup_set.h, client/s3_client.h).
// Thread-safety: none; one backup drives one SetWriter.

#ifndef JETBACK_CLIENT_REPO_REPOSITORY_H_
#define JETBACK_CLIENT_REPO_REPOSITORY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/s3_client.h"
#include "repo/manifest.pb.h"

namespace jetback::repo {

class RepoKey;  // repo/set_codec.h

// One file of a set being written. Destroying it uncommitted abandons it
// (deletes the .part file, aborts the multipart upload).
class SetFile {
 public:
  virtual ~SetFile() = default;
  virtual absl::Status Append(absl::string_view data) = 0;
  // Finishes the digests; a differing expected_xxh3_128 (16 raw bytes) is
  // -1018 and nothing is committed. Then makes the file durable.
  virtual absl::Status Commit(absl::string_view expected_xxh3_128) = 0;
  virtual uint64_t size() const = 0;
  // Lower-case hex; valid after Commit (SHA-256 only when asked for).
  virtual const std::string& xxh3_128_hex() const = 0;
  virtual const std::string& sha256_hex() const = 0;
  // After Commit: records how the file is stored (codec, stored size and
  // digest) in its manifest entry; nothing for a file stored as streamed.
  virtual void AddStorageTo(ManifestFile* entry) const {}
};

// A set being written. Nothing is visible as a set before Finish.
class SetWriter {
 public:
  virtual ~SetWriter() = default;
  // -1814 when the name was used in this set already.
  virtual absl::StatusOr<std::unique_ptr<SetFile>> CreateFile(
      const std::string& name, bool sha256) = 0;
  // Makes every committed file durable, then writes the manifest.
  virtual absl::Status Finish(const Manifest& manifest) = 0;
  // Removes whatever this writer wrote. Safe after a failure of any step.
  virtual void Abandon() = 0;
  // For messages: the directory or s3:// address of the set.
  virtual std::string location() const = 0;
};

// The local set directory of `jetback backup --out DIR`, exactly as before
// repositories: `dir` was made ready by PrepareOutputDir, `created` says
// whether it made the directory (Abandon then removes it again).
std::unique_ptr<SetWriter> LocalSetWriter(const std::string& dir, bool created);

struct SetEntry {
  std::string id;        // HOST/INSTANCE/SETNAME
  std::string location;  // directory or s3:// address
  uint64_t bytes = 0;    // all of the set's files
  Manifest manifest;
};

// Knobs of the S3 repository (besides the S3Config).
struct RepoOptions {
  S3MultipartOptions multipart;
  // Decodes encrypted sets in LocalCopy (repo/set_codec.h); may be null.
  std::shared_ptr<const RepoKey> key;
};

class Repository {
 public:
  virtual ~Repository() = default;
  // A new set at HOST/INSTANCE/SETNAME. -504 when one is there already.
  virtual absl::StatusOr<std::unique_ptr<SetWriter>> CreateSet(
      const std::string& id) = 0;
  // Complete sets (those with a manifest) whose id starts with
  // `id_prefix`, in id order.
  virtual absl::StatusOr<std::vector<SetEntry>> ListSets(
      const std::string& id_prefix) = 0;
  // A local directory holding set `id` as plain files for verify /
  // restore: the set's own directory, or `staging` (an empty directory)
  // after downloading and decoding into it (RepoOptions::key for an
  // encrypted set: set_codec.h errors). -1811 when there is no complete
  // set `id`.
  virtual absl::StatusOr<std::string> LocalCopy(const std::string& id,
                                                const std::string& staging) = 0;
  // Removes the set: the manifest first, so it stops being a set at once.
  virtual absl::Status DeleteSet(const std::string& id) = 0;
  // Multipart uploads left incomplete under the repository (S3 only; a
  // backup aborts its own, but not when the store was unreachable then),
  // and aborting one. The local directory has none.
  virtual absl::StatusOr<std::vector<S3Upload>> IncompleteUploads() = 0;
  virtual absl::Status AbortUpload(const S3Upload& upload) = 0;
  virtual std::string url() const = 0;
};

// Opens the repository at `url`. For s3:// the S3Config gives the endpoint,
// region and keys. -1003 for an address it does not understand.
absl::StatusOr<std::unique_ptr<Repository>> OpenRepository(
    const std::string& url, const S3Config& s3, const RepoOptions& options);

// True for addresses OpenRepository takes as S3.
bool IsS3Url(absl::string_view url);

// "20261202T031500Z-full": sortable by time, unique per second and kind.
std::string NewSetName(absl::string_view kind);

}  // namespace jetback::repo

#endif  // JETBACK_CLIENT_REPO_REPOSITORY_H_
