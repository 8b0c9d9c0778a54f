#include "proto/jet_status.h"

#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "jetback/status.h"
#include "jetback/v1/errors.pb.h"

namespace jetback {
namespace {

TEST(JetGrpcStatus, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(JetGrpcStatus, EveryTableEntryRoundTrips) {
  for (const JetErrInfo& info : AllJetErrs()) {
    if (info.value == 0) continue;
    grpc::Status wire = ToGrpcStatus(JetStatus(info.value, "msg"));
    EXPECT_EQ(static_cast<int>(wire.error_code()),
              static_cast<int>(info.status_code))
        << info.symbol;
    EXPECT_TRUE(HasJetErrorDetail(wire)) << info.symbol;
    absl::Status back = FromGrpcStatus(wire);
    EXPECT_EQ(JetErrOf(back), info.value) << info.symbol;
    EXPECT_EQ(back.code(), info.status_code) << info.symbol;
    EXPECT_EQ(back.message(), "msg");
  }
}

// Messages may echo client input: what goes on the wire is bounded and cut
// on a UTF-8 boundary, so the detail still parses.
TEST(JetGrpcStatus, LongTextIsCutToItsBound) {
  const std::string huge = "x" + std::string(1 << 20, 'n') + "y";
  std::string utf8;
  for (int i = 0; i < 4096; ++i) utf8 += "\xc3\xa9";  // é
  grpc::Status wire =
      ToGrpcStatus(JetStatusWithReason(-1003, huge, utf8, utf8));
  EXPECT_LE(wire.error_message().size(), kMaxStatusMessageBytes);
  EXPECT_LE(wire.error_details().size(), 2048u);
  absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(JetErrOf(back), -1003);
  EXPECT_LE(JetReasonOf(back).size(), kMaxStatusReasonBytes);
  EXPECT_LE(JetInitiatorOf(back).size(), kMaxStatusInitiatorBytes);
  EXPECT_EQ(JetReasonOf(back).substr(JetReasonOf(back).size() - 3), "...");
  // Whole characters only: the cut never splits "\xc3\xa9".
  const std::string r = JetReasonOf(back);
  EXPECT_EQ((r.size() - 3) % 2, 0u);
}

TEST(JetGrpcStatus, DetailIsAGoogleRpcStatusWithJetError) {
  grpc::Status wire = ToGrpcStatus(
      JetStatusWithReason(-801, "stopped", "operator maintenance", "uid:1000"));
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::ABORTED);
  google::rpc::Status rpc_status;
  ASSERT_TRUE(rpc_status.ParseFromString(wire.error_details()));
  EXPECT_EQ(rpc_status.code(), static_cast<int>(grpc::StatusCode::ABORTED));
  ASSERT_EQ(rpc_status.details_size(), 1);
  v1::JetError error;
  ASSERT_TRUE(rpc_status.details(0).UnpackTo(&error));
  EXPECT_EQ(error.jet_err(), -801);
  EXPECT_EQ(error.symbol(), "JET_errBackupAbortByServer");
  EXPECT_EQ(error.reason(), "operator maintenance");
  EXPECT_EQ(error.initiator(), "uid:1000");

  absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(JetReasonOf(back), "operator maintenance");
  EXPECT_EQ(JetInitiatorOf(back), "uid:1000");
}

TEST(JetGrpcStatus, UnlistedValueSurvives) {
  grpc::Status wire = ToGrpcStatus(JetStatus(-4321, "odd"));
  EXPECT_EQ(JetErrOf(FromGrpcStatus(wire)), -4321);
}

TEST(JetGrpcStatus, ForeignStatusGetsItsDocumentedValue) {
  grpc::Status wire = ToGrpcStatus(absl::DeadlineExceededError("slow"));
  EXPECT_EQ(JetErrOf(FromGrpcStatus(wire)), -1090);
}

TEST(JetGrpcStatus, BareTransportCodesMapAsDocumented) {
  const struct {
    grpc::StatusCode code;
    JetErr err;
  } cases[] = {
      {grpc::StatusCode::UNAVAILABLE, -1090},
      {grpc::StatusCode::DEADLINE_EXCEEDED, -1090},
      {grpc::StatusCode::CANCELLED, -801},
      {grpc::StatusCode::PERMISSION_DENIED, -1907},
      {grpc::StatusCode::UNAUTHENTICATED, -1907},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, -1011},
      {grpc::StatusCode::UNIMPLEMENTED, -1001},
      {grpc::StatusCode::INTERNAL, -107},
      {grpc::StatusCode::UNKNOWN, -107},
      {grpc::StatusCode::INVALID_ARGUMENT, -1003},
  };
  for (const auto& c : cases) {
    grpc::Status bare(c.code, "transport says no");
    EXPECT_FALSE(HasJetErrorDetail(bare));
    absl::Status back = FromGrpcStatus(bare);
    EXPECT_EQ(JetErrOf(back), c.err) << static_cast<int>(c.code);
    EXPECT_NE(back.message().find("transport says no"), std::string::npos);
  }
}

TEST(JetGrpcStatus, GarbageDetailsAreTreatedAsBare) {
  grpc::Status wire(grpc::StatusCode::ABORTED, "x", "\xff\xff not a proto");
  EXPECT_FALSE(HasJetErrorDetail(wire));
  EXPECT_EQ(JetErrOf(FromGrpcStatus(wire)), -801);
}

}  // namespace
}  // namespace jetback
