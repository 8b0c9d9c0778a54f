// Process-level tests: a real jetbackd on a temporary socket, driven over
// gRPC with the generated stubs.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "jetback/backup.h"
#include "jetback/instance.h"
#include "jetback/restore.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

using Rows = std::map<std::string, std::string>;

Rows MakeRows(int n, int value_size, const std::string& tag) {
  Rows rows;
  for (int i = 0; i < n; ++i) {
    rows[absl::StrCat("key", 100000 + i)] =
        std::string(value_size, static_cast<char>('a' + i % 26)) + tag;
  }
  return rows;
}

void Put(v1::Data::Stub* data, const std::string& instance, const Rows& rows) {
  std::vector<std::pair<std::string, std::string>> batch;
  for (const auto& row : rows) {
    batch.push_back(row);
    if (batch.size() == 200) {
      ASSERT_TRUE(PutRows(data, instance, "t", batch).ok());
      batch.clear();
    }
  }
  if (!batch.empty()) {
    ASSERT_TRUE(PutRows(data, instance, "t", batch).ok());
  }
}

Rows Scan(v1::Data::Stub* data, const std::string& instance) {
  v1::ScanRequest req;
  req.set_instance(instance);
  req.set_table("t");
  grpc::ClientContext ctx;
  auto reader = data->Scan(&ctx, req);
  Rows rows;
  v1::Row row;
  while (reader->Read(&row)) rows[row.key()] = row.value();
  EXPECT_TRUE(reader->Finish().ok());
  return rows;
}

// A client of one daemon: stubs on their own connection.
struct Agent {
  explicit Agent(const DaemonProcess& d)
      : channel(d.Connect()),
        backup(v1::Backup::NewStub(channel)),
        data(v1::Data::NewStub(channel)),
        instances(v1::Instances::NewStub(channel)) {}

  grpc::Status Begin(const std::string& instance, v1::BeginBackupResponse* r) {
    v1::BeginBackupRequest req;
    req.set_instance(instance);
    req.set_client_name("daemon_test");
    return CallWithDeadline([&](grpc::ClientContext* ctx) {
      return backup->BeginBackup(ctx, req, r);
    });
  }
  v1::BackupCall Call(const std::string& instance, const std::string& id) {
    v1::BackupCall c;
    c.set_instance(instance);
    c.set_backup_id(id);
    return c;
  }
  grpc::Status Open(const std::string& instance, const std::string& id,
                    const std::string& name, v1::OpenFileResponse* r) {
    v1::OpenFileRequest req;
    req.set_instance(instance);
    req.set_backup_id(id);
    req.set_name(name);
    return CallWithDeadline([&](grpc::ClientContext* ctx) {
      return backup->OpenFile(ctx, req, r);
    });
  }
  grpc::Status Close(const std::string& instance, const std::string& id) {
    v1::CloseFileRequest req;
    req.set_instance(instance);
    req.set_backup_id(id);
    v1::CloseFileResponse r;
    return CallWithDeadline([&](grpc::ClientContext* ctx) {
      return backup->CloseFile(ctx, req, &r);
    });
  }
  grpc::Status End(const std::string& instance, const std::string& id,
                   uint32_t grbit, v1::EndBackupResponse* r) {
    v1::EndBackupRequest req;
    req.set_instance(instance);
    req.set_backup_id(id);
    req.set_grbit(grbit);
    return CallWithDeadline([&](grpc::ClientContext* ctx) {
      return backup->EndBackup(ctx, req, r);
    });
  }
  grpc::Status Stop(const std::string& instance, const std::string& reason,
                    v1::StopBackupResponse* r) {
    v1::StopBackupRequest req;
    req.set_instance(instance);
    req.set_reason(reason);
    return CallWithDeadline([&](grpc::ClientContext* ctx) {
      return backup->StopBackup(ctx, req, r);
    });
  }
  v1::BackupStatus Status(const std::string& instance) {
    v1::InstanceRef req;
    req.set_instance(instance);
    v1::BackupStatus r;
    EXPECT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                  return backup->GetBackupStatus(ctx, req, &r);
                }).ok());
    return r;
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Backup::Stub> backup;
  std::unique_ptr<v1::Data::Stub> data;
  std::unique_ptr<v1::Instances::Stub> instances;
};

