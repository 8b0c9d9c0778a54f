// A whole backup set as `jetback verify` and `jetback restore` read it:
// hostile files must give a named error (a JET_ERR), never a crash, and
// restore writes only inside its target directory.
//
// Input: [flags][gen_low][gen_high], then entries
// [kind][seal][u32 size][u16 n][n bytes]: file `kind` (demo.edb, other.edb,
// E00 generations 1-3, E00.chk) holds the n bytes zero-padded to `size`
// (at most 256 KiB). With `seal`, database pages (4 KiB) get valid checksums
// and log blocks after the header are resealed, so the checks behind the
// checksums are reached.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>

#include "engine/format.h"
#include "fuzz/fuzz_util.h"
#include "jetback/restore.h"
#include "jetback/status.h"

namespace {

using namespace jetback;
namespace fs = std::filesystem;

const char* const kNames[] = {"demo.edb",        "other.edb",
                              "E0000000001.log", "E0000000002.log",
                              "E0000000003.log", "E00.chk"};

void Seal(size_t kind, std::string* file) {
  if (kind <= 1) {
    for (size_t off = 0; off + 4096 <= file->size(); off += 4096) {
      format::SealPage(absl::MakeSpan(file->data() + off, 4096));
    }
  } else if (kind <= 4) {
    const uint32_t gen = static_cast<uint32_t>(kind - 1);
    for (size_t b = 1; (b + 1) * format::kLogBlockSize <= file->size(); ++b) {
      char* block = file->data() + b * format::kLogBlockSize;
      format::LogBlockHeader h;
      std::memcpy(&h, block, sizeof(h));
      h.generation = gen;
      h.block = static_cast<uint32_t>(b);
      format::SealLogBlock(h, absl::MakeSpan(block, format::kLogBlockSize));
    }
  }
}

std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const std::string root = fuzz::FreshDir("backup-set");
  const std::string set = root + "/set";
  fs::create_directories(set);
  size_t pos = 3;
  while (pos + 8 <= size) {
    const size_t kind = data[pos] % 6;
    const bool seal = data[pos + 1] & 1;
    uint32_t declared;
    uint16_t n;
    std::memcpy(&declared, data + pos + 2, 4);
    std::memcpy(&n, data + pos + 6, 2);
    pos += 8;
    n = static_cast<uint16_t>(std::min<size_t>(n, size - pos));
    std::string file(
        std::min<uint32_t>(std::max<uint32_t>(declared, n), 256 << 10), '\0');
    std::memcpy(file.data(), data + pos, std::min<size_t>(n, file.size()));
    pos += n;
    if (seal) Seal(kind, &file);
    fuzz::WriteFile(set + "/" + kNames[kind], file);
  }
  const std::set<std::string> before = Names(set);

  RestoreOptions options;
  options.backup_dir = set;
  options.target_dir = root + "/target";
  options.gen_low = data[1] % 5;
  options.gen_high = data[2] % 5;
  absl::StatusOr<VerifyResult> verified = VerifyBackupSet(options);
  if (verified.ok()) {
    for (const VerifyResult::FileResult& f : verified->files) {
      JB_FUZZ_CHECK(f.status.ok() || JetErrOf(f.status) != 0);
    }
  } else {
    JB_FUZZ_CHECK(JetErrOf(verified.status()) != 0);
  }
  if (data[0] & 1) {
    absl::StatusOr<RestoreResult> restored = Restore(options);
    if (!restored.ok()) JB_FUZZ_CHECK(JetErrOf(restored.status()) != 0);
    // Nothing written outside the target; the set itself untouched.
    for (const std::string& name : Names(root)) {
      JB_FUZZ_CHECK(name == "set" || name == "target");
    }
    JB_FUZZ_CHECK(Names(set) == before);
  }
  return 0;
}
