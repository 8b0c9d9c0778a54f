#include "jetback/jet_err.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace jetback {
namespace {

constexpr JetErrInfo kTable[] = {
#define JET_ERR_ENTRY(sym, val, code, desc) \
  {val, #sym, absl::StatusCode::code, desc},
#include "jetback/jet_err_table.inc"
#undef JET_ERR_ENTRY
};

}  // namespace

std::span<const JetErrInfo> AllJetErrs() { return kTable; }

std::optional<JetErrInfo> FindJetErr(JetErr err) {
  // 80-odd entries: a linear scan is cheaper than building a map, and this
  // runs only on error paths.
  for (const JetErrInfo& info : kTable) {
    if (info.value == err) return info;
  }
  return std::nullopt;
}

std::string JetErrSymbol(JetErr err) {
  if (auto info = FindJetErr(err)) return std::string(info->symbol);
  return absl::StrCat("JET_err(", err, ")");
}

absl::StatusCode JetErrStatusCode(JetErr err) {
  if (auto info = FindJetErr(err)) return info->status_code;
  return absl::StatusCode::kUnknown;
}

}  // namespace jetback
