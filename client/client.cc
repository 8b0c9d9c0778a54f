#include "jetback/client.h"

#include <xxhash.h>
#include <zstd.h>
#if defined(__x86_64__) || defined(__i386__)
// XXH3 through libxxhash's runtime dispatch (AVX2 / AVX-512 when the CPU
// has them): about 3.5x the default SSE2 code path, same hashes.
#include <xxh_x86dispatch.h>
#endif

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/digests.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "proto/file_chunk_codec.h"
#include "proto/jet_status.h"

namespace jetback {
namespace {

// Marks a status that had no JetError detail, with its raw gRPC code, so
// IsTransportError can tell a transport failure from a daemon answer.
constexpr absl::string_view kBareCodePayloadUrl = "type.jetback.dev/grpc_code";

absl::Status FromWire(const grpc::Status& wire) {
  absl::Status status = FromGrpcStatus(wire);
  if (!status.ok() && !HasJetErrorDetail(wire)) {
    status.SetPayload(kBareCodePayloadUrl,
                      absl::Cord(absl::StrCat(wire.error_code())));
  }
  return status;
}

std::string WireString(absl::string_view s) { return std::string(s); }

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("cannot read TLS file ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Per-call context with the configured deadline.
class CallContext : public grpc::ClientContext {
 public:
  explicit CallContext(absl::Duration timeout) {
    if (timeout != absl::InfiniteDuration()) {
      set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    }
  }
};

uint64_t Xxh3Of(const std::vector<absl::string_view>& pieces) {
  if (pieces.size() == 1)
    return XXH3_64bits(pieces[0].data(), pieces[0].size());
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (absl::string_view p : pieces) {
    XXH3_64bits_update(state, p.data(), p.size());
  }
  const uint64_t hash = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return hash;
}

// Fills result->xxh3_128 (and ->sha256) from the digests of a read from
// offset 0; -1018 when the server's whole-file digest in `last` differs.
absl::Status FinishFileDigests(StreamDigests* digests, const DecodedChunk& last,
                               ReadFileResult* result) {
  result->xxh3_128 = digests->Xxh3_128();
  result->sha256 = digests->FinishSha256();
  if (!last.xxh3_128.empty() && last.xxh3_128 != result->xxh3_128) {
    return JetStatus(jet::JET_errReadVerifyFailure,
                     "file XXH3-128 differs from the server's");
  }
  // An older daemon sends SHA-256 instead.
  if (!last.sha256.empty() && !result->sha256.empty() &&
      last.sha256 != result->sha256) {
    return JetStatus(jet::JET_errReadVerifyFailure,
                     "file SHA-256 differs from the server's");
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultServer() {
  const char* state = std::getenv("JETBACK_STATE_DIR");
  std::string dir =
      (state != nullptr && *state != '\0') ? state : "./jetback-state";
  return absl::StrCat("unix:", dir, "/jetbackd.sock");
}

bool IsTransportError(const absl::Status& status) {
  auto payload = status.GetPayload(kBareCodePayloadUrl);
  if (!payload) return false;
  int code = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &code)) return false;
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  std::unique_ptr<Client> client(new Client());
  client->options_ = options;
  client->server_ = options.server.empty() ? DefaultServer() : options.server;
  const std::string& server = client->server_;

  std::string target;
  bool tcp = false;
  if (absl::StartsWith(server, "unix:")) {
    if (server.size() == 5) {
      return JetStatus(jet::JET_errInvalidParameter, "empty unix: socket path");
    }
    target = server;
  } else if (absl::StartsWith(server, "tcp:")) {
    target = server.substr(4);
    tcp = true;
    if (target.find(':') == std::string::npos) {
      return JetStatus(jet::JET_errInvalidParameter,
                       absl::StrCat("tcp: address needs HOST:PORT: ", server));
    }
  } else {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat("server must be unix:PATH or tcp:HOST:PORT, got '", server,
                     "'"));
  }

  const bool any_tls = !options.tls_ca.empty() || !options.tls_cert.empty() ||
                       !options.tls_key.empty();
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (any_tls) {
    if (!tcp) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "TLS options apply to tcp: servers only");
    }
    if (options.tls_cert.empty() != options.tls_key.empty()) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "--tls-cert and --tls-key go together");
    }
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca.empty()) {
      JB_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(options.tls_ca));
    }
    if (!options.tls_cert.empty()) {
      JB_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(options.tls_cert));
      JB_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(options.tls_key));
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }

  grpc::ChannelArguments args;
  // Chunks are at most a few MiB; leave room above the 4 MiB default.
  args.SetMaxReceiveMessageSize(64 << 20);
  if (options.stream_window_bytes > 0) {
    // A fixed receive window bounds what sits ahead of a stop's status for
    // a slow reader (BDP probing would grow it to several MiB).
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                options.stream_window_bytes);
  }
  // Reconnect attempts close together, so a restarted daemon is found
  // within reconnect_timeout (gRPC's default back-off starts at 1 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  client->channel_ = grpc::CreateCustomChannel(target, creds, args);
  client->backup_ = v1::Backup::NewStub(client->channel_);
  client->instances_ = v1::Instances::NewStub(client->channel_);
  client->data_ = v1::Data::NewStub(client->channel_);
  client->read_file_method_ = std::make_unique<grpc::internal::RpcMethod>(
      "/jetback.v1.Backup/ReadFile",
      grpc::internal::RpcMethod::SERVER_STREAMING, client->channel_);
  return client;
}