std::string BaseName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// Starts a ReadFile of the open database and takes its first chunk; the
// caller then stops the backup and reads on.
struct OpenStream {
  OpenStream(Agent* agent, const std::string& instance, const std::string& id) {
    v1::ReadFileRequest req;
    req.set_instance(instance);
    req.set_backup_id(id);
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    reader = agent->backup->ReadFile(&ctx, req);
    got_first = reader->Read(&chunk);
    received = chunk.data().size();
  }
  // Reads to the end of the stream; returns its status.
  grpc::Status Drain() {
    while (reader->Read(&chunk)) {
      received += chunk.data().size();
      if (chunk.last()) saw_last = true;
    }
    return reader->Finish();
  }
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::FileChunk>> reader;
  v1::FileChunk chunk;
  bool got_first = false;
  bool saw_last = false;
  uint64_t received = 0;
};

class DaemonTest : public ::testing::Test {
 protected:
  std::unique_ptr<DaemonProcess> StartDaemon(
      const DaemonConfigOptions& options = {},
      const std::vector<std::string>& env = {}) {
    return DaemonProcess::Start(dir_.path(), DaemonConfig(dir_.path(), options),
                                env);
  }
  // Enough rows that a database spans many 64 KiB chunks.
  void FillDemo(Agent* agent, Rows* rows, int n = 3000) {
    *rows = MakeRows(n, 900, "v1");
    Put(agent->data.get(), "demo", *rows);
  }
  TempDir dir_;
};

