// The daemon's request checks (daemon/request_checks.h) on requests parsed
// from arbitrary bytes, the way gRPC hands them to the handlers. The first
// byte picks the request type. Every check returns OK or a JET_ERR status
// whose message stays short whatever the input.
#include <cstddef>
#include <cstdint>

#include "daemon/request_checks.h"
#include "fuzz/fuzz_util.h"
#include "jetback/status.h"
#include "jetback/v1/instances.pb.h"

namespace {

using namespace jetback;

void Expect(const absl::Status& s) {
  if (s.ok()) return;
  JB_FUZZ_CHECK(JetErrOf(s) != 0);
  JB_FUZZ_CHECK(s.message().size() <= 512);
}

template <typename Request>
bool Parse(absl::string_view bytes, Request* req) {
  return req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  switch (data[0] % 6) {
    case 0: {
      v1::BeginBackupRequest req;
      if (!Parse(bytes, &req)) return 0;
      Expect(daemon::CheckRequestSize(req, daemon::kMaxControlRequestBytes));
      Expect(daemon::CheckBeginRequest(req));
      Expect(daemon::CheckNameLength(req.instance(), "instance name"));
      break;
    }
    case 1: {
      v1::OpenFileRequest req;
      if (!Parse(bytes, &req)) return 0;
      const absl::Status s = daemon::CheckOpenFileRequest(req);
      Expect(s);
      // An accepted name reaches the engine: never empty, never with a NUL.
      if (s.ok()) {
        JB_FUZZ_CHECK(!req.name().empty());
        JB_FUZZ_CHECK(req.name().find('\0') == std::string::npos);
      }
      break;
    }
    case 2: {
      v1::StopBackupRequest req;
      if (!Parse(bytes, &req)) return 0;
      const absl::Status s = daemon::CheckStopReason(req.reason());
      Expect(s);
      if (s.ok()) {
        for (unsigned char c : req.reason())
          JB_FUZZ_CHECK(c >= 0x20 && c != 0x7f);
      }
      break;
    }
    case 3: {
      v1::TransactRequest req;
      if (!Parse(bytes, &req)) return 0;
      Expect(daemon::CheckTransactRequest(req, 100));
      break;
    }
    case 4: {
      v1::ReadFileRequest req;
      if (!Parse(bytes, &req)) return 0;
      Expect(daemon::CheckBackupId(req.backup_id()));
      Expect(daemon::CheckRequestSize(req, daemon::kMaxControlRequestBytes));
      break;
    }
    case 5: {
      v1::DatabaseRequest req;
      if (!Parse(bytes, &req)) return 0;
      const absl::Status s = daemon::CheckFileName(req.name());
      Expect(s);
      if (s.ok()) {
        JB_FUZZ_CHECK(req.name().find('/') == std::string::npos);
        JB_FUZZ_CHECK(req.name() != ".." && req.name() != ".");
      }
      break;
    }
  }
  return 0;
}
