// File: client/s3_client.h
//
// A small S3 client for backup repositories: objects, listings and
// multipart uploads against any S3-compatible endpoint (tested against Ceph
// RGW), over libcurl with its built-in AWS SigV4 signing. Path-style
// addressing (ENDPOINT/BUCKET/KEY), so a bare IP endpoint works.
//
// Errors are JET_ERR statuses naming the cause:
//   -1811 JET_errFileNotFound   NoSuchBucket, NoSuchKey, NoSuchUpload
//   -1907 JET_errAccessDenied   SignatureDoesNotMatch, InvalidAccessKeyId,
//                               AccessDenied
//   -1018 JET_errReadVerifyFailure  BadDigest (Content-MD5 mismatch)
//   -1022 JET_errDiskIO         endpoint unreachable or timing out, 5xx after
//                               the retries, anything else the store rejects
//   -1003 JET_errInvalidParameter  a bad configuration
// Requests that fail with a 5xx, a connection error or a timeout are retried
// with exponential back-off (S3Config::max_attempts in all).
//
// Thread-safety: S3Client is thread-safe; S3MultipartWriter is not (one
// producer), though it uploads its parts on its own threads.

#ifndef JETBACK_CLIENT_S3_CLIENT_H_
#define JETBACK_CLIENT_S3_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jetback {

struct S3Config {
  std::string endpoint;  // "http://127.0.0.1:7480" (scheme and authority)
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  int max_attempts = 4;  // first try included
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration connect_timeout = absl::Seconds(5);
  // A request that moves no byte for this long is abandoned (and retried).
  absl::Duration stall_timeout = absl::Seconds(30);
};

// The configuration from AWS_ENDPOINT_URL, AWS_REGION (else
// AWS_DEFAULT_REGION, else us-east-1), AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY; a non-empty `endpoint` / `region` (from flags)
// stands in for its variable. What they leave open comes from profile
// AWS_PROFILE (default "default") as the AWS CLI keeps it: keys in
// AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), region and
// endpoint_url in AWS_CONFIG_FILE (~/.aws/config). -1003 naming what is
// missing.
absl::StatusOr<S3Config> S3ConfigFromEnv(absl::string_view endpoint = {},
                                         absl::string_view region = {});

struct S3Object {
  std::string key;
  uint64_t size = 0;
  std::string last_modified;  // as the store reports it (ISO 8601)
};

struct S3Upload {
  std::string key;
  std::string upload_id;
  std::string initiated;
};

struct S3Part {
  int number = 0;    // 1-based
  std::string etag;  // as returned by UploadPart, quotes included
};

class S3Client {
 public:
  explicit S3Client(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Config& config() const { return config_; }

  // OK also when the bucket exists and is ours already.
  absl::Status CreateBucket(const std::string& bucket);
  // One PUT with Content-MD5: the store rejects a body that arrives damaged.
  absl::Status PutObject(const std::string& bucket, const std::string& key,
                         absl::string_view data);
  // Streams the object's bytes to `sink` in order. A sink error ends the
  // transfer and is returned as is. Retried only before the first byte.
  absl::Status GetObject(
      const std::string& bucket, const std::string& key,
      const std::function<absl::Status(absl::string_view)>& sink);
  absl::StatusOr<std::string> GetObject(const std::string& bucket,
                                        const std::string& key);
  // Every object whose key starts with `prefix`, in key order, following
  // continuation tokens (max_keys per request; 0: the store's default).
  absl::StatusOr<std::vector<S3Object>> ListObjects(const std::string& bucket,
                                                    const std::string& prefix,
                                                    int max_keys = 0);
  // OK also when the object does not exist (S3 semantics).
  absl::Status DeleteObject(const std::string& bucket, const std::string& key);

  // Multipart upload, piece by piece; S3MultipartWriter drives these.
  absl::StatusOr<std::string> CreateMultipartUpload(const std::string& bucket,
                                                    const std::string& key);
  // Uploads part `number` (1-based) with Content-MD5; returns its ETag.
  absl::StatusOr<std::string> UploadPart(const std::string& bucket,
                                         const std::string& key,
                                         const std::string& upload_id,
                                         int number, absl::string_view data);
  absl::Status CompleteMultipartUpload(const std::string& bucket,
                                       const std::string& key,
                                       const std::string& upload_id,
                                       const std::vector<S3Part>& parts);
  absl::Status AbortMultipartUpload(const std::string& bucket,
                                    const std::string& key,
                                    const std::string& upload_id);
  // Incomplete uploads whose key starts with `prefix`.
  absl::StatusOr<std::vector<S3Upload>> ListMultipartUploads(
      const std::string& bucket, const std::string& prefix);

  struct Request;  // internal
  struct Response;

 private:
  absl::StatusOr<Response> Perform(Request& request);
  void* TakeHandle();
  void ReturnHandle(void* handle);

  const S3Config config_;
  struct HandlePool;
  std::unique_ptr<HandlePool> pool_;
};

struct S3MultipartOptions {
  size_t part_size = 8 << 20;  // >= 5 MiB for every part but the last (S3)
  int concurrency = 4;         // parts in flight at once
};

// Writes one object from a stream of appends: the first part_size bytes
// start a multipart upload and go out as part 1 while the next part fills;
// at most `concurrency` parts are in flight (Append blocks for a free slot).
// An object that never reaches part_size is written with one PutObject at
// Complete. Anything not completed is aborted, so no incomplete upload stays
// behind: by Abort(), by the destructor, or after the first failed part.
class S3MultipartWriter {
 public:
  S3MultipartWriter(S3Client* client, std::string bucket, std::string key,
                    const S3MultipartOptions& options = {});
  ~S3MultipartWriter();  // Abort() unless completed

  // The first error of any part, once seen, is returned (and the upload
  // aborted).
  absl::Status Append(absl::string_view data);
  // Uploads the rest, waits for every part and completes the object.
  absl::Status Complete();
  // Waits for parts in flight, then aborts the upload. Safe to repeat.
  void Abort();

  uint64_t size() const { return size_; }
  int parts() const { return next_part_ - 1; }

 private:
  struct Shared;
  absl::Status StartUpload();
  absl::Status SendPart();
  absl::Status WaitForParts(int max_in_flight);

  S3Client* const client_;
  const std::string bucket_, key_;
  const S3MultipartOptions options_;
  std::string upload_id_;
  std::string filling_;
  int next_part_ = 1;
  uint64_t size_ = 0;
  bool done_ = false;
  std::unique_ptr<Shared> shared_;
};

}  // namespace jetback

#endif  // JETBACK_CLIENT_S3_CLIENT_H_
