// Placeholder until the streaming-backup engine lands: every call answers
// JET_errFeatureNotAvailable so the storage engine links and runs.
#include "engine/backup_source.h"
#include "jetback/status.h"

namespace jetback {
namespace {

absl::Status NotYet() {
  return JetStatus(jet::JET_errFeatureNotAvailable, "backup engine not built");
}

class PlaceholderBackupEngine : public BackupEngine {
 public:
  absl::StatusOr<BeginResult> Begin(uint32_t, const BeginOptions&) override {
    return NotYet();
  }
  absl::StatusOr<std::vector<std::string>> GetAttachInfo(
      absl::string_view) override {
    return NotYet();
  }
  absl::StatusOr<OpenedFile> OpenFile(absl::string_view, absl::string_view,
                                      uint64_t) override {
    return NotYet();
  }
  absl::StatusOr<size_t> ReadAt(absl::string_view, uint32_t, uint64_t,
                                absl::Span<char>) override {
    return NotYet();
  }
  absl::StatusOr<size_t> Read(absl::string_view, uint32_t,
                              absl::Span<char>) override {
    return NotYet();
  }
  absl::Status CloseFile(absl::string_view, uint32_t) override {
    return NotYet();
  }
  absl::StatusOr<LogList> GetLogInfo(absl::string_view) override {
    return NotYet();
  }
  absl::StatusOr<LogList> GetTruncateLogInfo(absl::string_view) override {
    return NotYet();
  }
  absl::StatusOr<uint32_t> TruncateLog(absl::string_view) override {
    return NotYet();
  }
  absl::StatusOr<EndResult> End(absl::string_view, uint32_t) override {
    return NotYet();
  }
  std::string Stop(absl::string_view, absl::string_view) override {
    return {};
  }
  void SetLease(absl::Duration) override {}
  bool ExpireIfIdle(absl::Time) override { return false; }
  BackupProgress Progress() override { return {}; }
  bool InProgress() override { return false; }
  void SetReadRetries(int, absl::Duration) override {}
};

}  // namespace

std::unique_ptr<BackupEngine> NewBackupEngine(BackupSource*) {
  return std::make_unique<PlaceholderBackupEngine>();
}

}  // namespace jetback