TEST_F(DaemonTest, FullBackupOverTheWireRestoresTheSameRows) {
  auto daemon = StartDaemon();
  ASSERT_NE(daemon, nullptr);
  struct stat st;
  ASSERT_EQ(::stat(daemon->socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  Agent agent(*daemon);
  Rows rows;
  FillDemo(&agent, &rows);

  v1::BeginBackupResponse begun;
  ASSERT_TRUE(agent.Begin("demo", &begun).ok());
  EXPECT_EQ(begun.chunk_size(), 64u * 1024);
  const std::string id = begun.backup_id();
  const std::string set_dir = dir_.path() + "/set";
  std::filesystem::create_directories(set_dir);

  v1::AttachInfo attach;
  v1::BackupCall call = agent.Call("demo", id);
  ASSERT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                return agent.backup->GetAttachInfo(ctx, call, &attach);
              }).ok());
  ASSERT_EQ(attach.databases_size(), 1);
  for (const std::string& db : attach.databases()) {
    v1::OpenFileResponse opened;
    ASSERT_TRUE(agent.Open("demo", id, db, &opened).ok());
    StreamedFile file = ReadStream(agent.backup.get(), "demo", id, 0, 0);
    ASSERT_TRUE(file.status.ok()) << file.status.error_message();
    EXPECT_TRUE(file.checksums_ok);
    EXPECT_TRUE(file.saw_last);
    EXPECT_EQ(file.data.size(), opened.size());
    EXPECT_GT(file.data.size(), 4u * begun.chunk_size());
    EXPECT_EQ(file.file_size, opened.size());
    EXPECT_EQ(file.xxh3_128, Xxh3_128(file.data));

    // Resume from a page-aligned offset: the same bytes again.
    const uint64_t from = 5 * opened.page_size();
    StreamedFile tail = ReadStream(agent.backup.get(), "demo", id, from, 0);
    ASSERT_TRUE(tail.status.ok()) << tail.status.error_message();
    // Pages may have been flushed since the first read (the copy is fuzzy,
    // as ESE's is): same length, and the same cached trailer page.
    ASSERT_EQ(tail.data.size(), file.data.size() - from);
    const size_t page = opened.page_size();
    EXPECT_EQ(tail.data.substr(tail.data.size() - page),
              file.data.substr(file.data.size() - page));
    EXPECT_TRUE(tail.xxh3_128.empty());  // not read from offset 0

    // With stream digests: every chunk carries the running XXH3-128 of its
    // stream (from wherever the stream started), the last one also the
    // file's when the stream began at 0.
    StreamedFile streamed =
        ReadStream(agent.backup.get(), "demo", id, 0, 0, true);
    ASSERT_TRUE(streamed.status.ok());
    EXPECT_TRUE(streamed.checksums_ok);
    EXPECT_EQ(streamed.xxh3_128, Xxh3_128(streamed.data));
    StreamedFile streamed_tail =
        ReadStream(agent.backup.get(), "demo", id, from, 0, true);
    ASSERT_TRUE(streamed_tail.status.ok());
    EXPECT_TRUE(streamed_tail.checksums_ok);
    EXPECT_EQ(streamed_tail.data.size(), file.data.size() - from);
    EXPECT_TRUE(streamed_tail.xxh3_128.empty());

    v1::BackupStatus status = agent.Status("demo");
    EXPECT_EQ(status.backup_id(), id);
    EXPECT_EQ(status.phase(), v1::BACKUP_PHASE_DATABASES);
    EXPECT_EQ(status.initiator(), absl::StrCat("uid:", ::getuid()));
    EXPECT_EQ(status.client_name(), "daemon_test");
    EXPECT_GT(status.bytes_done(), 0u);
    EXPECT_TRUE(status.has_started_at());

    ASSERT_TRUE(agent.Close("demo", id).ok());
    std::ofstream(set_dir + "/" + BaseName(db), std::ios::binary) << file.data;
  }
  v1::LogInfo logs;
  ASSERT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                return agent.backup->GetLogInfo(ctx, call, &logs);
              }).ok());
  ASSERT_GT(logs.files_size(), 0);
  for (const std::string& log : logs.files()) {
    v1::OpenFileResponse opened;
    ASSERT_TRUE(agent.Open("demo", id, log, &opened).ok()) << log;
    EXPECT_TRUE(opened.is_log());
    StreamedFile file = ReadStream(agent.backup.get(), "demo", id, 0, 0);
    ASSERT_TRUE(file.status.ok()) << file.status.error_message();
    EXPECT_TRUE(file.checksums_ok);
    EXPECT_EQ(file.xxh3_128, Xxh3_128(file.data));
    ASSERT_TRUE(agent.Close("demo", id).ok());
    std::ofstream(set_dir + "/" + BaseName(log), std::ios::binary) << file.data;
  }
  v1::EndBackupResponse ended;
  ASSERT_TRUE(agent.End("demo", id, JET_bitBackupEndNormal, &ended).ok());
  EXPECT_EQ(ended.outcome(), v1::BACKUP_OUTCOME_SUCCEEDED);

  // Restore the streamed set offline and read it with the engine.
  RestoreOptions restore;
  restore.backup_dir = set_dir;
  restore.target_dir = dir_.path() + "/restored";
  restore.gen_low = logs.gen_low();
  restore.gen_high = logs.gen_high();
  absl::StatusOr<RestoreResult> restored = Restore(restore);
  ASSERT_TRUE(restored.ok()) << restored.status();
  ASSERT_EQ(restored->databases.size(), 1u);

  InstanceRegistry registry;
  InstanceOptions options;
  options.name = "check";
  options.log_dir = dir_.path() + "/check/logs";
  options.system_dir = dir_.path() + "/check/system";
  options.log_file_size = 262144;
  std::filesystem::create_directories(options.log_dir);
  std::filesystem::create_directories(options.system_dir);
  absl::StatusOr<Instance*> check = registry.Create(options);
  ASSERT_TRUE(check.ok()) << check.status();
  ASSERT_TRUE((*check)->Init().ok());
  absl::StatusOr<Database*> db =
      (*check)->AttachDatabase(restored->databases[0].path);
  ASSERT_TRUE(db.ok()) << db.status();
  Rows got;
  std::unique_ptr<Transaction> txn = (*db)->Begin();
  ASSERT_TRUE(txn->Scan("t", "", "",
                        [&](absl::string_view k, absl::string_view v) {
                          got[std::string(k)] = std::string(v);
                          return true;
                        })
                  .ok());
  txn->Rollback();
  EXPECT_EQ(got.size(), rows.size());
  EXPECT_TRUE(got == rows);
  EXPECT_TRUE((*check)->Term(TermMode::kComplete).ok());
}

