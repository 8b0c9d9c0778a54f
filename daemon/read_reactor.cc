#include "daemon/read_reactor.h"

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
// XXH3 through libxxhash's runtime dispatch (AVX2 / AVX-512 when the CPU
// has them): about 3.5x the default SSE2 code path, same hashes.
#include <xxh_x86dispatch.h>
#endif

#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"
#include "jetback/status.h"
#include "jetback/v1/backup.pb.h"
#include "proto/file_chunk_codec.h"
#include "proto/jet_status.h"

namespace jetback::daemon {
namespace {

// A read buffer that a grpc::Slice can take over (freed by the slice once
// the transport is done with it).
class ChunkBuffer {
 public:
  explicit ChunkBuffer(size_t size)
      : data_(static_cast<char*>(std::malloc(std::max<size_t>(size, 1)))) {
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~ChunkBuffer() { std::free(data_); }
  ChunkBuffer(ChunkBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)) {}
  ChunkBuffer(const ChunkBuffer&) = delete;
  ChunkBuffer& operator=(const ChunkBuffer&) = delete;

  char* data() const { return data_; }
  // A slice of the first `n` bytes that owns the buffer from now on.
  grpc::Slice ReleaseAsSlice(size_t n) {
    return grpc::Slice(std::exchange(data_, nullptr), n, &std::free);
  }

 private:
  char* data_;
};

// zstd level for wire compression: the fastest, since it pays off only
// where the link, not the CPU, is the bottleneck.
constexpr int kWireZstdLevel = 1;

// The chunk's data zstd-compressed into a new slice, or nullopt when that
// saves less than an eighth (the chunk then goes as it is).
std::optional<grpc::Slice> CompressChunk(ZSTD_CCtx* cctx, const char* data,
                                         size_t n) {
  const size_t bound = ZSTD_compressBound(n);
  ChunkBuffer out(bound);
  const size_t c =
      ZSTD_compressCCtx(cctx, out.data(), bound, data, n, kWireZstdLevel);
  if (ZSTD_isError(c) || c > n - n / 8) return std::nullopt;
  return out.ReleaseAsSlice(c);
}

}  // namespace

uint32_t PacedChunkSize(uint32_t chunk_size, uint64_t rate, uint32_t page) {
  if (rate == 0) return chunk_size;
  const uint64_t tenth = rate / 10 / page * page;
  return static_cast<uint32_t>(
      std::clamp<uint64_t>(tenth, page, std::max(chunk_size, page)));
}

uint64_t EffectiveRate(uint64_t requested, uint64_t ceiling) {
  if (ceiling == 0) return requested;
  if (requested == 0) return ceiling;
  return std::min(requested, ceiling);
}

absl::Status ParseReadFileRequest(const grpc::ByteBuffer& raw,
                                  v1::ReadFileRequest* req) {
  grpc::ByteBuffer copy(raw);  // Deserialize consumes its buffer
  if (!grpc::SerializationTraits<v1::ReadFileRequest>::Deserialize(&copy, req)
           .ok()) {
    return JetStatus(jet::JET_errInvalidParameter, "malformed ReadFileRequest");
  }
  return absl::OkStatus();
}

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
    // Linux applies nice per thread; lowering one's own priority needs no
    // privilege, so a failure here is only logged.
    if (reactor->plan_.reader_nice != 0 &&
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()),
                      reactor->plan_.reader_nice) != 0) {
      LogWarn("setpriority of a ReadFile reader failed",
              {{"errno", std::to_string(errno)}});
    }
    reactor->ReaderLoop();
    reactor->EscalateIfStalled();
    reactor->Unref();
  }).detach();
  return reactor;
}

absl::Status ReadFileReactor::Resolve() {
  JB_ASSIGN_OR_RETURN(OpenedFile file, hosted_->backup().OpenFileInfo(
                                           plan_.backup_id, plan_.handle));
  const uint32_t page = plan_.page_size;
  if (plan_.offset % page != 0 || plan_.length % page != 0) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("offset and length must be multiples of "
                                  "the page size ",
                                  page));
  }
  if (plan_.offset > file.size || plan_.length > file.size - plan_.offset) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat("read of [", plan_.offset, ", +", plan_.length,
                     ") beyond the file's ", file.size, " bytes"));
  }
  file_size_ = file.size;
  end_ = plan_.length == 0 ? file.size : plan_.offset + plan_.length;
  file_digest_ = plan_.offset == 0 && end_ == file.size;
  chunk_ = PacedChunkSize(plan_.chunk_size, plan_.rate, page);
  return absl::OkStatus();
}

bool ReadFileReactor::PaceUntil(absl::Time due) {
  jetback::MutexLock lock(&mu_);
  auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_reading_;
  };
  mu_.AwaitWithDeadline(jetback::Condition(&stopped), due);
  return !stop_reading_;
}

