// File: tests/client_test_util.h
//
// Helpers for the client's process-level tests: run the `jetback` CLI as a
// subprocess (capturing exit code, stdout and stderr), start it in the
// background, and poll a real condition with a deadline.

#ifndef JETBACK_TESTS_CLIENT_TEST_UTIL_H_
#define JETBACK_TESTS_CLIENT_TEST_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace jetback::testing {

struct CliResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out, err;
};

// A `jetback` process started in the background; output goes to files in
// `dir`.
class CliProcess {
 public:
  CliProcess(const std::string& dir, const std::vector<std::string>& args,
             const std::vector<std::string>& env = {});
  ~CliProcess();  // SIGKILL if still running
  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for the exit (SIGKILL after `timeout`) and collects the output.
  CliResult Wait(absl::Duration timeout = absl::Seconds(60));

 private:
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
};

// Runs `jetback ARGS...` to completion.
CliResult RunCli(const std::string& dir, const std::vector<std::string>& args,
                 const std::vector<std::string>& env = {});

// Polls `condition` until it holds or `timeout` passes; true if it held.
bool WaitUntil(const std::function<bool()>& condition,
               absl::Duration timeout = absl::Seconds(30));

std::string ReadFileOrEmpty(const std::string& path);

}  // namespace jetback::testing

#endif  // JETBACK_TESTS_CLIENT_TEST_UTIL_H_