TEST_F(DaemonTest, BadInputGetsTheExactErrorAndServingGoesOn) {
  auto daemon = StartDaemon();
  ASSERT_NE(daemon, nullptr);
  Agent agent(*daemon);
  v1::BeginBackupResponse begun;
  EXPECT_EQ(JetErrOf(agent.Begin("nope", &begun)), -1003);
  ASSERT_TRUE(agent.Begin("demo", &begun).ok());
  const std::string id = begun.backup_id();
  EXPECT_EQ(JetErrOf(agent.Begin("demo", &begun)), -505);

  v1::AttachInfo attach;
  for (const std::string& bad_id : {std::string(), std::string("other")}) {
    v1::BackupCall call = agent.Call("demo", bad_id);
    EXPECT_EQ(JetErrOf(CallWithDeadline([&](grpc::ClientContext* ctx) {
                return agent.backup->GetAttachInfo(ctx, call, &attach);
              })),
              -520)
        << bad_id;
  }
  v1::OpenFileResponse opened;
  // Only names the engine listed: no path traversal.
  EXPECT_EQ(JetErrOf(agent.Open("demo", id, "/etc/passwd", &opened)), -1203);
  EXPECT_EQ(JetErrOf(agent.Open(
                "demo", id, dir_.path() + "/demo/../demo/demo.edb", &opened)),
            -1203);
  EXPECT_EQ(JetErrOf(agent.Open("demo", id, "", &opened)), -1003);
  // Out of order: truncate in the database phase.
  v1::TruncateLogResponse truncated;
  v1::BackupCall call = agent.Call("demo", id);
  EXPECT_EQ(JetErrOf(CallWithDeadline([&](grpc::ClientContext* ctx) {
              return agent.backup->TruncateLog(ctx, call, &truncated);
            })),
            -521);
  // Reads: nothing open, then misaligned, oversized, wrong handle.
  EXPECT_EQ(JetErrOf(ReadStream(agent.backup.get(), "demo", id, 0, 0).status),
            -1003);
  ASSERT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                return agent.backup->GetAttachInfo(ctx, call, &attach);
              }).ok());
  ASSERT_TRUE(agent.Open("demo", id, attach.databases(0), &opened).ok());
  EXPECT_EQ(JetErrOf(ReadStream(agent.backup.get(), "demo", id, 100, 0).status),
            -1003);
  EXPECT_EQ(JetErrOf(ReadStream(agent.backup.get(), "demo", id, 0,
                                opened.size() + opened.page_size())
                         .status),
            -1003);
  EXPECT_EQ(JetErrOf(ReadStream(agent.backup.get(), "demo", id,
                                opened.size() + opened.page_size(), 0)
                         .status),
            -1003);
  {
    v1::ReadFileRequest req;
    req.set_instance("demo");
    req.set_backup_id(id);
    req.set_handle(7);
    grpc::ClientContext ctx;
    auto reader = agent.backup->ReadFile(&ctx, req);
    v1::FileChunk chunk;
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(JetErrOf(reader->Finish()), -1003);
  }
  // Database names, never paths.
  v1::DatabaseRequest dbreq;
  dbreq.set_instance("demo");
  dbreq.set_name("../escape.edb");
  v1::DatabaseInfo dbinfo;
  EXPECT_EQ(JetErrOf(CallWithDeadline([&](grpc::ClientContext* ctx) {
              return agent.instances->CreateDatabase(ctx, dbreq, &dbinfo);
            })),
            -1002);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/escape.edb"));
  v1::GetRequest get;
  get.set_instance("demo");
  get.set_database("../../etc/passwd");
  get.set_table("t");
  get.set_key("k");
  v1::GetResponse got;
  EXPECT_EQ(JetErrOf(CallWithDeadline([&](grpc::ClientContext* ctx) {
              return agent.data->Get(ctx, get, &got);
            })),
            -1002);
  get.set_database("");
  EXPECT_EQ(JetErrOf(CallWithDeadline([&](grpc::ClientContext* ctx) {
              return agent.data->Get(ctx, get, &got);
            })),
            -1601);
  v1::EndBackupResponse ended;
  EXPECT_EQ(JetErrOf(agent.End("demo", id, 0x3, &ended)), -1003);
  EXPECT_EQ(JetErrOf(agent.End("demo", "other", JET_bitBackupEndAbort, &ended)),
            -520);
  // The daemon still serves: the real backup can be ended.
  ASSERT_TRUE(agent.Close("demo", id).ok());
  ASSERT_TRUE(agent.End("demo", id, JET_bitBackupEndAbort, &ended).ok());
  EXPECT_EQ(ended.outcome(), v1::BACKUP_OUTCOME_ABORTED);
  EXPECT_EQ(ended.abort_jet_err(), -800);
}

