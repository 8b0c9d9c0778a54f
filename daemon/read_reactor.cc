#include "daemon/read_reactor.h"

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
// XXH3 through libxxhash's runtime dispatch (AVX2 / AVX-512 when the CPU
// has them): about 3.5x the default SSE2 code path, same hashes.
#include <xxh_x86dispatch.h>
#endif

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"
#include "jetback/status.h"
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

// An optional XXH3-128 field of v1::FileChunk.
struct Digest128 {
  bool present = false;
  XXH128_canonical_t value{};
};

// v1::FileChunk's fields other than data.
struct ChunkFields {
  uint64_t offset = 0;
  uint64_t xxh3 = 0;
  bool last = false;
  uint64_t file_size = 0;
  Digest128 xxh3_128;
  Digest128 stream_xxh3_128;
};

char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

char* PutDigest(char* p, char tag, const Digest128& d) {
  if (!d.present) return p;
  *p++ = tag;
  *p++ = sizeof(d.value.digest);
  std::memcpy(p, d.value.digest, sizeof(d.value.digest));
  return p + sizeof(d.value.digest);
}

// Protobuf tags (field number << 3 | wire type) of v1::FileChunk.
constexpr char kOffsetTag = (1 << 3) | 0;    // varint
constexpr char kDataTag = (2 << 3) | 2;      // length-delimited
constexpr char kXxh3Tag = (3 << 3) | 1;      // fixed64
constexpr char kLastTag = (4 << 3) | 0;      // varint
constexpr char kFileSizeTag = (6 << 3) | 0;  // varint
constexpr char kXxh3128Tag = (7 << 3) | 2;   // length-delimited
constexpr char kStreamXxh3128Tag = (8 << 3) | 2;

// Encodes the FileChunk {fields, data = buffer[0, n)} as the serializer
// would (fields in number order, proto3 defaults left out), with the data
// as a slice owning `buffer`: no copy of the bytes.
grpc::ByteBuffer EncodeChunk(const ChunkFields& f, ChunkBuffer buffer,
                             size_t n) {
  char head[2 + 2 * 10];
  char* p = head;
  if (f.offset != 0) {
    *p++ = kOffsetTag;
    p = PutVarint(p, f.offset);
  }
  if (n != 0) {
    *p++ = kDataTag;
    p = PutVarint(p, n);
  }
  char tail[1 + 8 + 2 + 1 + 10 + 2 * (2 + sizeof(XXH128_canonical_t))];
  char* q = tail;
  if (f.xxh3 != 0) {
    *q++ = kXxh3Tag;
    for (int i = 0; i < 8; ++i) *q++ = static_cast<char>(f.xxh3 >> (8 * i));
  }
  if (f.last) {
    *q++ = kLastTag;
    *q++ = 1;
  }
  if (f.file_size != 0) {
    *q++ = kFileSizeTag;
    q = PutVarint(q, f.file_size);
  }
  q = PutDigest(q, kXxh3128Tag, f.xxh3_128);
  q = PutDigest(q, kStreamXxh3128Tag, f.stream_xxh3_128);
  grpc::Slice slices[3];
  size_t count = 0;
  if (p != head) slices[count++] = grpc::Slice(head, p - head);
  if (n != 0) slices[count++] = buffer.ReleaseAsSlice(n);
  if (q != tail) slices[count++] = grpc::Slice(tail, q - tail);
  return grpc::ByteBuffer(slices, count);
}

}  // namespace

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

void ReadFileReactor::ReaderLoop() {
  // The whole-file digest is XXH3-128: the per-chunk XXH3-64 guards the
  // transport, this one the file as a whole, at a tenth of SHA-256's cost.
  // With stream_digest, the running XXH3-128 (finishing a copy of the state
  // is O(1)) guards every chunk and the file in one pass.
  XXH3_state_t* digest = nullptr;
  if (plan_.digest || plan_.stream_digest) {
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
    const uint64_t want =
        std::min<uint64_t>(plan_.chunk_size, plan_.end - offset);
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
    fields.last = n == 0 || offset >= plan_.end;
    if (fields.last) {
      fields.file_size = plan_.file_size != 0 ? plan_.file_size : offset;
    }
    // The running digest is the stream's in every message with
    // stream_digest, and the file's in the last one of a whole-file read.
    const bool file_digest = fields.last && plan_.digest;
    if (plan_.stream_digest || file_digest) {
      Digest128 running{true, {}};
      XXH128_canonicalFromHash(&running.value, XXH3_128bits_digest(digest));
      if (plan_.stream_digest) fields.stream_xxh3_128 = running;
      if (file_digest) fields.xxh3_128 = running;
    }
    grpc::ByteBuffer message = EncodeChunk(fields, std::move(buffer), n);
    if (fields.last && plan_.file_size != 0 && offset >= plan_.file_size) {
      jetback::MutexLock lock(&hosted_->mu);
      hosted_->file_complete = true;
    }
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
