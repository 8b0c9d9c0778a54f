// File: daemon/read_reactor.h
//
// The ReadFile stream: a callback-API server-streaming reactor fed by its own
// reader thread. The thread reads and verifies chunk k+1 (BackupEngine::
// ReadAt) while chunk k is on the wire and starts each write itself; the
// reactions only hand over the next chunk or finish, and never block.
//
// Messages are written raw: each FileChunk is encoded by hand around a slice
// that owns the read buffer, so the data is never copied in user space
// (wire-identical to the typed message; clients parse v1::FileChunk).
//
// A paced stream (ReadPlan::rate) waits between chunks on the reader thread,
// so a stop ends it at once rather than after a queue of chunks.
//
// A stop (Abort) ends the stream with the given status at the next write
// completion, or at once when no write is in flight. A client that keeps
// taking writes, however slowly, always gets that status; only one that
// takes none for the grace period after the stop is cancelled.
// The object deletes itself once both OnDone ran and the reader thread ended.

#ifndef JETBACK_DAEMON_READ_REACTOR_H_
#define JETBACK_DAEMON_READ_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "daemon/host.h"
#include "jetback/mutex.h"
#include "jetback/v1/backup.grpc.pb.h"

namespace jetback::daemon {

// A ReadFile request as the reaction accepted it (no engine call yet): the
// reader thread resolves it against the engine's open file before reading.
struct ReadPlan {
  std::string backup_id;
  uint32_t handle = 0;
  uint64_t offset = 0;
  uint64_t length = 0;  // 0: to the end
  // The running XXH3-128 of the stream in every message instead of each
  // chunk's XXH3-64.
  bool stream_digest = false;
  // v1::ChunkCodec to compress chunk data with (0: none, the old stream).
  int wire_codec = 0;
  uint64_t rate = 0;  // bytes per second the stream is paced at; 0: none
  uint32_t page_size = 8192;
  uint32_t chunk_size = 1 << 20;  // the daemon's chunk size
  int reader_nice = 0;            // nice value of the reader thread
};

// Data bytes per message of a stream paced at `rate` bytes per second:
// about 100 ms worth, whole pages, at least one page, at most `chunk_size`.
// A stop then reaches a paced agent within one such interval.
uint32_t PacedChunkSize(uint32_t chunk_size, uint64_t rate, uint32_t page);

// The rate a stream runs at: the agent's request capped by the instance's
// ceiling (0 means none on either side).
uint64_t EffectiveRate(uint64_t requested, uint64_t ceiling);

// Parses a raw ReadFile request (-1003 when it is not a ReadFileRequest).
absl::Status ParseReadFileRequest(const grpc::ByteBuffer& raw,
                                  v1::ReadFileRequest* req);

class ReadFileReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                        public ReadStream {
 public:
  // Starts streaming `plan`, or finishes at once with `refused` when it is
  // not OK (the reactor is still returned to gRPC and cleans up itself).
  static ReadFileReactor* Start(Host* host, HostedInstance* hosted,
                                grpc::CallbackServerContext* ctx,
                                const ReadPlan& plan,
                                const absl::Status& refused);

  void Abort(const absl::Status& why) override;

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  ReadFileReactor(Host* host, HostedInstance* hosted,
                  grpc::CallbackServerContext* ctx, const ReadPlan& plan);
  ~ReadFileReactor() override;

  void ReaderLoop();
  // Checks the request against the engine's open file and fills the
  // read's bounds; the stop is checked first (-801), then the bounds (-1003).
  absl::Status Resolve();
  // Waits until `due` or a stop; false when the stream must end.
  bool PaceUntil(absl::Time due);
  // Hands `message` to the wire now, or parks it until the write completes.
  void SendLocked(grpc::ByteBuffer* message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EscalateIfStalled();
  void Unref();

  Host* const host_;
  HostedInstance* const hosted_;
  grpc::CallbackServerContext* const ctx_;
  const ReadPlan plan_;
  // Resolved by the reader thread before its first read.
  uint64_t end_ = UINT64_MAX;  // exclusive
  uint64_t file_size_ = 0;
  bool file_digest_ = false;  // offset 0 to the end: XXH3-128 at the end
  uint32_t chunk_ = 0;
  std::atomic<int> refs_{2};  // OnDone + reader thread

  jetback::Mutex mu_;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone ran
  bool stop_reading_ ABSL_GUARDED_BY(mu_) = false;
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;
  // When the client last took a write (or the stop came): the grace period
  // of a stopped stream counts from here.
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_);
  // Status to finish with once the writes before it completed.
  std::optional<grpc::Status> final_ ABSL_GUARDED_BY(mu_);
  // The next message, read while `writing_` is on the wire.
  std::optional<grpc::ByteBuffer> ready_ ABSL_GUARDED_BY(mu_);
  // The message being written; gRPC references it until OnWriteDone.
  grpc::ByteBuffer writing_;
};

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_READ_REACTOR_H_