Client::~Client() = default;

// ---- Backup ---------------------------------------------------------------

absl::StatusOr<v1::BeginBackupResponse> Client::BeginBackup(
    absl::string_view instance, uint32_t grbit, absl::string_view client_name) {
  v1::BeginBackupRequest request;
  request.set_instance(WireString(instance));
  request.set_grbit(grbit);
  request.set_client_name(WireString(client_name));
  v1::BeginBackupResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(backup_->BeginBackup(&ctx, request, &response)));
  return response;
}

namespace {

// Decodes chunks the daemon compressed (ReadFileOptions::wire_codec) into a
// buffer of its own, reused across the chunks of one stream.
class WireDecoder {
 public:
  WireDecoder() = default;
  ~WireDecoder() {
    if (dctx_ != nullptr) ZSTD_freeDCtx(dctx_);
  }
  WireDecoder(const WireDecoder&) = delete;
  WireDecoder& operator=(const WireDecoder&) = delete;

  // Replaces chunk->data with the decoded bytes (valid until the next
  // call). -1018 for data that does not decode to exactly raw_size bytes;
  // -107 for a codec this client does not know or an absurd raw_size.
  absl::Status Decode(DecodedChunk* chunk) {
    constexpr uint64_t kMaxRawSize = 64
                                     << 20;  // jetbackd's chunks are <= 4 MiB
    if (chunk->codec != v1::CHUNK_CODEC_ZSTD || chunk->raw_size == 0 ||
        chunk->raw_size > kMaxRawSize) {
      return JetStatus(
          jet::JET_errInternalError,
          absl::StrCat("FileChunk at offset ", chunk->offset, " has codec ",
                       chunk->codec, " and raw size ", chunk->raw_size));
    }
    absl::string_view coded;
    if (chunk->data.size() == 1) {
      coded = chunk->data[0];
    } else {
      joined_.clear();
      for (absl::string_view piece : chunk->data) {
        joined_.append(piece.data(), piece.size());
      }
      coded = joined_;
    }
    if (dctx_ == nullptr) dctx_ = ZSTD_createDCtx();
    decoded_.resize(chunk->raw_size);
    const size_t n = ZSTD_decompressDCtx(
        dctx_, decoded_.data(), decoded_.size(), coded.data(), coded.size());
    if (ZSTD_isError(n) || n != chunk->raw_size) {
      return JetStatus(jet::JET_errReadVerifyFailure,
                       absl::StrCat("compressed chunk at offset ",
                                    chunk->offset, " does not decode"));
    }
    chunk->data.assign(1, absl::string_view(decoded_));
    return absl::OkStatus();
  }

