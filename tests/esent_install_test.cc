// The C API as an agent author gets it: `cmake --install` of the esent
// component into a fresh prefix, examples/esent_agent.c compiled with
// `cc ... $(pkg-config --cflags --libs jetback-esent)` and with
// find_package(jetback), then run against a real jetbackd. Also checks the
// shared library's soname and that it exports the C API and the documented
// C++ API only.

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

namespace fs = std::filesystem;

struct ShellResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

ShellResult RunShell(const std::string& command) {
  ShellResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.output.append(buffer, n);
  }
  const int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

// The compiler flags a program needs to load a library built with
// sanitizers (the runtime must come first).
std::string SanitizerFlags() {
  const std::string s = JETBACK_SANITIZE_FLAGS;
  return s.empty() ? "" : absl::StrCat("-fsanitize=", s);
}

class EsentInstall : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    prefix_ = new std::string(dir_->path() + "/prefix");
    const ShellResult installed = RunShell(
        absl::StrCat("'", CMAKE_COMMAND, "' --install '", JETBACK_BUILD_DIR,
                     "' --component esent --prefix '", *prefix_, "'"));
    install_output_ = new std::string(installed.output);
    install_ok_ = installed.exit_code == 0;
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete prefix_;
    delete install_output_;
  }
  void SetUp() override { ASSERT_TRUE(install_ok_) << *install_output_; }

  // Compiles examples/esent_agent.c against the installed package.
  static ShellResult BuildAgent(const std::string& path) {
    return RunShell(
        absl::StrCat(Env(), "cc -std=c11 -Wall -Werror ", SanitizerFlags(),
                     " '", JETBACK_SOURCE_DIR, "/examples/esent_agent.c' -o '",
                     path, "' $(pkg-config --cflags --libs jetback-esent)"));
  }

  // A jetbackd on `dir` and a client of it (nullptrs on failure).
  struct Daemon {
    std::unique_ptr<DaemonProcess> process;
    std::unique_ptr<Client> client;
    std::string server;
  };
  static Daemon StartDaemon(const std::string& dir,
                            const DaemonConfigOptions& options = {}) {
    Daemon d;
    d.process = DaemonProcess::Start(dir, DaemonConfig(dir, options));
    if (d.process == nullptr) return d;
    d.server = "unix:" + d.process->socket_path();
    ClientOptions client_options;
    client_options.server = d.server;
    auto client = Client::Connect(client_options);
    if (client.ok()) d.client = std::move(*client);
    return d;
  }

  static std::string LibDir() { return *prefix_ + "/" + JETBACK_LIBDIR; }
  static std::string Env() {
    // Exported, so $(pkg-config ...) in the same command line sees it.
    return absl::StrCat("export PKG_CONFIG_PATH='", LibDir(),
                        "/pkgconfig' LD_LIBRARY_PATH='", LibDir(), "'; ");
  }

  static TempDir* dir_;
  static std::string* prefix_;
  static std::string* install_output_;
  static bool install_ok_;
};
TempDir* EsentInstall::dir_ = nullptr;
std::string* EsentInstall::prefix_ = nullptr;
std::string* EsentInstall::install_output_ = nullptr;
bool EsentInstall::install_ok_ = false;

TEST_F(EsentInstall, InstallsLibraryHeaderPkgConfigAndCMakePackage) {
  for (const std::string& f :
       {LibDir() + "/libjetback_client.so",
        LibDir() + "/libjetback_client.so.0",
        *prefix_ + "/include/jetback/esent.h",
        *prefix_ + "/include/jetback/jet_err_table.inc",
        LibDir() + "/pkgconfig/jetback-esent.pc",
        LibDir() + "/cmake/jetback/jetbackConfig.cmake",
        LibDir() + "/cmake/jetback/jetbackTargets.cmake"}) {
    EXPECT_TRUE(fs::exists(f)) << f << "\n" << *install_output_;
  }
  const ShellResult soname = RunShell(
      absl::StrCat("readelf -d '", LibDir(), "/libjetback_client.so'"));
  ASSERT_EQ(soname.exit_code, 0) << soname.output;
  EXPECT_TRUE(absl::StrContains(soname.output,
                                "Library soname: [libjetback_client.so.0]"))
      << soname.output;
}

