#include "client/s3_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/s3_xml.h"
#include "jetback/mutex.h"
#include "jetback/status.h"

namespace jetback {
namespace {

// Percent-encodes everything but RFC 3986 unreserved characters (and '/'
// when keep_slash), as SigV4's canonical URI and query want.
std::string UriEncode(absl::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// A query string as libcurl must sign it: parameters sorted by name, each
// percent-encoded and each with '=' (RGW answers SignatureDoesNotMatch
// otherwise; see object-storage-notes).
std::string Query(std::vector<std::pair<std::string, std::string>> params) {
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    absl::StrAppend(&out, UriEncode(name, false), "=", UriEncode(value, false));
  }
  return out;
}

std::string ContentMd5(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(md), len));
}

bool RetryableCurlCode(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

bool RetryableHttp(long http, absl::string_view code) {
  return http >= 500 || http == 429 || code == "SlowDown" ||
         code == "RequestTimeout";
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct S3Client::Request {
  const char* method = "GET";
  std::string bucket;
  std::string key;    // empty: the bucket itself
  std::string query;  // from Query()
  absl::string_view body;
  bool content_md5 = false;
  const char* content_type = nullptr;
  const std::function<absl::Status(absl::string_view)>* sink = nullptr;

  std::string Name() const {
    return key.empty() ? absl::StrCat("s3://", bucket)
                       : absl::StrCat("s3://", bucket, "/", key);
  }
};

struct S3Client::Response {
  long http = 0;
  std::string body;
  std::string etag;
};

struct S3Client::HandlePool {
  std::mutex mu;
  std::vector<CURL*> idle;
};

S3Client::S3Client(S3Config config)
    : config_(std::move(config)), pool_(std::make_unique<HandlePool>()) {
  InitCurlOnce();
}

S3Client::~S3Client() {
  for (CURL* h : pool_->idle) curl_easy_cleanup(h);
}

// Reusing easy handles keeps their connections alive between requests.
void* S3Client::TakeHandle() {
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    if (!pool_->idle.empty()) {
      CURL* h = pool_->idle.back();
      pool_->idle.pop_back();
      curl_easy_reset(h);
      return h;
    }
  }
  return curl_easy_init();
}

void S3Client::ReturnHandle(void* handle) {
  std::lock_guard<std::mutex> lock(pool_->mu);
  pool_->idle.push_back(static_cast<CURL*>(handle));
}

namespace {

// One attempt's state, reached from libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  absl::string_view upload;  // what is left to send
  const std::function<absl::Status(absl::string_view)>* sink = nullptr;
  absl::Status sink_status;
  uint64_t delivered = 0;  // bytes handed to the sink
  std::string body;        // response body when not streamed to the sink
  std::string etag;
};

size_t ReadCallback(char* buf, size_t size, size_t n, void* arg) {
  auto* t = static_cast<Transfer*>(arg);
  size_t len = std::min(size * n, t->upload.size());
  std::copy_n(t->upload.data(), len, buf);
  t->upload.remove_prefix(len);
  return len;
}

size_t WriteCallback(char* data, size_t size, size_t n, void* arg) {
  auto* t = static_cast<Transfer*>(arg);
  size_t len = size * n;
  long http = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &http);
  if (t->sink != nullptr && http >= 200 && http < 300) {
    t->sink_status = (*t->sink)(absl::string_view(data, len));
    if (!t->sink_status.ok()) return 0;  // ends the transfer
    t->delivered += len;
    return len;
  }
  // An error body is small; cap it anyway.
  if (t->body.size() < (1 << 20)) t->body.append(data, len);
  return len;
}

size_t HeaderCallback(char* data, size_t size, size_t n, void* arg) {
  auto* t = static_cast<Transfer*>(arg);
  absl::string_view line(data, size * n);
  if (absl::StartsWithIgnoreCase(line, "etag:")) {
    line.remove_prefix(5);
    t->etag = std::string(absl::StripAsciiWhitespace(line));
  }
  return size * n;
}

}  // namespace