TEST_F(DaemonTest, StopFromAnotherConnectionEndsTheStreamWith801) {
  auto daemon = StartDaemon();
  ASSERT_NE(daemon, nullptr);
  Agent agent(*daemon);
  Agent operator_(*daemon);
  Rows rows;
  FillDemo(&agent, &rows, 6000);

  v1::BeginBackupResponse begun;
  ASSERT_TRUE(agent.Begin("demo", &begun).ok());
  const std::string id = begun.backup_id();
  v1::AttachInfo attach;
  v1::BackupCall call = agent.Call("demo", id);
  ASSERT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                return agent.backup->GetAttachInfo(ctx, call, &attach);
              }).ok());
  v1::OpenFileResponse opened;
  ASSERT_TRUE(agent.Open("demo", id, attach.databases(0), &opened).ok());

  OpenStream stream(&agent, "demo", id);
  ASSERT_TRUE(stream.got_first);
  v1::StopBackupResponse stopped;
  ASSERT_TRUE(operator_.Stop("demo", "maintenance window", &stopped).ok());
  EXPECT_TRUE(stopped.backup_was_running());
  EXPECT_EQ(stopped.backup_id(), id);
  v1::BackupStatus status = operator_.Status("demo");
  EXPECT_TRUE(status.stop_requested());
  EXPECT_EQ(status.stop_reason(), "maintenance window");

  const grpc::Status end = stream.Drain();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(JetErrOf(end), -801);
  EXPECT_EQ(ReasonOf(end), "maintenance window");
  EXPECT_EQ(InitiatorOf(end), absl::StrCat("uid:", ::getuid()));
  EXPECT_FALSE(stream.saw_last);
  EXPECT_LT(stream.received, opened.size());

  // Later streaming calls: -801; CloseFile and EndBackup still work.
  EXPECT_EQ(JetErrOf(ReadStream(agent.backup.get(), "demo", id, 0, 0).status),
            -801);
  ASSERT_TRUE(agent.Close("demo", id).ok());
  v1::EndBackupResponse ended;
  ASSERT_TRUE(agent.End("demo", id, JET_bitBackupEndNormal, &ended).ok());
  EXPECT_EQ(ended.outcome(), v1::BACKUP_OUTCOME_ABORTED);
  EXPECT_EQ(ended.abort_jet_err(), -801);
  EXPECT_EQ(ended.reason(), "maintenance window");

  // A new backup then runs to the end of the database.
  ASSERT_TRUE(agent.Begin("demo", &begun).ok());
  call = agent.Call("demo", begun.backup_id());
  ASSERT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                return agent.backup->GetAttachInfo(ctx, call, &attach);
              }).ok());
  ASSERT_TRUE(
      agent.Open("demo", begun.backup_id(), attach.databases(0), &opened).ok());
  StreamedFile file =
      ReadStream(agent.backup.get(), "demo", begun.backup_id(), 0, 0);
  ASSERT_TRUE(file.status.ok()) << file.status.error_message();
  EXPECT_EQ(file.data.size(), opened.size());
  ASSERT_TRUE(agent.Close("demo", begun.backup_id()).ok());
  ASSERT_TRUE(
      agent.End("demo", begun.backup_id(), JET_bitBackupEndAbort, &ended).ok());
}

