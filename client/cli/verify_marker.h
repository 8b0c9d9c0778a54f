// File: client/cli/verify_marker.h
//
// Verify records: what the last `jetback verify --repo URL SET` found about
// a set, kept beside it as SETNAME.verified.json (a file next to the set's
// directory, or an object next to its prefix in S3). Not inside the set:
// verify leaves sets as they are, and a set's listing, digests and deletion
// never see the record. `jetback expire` reads them (the newest full set
// whose verify passed is never deleted) and removes the record of each set
// it deletes; `jetback sets delete` leaves it (a small orphan file).
//
// Thread-safety: none; one command uses one VerifyRecords.

#ifndef JETBACK_CLIENT_CLI_VERIFY_MARKER_H_
#define JETBACK_CLIENT_CLI_VERIFY_MARKER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "client/repo/repository.h"
#include "client/s3_client.h"

namespace jetback::cli {

using repo::Manifest;
using repo::SetEntry;

inline constexpr char kVerifyRecordSuffix[] = ".verified.json";

struct VerifyRecord {
  bool ok = false;          // verify passed
  bool deep = false;        // with --deep (a trial restore)
  std::string verified_at;  // RFC 3339, UTC
  std::string by;           // "jetback VERSION"
};

// {"ok":true,"deep":false,"verified_at":"...","by":"..."}; parsing gives
// -1003 for anything else.
std::string VerifyRecordToJson(const VerifyRecord& record);
absl::StatusOr<VerifyRecord> VerifyRecordFromJson(const std::string& json);

class VerifyRecords {
 public:
  // `s3` is used for sets whose location is s3:// (ignored otherwise).
  explicit VerifyRecords(S3Config s3);
  ~VerifyRecords();

  absl::Status Write(const SetEntry& set, const VerifyRecord& record);
  // nullopt when the set has none; -1003 when it does not parse.
  absl::StatusOr<std::optional<VerifyRecord>> Read(const SetEntry& set);
  // OK also when there is none.
  absl::Status Remove(const SetEntry& set);

 private:
  S3Config s3_config_;
  std::unique_ptr<S3Client> s3_;  // made on first use
};

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_VERIFY_MARKER_H_
