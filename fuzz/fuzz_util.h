// File: fuzz/fuzz_util.h
//
// Small pieces shared by the fuzz targets: a scratch directory per process
// (under /dev/shm when it exists, so file-based targets stay fast) and a
// check that aborts with a message, which libFuzzer reports as a crash.

#ifndef JETBACK_FUZZ_FUZZ_UTIL_H_
#define JETBACK_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/string_view.h"

namespace jetback::fuzz {

#define JB_FUZZ_CHECK(cond)                                                 \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

// A fresh, empty directory `name` inside this process's scratch root.
inline std::string FreshDir(const std::string& name) {
  static const std::string root = [] {
    const char* base =
        std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string r =
        std::string(base) + "/jetback-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(r);
    return r;
  }();
  const std::string dir = root + "/" + name;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void WriteFile(const std::string& path, absl::string_view bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
}

}  // namespace jetback::fuzz

#endif  // JETBACK_FUZZ_FUZZ_UTIL_H_