TEST_F(DaemonTest, LegacyStopWithTwoInstancesIs1081) {
  DaemonConfigOptions options;
  options.instances = {"a", "b"};
  auto daemon = StartDaemon(options);
  ASSERT_NE(daemon, nullptr);
  Agent agent(*daemon);
  v1::StopBackupResponse stopped;
  EXPECT_EQ(JetErrOf(agent.Stop("", "legacy", &stopped)), -1081);
  EXPECT_EQ(JetErrOf(agent.Stop("c", "unknown", &stopped)), -1003);
  ASSERT_TRUE(agent.Stop("b", "one of two", &stopped).ok());
  EXPECT_EQ(stopped.instance(), "b");
  EXPECT_FALSE(stopped.backup_was_running());
  v1::StopServiceRequest legacy;
  v1::StopServiceResponse unused;
  EXPECT_EQ(JetErrOf(CallWithDeadline([&](grpc::ClientContext* ctx) {
              return agent.instances->StopService(ctx, legacy, &unused);
            })),
            -1081);
  v1::ListInstancesResponse list;
  ASSERT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                return agent.instances->ListInstances(
                    ctx, v1::ListInstancesRequest(), &list);
              }).ok());
  ASSERT_EQ(list.instances_size(), 2);
  EXPECT_EQ(list.instances(0).databases(0).name(), "a.edb");
}

TEST_F(DaemonTest, LegacyStopWithOneInstanceActsOnIt) {
  auto daemon = StartDaemon();
  ASSERT_NE(daemon, nullptr);
  Agent agent(*daemon);
  v1::BeginBackupResponse begun;
  ASSERT_TRUE(agent.Begin("demo", &begun).ok());
  v1::StopBackupResponse stopped;
  ASSERT_TRUE(agent.Stop("", "legacy stop", &stopped).ok());
  EXPECT_EQ(stopped.instance(), "demo");
  EXPECT_EQ(stopped.backup_id(), begun.backup_id());
  v1::AttachInfo attach;
  v1::BackupCall call = agent.Call("demo", begun.backup_id());
  const grpc::Status s = CallWithDeadline([&](grpc::ClientContext* ctx) {
    return agent.backup->GetAttachInfo(ctx, call, &attach);
  });
  EXPECT_EQ(JetErrOf(s), -801);
  EXPECT_EQ(ReasonOf(s), "legacy stop");
}

