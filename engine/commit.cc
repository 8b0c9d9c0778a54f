// Group commit, background flushing and checkpoints.

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/checkpoint.h"
#include "engine/format.h"
#include "engine/instance_impl.h"
#include "jetback/status.h"

namespace jetback {

absl::Status InstanceImpl::CheckUsable() {
  if (!initialized()) {
    return JetStatus(jet::JET_errNotInitialized, "instance not initialised");
  }
  if (service_stopped()) {
    return JetStatus(jet::JET_errClientRequestToStopJetService,
                     "service stopped on this instance");
  }
  if (log_->failed()) {
    return JetStatus(jet::JET_errInstanceUnavailable,
                     "the log failed after an I/O error; terminate and "
                     "re-initialise to recover");
  }
  return absl::OkStatus();
}

absl::Status InstanceImpl::CommitTo(DbFile* db,
                                    const std::function<absl::Status()>& apply,
                                    uint32_t* generation) {
  Request r;
  r.db = db;
  r.apply = &apply;
  JB_RETURN_IF_ERROR(Submit(&r));
  *generation = r.generation;
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> InstanceImpl::RollLog() {
  JB_RETURN_IF_ERROR(CheckUsable());
  Request r;
  JB_RETURN_IF_ERROR(Submit(&r));
  return r.generation;
}

absl::Status InstanceImpl::Submit(Request* request) {
  std::vector<Request*> batch;
  {
    jetback::MutexLock lock(&queue_mu_);
    queue_.push_back(request);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
      return request->done || queue_.front() == request;
    };
    queue_mu_.Await(jetback::Condition(&ready));
    if (request->done) return request->status;
    // Leader: take the queue as one group (a roll goes alone).
    for (Request* r : queue_) {
      if (!batch.empty() && (r->db == nullptr || batch[0]->db == nullptr)) {
        break;
      }
      batch.push_back(r);
      if (batch.size() >= 128) break;
    }
  }
  LeadBatch(batch);
  {
    jetback::MutexLock lock(&queue_mu_);
    for (Request* r : batch) {
      queue_.pop_front();
      r->done = true;
      if (r->db != nullptr && r->status.ok()) {
        committed_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  return request->status;
}

void InstanceImpl::LeadBatch(std::vector<Request*>& batch) {
  if (batch[0]->db == nullptr) {
    {
      jetback::MutexLock lock(&ckpt_mu_);
      batch_in_flight_ = true;
      batch_start_ = log_->tip();
    }
    absl::StatusOr<uint32_t> gen = log_->Roll();
    batch[0]->status = gen.status();
    if (gen.ok()) batch[0]->generation = *gen;
    jetback::MutexLock lock(&ckpt_mu_);
    batch_in_flight_ = false;
    return;
  }
  std::vector<DbFile*> dbs;
  for (Request* r : batch) dbs.push_back(r->db);
  std::sort(dbs.begin(), dbs.end());
  dbs.erase(std::unique(dbs.begin(), dbs.end()), dbs.end());
  for (DbFile* db : dbs) db->tree_mu().Lock();
  {
    jetback::MutexLock lock(&ckpt_mu_);
    batch_in_flight_ = true;
    batch_start_ = log_->tip();
  }
  std::vector<std::string> records;
  std::vector<Request*> applied;
  // One time for the batch: it becomes durable, and is acknowledged, as one.
  last_commit_time_us_ =
      std::max(absl::ToUnixMicros(absl::Now()), last_commit_time_us_);
  for (Request* r : batch) {
    uint64_t txn = next_txn_.fetch_add(1);
    r->status = (*r->apply)();
    if (r->status.ok()) {
      size_t before = records.size();
      r->db->FinishTxn(txn, &records);
      if (records.size() > before)
        AppendCommit(txn, last_commit_time_us_, &records.emplace_back());
      applied.push_back(r);
    } else {
      r->db->AbortTxn();
    }
  }
  uint64_t start = 0, end = 0;
  absl::Status s;
  if (!records.empty()) s = log_->Write(records, &start, &end);
  for (DbFile* db : dbs) {
    if (s.ok()) {
      db->CommitBatch(start, end);
    } else {
      db->AbortBatch();
    }
  }
  uint32_t gen = log_->generation();
  for (Request* r : applied) {
    if (!s.ok()) r->status = s;
    r->generation = gen;
  }
  {
    jetback::MutexLock lock(&ckpt_mu_);
    batch_in_flight_ = false;
  }
  bool kick = false;
  for (DbFile* db : dbs) {
    db->tree_mu().Unlock();
    kick = kick || db->dirty_pages() > options_.cache_pages / 2;
  }
  if (kick) KickFlusher();
}

void InstanceImpl::KickFlusher() {
  jetback::ReaderMutexLock lock(&flush_mu_);
  if (flush_task_ != nullptr) pool_->Kick(flush_task_);
}

void InstanceImpl::FlushRound() {
  // Errors (e.g. a full disk) leave pages dirty; the next round retries
  // and the checkpoint stays where it is meanwhile.
  Checkpoint().IgnoreError();
}

absl::Status InstanceImpl::Checkpoint() {
  jetback::MutexLock file_lock(&ckpt_file_mu_);
  uint64_t base;
  {
    jetback::MutexLock lock(&ckpt_mu_);
    base = batch_in_flight_ ? batch_start_ : log_->tip();
  }
  uint64_t redo = base;
  {
    jetback::ReaderMutexLock lock(&dbs_mu_);
    for (auto& db : dbs_) {
      JB_RETURN_IF_ERROR(db->file()->Flush(UINT64_MAX));
      redo = std::min(redo, db->file()->MinRecLsn());
    }
  }
  if (redo == last_redo_lsn_) return absl::OkStatus();
  return WriteCheckpointFile(redo);
}

absl::Status InstanceImpl::WriteCheckpointFile(uint64_t redo_lsn) {
  CheckpointInfo info;
  info.log_signature = log_signature_;
  info.redo_lsn = redo_lsn;
  info.page_size = options_.page_size;
  {
    jetback::ReaderMutexLock lock(&dbs_mu_);
    for (auto& db : dbs_) {
      // Checked at create / attach / recovery, so it cannot fail here.
      absl::StatusOr<std::string> recorded = RecordedPath(db->path());
      info.databases.push_back({recorded.ok() ? *recorded : db->path(),
                                db->file()->db_signature(),
                                db->file()->dbtime()});
    }
  }
  JB_RETURN_IF_ERROR(
      WriteCheckpoint(env_, options_.system_dir, options_.base_name, info));
  last_redo_lsn_ = redo_lsn;
  uint32_t ckpt_gen = PositionOf(redo_lsn).generation;
  checkpoint_gen_.store(ckpt_gen);
  if (options_.circular_logging) {
    uint32_t keep = ckpt_gen;
    uint32_t pinned = pinned_gen_.load();
    if (pinned != 0) keep = std::min(keep, pinned);
    auto gens = ListArchiveGenerations();
    if (gens.ok()) {
      for (uint32_t g : *gens) {
        if (g < keep) env_->DeleteFile(ArchiveLogPath(g)).IgnoreError();
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace jetback
