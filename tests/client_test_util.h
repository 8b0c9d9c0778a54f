// File: tests/client_test_util.h
//
// Helpers for the client's process-level tests: run the `jetback` CLI as a
// subprocess (capturing exit code, stdout and stderr), start it in the
// background, and poll a real condition with a deadline.

#ifndef JETBACK_TESTS_CLIENT_TEST_UTIL_H_
#define JETBACK_TESTS_CLIENT_TEST_UTIL_H_

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "jetback/mutex.h"
#include "jetback/v1/data.pb.h"

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

// One PUT per row (key -> value) into `table`, in key order: the operations
// of one Transact.
std::vector<v1::Operation> PutOperations(
    const std::map<std::string, std::string>& rows,
    const std::string& table = "t");

// Forwards each connection to `listen_path` to the Unix socket
// `target_path`. CutAll() breaks every current connection (a real transport
// break for the client); new connections keep working. Thread-safe.
class UnixProxy {
 public:
  UnixProxy(const std::string& listen_path, const std::string& target_path);
  ~UnixProxy();
  void CutAll();
  int cuts() const { return cuts_.load(); }

 private:
  void AcceptLoop();
  void Pump(int from, int to);

  std::string target_;
  int listen_fd_ = -1;
  std::atomic<int> cuts_{0};
  std::thread accept_thread_;
  jetback::Mutex mu_;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jetback::testing

#endif  // JETBACK_TESTS_CLIENT_TEST_UTIL_H_