TEST_F(DaemonTest, SigtermDuringBackupExitsZeroAndKeepsTheData) {
  NotifyReceiver notify(dir_.path());
  Rows rows;
  {
    auto daemon = StartDaemon({}, {notify.env(), "WATCHDOG_USEC=400000"});
    ASSERT_NE(daemon, nullptr);
    EXPECT_TRUE(notify.WaitFor("READY=1", absl::Seconds(10)));
    EXPECT_TRUE(notify.WaitFor("WATCHDOG=1", absl::Seconds(10)));
    Agent agent(*daemon);
    FillDemo(&agent, &rows, 6000);
    v1::BeginBackupResponse begun;
    ASSERT_TRUE(agent.Begin("demo", &begun).ok());
    const std::string id = begun.backup_id();
    v1::AttachInfo attach;
    v1::BackupCall call = agent.Call("demo", id);
    ASSERT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                  return agent.backup->GetAttachInfo(ctx, call, &attach);
                }).ok());
    v1::OpenFileResponse opened;
    ASSERT_TRUE(agent.Open("demo", id, attach.databases(0), &opened).ok());
    OpenStream stream(&agent, "demo", id);
    ASSERT_TRUE(stream.got_first);
    // Live progress reaches systemd's STATUS=.
    EXPECT_TRUE(notify.WaitFor("STATUS=demo: databases", absl::Seconds(10)));

    daemon->Signal(SIGTERM);
    const grpc::Status end = stream.Drain();
    EXPECT_EQ(JetErrOf(end), -801) << end.error_message();
    EXPECT_EQ(ReasonOf(end), "jetbackd shutting down");
    EXPECT_EQ(InitiatorOf(end), "jetbackd");
    EXPECT_EQ(daemon->WaitExit(absl::Seconds(20)), 0) << daemon->Log();
    EXPECT_TRUE(notify.WaitFor("STOPPING=1", absl::Seconds(1)));
  }
  // Restart on the same state: every committed row is there, and a backup
  // can begin again.
  auto daemon = StartDaemon();
  ASSERT_NE(daemon, nullptr);
  Agent agent(*daemon);
  EXPECT_TRUE(Scan(agent.data.get(), "demo") == rows);
  v1::BeginBackupResponse begun;
  ASSERT_TRUE(agent.Begin("demo", &begun).ok());
  v1::EndBackupResponse ended;
  ASSERT_TRUE(
      agent.End("demo", begun.backup_id(), JET_bitBackupEndAbort, &ended).ok());
}

TEST_F(DaemonTest, KilledAgentsBackupEndsWhenTheLeaseRunsOut) {
  DaemonConfigOptions options;
  options.lease_ms = 1500;
  auto daemon = StartDaemon(options);
  ASSERT_NE(daemon, nullptr);
  Agent agent(*daemon);
  Rows rows;
  FillDemo(&agent, &rows, 6000);

  // A separate agent process, killed while its ReadFile stream is open.
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::execl(AGENT_PATH, AGENT_PATH, daemon->socket_path().c_str(), "demo",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  ::close(out[0]);
  ASSERT_EQ(line.rfind("streaming ", 0), 0u) << line;
  const std::string id = line.substr(10);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  v1::BeginBackupResponse begun;
  EXPECT_EQ(JetErrOf(agent.Begin("demo", &begun)), -505);
  // Poll the real state until the lease ends the backup.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (agent.Status("demo").phase() != v1::BACKUP_PHASE_NONE &&
         absl::Now() < deadline) {
    ::poll(nullptr, 0, 50);
  }
  EXPECT_EQ(agent.Status("demo").phase(), v1::BACKUP_PHASE_NONE);
  ASSERT_TRUE(agent.Begin("demo", &begun).ok());
  EXPECT_NE(begun.backup_id(), id);
  v1::EndBackupResponse ended;
  EXPECT_EQ(JetErrOf(agent.End("demo", id, JET_bitBackupEndAbort, &ended)),
            -520);
  ASSERT_TRUE(
      agent.End("demo", begun.backup_id(), JET_bitBackupEndAbort, &ended).ok());
}

