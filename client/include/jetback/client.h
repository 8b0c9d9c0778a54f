// File: jetback/client.h
//
// libjetback_client: a C++ API for every RPC of jetbackd (proto/jetback/v1).
// Every failure is an absl::Status carrying the exact JET_ERR
// (JetErrOf(status), jetback/status.h): the daemon's JetError detail when
// present (with reason and initiator for -801), otherwise the documented
// mapping of the bare transport code (JetErrForBareCode; e.g. an unreachable
// daemon is -1090 JET_errInstanceUnavailable, and IsTransportError() is true).
//
// Thread-safety: a Client may be used from several threads at once.

#ifndef JETBACK_CLIENT_H_
#define JETBACK_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "jetback/status.h"
#include "jetback/v1/backup.grpc.pb.h"
#include "jetback/v1/data.grpc.pb.h"
#include "jetback/v1/instances.grpc.pb.h"

namespace jetback {

struct ClientOptions {
  // "unix:/path/to.sock" or "tcp:HOST:PORT"; empty: DefaultServer().
  std::string server;
  // PEM files for TLS on tcp: (all three for mutual TLS). Empty: plaintext.
  std::string tls_ca, tls_cert, tls_key;
  // Deadline of each unary call; streams have none (they may run for hours).
  absl::Duration call_timeout = absl::Seconds(30);
  // How many times ReadFile re-opens its stream after a transport break.
  int read_resume_attempts = 3;
  // How long ReadFile waits for the daemon to come back after a transport
  // break before it gives up (-1090): a backup in progress should learn of
  // a dead daemon in about this long, not after a call timeout.
  absl::Duration reconnect_timeout = absl::Seconds(2);
  // The HTTP/2 receive window of a ReadFile stream (BDP probing off). Below
  // the daemon's chunk size, a slow reader has at most the message it is
  // handling and the next one ahead of a stop's status; 0 keeps gRPC's
  // default (BDP probing, windows of several MiB).
  int stream_window_bytes = 32 << 10;
};

// unix:<state>/jetbackd.sock, <state> = $JETBACK_STATE_DIR or ./jetback-state
// (the daemon's embedded default uses the same rule).
std::string DefaultServer();

// True when `status` came from the transport (daemon unreachable, connection
// lost, deadline) rather than from a daemon answer.
bool IsTransportError(const absl::Status& status);

// Identifies a running backup: every call after BeginBackup names it.
struct BackupRef {
  std::string instance;
  std::string backup_id;
};

// What a completed ReadFile delivered.
struct ReadFileResult {
  uint64_t bytes = 0;        // data bytes delivered to the callback
  uint64_t file_size = 0;    // from the server's last message (0 if unknown)
  bool reached_end = false;  // the server marked the last message
  // XXH3-128 (16 bytes, canonical big-endian) of the delivered bytes, when
  // the read started at offset 0; checked against the server's whole-file
  // digest when it sent one (-1018 if not).
  std::string xxh3_128;
  // SHA-256 of the delivered bytes: only when ReadFileOptions::sha256 asked
  // for it and the read started at offset 0.
  std::string sha256;
  int resumes = 0;  // transport breaks survived
  // Data bytes as they came over the wire (compressed where the daemon
  // compressed), and how many chunks came compressed.
  uint64_t wire_bytes = 0;
  uint64_t compressed_chunks = 0;
};

// ReadFileOptions::wire_codec.
enum class WireCodec { kNone, kZstd };

struct ReadFileOptions {
  // Also compute the SHA-256 of the delivered bytes (costs about 0.6 ms per
  // MiB; the stream is verified without it).
  bool sha256 = false;
  // Ask the daemon to pace the stream (bytes per second; 0: full speed).
  uint64_t max_bytes_per_second = 0;
  // Ask the daemon to compress the chunks it sends (decompressed here
  // before on_chunk and every digest). Pays off across a slow link; costs
  // CPU on both ends, so off by default.
  WireCodec wire_codec = WireCodec::kNone;
};

class Client {
 public:
  // Builds the channel (no I/O yet: an unreachable daemon shows at the first
  // call). -1003 for a malformed server address or unreadable TLS files.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);
  ~Client();

  const std::string& server() const { return server_; }