TEST_F(EsentInstall, ExportsOnlyTheCApiAndTheDocumentedCppApi) {
  const ShellResult nm = RunShell(absl::StrCat(
      "nm -D --defined-only -C '", LibDir(), "/libjetback_client.so'"));
  ASSERT_EQ(nm.exit_code, 0) << nm.output;
  int c_api = 0;
  for (absl::string_view line : absl::StrSplit(nm.output, '\n')) {
    if (line.size() < 20) continue;
    // "ADDRESS T name@@JETBACK_0"
    absl::string_view name = line.substr(19);
    name = name.substr(0, name.find("@@"));
    if (name == "JETBACK_0") continue;  // the version node itself
    if (absl::StartsWith(name, "Jet")) {
      ++c_api;
      continue;
    }
    const bool documented =
        absl::StartsWith(name, "jetback::Client::") ||
        absl::StartsWith(name, "jetback::v1::") ||
        absl::StartsWith(name, "typeinfo for jetback::v1::") ||
        absl::StartsWith(name, "typeinfo name for jetback::v1::") ||
        absl::StartsWith(name, "vtable for jetback::v1::") ||
        absl::StartsWith(name, "jetback::DefaultServer") ||
        absl::StartsWith(name, "jetback::IsTransportError") ||
        absl::StartsWith(name, "jetback::JetErrOf") ||
        absl::StartsWith(name, "jetback::JetReasonOf") ||
        absl::StartsWith(name, "jetback::JetInitiatorOf") ||
        absl::StartsWith(name, "jetback::JetErrForBareCode") ||
        absl::StartsWith(name, "jetback::JetStatus");
    EXPECT_TRUE(documented) << "exported: " << name;
  }
  // Every function esent.h declares is exported.
  const ShellResult decls =
      RunShell(absl::StrCat("grep -o '^JET_ERR Jet[A-Za-z0-9]*' '", *prefix_,
                            "/include/jetback/esent.h'"));
  ASSERT_EQ(decls.exit_code, 0);
  int declared = 0;
  for (absl::string_view line : absl::StrSplit(decls.output, '\n')) {
    if (line.empty()) continue;
    ++declared;
    const std::string fn(line.substr(sizeof("JET_ERR ") - 1));
    EXPECT_TRUE(absl::StrContains(nm.output, " T " + fn + "@@JETBACK_0\n"))
        << fn;
  }
  EXPECT_GE(declared, 20);
  EXPECT_GE(c_api, declared);
}

// Builds the example agent against the installed package, then backs up a
// real daemon's instance with it and restores the set it wrote.
TEST_F(EsentInstall, ExampleAgentBuildsWithPkgConfigAndBacksUp) {
  const std::string agent = dir_->path() + "/agent";
  const ShellResult built = BuildAgent(agent);
  ASSERT_EQ(built.exit_code, 0) << built.output;

  TempDir dir;
  Daemon daemon = StartDaemon(dir.path());
  ASSERT_NE(daemon.client, nullptr);
  const std::string& server = daemon.server;
  Client* client = daemon.client.get();
  std::vector<v1::Operation> ops;
  for (int i = 0; i < 200; ++i) {
    v1::Operation op;
    op.set_kind(v1::Operation::KIND_PUT);
    op.set_table("t");
    op.set_key(absl::StrCat("k", i));
    op.set_value(std::string(1000, 'v'));
    ops.push_back(op);
  }
  ASSERT_TRUE(client->Transact("demo", "", ops).ok());

  const std::string out = dir.path() + "/set";
  fs::create_directories(out);
  const ShellResult ran = RunShell(
      absl::StrCat(Env(), "'", agent, "' '", server, "' demo '", out, "'"));
  ASSERT_EQ(ran.exit_code, 0) << ran.output << daemon.process->Log();
  EXPECT_TRUE(absl::StrContains(ran.output, "demo.edb ")) << ran.output;
  EXPECT_TRUE(absl::StrContains(ran.output, "done: ")) << ran.output;
  EXPECT_TRUE(fs::exists(out + "/demo.edb"));
  int logs = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().extension() == ".log") ++logs;
  }
  EXPECT_GE(logs, 1);
  // The agent's set is what `jetback restore` takes as an ESE-style set.
  const CliResult restored =
      RunCli(dir.path(), {"restore", out, "--to", dir.path() + "/restored"});
  EXPECT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  EXPECT_TRUE(fs::exists(dir.path() + "/restored/demo.edb"));
  // The daemon recorded a full backup.
  auto instances = client->ListInstances();
  ASSERT_TRUE(instances.ok());
  EXPECT_NE((*instances)[0].databases(0).full_gen_low(), 0u);

  // Unknown instance: a clear error, exit 1.
  const ShellResult unknown = RunShell(
      absl::StrCat(Env(), "'", agent, "' '", server, "' nope '", out, "'"));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(unknown.output, "-1003")) << unknown.output;
}