TEST_F(DaemonTest, CallerWithoutTheStopRoleCannotStop) {
  DaemonConfigOptions options;
  const std::string me = absl::StrCat("\"uid:", ::getuid(), "\"");
  options.roles = absl::StrCat("read = [", me, "]\nstop = [\"uid:65533\"]\n",
                               "data = [\"gid:65533\"]\n");
  auto daemon = StartDaemon(options);
  ASSERT_NE(daemon, nullptr);
  Agent agent(*daemon);
  v1::BeginBackupResponse begun;
  ASSERT_TRUE(agent.Begin("demo", &begun).ok());
  v1::StopBackupResponse stopped;
  const grpc::Status s = agent.Stop("demo", "not allowed", &stopped);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(JetErrOf(s), -1907);
  EXPECT_EQ(JetErrOf(PutRows(agent.data.get(), "demo", "t", {{"k", "v"}})),
            -1907);
  // The backup was not touched.
  v1::BackupStatus status = agent.Status("demo");
  EXPECT_FALSE(status.stop_requested());
  v1::EndBackupResponse ended;
  ASSERT_TRUE(
      agent.End("demo", begun.backup_id(), JET_bitBackupEndAbort, &ended).ok());
  EXPECT_EQ(ended.abort_jet_err(), -800);
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

TEST_F(DaemonTest, TcpNeedsAClientCertificateAndMapsItsName) {
  ASSERT_TRUE(MakeTlsFiles(dir_.path(), "test-agent"));
  DaemonConfigOptions options;
  options.tcp = "127.0.0.1:0";
  const std::string d = dir_.path();
  options.tables =
      absl::StrCat("[tls]\ncert = \"", d, "/localhost.pem\"\n", "key = \"", d,
                   "/localhost.key\"\n", "client_ca = \"", d, "/ca.pem\"\n");
  options.roles =
      absl::StrCat("read = [\"cert:test-agent\", \"uid:", ::getuid(),
                   "\"]\nstop = [\"uid:", ::getuid(), "\"]\ndata = []\n");
  auto daemon = StartDaemon(options);
  ASSERT_NE(daemon, nullptr);
  // The ready line names the port the TCP listener got.
  const std::string log = daemon->Log();
  const size_t tcp = log.find("tcp:127.0.0.1:");
  ASSERT_NE(tcp, std::string::npos) << log;
  const std::string target =
      log.substr(tcp + 4, log.find_first_of(" ,\n", tcp) - tcp - 4);

  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFileText(d + "/ca.pem");
  tls.pem_private_key = ReadFileText(d + "/test-agent.key");
  tls.pem_cert_chain = ReadFileText(d + "/test-agent.pem");
  auto stub = v1::Backup::NewStub(
      grpc::CreateCustomChannel(target, grpc::SslCredentials(tls), args));
  v1::ListBackupsResponse list;
  EXPECT_TRUE(CallWithDeadline([&](grpc::ClientContext* ctx) {
                return stub->ListBackups(ctx, v1::ListBackupsRequest(), &list);
              }).ok());
  v1::StopBackupRequest stop;
  stop.set_instance("demo");
  v1::StopBackupResponse stopped;
  const grpc::Status denied = CallWithDeadline([&](grpc::ClientContext* ctx) {
    return stub->StopBackup(ctx, stop, &stopped);
  });
  EXPECT_EQ(JetErrOf(denied), -1907);
  EXPECT_NE(denied.error_message().find("cert:test-agent"), std::string::npos);

  // Without a client certificate the handshake itself fails.
  grpc::SslCredentialsOptions anonymous;
  anonymous.pem_root_certs = tls.pem_root_certs;
  auto stranger = v1::Backup::NewStub(
      grpc::CreateCustomChannel(target, grpc::SslCredentials(anonymous), args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const grpc::Status refused =
      stranger->ListBackups(&ctx, v1::ListBackupsRequest(), &list);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(JetErrOf(refused), -1);  // a transport failure, no daemon answer
}

TEST_F(DaemonTest, BadConfigExitsTwoNamingTheKey) {
  DaemonConfigOptions options;
  options.extra = "chunk_size_typo = 5";
  const std::string config = DaemonConfig(dir_.path(), options);
  std::ofstream(dir_.path() + "/bad.toml") << config;
  const std::string cmd = absl::StrCat(JETBACKD_PATH, " --config ", dir_.path(),
                                       "/bad.toml 2>", dir_.path(), "/bad.log");
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  std::ifstream in(dir_.path() + "/bad.log");
  std::string log((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("chunk_size_typo: unknown key"), std::string::npos) << log;
}

}  // namespace
}  // namespace jetback::testing
