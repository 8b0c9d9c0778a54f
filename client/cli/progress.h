// File: client/cli/progress.h
//
// The one-line progress display of `jetback backup` (stderr, TTY only):
//   demo.edb  3.1/12.0 MiB  26%  1.9 MiB/s  ETA 0:05
// redrawn with '\r' at most every 200 ms. Not thread-safe.

#ifndef JETBACK_CLIENT_CLI_PROGRESS_H_
#define JETBACK_CLIENT_CLI_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/time/time.h"

namespace jetback::cli {

// "512 B", "3.1 KiB", "12.0 MiB", "1.5 GiB".
std::string HumanBytes(uint64_t bytes);
// "0:05", "1:02:03".
std::string HumanDuration(absl::Duration d);
// The progress text for one file (no '\r', no newline).
std::string ProgressText(const std::string& file, uint64_t done, uint64_t total,
                         double bytes_per_second);

class ProgressLine {
 public:
  // Draws only when `enabled` (the CLI passes isatty(stderr)).
  ProgressLine(bool enabled, FILE* out);
  // `done` of `total` bytes of `file`; `overall_bytes` drives the rate.
  void Update(const std::string& file, uint64_t done, uint64_t total,
              uint64_t overall_bytes);
  // Erases the line (before a summary or an error message).
  void Clear();

 private:
  bool enabled_;
  FILE* out_;
  absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
  size_t last_width_ = 0;
};

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_PROGRESS_H_