  // ---- Backup service (see backup.proto for each call's JET_ERRs) --------
  absl::StatusOr<v1::BeginBackupResponse> BeginBackup(
      absl::string_view instance, uint32_t grbit,
      absl::string_view client_name = "");
  absl::StatusOr<std::vector<std::string>> GetAttachInfo(const BackupRef& b);
  absl::StatusOr<v1::OpenFileResponse> OpenFile(const BackupRef& b,
                                                absl::string_view name,
                                                uint64_t offset = 0);
  // Streams [offset, offset+length) (length 0: to the end) to `on_chunk`, in
  // order, as views into the received buffers (several per message; valid
  // during the call only). Every message is checked before its data is
  // delivered (the stream's running XXH3-128), and a read from offset 0
  // against the file's XXH3-128 at the end (-1018 on mismatch). A transport
  // break resumes at the next undelivered offset (up to read_resume_attempts)
  // once the daemon answers again within reconnect_timeout; otherwise -1090
  // (a transport error). A daemon that restarted meanwhile answers -520
  // ("jetbackd restarted; backup ... is gone"). A stop is -801 with its
  // reason and initiator, also when the daemon had to cancel the stream.
  // An error from `on_chunk` or a set `cancel` ends the stream and is returned
  // as is (cancel: -800 JET_errBackupAbortByCaller).
  absl::StatusOr<ReadFileResult> ReadFile(
      const BackupRef& b, uint32_t handle, uint64_t offset, uint64_t length,
      const std::function<absl::Status(uint64_t offset,
                                       absl::string_view data)>& on_chunk,
      const std::atomic<bool>* cancel = nullptr,
      const ReadFileOptions& read_options = {});
  absl::StatusOr<v1::CloseFileResponse> CloseFile(const BackupRef& b,
                                                  uint32_t handle);
  absl::StatusOr<v1::LogInfo> GetLogInfo(const BackupRef& b);
  absl::StatusOr<v1::LogInfo> GetTruncateLogInfo(const BackupRef& b);
  absl::StatusOr<uint32_t> TruncateLog(const BackupRef& b);
  absl::StatusOr<v1::EndBackupResponse> EndBackup(const BackupRef& b,
                                                  uint32_t grbit);
  // Empty instance: the legacy process-wide JetStopBackup.
  absl::StatusOr<v1::StopBackupResponse> StopBackup(absl::string_view instance,
                                                    absl::string_view reason);
  absl::StatusOr<v1::BackupStatus> GetBackupStatus(absl::string_view instance);
  absl::StatusOr<std::vector<v1::BackupStatus>> ListBackups();

  // ---- Instances service --------------------------------------------------
  absl::StatusOr<std::vector<v1::InstanceInfo>> ListInstances();
  absl::Status StopService(absl::string_view instance, uint32_t grbit);
  absl::StatusOr<v1::DatabaseInfo> CreateDatabase(absl::string_view instance,
                                                  absl::string_view name);
  absl::StatusOr<v1::DatabaseInfo> AttachDatabase(absl::string_view instance,
                                                  absl::string_view name);
  absl::Status DetachDatabase(absl::string_view instance,
                              absl::string_view name);

  // ---- Data service -------------------------------------------------------
  absl::Status CreateTable(absl::string_view instance,
                           absl::string_view database, absl::string_view table);
  // One durable transaction; OK only once committed.
  absl::StatusOr<v1::TransactResponse> Transact(
      absl::string_view instance, absl::string_view database,
      const std::vector<v1::Operation>& operations);
  absl::StatusOr<std::string> Get(absl::string_view instance,
                                  absl::string_view database,
                                  absl::string_view table,
                                  absl::string_view key);
  // Streams matching rows in key order to `on_row` (an error from it stops).
  absl::Status Scan(const v1::ScanRequest& request,
                    const std::function<absl::Status(const v1::Row&)>& on_row);

  // ---- grpc.health.v1 -----------------------------------------------------
  // The daemon's overall serving status name ("SERVING", "NOT_SERVING").
  absl::StatusOr<std::string> Health();

 private:
  Client() = default;
  absl::Status ExplainCancelledStream(const BackupRef& b,
                                      const absl::Status& status);
  absl::Status ReadStream(
      const v1::ReadFileRequest& request,
      const std::function<absl::Status(uint64_t, absl::string_view)>& on_chunk,
      const std::atomic<bool>* cancel, void* digests, ReadFileResult* result);

  std::string server_;
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Backup::Stub> backup_;
  std::unique_ptr<v1::Instances::Stub> instances_;
  std::unique_ptr<v1::Data::Stub> data_;
  // ReadFile called with grpc::ByteBuffer responses: the client reads the
  // chunks' data out of gRPC's own slices instead of parsing into a copy.
  std::unique_ptr<grpc::internal::RpcMethod> read_file_method_;
};

}  // namespace jetback

#endif  // JETBACK_CLIENT_H_