 private:
  ZSTD_DCtx* dctx_ = nullptr;
  std::string joined_;
  std::string decoded_;
};

v1::BackupCall Call(const BackupRef& b) {
  v1::BackupCall call;
  call.set_instance(b.instance);
  call.set_backup_id(b.backup_id);
  return call;
}
}  // namespace

absl::StatusOr<std::vector<std::string>> Client::GetAttachInfo(
    const BackupRef& b) {
  v1::AttachInfo response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(
      FromWire(backup_->GetAttachInfo(&ctx, Call(b), &response)));
  return std::vector<std::string>(response.databases().begin(),
                                  response.databases().end());
}

absl::StatusOr<v1::OpenFileResponse> Client::OpenFile(const BackupRef& b,
                                                      absl::string_view name,
                                                      uint64_t offset) {
  v1::OpenFileRequest request;
  request.set_instance(b.instance);
  request.set_backup_id(b.backup_id);
  request.set_name(WireString(name));
  request.set_offset(offset);
  v1::OpenFileResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(backup_->OpenFile(&ctx, request, &response)));
  return response;
}

absl::Status Client::ReadStream(
    const v1::ReadFileRequest& request,
    const std::function<absl::Status(uint64_t, absl::string_view)>& on_chunk,
    const std::atomic<bool>* cancel, void* digests, ReadFileResult* result) {
  auto* file_digests = static_cast<StreamDigests*>(digests);
  // The stream's running XXH3-128, checked against every message before its
  // data is delivered. A stream from offset 0 shares the whole-file state
  // (one pass for both); a resumed stream has its own and feeds both.
  XXH3_state_t* own_state = nullptr;
  XXH3_state_t* stream_state = nullptr;
  const bool shared = file_digests != nullptr && request.offset() == 0;
  if (shared) {
    stream_state = file_digests->xxh3_state();
  } else {
    stream_state = own_state = XXH3_createState();
    XXH3_128bits_reset(own_state);
  }
  absl::Cleanup free_state = [own_state] {
    if (own_state != nullptr) XXH3_freeState(own_state);
  };
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
          channel_.get(), *read_file_method_, &ctx, request));
  grpc::ByteBuffer message;
  std::vector<grpc::Slice> slices;
  DecodedChunk chunk;
  WireDecoder decoder;
  absl::Status local;  // an error of ours that ends the stream early
  while (reader->Read(&message)) {
    if (cancel != nullptr && cancel->load()) {
      local = JetStatus(jet::JET_errBackupAbortByCaller, "cancelled");
      break;
    }
    slices.clear();
    chunk.Reset();
    if (!message.Dump(&slices).ok() || !DecodeFileChunk(slices, &chunk)) {
      local = JetStatus(jet::JET_errInternalError, "malformed FileChunk");
      break;
    }
    for (absl::string_view piece : chunk.data)
      result->wire_bytes += piece.size();
    if (chunk.codec != 0) {
      local = decoder.Decode(&chunk);
      if (!local.ok()) break;
      ++result->compressed_chunks;
    }
    // A daemon that does not know stream_xxh3_128 sends chunk digests
    // (absent reads as 0); the running state then only serves the file
    // digest, when it is shared.
    const bool by_stream = !chunk.stream_xxh3_128.empty();
    if (by_stream || shared) {
      for (absl::string_view piece : chunk.data) {
        XXH3_128bits_update(stream_state, piece.data(), piece.size());
      }
    }
    const bool verified =
        by_stream ? CanonicalXxh3_128(stream_state) == chunk.stream_xxh3_128
                  : Xxh3Of(chunk.data) == chunk.xxh3;
    if (!verified) {
      local = JetStatus(jet::JET_errReadVerifyFailure,
                        absl::StrCat("chunk at offset ", chunk.offset,
                                     " failed its XXH3 check"));
      break;
    }
    uint64_t at = chunk.offset;
    for (absl::string_view piece : chunk.data) {
      local = on_chunk(at, piece);
      if (!local.ok()) break;
      if (file_digests != nullptr) {
        if (shared) {
          file_digests->UpdateSha256(piece);
        } else {
          file_digests->Update(piece);
        }
      }
      at += piece.size();
      result->bytes += piece.size();
    }
    if (!local.ok()) break;
    if (chunk.last) {
      result->reached_end = true;
      result->file_size = chunk.file_size;
      if (file_digests != nullptr) {
        local = FinishFileDigests(file_digests, chunk, result);
      }
    }
  }
  if (!local.ok()) {
    ctx.TryCancel();
    reader->Finish().IgnoreError();
    return local;
  }
  return FromWire(reader->Finish());
}

