// StopBackup reaches every agent with its reason, whatever the agent's pace:
// foreign agents on generated stubs (with a fixed receive window, and with
// gRPC's defaults), daemon-paced streams, libjetback_client (also when the
// daemon had to cancel a stalled stream), and the CLI when the daemon dies
// under it. Each against a real jetbackd process.

#include <signal.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "tests/client_test_util.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<grpc::Channel> ChannelTo(const DaemonProcess& daemon,
                                         bool fixed_window) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  if (fixed_window) {
    // What backup.proto tells a foreign agent to set.
    args.SetInt("grpc.http2.bdp_probe", 0);
    args.SetInt("grpc.http2.lookahead_bytes", 32768);
  }
  return grpc::CreateCustomChannel("unix:" + daemon.socket_path(),
                                   grpc::InsecureChannelCredentials(), args);
}

// An agent's view of one stopped stream.
struct StoppedRead {
  grpc::Status status;
  int chunks_before_stop = 0;
  int chunks_after_stop = 0;  // messages that arrived after the stop returned
  std::vector<size_t> chunk_sizes;
};

struct AgentKind {
  absl::Duration pace;
  bool fixed_window;
};

class StopTest : public ::testing::Test {
 protected:
  void StopEachAgent(const std::vector<AgentKind>& agents, int before_stop);

  void Start(int chunk_size, const std::string& tables = "",
             const std::string& extra = "") {
    DaemonConfigOptions options;
    options.chunk_size = chunk_size;
    options.tables = tables;
    options.extra = extra;
    daemon_ =
        DaemonProcess::Start(dir_.path(), DaemonConfig(dir_.path(), options));
    ASSERT_NE(daemon_, nullptr);
    auto channel = ChannelTo(*daemon_, false);
    operator_ = v1::Backup::NewStub(channel);
    data_ = v1::Data::NewStub(channel);
  }

  // About `mib` MiB of rows, so a stream outlasts any transport window.
  void Fill(int mib) {
    std::vector<std::pair<std::string, std::string>> batch;
    for (int i = 0; i < mib * 256; ++i) {
      batch.emplace_back(absl::StrCat("key", 1000000 + i),
                         std::string(4000, static_cast<char>('a' + i % 26)));
      if (batch.size() == 100) {
        ASSERT_TRUE(PutRows(data_.get(), "demo", "t", batch).ok());
        batch.clear();
      }
    }
  }

  // Begins a backup and opens the database; returns the backup id.
  std::string BeginAndOpen(v1::Backup::Stub* agent,
                           v1::BeginBackupResponse* begun = nullptr) {
    v1::BeginBackupRequest begin;
    begin.set_instance("demo");
    v1::BeginBackupResponse response;
    EXPECT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                  return agent->BeginBackup(ctx, begin, &response);
                }).ok());
    if (begun != nullptr) *begun = response;
    v1::BackupCall call;
    call.set_instance("demo");
    call.set_backup_id(response.backup_id());
    v1::AttachInfo attach;
    EXPECT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                  return agent->GetAttachInfo(ctx, call, &attach);
                }).ok());
    v1::OpenFileRequest open;
    open.set_instance("demo");
    open.set_backup_id(response.backup_id());
    open.set_name(attach.databases(0));
    v1::OpenFileResponse opened;
    EXPECT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                  return agent->OpenFile(ctx, open, &opened);
                }).ok());
    return response.backup_id();
  }

  void Stop(const std::string& reason) {
    v1::StopBackupRequest req;
    req.set_instance("demo");
    req.set_reason(reason);
    v1::StopBackupResponse resp;
    ASSERT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                  return operator_->StopBackup(ctx, req, &resp);
                }).ok());
    EXPECT_TRUE(resp.backup_was_running());
  }

  void EndAbort(const std::string& id) {
    v1::EndBackupRequest req;
    req.set_instance("demo");
    req.set_backup_id(id);
    req.set_grbit(0x2);
    v1::EndBackupResponse resp;
    EXPECT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                  return operator_->EndBackup(ctx, req, &resp);
                }).ok());
  }

  // Reads the open file, spending `pace` on each message as a slow agent
  // would; after `before_stop` messages an operator stops the backup.
  StoppedRead ReadAndStop(v1::Backup::Stub* agent, const std::string& id,
                          absl::Duration pace, int before_stop,
                          const std::string& reason, uint64_t rate = 0) {
    v1::ReadFileRequest req;
    req.set_instance("demo");
    req.set_backup_id(id);
    req.set_max_bytes_per_second(rate);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(120));
    auto reader = agent->ReadFile(&ctx, req);
    StoppedRead out;
    v1::FileChunk chunk;
    bool stopped = false;
    while (reader->Read(&chunk)) {
      out.chunk_sizes.push_back(chunk.data().size());
      if (stopped) {
        ++out.chunks_after_stop;
      } else if (++out.chunks_before_stop == before_stop) {
        Stop(reason);
        stopped = true;
      }
      absl::SleepFor(pace);  // the agent's own work on the chunk
    }
    out.status = reader->Finish();
    EXPECT_TRUE(stopped) << "the stream ended before the stop";
    std::printf("pace %s: %d chunks after the stop, then %s\n",
                absl::FormatDuration(pace).c_str(), out.chunks_after_stop,
                out.status.error_message().c_str());
    return out;
  }

  void ExpectStopped(const grpc::Status& status, const std::string& reason) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED)
        << status.error_code() << " " << status.error_message();
    EXPECT_EQ(JetErrOf(status), -801);
    EXPECT_EQ(ReasonOf(status), reason);
    EXPECT_EQ(InitiatorOf(status), absl::StrCat("uid:", ::getuid()));
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::Backup::Stub> operator_;
  std::unique_ptr<v1::Data::Stub> data_;
};

