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
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "client/repo/repository.h"
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
void AddSetsCommands(CLI::App& app, const GlobalOptions& g, RunFn* run);
// `jetback expire` (cli/expire_cmd.cc).
void AddExpireCommand(CLI::App& app, const GlobalOptions& g, RunFn* run);

// --repo URL and how to reach it (cli/repo_cmd.cc). Endpoint, region and
// keys come from the AWS_* environment; the flags override the first two.
struct RepoFlags {
  std::string url;
  std::string endpoint, region;
  double part_size_mib = 8;
  int upload_concurrency = 4;
  std::string compress;  // backup: --compress; empty: the default
  std::string key_file;  // --key-file; empty: $JETBACK_REPO_KEY if set
  bool allow_unencrypted = false;  // verify / restore: accept plain sets
};
void AddRepoFlags(CLI::App* cmd, RepoFlags* flags, bool with_upload_knobs);
absl::StatusOr<std::unique_ptr<repo::Repository>> OpenRepoFrom(
    const RepoFlags& flags);

// For verify / restore: when flags.url is set, each *set_ids[i]
// (HOST/INSTANCE/SETNAME) is replaced by a local directory holding that set
// as plain files (downloaded and decoded into a temporary staging
// directory, removed afterwards), then `body` runs. Without a url the
// *set_ids[i] are set directories; those stored compressed or encrypted
// are decoded into staging the same way. `verifying`: a set that fails to
// decode (-1018) exits kExitVerifyFailed.
int WithSetsFromRepo(const RepoFlags& flags,
                     const std::vector<std::string*>& set_ids,
                     const std::function<int()>& body, bool verifying = false);

// After `verify --repo URL SET`: records the result beside the set
// (cli/verify_marker.h) for `jetback expire`; a failure to record is a
// warning on stderr, not a verify failure (cli/expire_cmd.cc).
void RecordVerifyResult(const RepoFlags& flags, const std::string& id, bool ok,
                        bool deep);

}  // namespace jetback::cli

#endif  // JETBACK_CLIENT_CLI_COMMANDS_H_
