// File: client/cli/completion.h
//
// `jetback completion bash`: a bash completion script built from the CLI's
// own command tree, so it never lists a command or flag that does not exist
// (the build installs its output as share/bash-completion/completions/jetback).

#ifndef JETBACK_CLIENT_CLI_COMPLETION_H_
#define JETBACK_CLIENT_CLI_COMPLETION_H_

#include <string>

#include "CLI/CLI.hpp"
#include "client/cli/commands.h"

namespace jetback::cli {

// The script for `app` as it stands (every subcommand, nested ones too,
// with their long and short flags; values of flags that take one complete
// as file names).
std::string BashCompletion(const CLI::App& app);

// Registers `completion bash` on `app`; call after every other command.
void AddCompletionCommand(CLI::App& app, RunFn* run);

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_COMPLETION_H_
