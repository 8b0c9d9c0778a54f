#include "jetback/jet_err.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "jetback/status.h"

namespace jetback {
namespace {

TEST(JetErrTable, SymbolsAndValuesAreUnique) {
  std::set<JetErr> values;
  std::set<std::string> symbols;
  for (const JetErrInfo& info : AllJetErrs()) {
    EXPECT_TRUE(values.insert(info.value).second) << info.symbol;
    EXPECT_TRUE(symbols.insert(std::string(info.symbol)).second) << info.symbol;
    EXPECT_EQ(info.symbol.substr(0, 4), "JET_") << info.symbol;
    EXPECT_FALSE(info.description.empty()) << info.symbol;
    EXPECT_LE(info.value, 0) << info.symbol;
    EXPECT_EQ(info.value == 0, info.status_code == absl::StatusCode::kOk)
        << info.symbol;
  }
}

// Every code ese-semantics.md section 1.3 lists, plus the data-path codes.
TEST(JetErrTable, ListsEveryDocumentedCode) {
  const JetErr documented[] = {
      0,     -501,  -504,  -505,  -506,  -510,  -515,  -516,  -519,  -520,
      -521,  -523,  -524,  -525,  -526,  -528,  -529,  -530,  -533,  -535,
      -538,  -542,  -552,  -553,  -554,  -555,  -556,  -557,  -560,  -565,
      -569,  -577,  -610,  -611,  -612,  -615,  -616,  -617,  -800,  -801,
      -900,  -1000, -1003, -1011, -1018, -1022, -1023, -1029, -1030, -1059,
      -1080, -1081, -1090, -1115, -1118, -1119, -1203, -1206, -1231, -1329,
      -1811, -1850,
      // data path
      -107,  -408,  -1026, -1102, -1305, -1601, -1605, -1808, -1907};
  for (JetErr err : documented) {
    EXPECT_TRUE(FindJetErr(err).has_value()) << err;
  }
}

TEST(JetErrTable, NamedConstantsMatchValues) {
  EXPECT_EQ(jet::JET_errBackupAbortByServer, -801);
  EXPECT_EQ(jet::JET_errRunningInMultiInstanceMode, -1081);
  EXPECT_EQ(jet::JET_errNoBackup, -520);
  EXPECT_EQ(JetErrSymbol(-801), "JET_errBackupAbortByServer");
  EXPECT_EQ(JetErrSymbol(-12345), "JET_err(-12345)");
}

// The code mapping DESIGN.md fixes.
TEST(JetErrTable, StatusCodesFollowTheDesign) {
  using C = absl::StatusCode;
  const struct {
    JetErr err;
    C code;
  } expected[] = {
      {-801, C::kAborted},           {-505, C::kAlreadyExists},
      {-520, C::kFailedPrecondition}, {-521, C::kFailedPrecondition},
      {-560, C::kFailedPrecondition}, {-616, C::kFailedPrecondition},
      {-1081, C::kFailedPrecondition}, {-900, C::kInvalidArgument},
      {-1003, C::kInvalidArgument},  {-1011, C::kResourceExhausted},
      {-1808, C::kResourceExhausted}, {-1018, C::kDataLoss},
      {-1118, C::kDataLoss},         {-1119, C::kDataLoss},
      {-612, C::kDataLoss},          {-569, C::kNotFound},
      {-1203, C::kNotFound},         {-1811, C::kNotFound},
      {-523, C::kUnavailable},       {-1000, C::kUnavailable},
      {-1029, C::kUnavailable},      {-1090, C::kUnavailable},
      {-1329, C::kUnavailable},      {-1907, C::kPermissionDenied},
  };
  for (const auto& e : expected) {
    EXPECT_EQ(JetErrStatusCode(e.err), e.code) << e.err;
  }
  EXPECT_EQ(JetErrStatusCode(-12345), C::kUnknown);
}

TEST(JetStatus, EveryEntryRoundTrips) {
  for (const JetErrInfo& info : AllJetErrs()) {
    if (info.value == 0) continue;
    absl::Status status = JetStatus(info.value, "context");
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), info.status_code) << info.symbol;
    EXPECT_EQ(JetErrOf(status), info.value) << info.symbol;
    EXPECT_EQ(status.message(), "context");
  }
}

TEST(JetStatus, ReasonAndInitiatorTravel) {
  absl::Status status = JetStatusWithReason(
      jet::JET_errBackupAbortByServer, "stopped", "maintenance", "uid:0");
  EXPECT_EQ(JetErrOf(status), -801);
  EXPECT_EQ(JetReasonOf(status), "maintenance");
  EXPECT_EQ(JetInitiatorOf(status), "uid:0");
  EXPECT_EQ(JetReasonOf(JetStatus(-520)), "");
}

TEST(JetStatus, DefaultMessageNamesTheSymbol) {
  EXPECT_EQ(JetStatus(-520).message(), "JET_errNoBackup (-520)");
}

TEST(JetStatus, UnknownValueNeverBecomesOk) {
  absl::Status status = JetStatus(-4242);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(JetErrOf(status), -4242);
}

TEST(JetStatus, BareStatusesMapToDocumentedValues) {
  EXPECT_EQ(JetErrOf(absl::OkStatus()), 0);
  EXPECT_EQ(JetErrOf(absl::UnavailableError("x")), -1090);
  EXPECT_EQ(JetErrOf(absl::DeadlineExceededError("x")), -1090);
  EXPECT_EQ(JetErrOf(absl::CancelledError("x")), -801);
  EXPECT_EQ(JetErrOf(absl::PermissionDeniedError("x")), -1907);
  EXPECT_EQ(JetErrOf(absl::UnauthenticatedError("x")), -1907);
  EXPECT_EQ(JetErrOf(absl::InvalidArgumentError("x")), -1003);
  EXPECT_EQ(JetErrOf(absl::ResourceExhaustedError("x")), -1011);
  EXPECT_EQ(JetErrOf(absl::UnimplementedError("x")), -1001);
  EXPECT_EQ(JetErrOf(absl::InternalError("x")), -107);
  EXPECT_EQ(JetErrOf(absl::UnknownError("x")), -107);
  EXPECT_EQ(JetErrOf(absl::DataLossError("x")), -1022);
}

absl::Status FailsThenPropagates(bool fail) {
  JB_RETURN_IF_ERROR(fail ? JetStatus(-1003) : absl::OkStatus());
  return absl::OkStatus();
}

absl::StatusOr<int> MaybeInt(bool fail) {
  if (fail) return JetStatus(-1601);
  return 7;
}

absl::StatusOr<int> AddOne(bool fail) {
  JB_ASSIGN_OR_RETURN(int v, MaybeInt(fail));
  return v + 1;
}

TEST(StatusMacros, PropagateErrors) {
  EXPECT_EQ(JetErrOf(FailsThenPropagates(true)), -1003);
  EXPECT_TRUE(FailsThenPropagates(false).ok());
  EXPECT_EQ(*AddOne(false), 8);
  EXPECT_EQ(JetErrOf(AddOne(true).status()), -1601);
}

}  // namespace
}  // namespace jetback
