// jetbackd's TOML configuration: any bytes give a config or a -1003 that
// names a key; an accepted config only holds plain instance and database
// names.
#include <cstddef>
#include <cstdint>

#include "daemon/config.h"
#include "fuzz/fuzz_util.h"
#include "jetback/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jetback;
  const absl::string_view toml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<daemon::DaemonConfig> config =
      daemon::ParseConfig(toml, "fuzz.toml", "/nonexistent/jetback-fuzz");
  if (!config.ok()) {
    JB_FUZZ_CHECK(JetErrOf(config.status()) != 0);
    return 0;
  }
  JB_FUZZ_CHECK(!config->instances.empty());
  for (const daemon::InstanceConfig& i : config->instances) {
    JB_FUZZ_CHECK(daemon::CheckFileName(i.name).ok());
    for (const std::string& db : i.databases) {
      JB_FUZZ_CHECK(daemon::CheckFileName(db).ok());
    }
  }
  return 0;
}