absl::StatusOr<S3Client::Response> S3Client::Perform(Request& request) {
  std::string url =
      absl::StrCat(config_.endpoint, "/", UriEncode(request.bucket, false));
  if (!request.key.empty()) {
    absl::StrAppend(&url, "/", UriEncode(request.key, true));
  }
  if (!request.query.empty()) absl::StrAppend(&url, "?", request.query);
  const std::string sigv4 = absl::StrCat("aws:amz:", config_.region, ":s3");
  const std::string md5 =
      request.content_md5
          ? absl::StrCat("Content-MD5: ", ContentMd5(request.body))
          : std::string();
  const std::string content_type =
      request.content_type
          ? absl::StrCat("Content-Type: ", request.content_type)
          : std::string();

  absl::Status last;
  absl::Duration backoff = config_.initial_backoff;
  const int attempts = std::max(1, config_.max_attempts);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      absl::SleepFor(backoff);  // back-off between attempts, not a sync
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
    CURL* curl = static_cast<CURL*>(TakeHandle());
    if (curl == nullptr) {
      return JetStatus(jet::JET_errOutOfMemory, "curl_easy_init failed");
    }
    Transfer t;
    t.curl = curl;
    t.upload = request.body;
    t.sink = request.sink;
    char errbuf[CURL_ERROR_SIZE] = "";
    // RGW needs the payload hash header or rejects every signature; the
    // body's integrity is covered by Content-MD5 where there is one.
    // (No "Expect:" to turn 100-continue off: libcurl 7.88 signs that empty
    // header too, and RGW then answers SignatureDoesNotMatch.)
    curl_slist* headers =
        curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (!md5.empty()) headers = curl_slist_append(headers, md5.c_str());
    if (!content_type.empty()) {
      headers = curl_slist_append(headers, content_type.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, config_.access_key.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.secret_key.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(
        curl, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(absl::ToInt64Milliseconds(config_.connect_timeout)));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(absl::ToInt64Seconds(
                                      config_.stall_timeout))));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteCallback);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, HeaderCallback);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    const absl::string_view method = request.method;
    if (method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
      curl_easy_setopt(curl, CURLOPT_READDATA, &t);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    } else if (method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    } else if (method == "DELETE") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    CURLcode rc = curl_easy_perform(curl);
    long http = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
    curl_slist_free_all(headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    ReturnHandle(curl);

    if (!t.sink_status.ok()) return t.sink_status;
    bool retry = false;
    if (rc != CURLE_OK) {
      last = JetStatus(
          jet::JET_errDiskIO,
          absl::StrCat("S3 endpoint ", config_.endpoint, " unreachable (",
                       request.method, " ", request.Name(),
                       "): ", errbuf[0] ? errbuf : curl_easy_strerror(rc)));
      retry = RetryableCurlCode(rc) && t.delivered == 0;
    } else if (http >= 200 && http < 300) {
      return Response{http, std::move(t.body), std::move(t.etag)};
    } else {
      const std::string code = s3xml::Text(t.body, "Code");
      const std::string message = s3xml::Text(t.body, "Message");
      const std::string what =
          absl::StrCat(request.method, " ", request.Name());
      if (code == "NoSuchBucket") {
        last = JetStatus(jet::JET_errFileNotFound,
                         absl::StrCat("S3 bucket '", request.bucket,
                                      "' does not exist (NoSuchBucket)"));
      } else if (code == "NoSuchKey" || code == "NoSuchUpload" ||
                 (http == 404 && code.empty())) {
        last = JetStatus(jet::JET_errFileNotFound,
                         absl::StrCat(what, ": not found (",
                                      code.empty() ? "HTTP 404" : code, ")"));
      } else if (code == "SignatureDoesNotMatch" ||
                 code == "InvalidAccessKeyId" || code == "AccessDenied" ||
                 http == 403) {
        last = JetStatus(
            jet::JET_errAccessDenied,
            absl::StrCat(what, ": the store rejected the credentials (",
                         code.empty() ? "HTTP 403" : code,
                         "); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"));
      } else if (code == "BadDigest" || code == "InvalidDigest") {
        last = JetStatus(jet::JET_errReadVerifyFailure,
                         absl::StrCat(what,
                                      ": the store received other bytes "
                                      "than were sent (",
                                      code, ")"));
      } else {
        last = JetStatus(
            jet::JET_errDiskIO,
            absl::StrCat(what, ": HTTP ", http, code.empty() ? "" : " ", code,
                         message.empty() ? "" : ": ", message));
      }
      retry = RetryableHttp(http, code) && t.delivered == 0;
    }
    if (!retry) return last;
    if (attempt == attempts) {
      return JetStatus(JetErrOf(last), absl::StrCat(last.message(), " (after ",
                                                    attempt, " attempts)"));
    }
  }
  return last;
}

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// "key = value" lines of [section] in an AWS-style INI file; empty when the
// file or the section is missing.
std::map<std::string, std::string> IniSection(const std::string& path,
                                              const std::string& section) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (text.front() == '[' && text.back() == ']') {
      text.remove_prefix(1);
      text.remove_suffix(1);
      inside = absl::StripAsciiWhitespace(text) == section;
      continue;
    }
    size_t eq = text.find('=');
    if (!inside || eq == absl::string_view::npos) continue;
    out[std::string(absl::StripAsciiWhitespace(text.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(text.substr(eq + 1)));
  }
  return out;
}

}  // namespace

