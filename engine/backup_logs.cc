// The log phase of a backup (ese-semantics.md section 4): prepare-logs with
// its roll and copy/delete ranges, truncation, and End with header stamping
// (section 3.3).

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/backup_engine.h"
#include "jetback/status.h"

namespace jetback::backup_internal {
namespace {

bool MarkBefore(const BackupInfo& a, const BackupInfo& b) {
  return std::tie(a.mark_generation, a.mark_offset) <
         std::tie(b.mark_generation, b.mark_offset);
}

BackupInfo SlotOf(const DatabaseHeaderInfo& h, BackupSlotKind kind) {
  switch (kind) {
    case BackupSlotKind::kFull:
      return h.full_prev;
    case BackupSlotKind::kCopy:
      return h.copy_prev;
    case BackupSlotKind::kIncremental:
      return h.inc_prev;
    case BackupSlotKind::kDifferential:
      return h.diff_prev;
    case BackupSlotKind::kNone:
      break;
  }
  return {};
}

// The log calls (list, truncate) need the file slot free: -521 otherwise.
absl::Status CheckNoFileOpen(const Running& r) {
  if (r.open) {
    return JetStatus(jet::JET_errInvalidBackupSequence,
                     "a backup file is open; close it first");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status BackupEngineImpl::PrepareLogsLocked(Running& r) {
  // 1-2: roll once per backup; every log to copy is then a closed archive.
  if (r.rolled_to == 0) {
    JB_ASSIGN_OR_RETURN(r.rolled_to, source_->RollLog());
  }
  const uint32_t copy_mac = r.rolled_to;
  // 3: oldest archive on disk.
  JB_ASSIGN_OR_RETURN(std::vector<uint32_t> gens,
                      source_->ListArchiveGenerations());
  if (gens.empty()) {
    return JetStatus(jet::JET_errFileNotFound, "no archive logs on disk");
  }
  uint32_t delete_mic = gens.front();
  // 4: an incremental must continue the last truncating backup.
  if (!r.full) {
    for (const DbEntry& e : r.dbs) {
      const DatabaseHeaderInfo h = e.db->HeaderInfo();
      const uint32_t base = std::max(h.full_prev.gen_high, h.inc_prev.gen_high);
      if (delete_mic > base + 1) {
        return JetStatus(
            jet::JET_errMissingFileToBackup,
            absl::StrCat("logs ", base + 1, "..", delete_mic - 1, " needed by ",
                         e.db->path(), " are gone"));
      }
    }
  }
  // 5: never beyond the checkpoint now.
  JB_ASSIGN_OR_RETURN(uint32_t checkpoint, source_->ReadCheckpointGeneration());
  uint32_t delete_mac = std::min(checkpoint, copy_mac);
  // 6: a full backup keeps what databases not copied here still need.
  if (r.full) {
    for (const DbEntry& e : r.dbs) {
      if (e.in_session && e.done) continue;
      delete_mac = std::min(delete_mac, e.db->HeaderInfo().full_prev.gen_high);
    }
  }
  delete_mic = std::min(delete_mic, delete_mac);
  // 7.
  if (!r.full) {
    r.copy_mic = delete_mic;
    const LogPosition tip = source_->LogTip();
    r.mark.mark_generation = tip.generation;
    r.mark.mark_offset = tip.offset;
    r.mark.mark_time_us = absl::ToUnixMicros(absl::Now());
  }
  r.copy_mac = copy_mac;
  r.delete_mic = delete_mic;
  r.delete_mac = delete_mac;
  r.logs_prepared = true;
  r.phase = BackupPhase::kLogs;
  r.bytes_total +=
      uint64_t{copy_mac - r.copy_mic} * source_->options().log_file_size;
  return absl::OkStatus();
}

absl::StatusOr<LogList> BackupEngineImpl::LogInfo(absl::string_view backup_id,
                                                  bool truncate_list) {
  JB_RETURN_IF_ERROR(Gate());
  MutexLock lock(&mu_);
  JB_ASSIGN_OR_RETURN(Running * r, RunningLocked(backup_id));
  JB_RETURN_IF_ERROR(CheckStop());
  JB_RETURN_IF_ERROR(CheckNoFileOpen(*r));
  if (!r->logs_prepared) JB_RETURN_IF_ERROR(PrepareLogsLocked(*r));
  LogList list;
  list.base_name = source_->options().base_name;
  const uint32_t low = truncate_list ? r->delete_mic : r->copy_mic;
  const uint32_t mac = truncate_list ? r->delete_mac : r->copy_mac;
  if (low < mac) {
    list.gen_low = low;
    list.gen_high = mac - 1;
    for (uint32_t g = low; g < mac; ++g) {
      list.files.push_back(source_->ArchiveLogPath(g));
    }
  }
  return list;
}

absl::StatusOr<uint32_t> BackupEngineImpl::TruncateLog(
    absl::string_view backup_id) {
  JB_RETURN_IF_ERROR(Gate());
  MutexLock lock(&mu_);
  JB_ASSIGN_OR_RETURN(Running * r, RunningLocked(backup_id));
  JB_RETURN_IF_ERROR(CheckStop());
  JB_RETURN_IF_ERROR(CheckNoFileOpen(*r));
  if (!r->logs_prepared) {
    return JetStatus(jet::JET_errInvalidBackupSequence,
                     "TruncateLog before GetLogInfo");
  }
  // Section 4.5: a set membership check, not the reference's sum.
  for (uint32_t g = r->copy_mic; g < r->copy_mac; ++g) {
    if (r->logs_copied.count(g) == 0) {
      return JetStatus(
          jet::JET_errLogFileNotCopied,
          absl::StrCat("log generation ", g, " was not read to the end"));
    }
  }
  r->logs_truncated = true;
  uint32_t deleted = 0;
  for (uint32_t g = r->delete_mic; g < r->delete_mac; ++g) {
    const bool existed = source_->env()->FileExists(source_->ArchiveLogPath(g));
    JB_RETURN_IF_ERROR(source_->DeleteArchiveLog(g));
    if (existed) ++deleted;
  }
  return deleted;
}

void BackupEngineImpl::StampLocked(Running& r, uint32_t grbit, EndResult& res) {
  const bool truncated =
      r.logs_truncated || (grbit & JET_bitBackupTruncateDone) != 0;
  res.intended_slot =
      r.full ? (truncated ? BackupSlotKind::kFull : BackupSlotKind::kCopy)
             : (truncated ? BackupSlotKind::kIncremental
                          : BackupSlotKind::kDifferential);
  BackupInfo info = r.mark;
  info.gen_low = r.copy_mic;
  info.gen_high = r.copy_mac - 1;
  res.gen_low = info.gen_low;
  res.gen_high = info.gen_high;
  for (const DbEntry& e : r.dbs) {
    if (r.full && !(e.in_session && e.done)) {
      EndResult::LeftOut out;
      out.path = e.db->path();
      if (!e.dropped_by.ok()) {
        out.jet_err = JetErrOf(e.dropped_by);
        out.reason = std::string(e.dropped_by.message());
      } else {
        out.reason = "not read to the end";
      }
      res.left_out.push_back(std::move(out));
      continue;
    }
    if ((grbit & JET_bitBackupNoDbHeaderUpdate) != 0) continue;
    // A slot only moves forward.
    if (MarkBefore(info, SlotOf(e.db->HeaderInfo(), res.intended_slot))) {
      continue;
    }
    absl::Status st = e.db->StampBackup(res.intended_slot, info);
    if (!st.ok()) {
      // As the reference: a failed stamp is a warning, End still succeeds.
      absl::StrAppend(&res.reason, res.reason.empty() ? "" : "; ", "header of ",
                      e.db->path(), " not stamped: ", st.message());
      res.left_out.push_back(
          {e.db->path(), JetErrOf(st),
           absl::StrCat("header not stamped: ", st.message())});
      continue;
    }
    res.stamped.push_back(e.db->path());
  }
  if (!res.stamped.empty()) res.slot = res.intended_slot;
}

absl::StatusOr<EndResult> BackupEngineImpl::End(absl::string_view backup_id,
                                                uint32_t grbit) {
  JB_RETURN_IF_ERROR(Gate());
  const bool normal = (grbit & JET_bitBackupEndNormal) != 0;
  const bool abort = (grbit & JET_bitBackupEndAbort) != 0;
  if (normal == abort) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "End needs exactly one of EndNormal and EndAbort");
  }
  MutexLock lock(&mu_);
  auto running = RunningLocked(backup_id);
  if (!running.ok()) {
    if (!run_.has_value()) ClearStop("");
    return running.status();
  }
  Running& r = **running;
  EndResult res;
  absl::Status stopped = CheckStop();
  if (!stopped.ok()) {
    res.abort_jet_err = jet::JET_errBackupAbortByServer;
    res.reason = JetReasonOf(stopped);
    res.initiator = JetInitiatorOf(stopped);
  } else if (abort) {
    res.abort_jet_err = jet::JET_errBackupAbortByCaller;
    res.reason = "aborted by the caller";
    res.initiator = r.options.initiator;
  } else if (!r.logs_prepared) {
    // The reference stamps an incremental ended before its log list too;
    // with no log range there is nothing sound to record, so it aborts.
    res.abort_jet_err = jet::JET_errInvalidBackupSequence;
    res.reason = "ended before the log phase";
    res.initiator = r.options.initiator;
  } else {
    res.succeeded = true;
    StampLocked(r, grbit, res);
  }
  EndLocked(res);
  return res;
}

bool BackupEngineImpl::AbortForTerm(absl::string_view reason) {
  if (!in_progress_.load()) return false;
  // Raise the stop flag first so a read in flight ends within one chunk,
  // then wait for it: the databases it reads are about to go away.
  Stop(reason, "engine");
  MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !run_.has_value() || run_->active_calls == 0;
  };
  mu_.Await(Condition(&idle));
  if (!run_.has_value()) {
    ClearStop("");
    return false;
  }
  EndResult how;
  how.abort_jet_err = jet::JET_errBackupAbortByServer;
  how.reason = std::string(reason);
  how.initiator = "engine";
  EndLocked(how);
  return true;
}

BackupProgress BackupEngineImpl::Progress() {
  BackupProgress p;
  {
    MutexLock lock(&mu_);
    if (!run_.has_value()) return p;
    const Running& r = *run_;
    p.backup_id = r.id;
    p.phase = r.phase;
    p.incremental = !r.full;
    if (r.open) p.current_file = r.open->path();
    p.bytes_done = r.bytes_done;
    p.bytes_total = r.bytes_total;
    p.initiator = r.options.initiator;
    p.client_name = r.options.client_name;
    p.started_at = r.started_at;
    p.last_call_at = r.last_call_at;
  }
  MutexLock lock(&stop_mu_);
  p.stop_requested = stop_.load();
  p.stop_reason = stop_reason_;
  p.stop_initiator = stop_initiator_;
  return p;
}

}  // namespace jetback::backup_internal