// A stopped stream whose agent did not drain it within the daemon's grace
// period is cancelled (RST_STREAM), which carries no JetError. The stop's
// reason and initiator are still on the backup's status: fetch them so the
// caller gets the same -801 it would have had from a prompt read.
absl::Status Client::ExplainCancelledStream(const BackupRef& b,
                                            const absl::Status& status) {
  auto code = status.GetPayload(kBareCodePayloadUrl);
  if (!code || std::string(*code) != absl::StrCat(static_cast<int>(
                                         grpc::StatusCode::CANCELLED))) {
    return status;
  }
  absl::StatusOr<v1::BackupStatus> backup = GetBackupStatus(b.instance);
  if (!backup.ok() || !backup->stop_requested() ||
      backup->backup_id() != b.backup_id) {
    return status;
  }
  return BackupStoppedStatus(b.backup_id, backup->stop_reason(),
                             backup->stop_initiator());
}

namespace {

// -1090 marked as a transport failure (IsTransportError), as a bare
// UNAVAILABLE from gRPC would be.
absl::Status DaemonGone(const BackupRef& b, absl::Duration waited) {
  absl::Status status =
      JetStatus(jet::JET_errInstanceUnavailable,
                absl::StrCat("lost the connection to jetbackd during backup ",
                             b.backup_id, " and it did not come back within ",
                             absl::FormatDuration(waited)));
  status.SetPayload(kBareCodePayloadUrl,
                    absl::Cord(absl::StrCat(
                        static_cast<int>(grpc::StatusCode::UNAVAILABLE))));
  return status;
}

// After a transport break, the daemon that answers no longer knows the
// backup: it restarted, and the backup died with the old process.
absl::Status BackupGoneAfterRestart(const BackupRef& b,
                                    const absl::Status& status) {
  if (JetErrOf(status) != jet::JET_errNoBackup) return status;
  return JetStatus(jet::JET_errNoBackup,
                   absl::StrCat("jetbackd restarted; backup ", b.backup_id,
                                " of instance ", b.instance, " is gone"));
}

}  // namespace

absl::StatusOr<ReadFileResult> Client::ReadFile(
    const BackupRef& b, uint32_t handle, uint64_t offset, uint64_t length,
    const std::function<absl::Status(uint64_t offset, absl::string_view data)>&
        on_chunk,
    const std::atomic<bool>* cancel, const ReadFileOptions& read_options) {
  ReadFileResult result;
  std::optional<StreamDigests> digests;
  if (offset == 0) digests.emplace(read_options.sha256);
  uint64_t next = offset;  // first byte not yet delivered
  // Chunks must arrive in order without gaps; anything else is a protocol
  // error, not something to write into a backup.
  auto ordered = [&](uint64_t at, absl::string_view data) -> absl::Status {
    if (at != next) {
      return JetStatus(
          jet::JET_errInternalError,
          absl::StrCat("chunk at offset ", at, ", expected ", next));
    }
    JB_RETURN_IF_ERROR(on_chunk(at, data));
    next += data.size();
    return absl::OkStatus();
  };
  for (int attempt = 0;; ++attempt) {
    v1::ReadFileRequest request;
    request.set_instance(b.instance);
    request.set_backup_id(b.backup_id);
    request.set_handle(handle);
    request.set_offset(next);
    request.set_stream_xxh3_128(true);
    request.set_max_bytes_per_second(read_options.max_bytes_per_second);
    if (read_options.wire_codec == WireCodec::kZstd) {
      request.set_wire_codec(v1::CHUNK_CODEC_ZSTD);
    }
    if (length != 0) {
      const uint64_t done = next - offset;
      if (done >= length) break;
      request.set_length(length - done);
    }
    absl::Status status =
        ReadStream(request, ordered, cancel,
                   digests.has_value() ? &*digests : nullptr, &result);
    if (status.ok() || !IsTransportError(status) ||
        attempt >= options_.read_resume_attempts) {
      if (status.ok()) break;
      status = ExplainCancelledStream(b, status);
      return result.resumes > 0 ? BackupGoneAfterRestart(b, status) : status;
    }
    if (result.reached_end) break;
    // Resume once the channel has reconnected (a call on a channel still in
    // back-off would fail at once and waste an attempt); a daemon that is
    // not back soon is reported as gone rather than waited for.
    if (!channel_->WaitForConnected(
            absl::ToChronoTime(absl::Now() + options_.reconnect_timeout))) {
      return DaemonGone(b, options_.reconnect_timeout);
    }
    ++result.resumes;
  }
  return result;
}

