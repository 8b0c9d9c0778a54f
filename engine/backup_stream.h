// File: engine/backup_stream.h
//
// One open backup file (ESE's RHF slot) as a byte stream readable by offset:
// a database stream is [header copy][header copy][page 1..pgno_last][trailer]
// (ese-semantics.md section 3.1), a log stream is the archive file itself.
// Reads are done in chunks; the stop flag is observed between chunks and
// during retry back-offs. Every database page and log block is verified.
//
// Thread-safety: ReadAt may run concurrently with the other methods; the
// trailer page is built once, under the stream's mutex, and cached.

#ifndef JETBACK_ENGINE_BACKUP_STREAM_H_
#define JETBACK_ENGINE_BACKUP_STREAM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/backup_source.h"
#include "jetback/env.h"
#include "jetback/mutex.h"

namespace jetback::backup_internal {

// Bytes read per chunk between two looks at the stop flag.
inline constexpr uint64_t kReadChunkBytes = 256 * 1024;

struct ReadPolicy {
  int attempts = 17;  // reference: 17 tries
  absl::Duration backoff_step = absl::Milliseconds(100);
};

// What a stream needs from its engine while reading.
class StopGate {
 public:
  virtual ~StopGate() = default;
  // -801 (with reason and initiator) when the stop flag is set.
  virtual absl::Status CheckStop() = 0;
  // Waits `d` or until the stop flag is set; -801 in the latter case.
  virtual absl::Status SleepUnlessStopped(absl::Duration d) = 0;
};

class Stream {
 public:
  using TrailerBuilder = std::function<absl::StatusOr<std::string>()>;

  // `header_page` is the encoded header copy (one page).
  static std::shared_ptr<Stream> ForDatabase(BackupDatabase* db,
                                             std::string header_page,
                                             uint32_t page_size,
                                             uint32_t pgno_last,
                                             TrailerBuilder trailer);
  static std::shared_ptr<Stream> ForLog(std::string path,
                                        std::unique_ptr<File> file,
                                        uint32_t generation, uint64_t size,
                                        uint32_t page_size);

  bool is_log() const { return db_ == nullptr; }
  BackupDatabase* database() const { return db_; }
  const std::string& path() const { return path_; }
  uint32_t generation() const { return generation_; }
  uint64_t size() const { return size_; }
  uint32_t page_size() const { return page_size_; }

  // Fills `out` from `offset` (clipped at size()); returns bytes read.
  // REQUIRES: offset <= size(), offset and out.size() page multiples.
  absl::StatusOr<size_t> ReadAt(uint64_t offset, absl::Span<char> out,
                                const ReadPolicy& policy, StopGate* gate);

  // Records bytes handed to the client; ReadToEnd() is true once every
  // byte from `from` to the end was handed out.
  void MarkHandedOut(uint64_t begin, uint64_t end);
  bool ReadToEnd(uint64_t from);

  // ESE's sequential cursor (Read); starts at the OpenFile offset.
  uint64_t cursor = 0;

 private:
  Stream() = default;
  absl::Status ReadDatabaseChunk(uint64_t offset, absl::Span<char> out,
                                 const ReadPolicy& policy, StopGate* gate);
  absl::Status ReadPagesVerified(uint32_t first, uint32_t count,
                                 absl::Span<char> out, const ReadPolicy& policy,
                                 StopGate* gate);
  absl::Status ReadLogChunk(uint64_t offset, absl::Span<char> out);
  absl::StatusOr<std::string> Trailer();

  BackupDatabase* db_ = nullptr;
  std::string header_page_;
  uint32_t pgno_last_ = 0;
  TrailerBuilder trailer_builder_;
  std::string path_;
  std::unique_ptr<File> file_;
  uint32_t generation_ = 0;
  uint64_t size_ = 0;
  uint32_t page_size_ = 0;

  Mutex mu_;
  std::optional<std::string> trailer_ ABSL_GUARDED_BY(mu_);
  // Handed-out byte ranges, merged: begin -> end.
  std::map<uint64_t, uint64_t> handed_out_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jetback::backup_internal

#endif  // JETBACK_ENGINE_BACKUP_STREAM_H_
