// File: client/cli/ese_restore_cmd.h
//
// `jetback verify` and `jetback restore` on an ESE-style set: a directory
// an ESE agent streamed into (databases + E00XXXXXXXX.log, no
// manifest.json), see client/ese_set.h. offline_cmd.cc hands such a
// directory here.

#ifndef JETBACK_CLIENT_CLI_ESE_RESTORE_CMD_H_
#define JETBACK_CLIENT_CLI_ESE_RESTORE_CMD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/cli/commands.h"

namespace jetback::cli {

// --gen-low / --gen-high; 0: from the logs present.
struct GenerationRange {
  uint32_t gen_low = 0;
  uint32_t gen_high = 0;
  bool given() const { return gen_low != 0 || gen_high != 0; }
};

// Adds --gen-low / --gen-high to a verify or restore command.
void AddGenerationRangeOptions(CLI::App* cmd, GenerationRange* range);

// The hook of `jetback verify` / `restore`: when `dir` has no manifest.json
// but holds archive logs, runs `run_ese` and returns its exit code. Else
// -1 (a manifest set, for the caller), or 1 when a range was given for it.
int RunIfEseStyleSet(const std::string& command, const std::string& dir,
                     const GenerationRange& range,
                     const std::function<int()>& run_ese);

// Exit codes as RunVerify (5 for a damaged set).
int RunEseVerify(const GlobalOptions& g, const std::string& dir, bool deep,
                 const GenerationRange& range);

// Exit codes as RunRestore (1 for a non-empty target). An ESE-style set
// has no --incremental sets (1): its directory holds every log to replay.
int RunEseRestore(const GlobalOptions& g, const std::string& dir,
                  const std::vector<std::string>& incrementals,
                  const std::string& to, const GenerationRange& range);

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_ESE_RESTORE_CMD_H_
