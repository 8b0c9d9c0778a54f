// FaultEnv: knobs checked on every call, undo records for the crash mode.

#include "engine/fault_env.h"

#include "jetback/status.h"

namespace jetback {

class FaultFile : public File {
 public:
  FaultFile(FaultEnv* env, std::string path, std::unique_ptr<File> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}

  absl::Status Read(uint64_t offset, size_t n, char* scratch,
                    size_t* read) override {
    bool applies = env_->Applies(path_);
    if (applies && (env_->read_error.load() || env_->CountIo())) {
      *read = 0;
      return JetStatus(jet::JET_errDiskIO, "injected read error: " + path_);
    }
    return base_->Read(offset, n, scratch, read);
  }

  absl::Status Write(uint64_t offset, absl::string_view data) override {
    if (env_->Applies(path_)) {
      if (env_->no_space.load()) {
        return JetStatus(jet::JET_errDiskFull, "injected disk full: " + path_);
      }
      if (env_->write_error.load() || env_->CountIo()) {
        return JetStatus(jet::JET_errDiskIO, "injected write error: " + path_);
      }
    }
    env_->RecordWrite(path_, base_.get(), offset, data.size());
    return base_->Write(offset, data);
  }

  absl::Status Sync() override {
    if (env_->Applies(path_) && (env_->sync_error.load() || env_->CountIo())) {
      return JetStatus(jet::JET_errDiskIO, "injected sync error: " + path_);
    }
    JB_RETURN_IF_ERROR(base_->Sync());
    env_->RecordSync(path_, base_.get());
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (env_->Applies(path_) && env_->write_error.load()) {
      return JetStatus(jet::JET_errDiskIO, "injected truncate error");
    }
    // A truncate is treated as durable at once (only used on recovery).
    return base_->Truncate(size);
  }

  absl::StatusOr<uint64_t> Size() override { return base_->Size(); }

 private:
  FaultEnv* env_;
  std::string path_;
  std::unique_ptr<File> base_;
};

void FaultEnv::SetPathFilter(const std::string& substring) {
  jetback::MutexLock lock(&mu_);
  filter_ = substring;
}

bool FaultEnv::Applies(const std::string& path) {
  jetback::MutexLock lock(&mu_);
  return filter_.empty() || path.find(filter_) != std::string::npos;
}

bool FaultEnv::CountIo() {
  io_count_.fetch_add(1);
  int64_t left = io_countdown_.load();
  while (left > 0) {
    if (io_countdown_.compare_exchange_weak(left, left - 1)) {
      return left == 1;
    }
  }
  return false;
}

void FaultEnv::RecordWrite(const std::string& path, File* file, uint64_t offset,
                           size_t n) {
  if (!track_.load()) return;
  jetback::MutexLock lock(&mu_);
  Unsynced& u = unsynced_[path];
  auto size = file->Size();
  uint64_t cur = size.ok() ? *size : 0;
  if (!u.known_size) {
    u.known_size = true;
    u.synced_size = cur;
  }
  if (offset < cur) {
    size_t keep = static_cast<size_t>(std::min<uint64_t>(n, cur - offset));
    std::string old(keep, '\0');
    size_t got = 0;
    if (file->Read(offset, keep, old.data(), &got).ok()) {
      old.resize(got);
      u.undo.push_back({offset, std::move(old)});
    }
  }
}

void FaultEnv::RecordSync(const std::string& path, File* file) {
  jetback::MutexLock lock(&mu_);
  auto it = unsynced_.find(path);
  if (it == unsynced_.end()) return;
  auto size = file->Size();
  it->second.undo.clear();
  it->second.synced_size = size.ok() ? *size : 0;
}

absl::Status FaultEnv::DropUnsyncedData() {
  jetback::MutexLock lock(&mu_);
  for (auto& [path, u] : unsynced_) {
    if (!target()->FileExists(path)) continue;
    JB_ASSIGN_OR_RETURN(auto file,
                        target()->OpenFile(path, OpenMode::kReadWrite));
    for (auto it = u.undo.rbegin(); it != u.undo.rend(); ++it) {
      JB_RETURN_IF_ERROR(file->Write(it->offset, it->old_data));
    }
    JB_RETURN_IF_ERROR(file->Truncate(u.synced_size));
    JB_RETURN_IF_ERROR(file->Sync());
  }
  unsynced_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<File>> FaultEnv::OpenFile(
    const std::string& path, OpenMode mode) {
  JB_ASSIGN_OR_RETURN(auto base, target()->OpenFile(path, mode));
  return std::unique_ptr<File>(new FaultFile(this, path, std::move(base)));
}

absl::Status FaultEnv::DeleteFile(const std::string& path) {
  {
    jetback::MutexLock lock(&mu_);
    unsynced_.erase(path);
  }
  return target()->DeleteFile(path);
}

absl::Status FaultEnv::RenameFile(const std::string& from,
                                  const std::string& to) {
  {
    jetback::MutexLock lock(&mu_);
    auto it = unsynced_.find(from);
    unsynced_.erase(to);
    if (it != unsynced_.end()) {
      unsynced_[to] = std::move(it->second);
      unsynced_.erase(it);
    }
  }
  return target()->RenameFile(from, to);
}

}  // namespace jetback