// A stopped backup: the agent exits 2 with the reason and ends its backup.
TEST_F(EsentInstall, StoppedAgentExitsWithTheReason) {
  const std::string agent = dir_->path() + "/agent-stop";
  const ShellResult built = BuildAgent(agent);
  ASSERT_EQ(built.exit_code, 0) << built.output;

  TempDir dir;
  DaemonConfigOptions options;
  // Paced by the daemon (64 KiB/s): the agent is mid-file when stopped.
  options.instance_extra = "max_backup_rate = 65536";
  Daemon daemon = StartDaemon(dir.path(), options);
  ASSERT_NE(daemon.client, nullptr);
  const std::string& server = daemon.server;
  Client* client = daemon.client.get();
  const std::string out = dir.path() + "/set";
  fs::create_directories(out);
  const std::string log = dir.path() + "/agent.out";
  const ShellResult started =
      RunShell(absl::StrCat(Env(), "'", agent, "' '", server, "' demo '", out,
                            "' >'", log, "' 2>&1 & echo $!"));
  ASSERT_EQ(started.exit_code, 0);
  const pid_t pid = std::stoi(started.output);
  ASSERT_TRUE(WaitUntil([&] {
    auto status = client->GetBackupStatus("demo");
    return status.ok() && status->bytes_done() > 0;
  })) << ReadFileOrEmpty(log);
  ASSERT_TRUE(client->StopBackup("demo", "nightly window closed").ok());
  // The agent is not our child (the shell started it): wait for it to go.
  ASSERT_TRUE(WaitUntil([&] { return ::kill(pid, 0) != 0; }))
      << ReadFileOrEmpty(log);
  const std::string output = ReadFileOrEmpty(log);
  EXPECT_TRUE(absl::StrContains(output, "nightly window closed (-801)"))
      << output;
  // It ended its backup: the instance is free again.
  auto status = client->GetBackupStatus("demo");
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->backup_id().empty()) << status->backup_id();
}

// find_package(jetback) and jetback::esent, as a CMake project would.
TEST_F(EsentInstall, CMakePackageBuildsTheAgent) {
  const std::string project = dir_->path() + "/consumer";
  fs::create_directories(project);
  {
    FILE* f = fopen((project + "/CMakeLists.txt").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fprintf(f,
            "cmake_minimum_required(VERSION 3.25)\n"
            "project(consumer C)\n"
            "find_package(jetback 0.1 REQUIRED)\n"
            "add_executable(agent %s/examples/esent_agent.c)\n"
            "target_link_libraries(agent PRIVATE jetback::esent)\n"
            "target_compile_options(agent PRIVATE %s)\n"
            "target_link_options(agent PRIVATE %s)\n",
            JETBACK_SOURCE_DIR, SanitizerFlags().c_str(),
            SanitizerFlags().c_str());
    fclose(f);
  }
  const ShellResult built =
      RunShell(absl::StrCat("cd '", project, "' && '", CMAKE_COMMAND,
                            "' -S . -B build -DCMAKE_PREFIX_PATH='", *prefix_,
                            "' && '", CMAKE_COMMAND, "' --build build"));
  ASSERT_EQ(built.exit_code, 0) << built.output;
  const ShellResult usage =
      RunShell(absl::StrCat(Env(), "'", project, "/build/agent'"));
  EXPECT_EQ(usage.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(usage.output, "usage:")) << usage.output;
}

}  // namespace
}  // namespace jetback::testing