absl::StatusOr<S3Config> S3ConfigFromEnv(absl::string_view endpoint,
                                         absl::string_view region) {
  S3Config config;
  config.endpoint =
      endpoint.empty() ? Env("AWS_ENDPOINT_URL") : std::string(endpoint);
  config.access_key = Env("AWS_ACCESS_KEY_ID");
  config.secret_key = Env("AWS_SECRET_ACCESS_KEY");
  std::string region_name(region);
  if (region_name.empty()) region_name = Env("AWS_REGION");
  if (region_name.empty()) region_name = Env("AWS_DEFAULT_REGION");

  // What the variables leave open, the profile files may say (as the AWS
  // CLI reads them): keys from the credentials file, region and
  // endpoint_url from the config file.
  std::string profile = Env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  const std::string home = Env("HOME");
  std::string credentials_file = Env("AWS_SHARED_CREDENTIALS_FILE");
  if (credentials_file.empty()) credentials_file = home + "/.aws/credentials";
  std::string config_file = Env("AWS_CONFIG_FILE");
  if (config_file.empty()) config_file = home + "/.aws/config";
  if (config.access_key.empty() || config.secret_key.empty()) {
    auto keys = IniSection(credentials_file, profile);
    if (config.access_key.empty())
      config.access_key = keys["aws_access_key_id"];
    if (config.secret_key.empty()) {
      config.secret_key = keys["aws_secret_access_key"];
    }
  }
  if (region_name.empty() || config.endpoint.empty()) {
    auto settings = IniSection(
        config_file, profile == "default" ? profile : "profile " + profile);
    if (region_name.empty()) region_name = settings["region"];
    if (config.endpoint.empty()) config.endpoint = settings["endpoint_url"];
  }
  if (!region_name.empty()) config.region = region_name;

  for (auto [value, name] :
       {std::pair{&config.endpoint, "AWS_ENDPOINT_URL"},
        std::pair{&config.access_key, "AWS_ACCESS_KEY_ID"},
        std::pair{&config.secret_key, "AWS_SECRET_ACCESS_KEY"}}) {
    if (value->empty()) {
      return JetStatus(
          jet::JET_errInvalidParameter,
          absl::StrCat(name,
                       " is not set (needed for s3://), nor is it in "
                       "profile '",
                       profile, "' of ", credentials_file, " / ", config_file));
    }
  }
  while (!config.endpoint.empty() && config.endpoint.back() == '/') {
    config.endpoint.pop_back();
  }
  return config;
}

absl::Status S3Client::CreateBucket(const std::string& bucket) {
  Request r;
  r.method = "PUT";
  r.bucket = bucket;
  absl::StatusOr<Response> response = Perform(r);
  return response.status();
}

