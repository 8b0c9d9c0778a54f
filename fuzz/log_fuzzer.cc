// The log-block checks and the log-file scanner that recovery and restore
// run over every generation (ScanLogFile). Input: a mode byte, then the
// file. In sealed mode the harness writes a valid header for generation 1
// and seals every 4 KiB block (its first 4 bytes give data_len and flags),
// so the record decoder behind the checksums is what gets fuzzed.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/format.h"
#include "engine/log.h"
#include "fuzz/fuzz_util.h"
#include "jetback/status.h"

namespace {

using namespace jetback;

constexpr uint64_t kSignature = 0x5eed5eed5eed5eedull;

std::string Sealed(absl::string_view in) {
  const size_t blocks =
      1 + (in.size() + format::kLogBlockSize - 1) / format::kLogBlockSize;
  std::string file(blocks * format::kLogBlockSize, '\0');
  format::LogFileHeader h;
  h.generation = 1;
  h.log_signature = kSignature;
  h.create_time_us = 1;
  h.page_size = 4096;
  h.log_file_size = file.size();
  h.base_name = "E00";
  if (!format::EncodeLogHeader(
           h, absl::MakeSpan(file.data(), format::kLogBlockSize))
           .ok()) {
    return file;
  }
  for (size_t b = 1; b < blocks; ++b) {
    char* block = file.data() + b * format::kLogBlockSize;
    const size_t off = (b - 1) * format::kLogBlockSize;
    const size_t n = std::min<size_t>(format::kLogBlockSize, in.size() - off);
    std::memcpy(block, in.data() + off, n);
    format::LogBlockHeader bh{};
    uint16_t len_flags[2] = {0, 0};
    std::memcpy(len_flags, block, std::min<size_t>(n, 4));
    bh.generation = 1;
    bh.block = static_cast<uint32_t>(b);
    bh.data_len = len_flags[0];
    bh.flags = len_flags[1];
    bh.log_signature = kSignature;
    format::SealLogBlock(bh, absl::MakeSpan(block, format::kLogBlockSize));
  }
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > (1 << 20)) return 0;
  const bool seal = data[0] & 1;
  const bool tolerate_tail = data[0] & 2;
  const absl::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string file = seal ? Sealed(in) : std::string(in);

  // Block-level checks on whatever whole blocks there are.
  const size_t whole = file.size() / format::kLogBlockSize;
  for (size_t b = 0; b < whole && b < 8; ++b) {
    format::LogBlockHeader bh;
    const absl::Status s = format::CheckLogBlock(
        absl::MakeSpan(file.data() + b * format::kLogBlockSize,
                       format::kLogBlockSize),
        1, static_cast<uint32_t>(b), &bh);
    JB_FUZZ_CHECK(s.ok() || JetErrOf(s) == jet::JET_errLogReadVerifyFailure);
  }
  if (whole > 0) {
    const absl::Status s = format::VerifyLogBlocks(
        1, 0, absl::MakeSpan(file.data(), whole * format::kLogBlockSize));
    JB_FUZZ_CHECK(s.ok() || JetErrOf(s) == jet::JET_errLogReadVerifyFailure);
  }

  static const std::string dir = fuzz::FreshDir("log");
  const std::string path = dir + "/E0000000001.log";
  fuzz::WriteFile(path, file);
  uint64_t records = 0;
  absl::StatusOr<LogScan> scan =
      ScanLogFile(Env::Default(), path, 1, 0, 1, tolerate_tail,
                  [&](uint64_t, const LogRecord& r) {
                    ++records;
                    if (r.type == LogRecordType::kPageImage) {
                      JB_FUZZ_CHECK(r.page.size() <= 32768);
                    }
                    return absl::OkStatus();
                  });
  if (scan.ok()) {
    JB_FUZZ_CHECK(uint64_t{scan->end_block} * format::kLogBlockSize <=
                  file.size() + format::kLogBlockSize);
  } else {
    JB_FUZZ_CHECK(JetErrOf(scan.status()) != 0);
  }
  return 0;
}
