// File: engine/log_scanner.h
//
// LogScanner reads log generations back group by group, for crash recovery
// and restore's replay (ScanLogFile in engine/log.h is a one-file
// shorthand). One scanner reads many generations through two buffers that
// it keeps: no allocation and no zeroing per generation. It can read the
// next generation on a thread while the caller replays this one, and it
// hands out records as views into its buffer. A group's payload is put back
// together in place, over the headers of its own blocks, so a record that
// spans blocks is not copied anywhere else.
//
// Thread-compatible: one caller at a time. The read-ahead thread uses only
// the spare buffer.

#ifndef JETBACK_ENGINE_LOG_SCANNER_H_
#define JETBACK_ENGINE_LOG_SCANNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/log.h"
#include "jetback/env.h"

namespace jetback {

class LogScanner {
 public:
  struct Options {
    // Read with direct I/O (no page cache) where the filesystem allows it.
    // Restore's logs are cold and read once, so the kernel's copy out of
    // the page cache is pure cost there.
    bool direct_reads = false;
  };
  using RecordFn =
      std::function<absl::Status(uint64_t group_start_lsn, const LogRecord&)>;

  explicit LogScanner(Env* env) : LogScanner(env, Options()) {}
  LogScanner(Env* env, Options options);
  ~LogScanner();  // waits for a read ahead in flight
  LogScanner(const LogScanner&) = delete;
  LogScanner& operator=(const LogScanner&) = delete;

  // Scans one generation as ScanLogFile does (engine/log.h), with the same
  // results and errors. The views a record holds (LogRecord::page) stay
  // valid until the next call to Scan starts, not only during fn.
  // read_next, when not empty: a file to read into the spare buffer while
  // this one is scanned; the next Scan of that path uses what was read.
  absl::StatusOr<LogScan> Scan(const std::string& path, uint32_t generation,
                               uint64_t expected_signature,
                               uint32_t start_block, bool tolerate_tail,
                               const RecordFn& fn,
                               const std::string& read_next = "");

  // Bytes of buffer held now (both buffers). Call with no read ahead in
  // flight (after a Scan without read_next).
  size_t buffer_bytes() const { return current_.capacity + spare_.capacity; }
  // How many times a buffer was (re)allocated: at most once per size
  // increase per buffer, never per generation.
  int allocations() const { return allocations_.load(); }

 private:
  struct Buffer {
    char* data = nullptr;
    size_t capacity = 0;
    size_t size = 0;  // whole blocks read
    std::string path;
    absl::Status status;
  };
  // Reads all of `path` into *buffer, growing it when too small.
  absl::Status ReadWhole(const std::string& path, Buffer* buffer);
  void Release(Buffer* buffer);
  void JoinReader();

  Env* const env_;
  const Options options_;
  Buffer current_;  // the generation being scanned; records point into it
  Buffer spare_;    // the generation read ahead, by reader_ while it runs
  std::thread reader_;
  std::atomic<int> allocations_{0};
};

}  // namespace jetback

#endif  // JETBACK_ENGINE_LOG_SCANNER_H_
