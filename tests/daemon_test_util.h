// File: tests/daemon_test_util.h
//
// Fixture pieces for process-level tests: a temporary directory, a real
// jetbackd process started on a config written there (waited for with a
// health Check, never a sleep), a NOTIFY_SOCKET receiver, and small gRPC
// helpers that read the JetError detail of a status.

#ifndef JETBACK_TESTS_DAEMON_TEST_UTIL_H_
#define JETBACK_TESTS_DAEMON_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "jetback/jet_err.h"
#include "jetback/v1/backup.grpc.pb.h"
#include "jetback/v1/data.grpc.pb.h"
#include "jetback/v1/instances.grpc.pb.h"

namespace jetback::testing {

// mkdtemp under /tmp (short: Unix socket paths are limited); removed with
// its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct DaemonConfigOptions {
  std::vector<std::string> instances = {"demo"};
  int lease_ms = 60000;
  int chunk_size = 64 * 1024;
  // TOML lines for [roles]; empty: every role for uid 0 and our own uid.
  std::string roles;
  std::string extra;           // more top-level TOML (before any table)
  std::string tcp;             // e.g. "127.0.0.1:0": adds a TCP listener
  std::string tables;          // more TOML tables, e.g. "[tls]\n..."
  std::string instance_extra;  // more TOML keys for every [[instances]]
};

// Writes ca.pem, localhost.pem/.key (CN=localhost; names localhost and
// 127.0.0.1) and <client>.pem/.key for each space-separated name in
// `client` into `dir` with the openssl CLI; false when that fails.
bool MakeTlsFiles(const std::string& dir, const std::string& client);

// A config whose state_dir is `dir` and socket <dir>/jetbackd.sock; each
// instance has <name>.edb with table "t".
std::string DaemonConfig(const std::string& dir,
                         const DaemonConfigOptions& options = {});

class DaemonProcess {
 public:
  // Writes `config_toml` to <dir>/jetbackd.toml, starts jetbackd with it
  // (plus `env` entries "K=V"), and waits until the socket answers a health
  // Check. Fails the test (and returns nullptr) if it does not within 30 s.
  static std::unique_ptr<DaemonProcess> Start(
      const std::string& dir, const std::string& config_toml,
      const std::vector<std::string>& env = {});
  ~DaemonProcess();  // SIGKILL if still running

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_; }
  // A new connection each call (no subchannel sharing between channels).
  std::shared_ptr<grpc::Channel> Connect() const;

  void Signal(int sig);
  // Waits for exit; returns the exit code, or -1 (killed / timed out).
  int WaitExit(absl::Duration timeout);
  std::string Log() const;  // its stderr so far

 private:
  DaemonProcess() = default;
  pid_t pid_ = -1;
  std::string dir_, socket_, log_;
};

// Receives sd_notify datagrams on <dir>/notify.sock.
class NotifyReceiver {
 public:
  explicit NotifyReceiver(const std::string& dir);
  ~NotifyReceiver();
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }
  // Waits until a received message from the `skip`-th on contains `text`;
  // true when one did.
  bool WaitFor(const std::string& text, absl::Duration timeout,
               size_t skip = 0);
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  int fd_ = -1;
  std::string path_;
  std::vector<std::string> messages_;
};

// The JetError of a failed call (0 for OK; -1 when it has no detail).
JetErr JetErrOf(const grpc::Status& status);
std::string ReasonOf(const grpc::Status& status);
std::string InitiatorOf(const grpc::Status& status);

grpc::Status CallWithDeadline(
    const std::function<grpc::Status(grpc::ClientContext*)>& call);

// Puts key -> value rows into `table` of the instance's first database.
grpc::Status PutRows(
    v1::Data::Stub* data, const std::string& instance, const std::string& table,
    const std::vector<std::pair<std::string, std::string>>& rows);

struct StreamedFile {
  grpc::Status status;
  std::string data;  // bytes received, in order
  bool saw_last = false;
  std::string xxh3_128;  // the last message's whole-file digest
  uint64_t file_size = 0;
  bool checksums_ok = true;  // every chunk's xxh3 and offset matched
};

// Reads a whole ReadFile stream, checking each chunk's offset and XXH3:
// the chunk's XXH3-64, or with stream_digest the running XXH3-128 of the
// stream (and that no XXH3-64 came).
StreamedFile ReadStream(v1::Backup::Stub* backup, const std::string& instance,
                        const std::string& backup_id, uint64_t offset,
                        uint64_t length, bool stream_digest = false);

std::string Sha256(const std::string& data);
// XXH3-128 in canonical (big-endian) form, as FileChunk.xxh3_128 carries it.
std::string Xxh3_128(const std::string& data);

}  // namespace jetback::testing

#endif  // JETBACK_TESTS_DAEMON_TEST_UTIL_H_