absl::StatusOr<v1::CloseFileResponse> Client::CloseFile(const BackupRef& b,
                                                        uint32_t handle) {
  v1::CloseFileRequest request;
  request.set_instance(b.instance);
  request.set_backup_id(b.backup_id);
  request.set_handle(handle);
  v1::CloseFileResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(backup_->CloseFile(&ctx, request, &response)));
  return response;
}

absl::StatusOr<v1::LogInfo> Client::GetLogInfo(const BackupRef& b) {
  v1::LogInfo response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(backup_->GetLogInfo(&ctx, Call(b), &response)));
  return response;
}

absl::StatusOr<v1::LogInfo> Client::GetTruncateLogInfo(const BackupRef& b) {
  v1::LogInfo response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(
      FromWire(backup_->GetTruncateLogInfo(&ctx, Call(b), &response)));
  return response;
}

absl::StatusOr<uint32_t> Client::TruncateLog(const BackupRef& b) {
  v1::TruncateLogResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(backup_->TruncateLog(&ctx, Call(b), &response)));
  return response.deleted();
}

absl::StatusOr<v1::EndBackupResponse> Client::EndBackup(const BackupRef& b,
                                                        uint32_t grbit) {
  v1::EndBackupRequest request;
  request.set_instance(b.instance);
  request.set_backup_id(b.backup_id);
  request.set_grbit(grbit);
  v1::EndBackupResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(backup_->EndBackup(&ctx, request, &response)));
  return response;
}

absl::StatusOr<v1::StopBackupResponse> Client::StopBackup(
    absl::string_view instance, absl::string_view reason) {
  v1::StopBackupRequest request;
  request.set_instance(WireString(instance));
  request.set_reason(WireString(reason));
  v1::StopBackupResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(backup_->StopBackup(&ctx, request, &response)));
  return response;
}

absl::StatusOr<v1::BackupStatus> Client::GetBackupStatus(
    absl::string_view instance) {
  v1::InstanceRef request;
  request.set_instance(WireString(instance));
  v1::BackupStatus response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(
      FromWire(backup_->GetBackupStatus(&ctx, request, &response)));
  return response;
}

absl::StatusOr<std::vector<v1::BackupStatus>> Client::ListBackups() {
  v1::ListBackupsResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(
      backup_->ListBackups(&ctx, v1::ListBackupsRequest(), &response)));
  return std::vector<v1::BackupStatus>(response.backups().begin(),
                                       response.backups().end());
}

// ---- Instances ------------------------------------------------------------

absl::StatusOr<std::vector<v1::InstanceInfo>> Client::ListInstances() {
  v1::ListInstancesResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(
      instances_->ListInstances(&ctx, v1::ListInstancesRequest(), &response)));
  return std::vector<v1::InstanceInfo>(response.instances().begin(),
                                       response.instances().end());
}

absl::Status Client::StopService(absl::string_view instance, uint32_t grbit) {
  v1::StopServiceRequest request;
  request.set_instance(WireString(instance));
  request.set_grbit(grbit);
  v1::StopServiceResponse response;
  CallContext ctx(options_.call_timeout);
  return FromWire(instances_->StopService(&ctx, request, &response));
}

