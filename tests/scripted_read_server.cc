// scripted_read_server SOCKET SCRIPT: serves jetback.v1.Backup/ReadFile on
// unix:SOCKET, answering every call with ScriptedChunks(SCRIPT); a request
// without stream_xxh3_128 gets FAILED_PRECONDITION for the scripts that
// expect one. Prints "ready PID" once listening; runs until SIGTERM.

#include "tests/scripted_read_server.h"

#include <signal.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdio>
#include <memory>

#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "jetback/v1/backup.grpc.pb.h"

namespace jetback::testing {
namespace {

constexpr size_t kChunk = 65536;

std::string Canonical(XXH128_hash_t hash) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, hash);
  return std::string(reinterpret_cast<const char*>(c.digest), sizeof c.digest);
}

std::vector<v1::FileChunk> StreamChunks(const std::string& data) {
  std::vector<v1::FileChunk> chunks;
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  for (size_t at = 0; at < data.size(); at += kChunk) {
    v1::FileChunk c;
    c.set_offset(at);
    c.set_data(data.substr(at, kChunk));
    XXH3_128bits_update(state, c.data().data(), c.data().size());
    c.set_stream_xxh3_128(Canonical(XXH3_128bits_digest(state)));
    chunks.push_back(c);
  }
  XXH3_freeState(state);
  chunks.back().set_last(true);
  chunks.back().set_file_size(data.size());
  chunks.back().set_xxh3_128(Canonical(XXH3_128bits(data.data(), data.size())));
  return chunks;
}

std::vector<v1::FileChunk> ScriptedChunks(const std::string& name) {
  std::vector<v1::FileChunk> chunks = StreamChunks(ScriptedFileData());
  if (name == "good") return chunks;
  if (name == "corrupt") {
    (*chunks[1].mutable_data())[1000] ^= 0x20;
    return chunks;
  }
  if (name == "bad_file_digest") {
    chunks.back().set_xxh3_128(std::string(16, 'x'));
    return chunks;
  }
  if (name == "chunk_digests" || name == "bad_chunk_digest") {
    for (v1::FileChunk& c : chunks) {
      c.clear_stream_xxh3_128();
      c.set_xxh3(XXH3_64bits(c.data().data(), c.data().size()));
    }
    if (name == "bad_chunk_digest") chunks[2].set_xxh3(chunks[2].xxh3() + 1);
    return chunks;
  }
  if (name == "no_digest") {
    chunks[0].clear_stream_xxh3_128();
    return chunks;
  }
  if (name == "out_of_order") {
    chunks[1].set_offset(kChunk + 4096);
    return chunks;
  }
  return {};
}

class ScriptedBackup final : public v1::Backup::Service {
 public:
  explicit ScriptedBackup(std::string script) : script_(std::move(script)) {}

  grpc::Status ReadFile(grpc::ServerContext*, const v1::ReadFileRequest* req,
                        grpc::ServerWriter<v1::FileChunk>* writer) override {
    const bool old_style =
        script_.find("chunk_digest") == 0 || script_.find("bad_chunk") == 0;
    if (!old_style && !req->stream_xxh3_128()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "the client did not ask for stream_xxh3_128");
    }
    for (const v1::FileChunk& chunk : ScriptedChunks(script_)) {
      writer->Write(chunk);
    }
    return grpc::Status::OK;
  }

 private:
  const std::string script_;
};

}  // namespace
}  // namespace jetback::testing

int main(int argc, char** argv) {
  if (argc != 3 || jetback::testing::ScriptedChunks(argv[2]).empty()) {
    std::fprintf(stderr, "usage: scripted_read_server SOCKET SCRIPT\n");
    return 2;
  }
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // gRPC's threads inherit it
  jetback::testing::ScriptedBackup service(argv[2]);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(std::string("unix:") + argv[1],
                           grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  std::printf("ready %d\n", static_cast<int>(getpid()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&term, &sig);
  server->Shutdown();
  return 0;
}
