// File: engine/replay_writer.h
//
// ReplayWriter: the File restore's replay writes page images through. A
// busy log rewrites the same pages many times; only the newest image of each
// matters, so images wait in memory (newest per page, up to a byte budget)
// and go out in offset order, adjacent pages merged into large writes,
// through a file opened for direct I/O when ReplayWrites says so. Nothing
// is durable before Sync, which writes what is pending and fsyncs: restore
// calls it before it reports the database restored.
//
// Thread-compatible (replay is single-threaded).

#ifndef JETBACK_ENGINE_REPLAY_WRITER_H_
#define JETBACK_ENGINE_REPLAY_WRITER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "jetback/env.h"

namespace jetback {

class ReplayWriter : public File {
 public:
  // `file` is open read-write; images are page_size bytes at page-aligned
  // offsets (anything else is written through at once).
  ReplayWriter(std::unique_ptr<File> file, uint32_t page_size,
               size_t budget_bytes);
  ~ReplayWriter() override = default;

  absl::Status Read(uint64_t offset, size_t n, char* scratch,
                    size_t* read) override;
  absl::Status Write(uint64_t offset, absl::string_view data) override;
  absl::Status Sync() override;
  absl::Status Truncate(uint64_t size) override;
  absl::StatusOr<uint64_t> Size() override;

  // Pending images written out (not synced).
  absl::Status Flush();

 private:
  char* Slot(size_t slot) { return arena_.get() + slot * page_size_; }

  std::unique_ptr<File> file_;
  const uint32_t page_size_;
  // Pending images live in slots of one arena, allocated at the first
  // write and reused batch after batch: no allocation and no page fault per
  // image (a fresh 32 KiB string per image cost both).
  const size_t slots_;  // budget / page size, at least 1
  std::unique_ptr<char, void (*)(void*)> arena_;
  std::map<uint64_t, size_t> pending_;  // offset -> slot of newest image
  size_t used_slots_ = 0;
  std::unique_ptr<char, void (*)(void*)> buffer_;  // 4 KiB aligned, kRun
};

}  // namespace jetback

#endif  // JETBACK_ENGINE_REPLAY_WRITER_H_
