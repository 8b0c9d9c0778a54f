// File: tests/rgw_test_util.h
//
// The test cluster's radosgw (tests/rgw/rgw-cluster, started by the ctest
// fixture `rgw`): its endpoint and keys from the env file the start wrote,
// and a bucket name per test.

#ifndef JETBACK_TESTS_RGW_TEST_UTIL_H_
#define JETBACK_TESTS_RGW_TEST_UTIL_H_

#include <unistd.h>

#include <cctype>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/s3_client.h"
#include "gtest/gtest.h"

namespace jetback::testing {

// KEY=VALUE lines of the env file; empty when the cluster is not running.
inline std::map<std::string, std::string> RgwEnv() {
  std::map<std::string, std::string> env;
  std::ifstream in(JETBACK_RGW_ENV_FILE);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// The same as "K=V" strings, for a child process's environment.
inline std::vector<std::string> RgwEnvStrings() {
  std::vector<std::string> out;
  for (const auto& [k, v] : RgwEnv()) out.push_back(k + "=" + v);
  return out;
}

inline S3Config RgwConfig() {
  std::map<std::string, std::string> env = RgwEnv();
  EXPECT_FALSE(env.empty()) << "no " << JETBACK_RGW_ENV_FILE
                            << ": is the rgw fixture (rgw_cluster_start) up?";
  S3Config config;
  config.endpoint = env["AWS_ENDPOINT_URL"];
  config.region = env["AWS_REGION"];
  config.access_key = env["AWS_ACCESS_KEY_ID"];
  config.secret_key = env["AWS_SECRET_ACCESS_KEY"];
  return config;
}

// A bucket name unique to this test and process (S3 rules: 3-63 chars of
// lower-case letters, digits and '-').
inline std::string TestBucketName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrCat("jb-", info->name(), "-", getpid());
  std::string out;
  for (char c : name) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c))
                      ? static_cast<char>(std::tolower(c))
                      : '-');
  }
  return out.substr(0, 63);
}

}  // namespace jetback::testing

#endif  // JETBACK_TESTS_RGW_TEST_UTIL_H_
