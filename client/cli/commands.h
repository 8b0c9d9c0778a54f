// File: client/cli/commands.h
//
// The command groups of the `jetback` CLI. Each Add*Commands registers its
// subcommands on `app`; the one that parses sets *run, which main() calls
// for the process exit code (cli/output.h).

#ifndef JETBACK_CLIENT_CLI_COMMANDS_H_
#define JETBACK_CLIENT_CLI_COMMANDS_H_

#include <functional>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "jetback/client.h"

namespace jetback::cli {

struct GlobalOptions {
  std::string server;  // empty: DefaultServer()
  std::string tls_ca, tls_cert, tls_key;
  std::string output = "text";  // or "json"
  double timeout_seconds = 30;
  bool json() const { return output == "json"; }
};

using RunFn = std::function<int()>;

absl::StatusOr<std::unique_ptr<Client>> ConnectFrom(const GlobalOptions& g);

void AddBackupCommands(CLI::App& app, const GlobalOptions& g, RunFn* run);
void AddAdminCommands(CLI::App& app, const GlobalOptions& g, RunFn* run);
void AddDataCommands(CLI::App& app, const GlobalOptions& g, RunFn* run);
void AddOfflineCommands(CLI::App& app, const GlobalOptions& g, RunFn* run);

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_COMMANDS_H_