absl::Status S3Client::PutObject(const std::string& bucket,
                                 const std::string& key,
                                 absl::string_view data) {
  Request r;
  r.method = "PUT";
  r.bucket = bucket;
  r.key = key;
  r.body = data;
  r.content_md5 = true;
  return Perform(r).status();
}

absl::Status S3Client::GetObject(
    const std::string& bucket, const std::string& key,
    const std::function<absl::Status(absl::string_view)>& sink) {
  Request r;
  r.bucket = bucket;
  r.key = key;
  r.sink = &sink;
  return Perform(r).status();
}

absl::StatusOr<std::string> S3Client::GetObject(const std::string& bucket,
                                                const std::string& key) {
  std::string data;
  JB_RETURN_IF_ERROR(
      GetObject(bucket, key, [&](absl::string_view chunk) -> absl::Status {
        data.append(chunk.data(), chunk.size());
        return absl::OkStatus();
      }));
  return data;
}

absl::StatusOr<std::vector<S3Object>> S3Client::ListObjects(
    const std::string& bucket, const std::string& prefix, int max_keys) {
  std::vector<S3Object> out;
  std::string token;
  while (true) {
    std::vector<std::pair<std::string, std::string>> params = {
        {"list-type", "2"}, {"prefix", prefix}};
    if (max_keys > 0) params.push_back({"max-keys", absl::StrCat(max_keys)});
    if (!token.empty()) params.push_back({"continuation-token", token});
    Request r;
    r.bucket = bucket;
    r.query = Query(std::move(params));
    JB_ASSIGN_OR_RETURN(Response response, Perform(r));
    for (absl::string_view entry : s3xml::Elements(response.body, "Contents")) {
      S3Object object;
      object.key = s3xml::Text(entry, "Key");
      if (!absl::SimpleAtoi(s3xml::Text(entry, "Size"), &object.size)) {
        object.size = 0;
      }
      object.last_modified = s3xml::Text(entry, "LastModified");
      out.push_back(std::move(object));
    }
    if (s3xml::Text(response.body, "IsTruncated") != "true") break;
    token = s3xml::Text(response.body, "NextContinuationToken");
    if (token.empty()) {
      return JetStatus(jet::JET_errDiskIO,
                       absl::StrCat("listing s3://", bucket, "/", prefix,
                                    ": truncated without a continuation"));
    }
  }
  return out;
}

absl::Status S3Client::DeleteObject(const std::string& bucket,
                                    const std::string& key) {
  Request r;
  r.method = "DELETE";
  r.bucket = bucket;
  r.key = key;
  absl::Status status = Perform(r).status();
  if (JetErrOf(status) == jet::JET_errFileNotFound &&
      !absl::StrContains(status.message(), "NoSuchBucket")) {
    return absl::OkStatus();
  }
  return status;
}

absl::StatusOr<std::string> S3Client::CreateMultipartUpload(
    const std::string& bucket, const std::string& key) {
  Request r;
  r.method = "POST";
  r.bucket = bucket;
  r.key = key;
  r.query = "uploads=";  // a bare "?uploads" is answered 403 by RGW
  JB_ASSIGN_OR_RETURN(Response response, Perform(r));
  std::string id = s3xml::Text(response.body, "UploadId");
  if (id.empty()) {
    return JetStatus(jet::JET_errDiskIO,
                     absl::StrCat("starting a multipart upload of ", r.Name(),
                                  ": no UploadId in the answer"));
  }
  return id;
}

absl::StatusOr<std::string> S3Client::UploadPart(const std::string& bucket,
                                                 const std::string& key,
                                                 const std::string& upload_id,
                                                 int number,
                                                 absl::string_view data) {
  Request r;
  r.method = "PUT";
  r.bucket = bucket;
  r.key = key;
  r.query =
      Query({{"partNumber", absl::StrCat(number)}, {"uploadId", upload_id}});
  r.body = data;
  r.content_md5 = true;
  JB_ASSIGN_OR_RETURN(Response response, Perform(r));
  if (response.etag.empty()) {
    return JetStatus(jet::JET_errDiskIO,
                     absl::StrCat("part ", number, " of ", r.Name(),
                                  ": no ETag in the answer"));
  }
  return response.etag;
}

