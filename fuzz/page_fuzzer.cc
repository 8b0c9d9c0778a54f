// Page verification and the header/trailer decoders, on pages as a backup
// set or a damaged disk may hold them. With the first byte's low bit set the
// page is sealed first (a valid checksum over fuzzed content), so the
// decoders behind the checksum are reached too. Errors are only the
// documented ones, and whatever decodes re-encodes and decodes again.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/format.h"
#include "fuzz/fuzz_util.h"
#include "jetback/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jetback;
  if (size < 6) return 0;
  const bool seal = data[0] & 1;
  const uint32_t page_size = (data[0] & 2) ? 8192 : 4096;
  uint32_t pgno;
  std::memcpy(&pgno, data + 1, 4);
  const uint64_t min_dbtime = data[5];
  std::string page(page_size, '\0');
  std::memcpy(page.data(), data + 6, std::min<size_t>(size - 6, page_size));
  if (seal) format::SealPage(absl::MakeSpan(page));

  const absl::Status v = format::VerifyPage(page, pgno, min_dbtime);
  const JetErr e = JetErrOf(v);
  JB_FUZZ_CHECK(e == 0 || e == jet::JET_errReadVerifyFailure ||
                e == jet::JET_errReadPgnoVerifyFailure ||
                e == jet::JET_errReadLostFlushVerifyFailure);
  (void)format::VerifiedDbtime(page, pgno);
  (void)format::ReadPageHeader(page);

  absl::StatusOr<DatabaseHeaderInfo> h = format::DecodeDbHeader(page);
  if (h.ok()) {
    std::string again(page_size, '\0');
    if (format::EncodeDbHeader(*h, absl::MakeSpan(again)).ok()) {
      JB_FUZZ_CHECK(format::DecodeDbHeader(again).ok());
    }
  } else {
    JB_FUZZ_CHECK(JetErrOf(h.status()) != 0);
  }
  absl::StatusOr<format::TrailerInfo> t = format::DecodeTrailer(page);
  if (t.ok()) {
    std::string again(page_size, '\0');
    if (format::EncodeTrailer(*t, absl::MakeSpan(again)).ok()) {
      JB_FUZZ_CHECK(format::DecodeTrailer(again).ok());
    }
  } else {
    JB_FUZZ_CHECK(JetErrOf(t.status()) != 0);
  }
  return 0;
}
