// DatabaseImpl: catalog, header view, backup reads and stamps.

#include "engine/database_impl.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "jetback/status.h"

namespace jetback {

std::string TableKey(uint32_t id, absl::string_view key) {
  std::string out(4, '\0');
  out[0] = static_cast<char>(id >> 24);
  out[1] = static_cast<char>(id >> 16);
  out[2] = static_cast<char>(id >> 8);
  out[3] = static_cast<char>(id);
  out.append(key.data(), key.size());
  return out;
}

DatabaseImpl::DatabaseImpl(CommitPipeline* pipeline,
                           std::unique_ptr<DbFile> file)
    : pipeline_(pipeline), file_(std::move(file)), tree_(file_.get()) {}

absl::Status DatabaseImpl::Open() {
  bool initialized;
  {
    jetback::ReaderMutexLock lock(&file_->tree_mu());
    JB_ASSIGN_OR_RETURN(initialized, tree_.Initialized());
  }
  if (!initialized) {
    uint32_t gen;
    JB_RETURN_IF_ERROR(pipeline_->CommitTo(
        file_.get(), [&] { return tree_.Init(); }, &gen));
  }
  std::vector<std::pair<std::string, std::string>> rows;
  std::optional<std::string> next = TableKey(0, "");
  const std::string end = TableKey(1, "");
  while (next) {
    jetback::ReaderMutexLock lock(&file_->tree_mu());
    std::string start = *next;
    JB_RETURN_IF_ERROR(tree_.ScanChunk(start, end, 1 << 20, &rows, &next));
  }
  jetback::MutexLock catalog(&catalog_mu_);
  for (const auto& [key, value] : rows) {
    uint32_t id = 0;
    if (value.size() != 4) {
      return JetStatus(jet::JET_errDatabaseCorrupted, "bad catalog entry");
    }
    std::memcpy(&id, value.data(), 4);
    tables_[key.substr(4)] = id;
  }
  return absl::OkStatus();
}

std::string DatabaseImpl::name() const {
  const std::string& p = path();
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

DatabaseHeaderInfo DatabaseImpl::HeaderInfo() {
  DatabaseHeaderInfo h = file_->header();
  jetback::ReaderMutexLock lock(&file_->tree_mu());
  auto last = tree_.PgnoLast();
  if (last.ok()) h.pgno_last = *last;
  return h;
}

absl::Status DatabaseImpl::CreateTable(absl::string_view table) {
  if (table.empty() || table.size() > 64 ||
      table.find('\0') != absl::string_view::npos) {
    return JetStatus(jet::JET_errInvalidName, "bad table name");
  }
  JB_RETURN_IF_ERROR(pipeline_->CheckUsable());
  jetback::MutexLock catalog(&catalog_mu_);
  if (tables_.count(table) != 0) {
    return JetStatus(jet::JET_errTableDuplicate,
                     absl::StrCat("table exists: ", table));
  }
  uint32_t id = 0, gen = 0;
  JB_RETURN_IF_ERROR(pipeline_->CommitTo(
      file_.get(),
      [&]() -> absl::Status {
        JB_ASSIGN_OR_RETURN(id, tree_.NextTableId());
        JB_RETURN_IF_ERROR(tree_.SetNextTableId(id + 1));
        std::string value(4, '\0');
        std::memcpy(value.data(), &id, 4);
        return tree_.Put(TableKey(0, table), value);
      },
      &gen));
  tables_[std::string(table)] = id;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> DatabaseImpl::ListTables() {
  jetback::MutexLock catalog(&catalog_mu_);
  std::vector<std::string> names;
  for (const auto& [name, id] : tables_) names.push_back(name);
  return names;
}

absl::StatusOr<uint32_t> DatabaseImpl::TableId(absl::string_view table) {
  jetback::MutexLock catalog(&catalog_mu_);
  auto it = tables_.find(table);
  if (it == tables_.end()) {
    return JetStatus(jet::JET_errObjectNotFound,
                     absl::StrCat("no table ", table));
  }
  return it->second;
}

absl::Status DatabaseImpl::ReadPages(uint32_t first, uint32_t count,
                                     absl::Span<char> out) {
  return file_->ReadPagesForBackup(first, count, out);
}

absl::Status DatabaseImpl::StampBackup(BackupSlotKind kind,
                                       const BackupInfo& info) {
  return file_->UpdateHeader([&](DatabaseHeaderInfo* h) {
    switch (kind) {
      case BackupSlotKind::kFull:
        h->full_prev = info;
        h->inc_prev = BackupInfo{};
        h->diff_prev = BackupInfo{};
        break;
      case BackupSlotKind::kCopy:
        h->copy_prev = info;
        break;
      case BackupSlotKind::kIncremental:
        h->inc_prev = info;
        break;
      case BackupSlotKind::kDifferential:
        h->diff_prev = info;
        break;
      case BackupSlotKind::kNone:
        break;
    }
  });
}

}  // namespace jetback
