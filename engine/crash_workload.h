// File: engine/crash_workload.h
//
// The deterministic workload of the crash test, shared by the child that
// runs it (crash_child.cc) and the test that checks what survived
// (crash_test.cc). Writer thread w's transaction i puts keys
// "w<w>/<i>/<j>" for j < Parts(w, i), sets "w<w>/last" = i and deletes
// "w<w>/<i-5>/0", all in one commit.

#ifndef JETBACK_ENGINE_CRASH_WORKLOAD_H_
#define JETBACK_ENGINE_CRASH_WORKLOAD_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "jetback/instance.h"

namespace jetback::crash {

inline constexpr int kWriters = 2;

inline uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

inline int Parts(int w, int i) {
  return 1 + static_cast<int>(Mix(w * 1000003ULL + i) % 4);
}

inline std::string Key(int w, int i, int j) {
  char buf[64];
  snprintf(buf, sizeof(buf), "w%d/%08d/%d", w, i, j);
  return buf;
}

inline std::string LastKey(int w) { return "w" + std::to_string(w) + "/last"; }

inline std::string Value(int w, int i, int j) {
  uint64_t h = Mix((uint64_t(w) << 40) ^ (uint64_t(i) << 8) ^ j);
  size_t len = h % 100 < 5 ? 10000 + h % 10000 : 50 + h % 600;
  std::string v(len, '\0');
  for (size_t k = 0; k < len; ++k) v[k] = static_cast<char>('a' + (h + k) % 26);
  return v;
}

// Everything the table must hold once writer w has committed 1..last[w].
inline std::map<std::string, std::string> Expected(const int* last) {
  std::map<std::string, std::string> m;
  for (int w = 0; w < kWriters; ++w) {
    if (last[w] > 0) m[LastKey(w)] = std::to_string(last[w]);
    for (int i = 1; i <= last[w]; ++i) {
      for (int j = 0; j < Parts(w, i); ++j) {
        if (j == 0 && i + 5 <= last[w]) continue;  // deleted by i + 5
        m[Key(w, i, j)] = Value(w, i, j);
      }
    }
  }
  return m;
}

inline InstanceOptions CrashOptions(const std::string& dir, uint32_t page_size,
                                    bool circular) {
  InstanceOptions o;
  o.name = "crash";
  o.log_dir = dir + "/logs";
  o.system_dir = dir + "/sys";
  o.page_size = page_size;
  o.log_file_size = 64 * 1024;  // frequent rolls
  o.circular_logging = circular;
  o.cache_pages = 24;  // evictions and background flushes all the time
  o.flush_interval = absl::Milliseconds(3);
  return o;
}

}  // namespace jetback::crash

#endif  // JETBACK_ENGINE_CRASH_WORKLOAD_H_