absl::Status S3Client::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key,
    const std::string& upload_id, const std::vector<S3Part>& parts) {
  std::string body = "<CompleteMultipartUpload>";
  for (const S3Part& part : parts) {
    absl::StrAppend(&body, "<Part><PartNumber>", part.number,
                    "</PartNumber><ETag>", s3xml::Escape(part.etag),
                    "</ETag></Part>");
  }
  body += "</CompleteMultipartUpload>";
  Request r;
  r.method = "POST";
  r.bucket = bucket;
  r.key = key;
  r.query = Query({{"uploadId", upload_id}});
  r.body = body;
  r.content_type = "application/xml";
  JB_ASSIGN_OR_RETURN(Response response, Perform(r));
  // S3 may answer 200 and still report an error in the body.
  if (!s3xml::Elements(response.body, "Error").empty()) {
    return JetStatus(jet::JET_errDiskIO,
                     absl::StrCat("completing ", r.Name(), ": ",
                                  s3xml::Text(response.body, "Code"), " ",
                                  s3xml::Text(response.body, "Message")));
  }
  return absl::OkStatus();
}

absl::Status S3Client::AbortMultipartUpload(const std::string& bucket,
                                            const std::string& key,
                                            const std::string& upload_id) {
  Request r;
  r.method = "DELETE";
  r.bucket = bucket;
  r.key = key;
  r.query = Query({{"uploadId", upload_id}});
  return Perform(r).status();
}

absl::StatusOr<std::vector<S3Upload>> S3Client::ListMultipartUploads(
    const std::string& bucket, const std::string& prefix) {
  std::vector<S3Upload> out;
  std::string key_marker, id_marker;
  while (true) {
    std::vector<std::pair<std::string, std::string>> params = {
        {"prefix", prefix}, {"uploads", ""}};
    if (!key_marker.empty()) params.push_back({"key-marker", key_marker});
    if (!id_marker.empty()) params.push_back({"upload-id-marker", id_marker});
    Request r;
    r.bucket = bucket;
    r.query = Query(std::move(params));
    JB_ASSIGN_OR_RETURN(Response response, Perform(r));
    for (absl::string_view entry : s3xml::Elements(response.body, "Upload")) {
      out.push_back({s3xml::Text(entry, "Key"), s3xml::Text(entry, "UploadId"),
                     s3xml::Text(entry, "Initiated")});
    }
    if (s3xml::Text(response.body, "IsTruncated") != "true") break;
    key_marker = s3xml::Text(response.body, "NextKeyMarker");
    id_marker = s3xml::Text(response.body, "NextUploadIdMarker");
    if (key_marker.empty()) break;
  }
  return out;
}

// ---------------------------------------------------------------------------
// S3MultipartWriter

struct S3MultipartWriter::Shared {
  struct Pending {
    int number;
    std::string data;
  };
  jetback::Mutex mu;
  std::deque<Pending> queue ABSL_GUARDED_BY(mu);
  int busy ABSL_GUARDED_BY(mu) = 0;  // parts being uploaded
  bool stopping ABSL_GUARDED_BY(mu) = false;
  absl::Status error ABSL_GUARDED_BY(mu);
  std::vector<S3Part> parts ABSL_GUARDED_BY(mu);
  std::vector<std::thread> workers;  // the producer's

  int InFlight() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return static_cast<int>(queue.size()) + busy;
  }
};

S3MultipartWriter::S3MultipartWriter(S3Client* client, std::string bucket,
                                     std::string key,
                                     const S3MultipartOptions& options)
    : client_(client),
      bucket_(std::move(bucket)),
      key_(std::move(key)),
      options_{std::max<size_t>(options.part_size, 1),
               std::max(options.concurrency, 1)},
      shared_(std::make_unique<Shared>()) {}

S3MultipartWriter::~S3MultipartWriter() {
  Abort();
  {
    MutexLock lock(&shared_->mu);
    shared_->stopping = true;
  }
  for (std::thread& t : shared_->workers) t.join();
}

