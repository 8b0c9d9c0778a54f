// Verify records beside the sets: a file for directory repositories, an
// object for S3 ones (see verify_marker.h).

#include "client/cli/verify_marker.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cli/output.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "jetback/status.h"

namespace jetback::cli {
namespace {

struct S3Key {
  std::string bucket, key;
};

// "s3://BUCKET/PREFIX/HOST/INSTANCE/SET/" -> BUCKET, PREFIX/.../SET + suffix.
bool S3KeyOf(const std::string& location, S3Key* out) {
  absl::string_view rest = location;
  if (!absl::ConsumePrefix(&rest, "s3://")) return false;
  while (absl::ConsumeSuffix(&rest, "/")) {
  }
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) return false;
  out->bucket = std::string(rest.substr(0, slash));
  out->key = absl::StrCat(rest.substr(slash + 1), kVerifyRecordSuffix);
  return true;
}

std::string LocalPathOf(const std::string& location) {
  std::string dir = location;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + kVerifyRecordSuffix;
}

}  // namespace

std::string VerifyRecordToJson(const VerifyRecord& r) {
  return absl::StrCat("{\"ok\":", r.ok ? "true" : "false",
                      ",\"deep\":", r.deep ? "true" : "false",
                      ",\"verified_at\":", JsonString(r.verified_at),
                      ",\"by\":", JsonString(r.by), "}\n");
}

absl::StatusOr<VerifyRecord> VerifyRecordFromJson(const std::string& json) {
  google::protobuf::Struct parsed;
  auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  const auto& f = parsed.fields();
  if (!status.ok() || f.count("ok") == 0 ||
      f.at("ok").kind_case() != google::protobuf::Value::kBoolValue ||
      f.count("verified_at") == 0 ||
      f.at("verified_at").kind_case() !=
          google::protobuf::Value::kStringValue) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "not a verify record ({\"ok\":BOOL,\"verified_at\":...})");
  }
  VerifyRecord r;
  r.ok = f.at("ok").bool_value();
  r.verified_at = f.at("verified_at").string_value();
  if (f.count("deep") != 0) r.deep = f.at("deep").bool_value();
  if (f.count("by") != 0) r.by = f.at("by").string_value();
  return r;
}

VerifyRecords::VerifyRecords(S3Config s3) : s3_config_(std::move(s3)) {}
VerifyRecords::~VerifyRecords() = default;

absl::Status VerifyRecords::Write(const SetEntry& set,
                                  const VerifyRecord& record) {
  const std::string json = VerifyRecordToJson(record);
  S3Key k;
  if (S3KeyOf(set.location, &k)) {
    if (s3_ == nullptr) s3_ = std::make_unique<S3Client>(s3_config_);
    return s3_->PutObject(k.bucket, k.key, json);
  }
  // .part + rename: a reader sees the old record or the new one.
  const std::string path = LocalPathOf(set.location);
  const std::string part = path + ".part";
  {
    std::ofstream out(part, std::ios::trunc);
    out << json;
    out.close();
    if (!out) {
      return JetStatus(jet::JET_errDiskIO, absl::StrCat("cannot write ", part));
    }
  }
  if (std::rename(part.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(part.c_str());
    return JetStatus(jet::JET_errDiskIO,
                     absl::StrCat("cannot rename ", part, ": ", strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<VerifyRecord>> VerifyRecords::Read(
    const SetEntry& set) {
  std::string json, name;
  S3Key k;
  if (S3KeyOf(set.location, &k)) {
    if (s3_ == nullptr) s3_ = std::make_unique<S3Client>(s3_config_);
    auto got = s3_->GetObject(k.bucket, k.key);
    if (!got.ok() && JetErrOf(got.status()) == jet::JET_errFileNotFound) {
      return std::optional<VerifyRecord>();
    }
    if (!got.ok()) return got.status();
    json = *std::move(got);
    name = absl::StrCat("s3://", k.bucket, "/", k.key);
  } else {
    name = LocalPathOf(set.location);
    std::ifstream in(name);
    if (!in) {
      if (errno == ENOENT) return std::optional<VerifyRecord>();
      return JetStatus(jet::JET_errDiskIO, absl::StrCat("cannot read ", name));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    json = buffer.str();
  }
  auto record = VerifyRecordFromJson(json);
  if (!record.ok()) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat(name, ": ", record.status().message()));
  }
  return std::optional<VerifyRecord>(*std::move(record));
}

absl::Status VerifyRecords::Remove(const SetEntry& set) {
  S3Key k;
  if (S3KeyOf(set.location, &k)) {
    if (s3_ == nullptr) s3_ = std::make_unique<S3Client>(s3_config_);
    return s3_->DeleteObject(k.bucket, k.key);
  }
  const std::string path = LocalPathOf(set.location);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return JetStatus(jet::JET_errDiskIO, absl::StrCat("cannot delete ", path,
                                                      ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace jetback::cli
