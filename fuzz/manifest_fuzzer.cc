// The backup-set manifest as verify and restore read it: any bytes give a
// manifest or a named error; an accepted manifest names only files inside
// the set, and checking the set against it never fails hard.
#include <cstddef>
#include <cstdint>

#include "client/repo/backup_set.h"
#include "fuzz/fuzz_util.h"
#include "jetback/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jetback;
  static const std::string set = jetback::fuzz::FreshDir("set");
  static const bool seeded = [] {
    fuzz::WriteFile(set + "/demo.edb", std::string(8192, 'd'));
    fuzz::WriteFile(set + "/E0000000001.log", std::string(4096, 'l'));
    return true;
  }();
  (void)seeded;
  fuzz::WriteFile(set + "/manifest.json",
                  absl::string_view(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<repo::Manifest> m = repo::ReadManifest(set);
  if (!m.ok()) {
    JB_FUZZ_CHECK(JetErrOf(m.status()) != 0);
    return 0;
  }
  for (const repo::ManifestFile& f : m->files()) {
    JB_FUZZ_CHECK(!f.name().empty() && f.name() != "." && f.name() != "..");
    JB_FUZZ_CHECK(f.name().find('/') == std::string::npos);
  }
  (void)repo::CheckSetFiles(set, *m);
  return 0;
}