// Each agent begins a backup, reads `before_stop` messages, is stopped by
// the operator and reads on at its pace until the status.
void StopTest::StopEachAgent(const std::vector<AgentKind>& agents,
                             int before_stop) {
  for (const AgentKind& kind : agents) {
    SCOPED_TRACE(
        absl::StrCat("pace ", absl::FormatDuration(kind.pace),
                     kind.fixed_window ? ", fixed window" : ", gRPC defaults"));
    auto agent = v1::Backup::NewStub(ChannelTo(*daemon_, kind.fixed_window));
    const std::string id = BeginAndOpen(agent.get());
    const std::string reason =
        absl::StrCat("maintenance ", absl::ToInt64Milliseconds(kind.pace));
    StoppedRead read =
        ReadAndStop(agent.get(), id, kind.pace, before_stop, reason);
    ExpectStopped(read.status, reason);
    if (kind.fixed_window) {
      // What was in flight: the chunk whose write had begun, at most.
      EXPECT_LE(read.chunks_after_stop, 2);
    }
    EndAbort(id);
  }
}

TEST_F(StopTest, SlowAgentsWith64KiBChunksGetTheStopWithItsReason) {
  Start(64 << 10);
  Fill(12);
  StopEachAgent({{absl::Milliseconds(5), true},
                 {absl::Milliseconds(50), true},
                 {absl::Milliseconds(200), true},
                 {absl::Milliseconds(5), false},
                 {absl::Milliseconds(50), false}},
                3);
}

TEST_F(StopTest, SlowAgentsWith1MiBChunksGetTheStopWithItsReason) {
  Start(1 << 20);
  Fill(24);
  StopEachAgent({{absl::Milliseconds(5), true},
                 {absl::Milliseconds(50), true},
                 {absl::Milliseconds(200), true},
                 {absl::Milliseconds(50), false}},
                2);
}

// The daemon paces a stream at the rate the agent asks for, in chunks of
// about 100 ms worth, so a stop reaches a paced agent at its next chunk.
TEST_F(StopTest, PacedStreamUsesSmallChunksAndStopsAtTheNextOne) {
  Start(1 << 20);
  Fill(4);
  auto agent = v1::Backup::NewStub(ChannelTo(*daemon_, true));
  const std::string id = BeginAndOpen(agent.get());
  StoppedRead read = ReadAndStop(agent.get(), id, absl::ZeroDuration(), 4,
                                 "paced stop", 1 << 20);
  ExpectStopped(read.status, "paced stop");
  // 1 MiB/s: 104857 bytes per 100 ms, 12 pages of 8 KiB.
  ASSERT_GE(read.chunk_sizes.size(), 4u);
  for (size_t size : read.chunk_sizes) EXPECT_EQ(size, 12u * 8192);
  EXPECT_LE(read.chunks_after_stop, 1);
  EndAbort(id);
}

// The instance's ceiling caps what an agent asks for (and holds for an
// agent that asks for nothing).
TEST_F(StopTest, InstanceCeilingCapsTheRate) {
  Start(1 << 20, "[limits]\nmax_backup_rate = 262144\n");
  Fill(2);
  auto agent = v1::Backup::NewStub(ChannelTo(*daemon_, true));
  v1::BeginBackupResponse begun;
  const std::string id = BeginAndOpen(agent.get(), &begun);
  EXPECT_EQ(begun.max_bytes_per_second(), 262144u);
  StoppedRead read = ReadAndStop(agent.get(), id, absl::ZeroDuration(), 2,
                                 "capped", /*rate=*/100 << 20);
  ExpectStopped(read.status, "capped");
  for (size_t size : read.chunk_sizes) EXPECT_EQ(size, 3u * 8192);
  EndAbort(id);
}

