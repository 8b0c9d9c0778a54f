// File: client/repo/set_file_pipe.h
//
// A SetFile whose appends run on a thread of their own: the caller's
// Append copies the bytes into a bounded queue and returns; the pipe's
// thread passes them on to the wrapped file in order. `jetback backup
// --repo` wraps each compressed or encrypted file in one, so zstd and
// libsodium no longer run on the thread that receives the stream
// (bench/results/set-codec-2026-12-02.md).
//
// Errors: the wrapped file's first error is returned by the next Append or
// by Commit, once seen, and the thread passes nothing more to it. A pipe
// destroyed without Commit (a failed, stopped or interrupted backup)
// drops what is queued, waits for at most the one append in progress, and
// destroys the wrapped file (which abandons it).
// Thread-safety: as SetFile: one thread calls Append and Commit.

#ifndef JETBACK_CLIENT_REPO_SET_FILE_PIPE_H_
#define JETBACK_CLIENT_REPO_SET_FILE_PIPE_H_

#include <cstddef>
#include <memory>

#include "client/repo/repository.h"

namespace jetback::repo {

// Bytes queued (or being passed on) at most; an Append larger than this
// still goes, alone. A few chunks of the stream (1 MiB each by default).
inline constexpr size_t kPipeBytes = 4 << 20;

std::unique_ptr<SetFile> PipedSetFile(std::unique_ptr<SetFile> inner,
                                      size_t max_bytes = kPipeBytes);

}  // namespace jetback::repo

#endif  // JETBACK_CLIENT_REPO_SET_FILE_PIPE_H_