void ReadFileReactor::ReaderLoop() {
  if (absl::Status resolved = Resolve(); !resolved.ok()) {
    jetback::MutexLock lock(&mu_);
    if (!stop_reading_) {
      stop_reading_ = true;
      final_ = ToGrpcStatus(resolved);
      if (!write_in_flight_ && !finished_) FinishLocked(*final_);
    }
    return;
  }
  // The whole-file digest is XXH3-128: the per-chunk XXH3-64 guards the
  // transport, this one the file as a whole, at a tenth of SHA-256's cost.
  // With stream_digest, the running XXH3-128 (finishing a copy of the state
  // is O(1)) guards every chunk and the file in one pass.
  XXH3_state_t* digest = nullptr;
  if (file_digest_ || plan_.stream_digest) {
    digest = XXH3_createState();
    XXH3_128bits_reset(digest);
  }
  ZSTD_CCtx* zstd =
      plan_.wire_codec == v1::CHUNK_CODEC_ZSTD ? ZSTD_createCCtx() : nullptr;
  const absl::Time started = absl::Now();
  uint64_t offset = plan_.offset;
  // Data bytes put on the wire: what pacing counts, so that compression
  // lets a paced stream carry more of the file per second.
  uint64_t wire_sent = 0;
  while (true) {
    if (plan_.rate != 0 && wire_sent > 0) {
      const double seconds = static_cast<double>(wire_sent) / plan_.rate;
      if (!PaceUntil(started + absl::Seconds(seconds))) break;
    }
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
    const uint64_t want = std::min<uint64_t>(chunk_, end_ - offset);
    ChunkBuffer buffer(want);
    size_t n = 0;
    if (want > 0) {
      absl::StatusOr<size_t> read =
          hosted_->backup().ReadAt(plan_.backup_id, plan_.handle, offset,
                                   absl::Span<char>(buffer.data(), want));
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
    ChunkFields fields;
    fields.offset = offset;
    if (!plan_.stream_digest) fields.xxh3 = XXH3_64bits(buffer.data(), n);
    if (digest != nullptr) XXH3_128bits_update(digest, buffer.data(), n);
    offset += n;
    fields.last = n == 0 || offset >= end_;
    if (fields.last) fields.file_size = file_size_;
    // The running digest is the stream's in every message with
    // stream_digest, and the file's in the last one of a whole-file read.
    const bool whole_file = fields.last && file_digest_;
    if (plan_.stream_digest || whole_file) {
      ChunkDigest running;
      running.present = true;
      XXH128_canonical_t canonical;
      XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(digest));
      std::memcpy(running.bytes.data(), canonical.digest, running.bytes.size());
      if (plan_.stream_digest) fields.stream_xxh3_128 = running;
      if (whole_file) fields.xxh3_128 = running;
    }
    std::optional<grpc::Slice> coded;
    if (zstd != nullptr && n > 0) coded = CompressChunk(zstd, buffer.data(), n);
    size_t wire = n;
    grpc::Slice payload;
    if (coded.has_value()) {
      fields.codec = v1::CHUNK_CODEC_ZSTD;
      fields.raw_size = n;
      wire = coded->size();
      payload = std::move(*coded);
    } else if (n > 0) {
      payload = buffer.ReleaseAsSlice(n);
    }
    wire_sent += wire;
    grpc::ByteBuffer message =
        EncodeFileChunk(fields, std::move(payload), wire);
    jetback::MutexLock lock(&mu_);
    if (stop_reading_) break;
    SendLocked(&message);
    if (fields.last) {
      stop_reading_ = true;
      final_ = grpc::Status::OK;
      if (!write_in_flight_ && !finished_) FinishLocked(*final_);
      break;
    }
  }
  if (digest != nullptr) XXH3_freeState(digest);
  if (zstd != nullptr) ZSTD_freeCCtx(zstd);
}

void ReadFileReactor::SendLocked(grpc::ByteBuffer* message) {
  if (finished_) return;
  // Swap, not assign: a ByteBuffer copy allocates and refs every slice.
  if (write_in_flight_) {
    ready_.emplace();
    ready_->Swap(message);
    return;
  }
  writing_.Swap(message);
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
  last_progress_ = absl::Now();
  ready_.reset();
  final_ = ToGrpcStatus(why);
  if (!write_in_flight_) FinishLocked(*final_);
}

// A stopped stream is cancelled (RST_STREAM) only when its client takes no
// write at all for the grace period: a slow reader is still reading, and
// cancelling it would lose the stop's reason. The engine side was released
// when the stop happened.
void ReadFileReactor::EscalateIfStalled() {
  jetback::MutexLock lock(&mu_);
  if (!aborted_) return;
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done_ || finished_;
  };
  const absl::Duration grace = host_->config().stop_grace;
  while (!mu_.AwaitWithDeadline(jetback::Condition(&settled),
                                last_progress_ + grace)) {
    if (absl::Now() - last_progress_ < grace) continue;  // it took a write
    LogWarn("cancelling a stopped ReadFile stream whose client reads nothing",
            {{"instance", hosted_->config.name},
             {"peer", ctx_->peer()},
             {"grace_ms", absl::StrCat(absl::ToInt64Milliseconds(grace))}});
    // OnCancel/OnDone of a non-inlineable reactor run on gRPC's executor,
    // never inside TryCancel, and ctx_ lives until OnDone (which needs mu_).
    ctx_->TryCancel();
    return;
  }
}

void ReadFileReactor::OnWriteDone(bool ok) {
  jetback::MutexLock lock(&mu_);
  write_in_flight_ = false;
  last_progress_ = absl::Now();
  if (finished_) return;
  if (!ok) {
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                              "client went away during the stream"));
  } else if (aborted_) {
    FinishLocked(*final_);
  } else if (ready_.has_value()) {
    writing_.Swap(&*ready_);
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