absl::Status S3MultipartWriter::StartUpload() {
  JB_ASSIGN_OR_RETURN(upload_id_,
                      client_->CreateMultipartUpload(bucket_, key_));
  Shared* shared = shared_.get();
  for (int i = 0; i < options_.concurrency; ++i) {
    shared->workers.emplace_back([this, shared] {
      while (true) {
        Shared::Pending part;
        {
          MutexLock lock(&shared->mu);
          auto ready = [shared]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return shared->stopping || !shared->queue.empty();
          };
          shared->mu.Await(Condition(&ready));
          if (shared->queue.empty()) return;
          part = std::move(shared->queue.front());
          shared->queue.pop_front();
          if (!shared->error.ok()) continue;  // failed already: drop it
          ++shared->busy;
        }
        absl::StatusOr<std::string> etag = client_->UploadPart(
            bucket_, key_, upload_id_, part.number, part.data);
        MutexLock lock(&shared->mu);
        --shared->busy;
        if (etag.ok()) {
          shared->parts.push_back({part.number, *std::move(etag)});
        } else if (shared->error.ok()) {
          shared->error = etag.status();
        }
      }
    });
  }
  return absl::OkStatus();
}

absl::Status S3MultipartWriter::WaitForParts(int max_in_flight) {
  Shared* shared = shared_.get();
  MutexLock lock(&shared->mu);
  auto ready = [shared, max_in_flight]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return shared->InFlight() <= max_in_flight || !shared->error.ok();
  };
  shared->mu.Await(Condition(&ready));
  return shared->error;
}

absl::Status S3MultipartWriter::SendPart() {
  if (upload_id_.empty()) JB_RETURN_IF_ERROR(StartUpload());
  JB_RETURN_IF_ERROR(WaitForParts(options_.concurrency - 1));
  MutexLock lock(&shared_->mu);
  shared_->queue.push_back({next_part_++, std::move(filling_)});
  filling_ = std::string();
  return absl::OkStatus();
}

absl::Status S3MultipartWriter::Append(absl::string_view data) {
  if (done_) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "append to a finished S3 object");
  }
  while (!data.empty()) {
    if (filling_.capacity() < options_.part_size) {
      filling_.reserve(options_.part_size);
    }
    size_t take = std::min(options_.part_size - filling_.size(), data.size());
    filling_.append(data.data(), take);
    data.remove_prefix(take);
    size_ += take;
    if (filling_.size() == options_.part_size) {
      absl::Status status = SendPart();
      if (!status.ok()) {
        Abort();
        return status;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status S3MultipartWriter::Complete() {
  if (done_) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "complete of a finished S3 object");
  }
  if (upload_id_.empty()) {  // smaller than one part: one PUT
    done_ = true;
    absl::Status status = client_->PutObject(bucket_, key_, filling_);
    filling_ = std::string();
    return status;
  }
  absl::Status status;
  if (!filling_.empty()) status = SendPart();
  if (status.ok()) status = WaitForParts(0);
  if (!status.ok()) {
    Abort();
    return status;
  }
  std::vector<S3Part> parts;
  {
    MutexLock lock(&shared_->mu);
    parts = shared_->parts;
  }
  std::sort(parts.begin(), parts.end(), [](const S3Part& a, const S3Part& b) {
    return a.number < b.number;
  });
  status = client_->CompleteMultipartUpload(bucket_, key_, upload_id_, parts);
  if (!status.ok()) {
    Abort();
    return status;
  }
  done_ = true;
  return absl::OkStatus();
}

void S3MultipartWriter::Abort() {
  if (done_) return;
  done_ = true;
  filling_ = std::string();
  if (upload_id_.empty()) return;
  {
    // Queued parts are dropped; the ones being sent are waited for, so the
    // abort is the last word on this upload.
    Shared* shared = shared_.get();
    MutexLock lock(&shared->mu);
    shared->queue.clear();
    auto idle = [shared]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return shared->busy == 0;
    };
    shared->mu.Await(Condition(&idle));
  }
  client_->AbortMultipartUpload(bucket_, key_, upload_id_)
      .IgnoreError();  // best effort: `jetback sets uploads` finds leftovers
}

}  // namespace jetback
