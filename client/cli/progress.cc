#include "client/cli/progress.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace jetback::cli {

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return absl::StrFormat("%d B", bytes);
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string HumanDuration(absl::Duration d) {
  int64_t seconds = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  const int64_t h = seconds / 3600, m = (seconds / 60) % 60, s = seconds % 60;
  if (h > 0) return absl::StrFormat("%d:%02d:%02d", h, m, s);
  return absl::StrFormat("%d:%02d", m, s);
}

std::string ProgressText(const std::string& file, uint64_t done, uint64_t total,
                         double bytes_per_second) {
  const int percent =
      total == 0
          ? 100
          : static_cast<int>(std::min<uint64_t>(done, total) * 100 / total);
  std::string eta = "--:--";
  if (bytes_per_second > 0 && total >= done) {
    eta = HumanDuration(absl::Seconds((total - done) / bytes_per_second));
  }
  return absl::StrFormat("%s  %s/%s  %d%%  %s/s  ETA %s", file,
                         HumanBytes(done), HumanBytes(total), percent,
                         HumanBytes(static_cast<uint64_t>(bytes_per_second)),
                         eta);
}

ProgressLine::ProgressLine(bool enabled, FILE* out)
    : enabled_(enabled), out_(out), start_(absl::Now()) {}

void ProgressLine::Update(const std::string& file, uint64_t done,
                          uint64_t total, uint64_t overall_bytes) {
  if (!enabled_) return;
  const absl::Time now = absl::Now();
  if (now - last_draw_ < absl::Milliseconds(200) && done < total) return;
  last_draw_ = now;
  const double seconds = absl::ToDoubleSeconds(now - start_);
  const double rate = seconds > 0 ? overall_bytes / seconds : 0;
  std::string text = ProgressText(file, done, total, rate);
  const size_t width = text.size();
  if (width < last_width_) text.append(last_width_ - width, ' ');
  last_width_ = width;
  std::fprintf(out_, "\r%s", text.c_str());
  std::fflush(out_);
}

void ProgressLine::Clear() {
  if (!enabled_ || last_width_ == 0) return;
  std::fprintf(out_, "\r%s\r", std::string(last_width_, ' ').c_str());
  std::fflush(out_);
  last_width_ = 0;
}

}  // namespace jetback::cli
