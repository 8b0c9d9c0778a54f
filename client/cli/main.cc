// jetback: the command-line client of jetbackd. See `jetback --help`.

#include <malloc.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/cli/commands.h"
#include "client/cli/completion.h"
#include "client/cli/output.h"
#include "version/version.h"

namespace jetback::cli {

absl::StatusOr<std::unique_ptr<Client>> ConnectFrom(const GlobalOptions& g) {
  ClientOptions options;
  options.server = g.server;
  options.tls_ca = g.tls_ca;
  options.tls_cert = g.tls_cert;
  options.tls_key = g.tls_key;
  options.call_timeout = absl::Seconds(g.timeout_seconds);
  return Client::Connect(options);
}

namespace {

int Main(int argc, char** argv) {
  CLI::App app(
      "jetback: back up, stop, inspect, verify and restore jetbackd "
      "instances.",
      "jetback");
  app.footer(absl::StrCat(
      "Server: unix:PATH or tcp:HOST:PORT; default unix:<state>/jetbackd.sock "
      "with <state> = $JETBACK_STATE_DIR or ./jetback-state (now: ",
      DefaultServer(), ").\n", kExitCodeHelp));
  GlobalOptions g;
  app.add_option("--server", g.server,
                 "Daemon address: unix:PATH or tcp:HOST:PORT");
  app.add_option("--tls-ca", g.tls_ca, "CA certificate (PEM) for tcp: TLS");
  app.add_option("--tls-cert", g.tls_cert,
                 "Client certificate (PEM) for mutual TLS");
  app.add_option("--tls-key", g.tls_key, "Client private key (PEM)");
  app.add_option("--output", g.output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--timeout", g.timeout_seconds,
                 "Deadline of each unary call, seconds")
      ->check(CLI::PositiveNumber);
  app.set_version_flag("--version", VersionLine("jetback"));
  app.require_subcommand(1);

  RunFn run;
  AddBackupCommands(app, g, &run);
  AddAdminCommands(app, g, &run);
  AddDataCommands(app, g, &run);
  AddOfflineCommands(app, g, &run);
  AddSetsCommands(app, g, &run);
  AddExpireCommand(app, g, &run);
  AddCompletionCommand(app, &run);  // last: it lists the others

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help or the error
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!run) return kExitUsage;
  return run();
}

}  // namespace
}  // namespace jetback::cli

int main(int argc, char** argv) {
  // gRPC frees each receive buffer (up to a few MiB) as soon as its chunk
  // is consumed; glibc then gives the heap top back with brk(), and on a
  // 2-vCPU guest every shrink is a TLB shootdown IPI. Measured on a 1.1 GiB
  // backup to disk: 3.0-3.7 s of CLI CPU, two thirds of it in brk(), vs
  // 1.1-1.2 s with the heap kept (bench/results/perf-2026-12-02.md §6).
  // Kept memory is bounded by the stream's peak, a few MiB.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  return jetback::cli::Main(argc, argv);
}
