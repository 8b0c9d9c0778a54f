// File: daemon/config.h
//
// jetbackd's configuration: listeners, hosted instances, roles and limits.
// Read from a TOML file (see systemd/jetbackd.toml.example for every key) or
// built from the embedded default: one instance "demo" under a local state
// directory, listening on a Unix socket inside it.
//
// Errors are JET_ERR statuses (-1003) whose message names the offending key,
// e.g. "instances[1].page_size: must be 4096, 8192, 16384 or 32768".

#ifndef JETBACK_DAEMON_CONFIG_H_
#define JETBACK_DAEMON_CONFIG_H_

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jetback::daemon {

struct ListenerConfig {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string address;  // socket path (unix) or host:port (tcp)
};

// Parses "unix:PATH" or "tcp:HOST:PORT". `key` names the setting in errors.
absl::StatusOr<ListenerConfig> ParseListener(absl::string_view spec,
                                             absl::string_view key);

struct TlsConfig {
  std::string cert_file;       // server certificate chain (PEM)
  std::string key_file;        // its private key (PEM)
  std::string client_ca_file;  // CA that signs client certificates (PEM)
};

// Principals granted each role: "uid:0", "uid:backup", "gid:jetback",
// "cert:ops-agent" (client certificate common name).
struct RolesConfig {
  std::vector<std::string> read;  // run and watch backups
  std::vector<std::string> stop;  // StopBackup, StopService, attach/detach
  std::vector<std::string> data;  // the Data service
};

struct InstanceConfig {
  std::string name;
  std::string data_dir;  // databases are file names inside it
  std::string log_dir;
  std::string system_dir;
  std::string base_name = "E00";
  uint32_t page_size = 8192;
  uint64_t log_file_size = 1 << 20;
  bool circular_logging = false;
  // Ceiling on ReadFile pacing, bytes per second (0: none): protects the
  // instance's I/O from backups. Defaults to limits.max_backup_rate.
  uint64_t max_backup_rate = 0;
  // A page that fails verification while streamed is read again up to
  // page_read_attempts times in all; the n-th retry first waits n times
  // page_read_backoff. ESE's reference: 17 tries, 13.6 s in total.
  int page_read_attempts = 17;
  absl::Duration page_read_backoff = absl::Milliseconds(100);
  // Attached at start, created (with `tables`) when missing.
  std::vector<std::string> databases;
  std::vector<std::string> tables;
};

struct DaemonConfig {
  std::string state_dir;
  std::vector<ListenerConfig> listeners;
  mode_t socket_mode = 0660;
  std::string socket_group;  // empty: the daemon's group
  TlsConfig tls;
  RolesConfig roles;
  absl::Duration lease = absl::Seconds(60);
  uint32_t chunk_size = 1 << 20;  // ReadFile data bytes per message
  // How long an aborted stream may wait for its client before TryCancel.
  absl::Duration stop_grace = absl::Seconds(1);
  int max_streams = 64;  // concurrent ReadFile streams, all instances
  // Nice value of the threads that read and verify backup data (0-19): on
  // a busy host the backup yields CPU to the instances' own work.
  int reader_nice = 10;
  int max_transaction_ops = 10000;
  // Default of every instance's max_backup_rate.
  uint64_t max_backup_rate = 0;
  // Largest message the transport reads on any call (Transact's bound;
  // every other call takes kMaxControlRequestBytes once parsed).
  uint32_t max_request_bytes = 4 << 20;
  // gRPC ResourceQuota: transport buffers across all connections, and the
  // threads serving calls. Together with max_request_bytes they bound the
  // daemon's memory under hostile input (README, "Memory bound").
  uint64_t grpc_memory_bytes = 64 << 20;
  int grpc_max_threads = 64;
  // Threads flushing and checkpointing every instance (a shared pool; extra
  // ones only while a flush stalls). 0: min(2, cores).
  int background_threads = 0;
  absl::Duration keepalive = absl::Seconds(30);
  // [metrics] listen: "IPv4:PORT" of the Prometheus endpoint (GET
  // /metrics); empty (the default): no endpoint. Port 0 picks one (logged).
  std::string metrics_listen;
  std::vector<InstanceConfig> instances;
};

// "A.B.C.D:PORT" -> address (port 0 allowed); false when malformed.
bool ParseIpv4Endpoint(absl::string_view spec, sockaddr_in* address);

// The embedded default for `state_dir`: instance "demo" with demo.edb and
// table "default", socket <state_dir>/jetbackd.sock, every role granted to
// root and to the daemon's own uid.
DaemonConfig DefaultConfig(const std::string& state_dir);

// Parses TOML text. `state_dir_override` (from --state-dir), when non-empty,
// replaces the file's state_dir. Relative instance paths are resolved
// against the state directory.
absl::StatusOr<DaemonConfig> ParseConfig(absl::string_view toml,
                                         absl::string_view source_name,
                                         const std::string& state_dir_override);

absl::StatusOr<DaemonConfig> LoadConfigFile(
    const std::string& path, const std::string& state_dir_override);

// Longest instance, database or table name a request may carry.
inline constexpr size_t kMaxNameBytes = 255;

// Checks the length of a name from a request (`what` names the field):
// -1003 beyond kMaxNameBytes, with a message that does not echo it.
absl::Status CheckNameLength(absl::string_view name, absl::string_view what);

// Checks a database file name: at most kMaxNameBytes (else -1003);
// non-empty, no '/', no "..", no NUL (else -1002 JET_errInvalidName).
absl::Status CheckFileName(absl::string_view name);

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_CONFIG_H_