namespace {
v1::DatabaseRequest DbRequest(absl::string_view instance,
                              absl::string_view name) {
  v1::DatabaseRequest request;
  request.set_instance(WireString(instance));
  request.set_name(WireString(name));
  return request;
}
}  // namespace

absl::StatusOr<v1::DatabaseInfo> Client::CreateDatabase(
    absl::string_view instance, absl::string_view name) {
  v1::DatabaseInfo response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(
      instances_->CreateDatabase(&ctx, DbRequest(instance, name), &response)));
  return response;
}

absl::StatusOr<v1::DatabaseInfo> Client::AttachDatabase(
    absl::string_view instance, absl::string_view name) {
  v1::DatabaseInfo response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(
      instances_->AttachDatabase(&ctx, DbRequest(instance, name), &response)));
  return response;
}

absl::Status Client::DetachDatabase(absl::string_view instance,
                                    absl::string_view name) {
  v1::DetachDatabaseResponse response;
  CallContext ctx(options_.call_timeout);
  return FromWire(
      instances_->DetachDatabase(&ctx, DbRequest(instance, name), &response));
}

// ---- Data -----------------------------------------------------------------

absl::Status Client::CreateTable(absl::string_view instance,
                                 absl::string_view database,
                                 absl::string_view table) {
  v1::TableRequest request;
  request.set_instance(WireString(instance));
  request.set_database(WireString(database));
  request.set_table(WireString(table));
  v1::CreateTableResponse response;
  CallContext ctx(options_.call_timeout);
  return FromWire(data_->CreateTable(&ctx, request, &response));
}

absl::StatusOr<v1::TransactResponse> Client::Transact(
    absl::string_view instance, absl::string_view database,
    const std::vector<v1::Operation>& operations) {
  v1::TransactRequest request;
  request.set_instance(WireString(instance));
  request.set_database(WireString(database));
  for (const v1::Operation& op : operations) *request.add_operations() = op;
  v1::TransactResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(data_->Transact(&ctx, request, &response)));
  return response;
}

absl::StatusOr<std::string> Client::Get(absl::string_view instance,
                                        absl::string_view database,
                                        absl::string_view table,
                                        absl::string_view key) {
  v1::GetRequest request;
  request.set_instance(WireString(instance));
  request.set_database(WireString(database));
  request.set_table(WireString(table));
  request.set_key(WireString(key));
  v1::GetResponse response;
  CallContext ctx(options_.call_timeout);
  JB_RETURN_IF_ERROR(FromWire(data_->Get(&ctx, request, &response)));
  return std::move(*response.mutable_value());
}

absl::Status Client::Scan(
    const v1::ScanRequest& request,
    const std::function<absl::Status(const v1::Row&)>& on_row) {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::Row>> reader =
      data_->Scan(&ctx, request);
  v1::Row row;
  while (reader->Read(&row)) {
    absl::Status status = on_row(row);
    if (!status.ok()) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      return status;
    }
  }
  return FromWire(reader->Finish());
}

// ---- Health ---------------------------------------------------------------

absl::StatusOr<std::string> Client::Health() {
  // grpc.health.v1.Health/Check over the generic stub: the request (empty
  // service name) encodes to zero bytes and the response is field 1, a
  // varint enum, so no generated code is needed.
  grpc::GenericStub stub(channel_);
  CallContext ctx(options_.call_timeout);
  grpc::CompletionQueue cq;
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  auto call =
      stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status wire;
  call->Finish(&response, &wire, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  JB_RETURN_IF_ERROR(FromWire(wire));
  std::vector<grpc::Slice> slices;
  response.Dump(&slices).IgnoreError();
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  int value = 0;  // proto3 default: UNKNOWN
  if (bytes.size() >= 2 && bytes[0] == 0x08) {
    value = static_cast<unsigned char>(bytes[1]);
  }
  switch (value) {
    case 1:
      return std::string("SERVING");
    case 2:
      return std::string("NOT_SERVING");
    case 3:
      return std::string("SERVICE_UNKNOWN");
    default:
      return std::string("UNKNOWN");
  }
}

}  // namespace jetback
