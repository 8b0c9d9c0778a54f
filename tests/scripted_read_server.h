// A ReadFile server that sends a fixed script of FileChunks, good or bad, for
// the client's verification tests (a real jetbackd never sends a bad chunk).
// It runs as its own process (tests/scripted_read_server.cc), as jetbackd
// would: an in-process server shares gRPC's threads with the client, whose
// hand-offs ThreadSanitizer cannot see in Debian's uninstrumented gRPC.

#ifndef JETBACK_TESTS_SCRIPTED_READ_SERVER_H_
#define JETBACK_TESTS_SCRIPTED_READ_SERVER_H_

#include <string>

namespace jetback::testing {

// The file every script streams (deterministic, 200000 bytes).
inline std::string ScriptedFileData() {
  std::string data(200000, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>((i * 131) >> 3);
  }
  return data;
}

// Scripts (the server's second argument):
//   good            stream digests, as jetbackd sends them when asked
//   corrupt         a byte of chunk 1 flipped after its digest was taken
//   bad_file_digest the last message's whole-file XXH3-128 is wrong
//   chunk_digests   XXH3-64 per chunk only, as an older jetbackd sends
//   bad_chunk_digest the same with chunk 2's XXH3-64 off by one
//   no_digest       chunk 0 carries no digest at all
//   out_of_order    chunk 1's offset skips a page
// Every chunk holds 65536 bytes except the last.

}  // namespace jetback::testing

#endif  // JETBACK_TESTS_SCRIPTED_READ_SERVER_H_
