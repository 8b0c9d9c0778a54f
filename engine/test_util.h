// File: engine/test_util.h
//
// Helpers shared by the storage engine's tests: a fresh temporary
// directory per test and instance options pointing into it.

#ifndef JETBACK_ENGINE_TEST_UTIL_H_
#define JETBACK_ENGINE_TEST_UTIL_H_

#include <dirent.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "jetback/instance.h"
#include "jetback/status.h"

namespace jetback::testing_util {

// Threads of this process now (entries of /proc/self/task); -1 on error.
inline int ProcessThreads() {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

inline std::string MakeTempDir() {
  std::string tmpl = ::testing::TempDir() + "/jetback_storage_XXXXXX";
  char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

class TempDir {
 public:
  TempDir() : path_(MakeTempDir()) {}
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline InstanceOptions Options(const std::string& dir,
                               const std::string& name = "inst") {
  InstanceOptions o;
  o.name = name;
  o.log_dir = dir + "/logs";
  o.system_dir = dir + "/sys";
  o.log_file_size = 256 * 1024;
  o.flush_interval = absl::Milliseconds(20);
  return o;
}

}  // namespace jetback::testing_util

#define JB_ASSERT_OK(expr)                             \
  do {                                                 \
    ::absl::Status jb_s_ = (expr);                     \
    ASSERT_TRUE(jb_s_.ok()) << #expr << ": " << jb_s_; \
  } while (0)
#define JB_EXPECT_ERR(expr, err) \
  EXPECT_EQ(::jetback::JetErrOf((expr)), (err)) << #expr

#endif  // JETBACK_ENGINE_TEST_UTIL_H_