// An agent that takes nothing for the grace period after a stop is
// cancelled (no detail on the wire); libjetback_client still reports -801
// with the reason and initiator.
TEST_F(StopTest, LibraryReportsTheReasonOfACancelledStream) {
  // 1 MiB messages against the library's 32 KiB window: the write after
  // the one the agent holds cannot complete while it stalls.
  Start(1 << 20, "", "stop_grace_ms = 100");
  Fill(6);
  ClientOptions options;
  options.server = "unix:" + daemon_->socket_path();
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  auto begun = (*client)->BeginBackup("demo", 0);
  ASSERT_TRUE(begun.ok());
  const BackupRef ref{"demo", begun->backup_id()};
  auto dbs = (*client)->GetAttachInfo(ref);
  ASSERT_TRUE(dbs.ok());
  ASSERT_TRUE((*client)->OpenFile(ref, (*dbs)[0]).ok());
  bool stopped = false;
  auto read = (*client)->ReadFile(
      ref, 0, 0, 0, [&](uint64_t, absl::string_view) -> absl::Status {
        if (!stopped) {
          stopped = true;
          // Three chunks read means the second is being written: it cannot
          // complete while this agent holds the first.
          EXPECT_TRUE(WaitUntil([&] {
            auto status = (*client)->GetBackupStatus("demo");
            return status.ok() && status->bytes_done() >= 3u << 20;
          }));
          Stop("stalled agent");
          // The agent stalls until the daemon gave up on it.
          EXPECT_TRUE(WaitUntil([&] {
            return daemon_->Log().find("cancelling a stopped ReadFile") !=
                   std::string::npos;
          }));
        }
        return absl::OkStatus();
      });
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(::jetback::JetErrOf(read.status()), jet::JET_errBackupAbortByServer)
      << read.status();
  EXPECT_EQ(JetReasonOf(read.status()), "stalled agent");
  EXPECT_EQ(JetInitiatorOf(read.status()), absl::StrCat("uid:", ::getuid()));
  EXPECT_NE(read.status().message().find(begun->backup_id()),
            std::string::npos);
  EXPECT_TRUE((*client)->EndBackup(ref, 0x2).ok());
}

// A daemon killed and started again during a read: the library says the
// backup is gone with the old process, rather than "no backup".
TEST_F(StopTest, LibraryNamesARestartedDaemon) {
  Start(64 << 10);
  Fill(4);
  ClientOptions options;
  options.server = "unix:" + daemon_->socket_path();
  options.reconnect_timeout = absl::Seconds(30);  // the restart takes a while
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  auto begun = (*client)->BeginBackup("demo", 0);
  ASSERT_TRUE(begun.ok());
  const BackupRef ref{"demo", begun->backup_id()};
  auto dbs = (*client)->GetAttachInfo(ref);
  ASSERT_TRUE(dbs.ok());
  ASSERT_TRUE((*client)->OpenFile(ref, (*dbs)[0]).ok());
  const std::string config = DaemonConfig(dir_.path());
  bool restarted = false;
  auto read = (*client)->ReadFile(
      ref, 0, 0, 0, [&](uint64_t, absl::string_view) -> absl::Status {
        if (!restarted) {
          restarted = true;
          daemon_->Signal(SIGKILL);
          daemon_->WaitExit(absl::Seconds(10));
          daemon_ = DaemonProcess::Start(dir_.path(), config);
        }
        return absl::OkStatus();
      });
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(::jetback::JetErrOf(read.status()), jet::JET_errNoBackup)
      << read.status();
  EXPECT_NE(read.status().message().find("jetbackd restarted; backup " +
                                         begun->backup_id() +
                                         " of instance "
                                         "demo is gone"),
            std::string::npos)
      << read.status();
}

// `jetback backup` whose daemon is killed: a prompt exit that names the
// cause, no manifest and no partial files.
TEST_F(StopTest, CliExitsPromptlyWhenTheDaemonDies) {
  Start(64 << 10);
  Fill(8);
  ClientOptions options;
  options.server = "unix:" + daemon_->socket_path();
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  const std::string out = dir_.path() + "/set";
  CliProcess cli(dir_.path(),
                 {"--server", options.server, "backup", "--instance", "demo",
                  "--out", out, "--max-rate", "524288"});
  ASSERT_TRUE(WaitUntil([&] {
    auto status = (*client)->GetBackupStatus("demo");
    return status.ok() && status->bytes_done() > 0;
  }));
  daemon_->Signal(SIGKILL);
  const absl::Time killed = absl::Now();
  CliResult result = cli.Wait(absl::Seconds(60));
  const absl::Duration took = absl::Now() - killed;
  std::printf("CLI exit %.0f ms after the daemon was killed\n",
              absl::ToDoubleMilliseconds(took));
  // Well under the 30 s it used to wait; the reconnect window is 2 s.
  EXPECT_LT(took, absl::Seconds(10));
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_NE(result.err.find("lost the connection to jetbackd during backup"),
            std::string::npos)
      << result.err;
  EXPECT_FALSE(fs::exists(out + "/manifest.json"));
  EXPECT_FALSE(fs::exists(out));  // it created the directory, and removed it
}

}  // namespace
}  // namespace jetback::testing
