#include "daemon/read_reactor.h"

#include <xxhash.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"
#include "jetback/status.h"
#include "proto/jet_status.h"

namespace jetback::daemon {

ReadFileReactor::ReadFileReactor(Host* host, HostedInstance* hosted,
                                 grpc::CallbackServerContext* ctx,
                                 const ReadPlan& plan)
    : host_(host), hosted_(hosted), ctx_(ctx), plan_(plan) {
  host_->StreamCreated();
}

ReadFileReactor::~ReadFileReactor() = default;

ReadFileReactor* ReadFileReactor::Start(Host* host, HostedInstance* hosted,
                                        grpc::CallbackServerContext* ctx,
                                        const ReadPlan& plan,
                                        const absl::Status& refused) {
  auto* reactor = new ReadFileReactor(host, hosted, ctx, plan);
  absl::Status status = refused;
  if (status.ok()) status = host->Register(hosted, reactor);
  if (!status.ok()) {
    {
      jetback::MutexLock lock(&reactor->mu_);
      reactor->FinishLocked(ToGrpcStatus(status));
    }
    reactor->Unref();  // no reader thread
    return reactor;
  }
  std::thread([reactor] {
    reactor->ReaderLoop();
    reactor->EscalateIfStalled();
    reactor->Unref();
  }).detach();
  return reactor;
}

void ReadFileReactor::ReaderLoop() {
  // The whole-file digest is XXH3-128: the per-chunk XXH3-64 guards the
  // transport, this one the file as a whole, at a tenth of SHA-256's cost.
  XXH3_state_t* digest = nullptr;
  if (plan_.digest) {
    digest = XXH3_createState();
    XXH3_128bits_reset(digest);
  }
  uint64_t offset = plan_.offset;
  while (true) {
    {
      jetback::MutexLock lock(&mu_);
      auto can_read = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_reading_ || !ready_.has_value();
      };
      mu_.Await(jetback::Condition(&can_read));
      if (stop_reading_) break;
    }
    // The read (and page verification) happens here, outside every lock,
    // while the previous chunk is on the wire.
    v1::FileChunk chunk;
    const uint64_t want =
        std::min<uint64_t>(plan_.chunk_size, plan_.end - offset);
    std::string* data = chunk.mutable_data();
    size_t n = 0;
    if (want > 0) {
      data->resize(want);
      absl::StatusOr<size_t> read = hosted_->backup().ReadAt(
          plan_.backup_id, plan_.handle, offset,
          absl::Span<char>(data->data(), data->size()));
      if (!read.ok()) {
        jetback::MutexLock lock(&mu_);
        if (!stop_reading_) {
          stop_reading_ = true;
          final_ = ToGrpcStatus(read.status());
          if (!write_in_flight_ && !finished_) FinishLocked(*final_);
        }
        break;
      }
      n = *read;
    }
    data->resize(n);
    chunk.set_offset(offset);
    chunk.set_xxh3(XXH3_64bits(data->data(), n));
    if (digest != nullptr) XXH3_128bits_update(digest, data->data(), n);
    offset += n;
    const bool last = n == 0 || offset >= plan_.end;
    if (last) {
      chunk.set_last(true);
      chunk.set_file_size(plan_.file_size != 0 ? plan_.file_size : offset);
      if (digest != nullptr) {
        XXH128_canonical_t canonical;
        XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(digest));
        chunk.set_xxh3_128(canonical.digest, sizeof(canonical.digest));
      }
    }
    if (last && plan_.file_size != 0 && offset >= plan_.file_size) {
      jetback::MutexLock lock(&hosted_->mu);
      hosted_->file_complete = true;
    }
    jetback::MutexLock lock(&mu_);
    if (stop_reading_) break;
    SendLocked(std::move(chunk));
    if (last) {
      stop_reading_ = true;
      final_ = grpc::Status::OK;
      if (!write_in_flight_ && !finished_) FinishLocked(*final_);
      break;
    }
  }
  if (digest != nullptr) XXH3_freeState(digest);
}

void ReadFileReactor::SendLocked(v1::FileChunk chunk) {
  if (finished_) return;
  if (write_in_flight_) {
    ready_ = std::move(chunk);
    return;
  }
  writing_ = std::move(chunk);
  write_in_flight_ = true;
  StartWrite(&writing_);
}

void ReadFileReactor::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  stop_reading_ = true;
  ready_.reset();
  Finish(status);
}

void ReadFileReactor::Abort(const absl::Status& why) {
  jetback::MutexLock lock(&mu_);
  if (finished_ || aborted_) return;
  aborted_ = true;
  stop_reading_ = true;
  ready_.reset();
  final_ = ToGrpcStatus(why);
  if (!write_in_flight_) FinishLocked(*final_);
}

// A stopped stream whose client does not take its pending write is
// cancelled after the grace period (RST_STREAM); the engine side was
// released when the stop happened.
void ReadFileReactor::EscalateIfStalled() {
  jetback::MutexLock lock(&mu_);
  if (!aborted_) return;
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done_ || finished_;
  };
  if (mu_.AwaitWithTimeout(jetback::Condition(&settled),
                           host_->config().stop_grace)) {
    return;
  }
  LogWarn("cancelling stalled ReadFile stream",
          {{"instance", hosted_->config.name}, {"peer", ctx_->peer()}});
  // OnCancel/OnDone of a non-inlineable reactor run on gRPC's executor, never
  // inside TryCancel, and ctx_ lives until OnDone (which needs mu_).
  ctx_->TryCancel();
}

void ReadFileReactor::OnWriteDone(bool ok) {
  jetback::MutexLock lock(&mu_);
  write_in_flight_ = false;
  if (finished_) return;
  if (!ok) {
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                              "client went away during the stream"));
  } else if (aborted_) {
    FinishLocked(*final_);
  } else if (ready_.has_value()) {
    writing_ = std::move(*ready_);
    ready_.reset();
    write_in_flight_ = true;
    StartWrite(&writing_);
  } else if (final_.has_value()) {
    FinishLocked(*final_);
  }
}

void ReadFileReactor::OnCancel() {
  jetback::MutexLock lock(&mu_);
  stop_reading_ = true;
  ready_.reset();
  if (finished_) return;
  if (!final_.has_value() || final_->ok()) {
    final_ = grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
  }
  if (!write_in_flight_) FinishLocked(*final_);
}

void ReadFileReactor::OnDone() {
  host_->Unregister(hosted_, this);
  {
    jetback::MutexLock lock(&mu_);
    done_ = true;
  }
  Unref();
}

void ReadFileReactor::Unref() {
  if (refs_.fetch_sub(1) != 1) return;
  Host* host = host_;
  delete this;
  host->StreamDestroyed();
}

}  // namespace jetback::daemon
