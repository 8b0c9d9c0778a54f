// Checkpoint file encoding: magic, version, fields, then XXH3 of all before.

#include "engine/checkpoint.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/format.h"
#include "jetback/status.h"

namespace jetback {
namespace {

constexpr uint64_t kCheckpointMagic = 0x31544b434a4a4a4aULL;
constexpr uint32_t kCheckpointVersion = 1;

std::string Encode(const CheckpointInfo& info) {
  size_t size = 40 + 8;
  for (const auto& db : info.databases) size += 20 + db.path.size();
  std::string out(size, '\0');
  Writer w(absl::MakeSpan(out));
  w.U64(kCheckpointMagic);
  w.U32(kCheckpointVersion);
  w.U32(info.page_size);
  w.U64(info.log_signature);
  w.U64(info.redo_lsn);
  w.U32(static_cast<uint32_t>(info.databases.size()));
  w.U32(0);
  for (const auto& db : info.databases) {
    w.U64(db.db_signature);
    w.U64(db.dbtime);
    w.U32(static_cast<uint32_t>(db.path.size()));
    w.Bytes(db.path);
  }
  w.U64(format::Checksum(out.data(), w.pos()));
  return out;
}

}  // namespace

absl::Status WriteCheckpoint(Env* env, const std::string& dir,
                             const std::string& base_name,
                             const CheckpointInfo& info) {
  const std::string path =
      absl::StrCat(dir, "/", format::CheckpointName(base_name));
  const std::string tmp = path + ".tmp";
  {
    JB_ASSIGN_OR_RETURN(auto file, env->OpenFile(tmp, OpenMode::kCreate));
    std::string data = Encode(info);
    JB_RETURN_IF_ERROR(file->Truncate(0));
    JB_RETURN_IF_ERROR(file->Write(0, data));
    JB_RETURN_IF_ERROR(file->Sync());
  }
  JB_RETURN_IF_ERROR(env->RenameFile(tmp, path));
  return env->SyncDir(dir);
}

absl::StatusOr<CheckpointInfo> ReadCheckpoint(Env* env, const std::string& dir,
                                              const std::string& base_name) {
  const std::string path =
      absl::StrCat(dir, "/", format::CheckpointName(base_name));
  auto opened = env->OpenFile(path, OpenMode::kReadOnly);
  if (!opened.ok()) {
    if (JetErrOf(opened.status()) == jet::JET_errFileNotFound) {
      return JetStatus(jet::JET_errCheckpointFileNotFound, path);
    }
    return opened.status();
  }
  JB_ASSIGN_OR_RETURN(uint64_t size, (*opened)->Size());
  if (size > (1 << 20)) {
    return JetStatus(jet::JET_errCheckpointCorrupt, "checkpoint too large");
  }
  std::string data(size, '\0');
  size_t got = 0;
  JB_RETURN_IF_ERROR((*opened)->Read(0, size, data.data(), &got));
  auto corrupt = [&] {
    return JetStatus(jet::JET_errCheckpointCorrupt,
                     absl::StrCat("corrupt checkpoint ", path));
  };
  if (got < 48) return corrupt();
  uint64_t sum;
  std::memcpy(&sum, data.data() + got - 8, 8);
  if (sum != format::Checksum(data.data(), got - 8)) return corrupt();
  Reader r(absl::MakeConstSpan(data.data(), got - 8));
  if (r.U64() != kCheckpointMagic || r.U32() != kCheckpointVersion) {
    return corrupt();
  }
  CheckpointInfo info;
  info.page_size = r.U32();
  info.log_signature = r.U64();
  info.redo_lsn = r.U64();
  uint32_t n = r.U32();
  r.U32();
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    CheckpointInfo::Db db;
    db.db_signature = r.U64();
    db.dbtime = r.U64();
    uint32_t len = r.U32();
    db.path = std::string(r.Bytes(len));
    info.databases.push_back(std::move(db));
  }
  if (!r.ok()) return corrupt();
  return info;
}

}  // namespace jetback
