// The scenarios of ese-semantics.md section 7 (engine/backup_scenario_test.cc
// runs them against the engine API) through the other door: the ESE-style C
// API (jetback/esent.h) against a real jetbackd. Same numbers, same
// expected JET_ERRs. Not here, because the C API has no way to cause them:
//  - S04 (logging disabled) and S28 (JetTerm during a backup): the daemon
//    owns the instances' configuration and lifecycle;
//  - S29 (attach / detach during a backup) is an Instances-service call,
//    tested in daemon_test.cc; S32 / S33 header slots are the engine's.
// Added for the C API: S07 with no backup, a section (resumed) open, a stop
// after a file's last byte and before a bad read, the stop's reason, a second
// handle, and a database's page size before its first read.

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jetback/client.h"
#include "jetback/esent.h"
#include "tests/daemon_test_util.h"

namespace jetback::testing {
namespace {

constexpr unsigned long kPage = 8192;
constexpr unsigned long kBufferSize = 64 * 1024;

struct AlignedFree {
  void operator()(char* p) const { free(p); }
};

// Splits an ESE multi-string.
std::vector<std::string> SplitMulti(const std::vector<char>& szz) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < szz.size() && szz[i] != '\0') {
    std::string item(&szz[i]);
    i += item.size() + 1;
    out.push_back(std::move(item));
  }
  return out;
}

class EsentScenario : public ::testing::Test {
 protected:
  void SetUp() override { StartDaemon({}); }
  void TearDown() override {
    for (JET_INSTANCE h : handles_) JetDisconnectInstance(h);
  }

  // On the same state (a restart) or, with `fresh`, a new one (another
  // page size or logging mode needs new files).
  void StartDaemon(const DaemonConfigOptions& options, bool fresh = false) {
    for (JET_INSTANCE h : handles_) JetDisconnectInstance(h);
    handles_.clear();
    daemon_.reset();
    if (fresh) dirs_.push_back(std::make_unique<TempDir>());
    const std::string dir = dirs_.back()->path();
    daemon_ = DaemonProcess::Start(dir, DaemonConfig(dir, options));
    ASSERT_NE(daemon_, nullptr);
    server_ = "unix:" + daemon_->socket_path();
    ClientOptions client_options;
    client_options.server = server_;
    auto client = Client::Connect(client_options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    inst_ = Connect("demo");
  }

  JET_INSTANCE Connect(const char* name) {
    JET_INSTANCE h = 0;
    EXPECT_EQ(JetConnectInstance(server_.c_str(), name, &h), JET_errSuccess);
    if (h != 0) handles_.push_back(h);
    return h;
  }

  void Put(int first, int count) {
    std::vector<v1::Operation> ops;
    for (int i = first; i < first + count; ++i) {
      v1::Operation op;
      op.set_kind(v1::Operation::KIND_PUT);
      op.set_table("t");
      op.set_key(absl::StrCat("k", i));
      op.set_value(std::string(500, 'v'));
      ops.push_back(op);
    }
    ASSERT_TRUE(client_->Transact("demo", "", ops).ok());
  }

  std::vector<std::string> AttachInfo(JET_INSTANCE h = 0) {
    unsigned long need = 0;
    EXPECT_EQ(JetGetAttachInfoInstance(h ? h : inst_, nullptr, 0, &need),
              JET_errSuccess);
    std::vector<char> szz(need);
    EXPECT_EQ(JetGetAttachInfoInstance(h ? h : inst_, szz.data(), need, &need),
              JET_errSuccess);
    return SplitMulti(szz);
  }

  std::vector<std::string> LogInfo(JET_LOGINFO* info = nullptr,
                                   bool truncate = false) {
    unsigned long need = 0;
    JET_ERR err = truncate
                      ? JetGetTruncateLogInfoInstance(inst_, nullptr, 0, &need)
                      : JetGetLogInfoInstance(inst_, nullptr, 0, &need);
    EXPECT_EQ(err, JET_errSuccess);
    std::vector<char> szz(need);
    if (truncate) {
      err = JetGetTruncateLogInfoInstance(inst_, szz.data(), need, &need);
    } else if (info != nullptr) {
      info->cbSize = sizeof(JET_LOGINFO);
      err = JetGetLogInfoInstance2(inst_, szz.data(), need, &need, info);
    } else {
      err = JetGetLogInfoInstance(inst_, szz.data(), need, &need);
    }
    EXPECT_EQ(err, JET_errSuccess);
    return SplitMulti(szz);
  }

  uint64_t Open(const std::string& name, JET_ERR expected = JET_errSuccess) {
    JET_HANDLE h = 7;
    unsigned long low = 0, high = 0;
    EXPECT_EQ(JetOpenFileInstance(inst_, name.c_str(), &h, &low, &high),
              expected)
        << name;
    if (expected == JET_errSuccess) {
      EXPECT_EQ(h, 0u);
    }
    return (uint64_t{high} << 32) | low;
  }

  // Reads the open file to its end (or the first error, returned).
  JET_ERR ReadToEnd(std::string* data = nullptr,
                    unsigned long chunk = kBufferSize) {
    for (;;) {
      unsigned long got = 0;
      const JET_ERR err = JetReadFileInstance(inst_, 0, buffer_, chunk, &got);
      if (err != JET_errSuccess) return err;
      if (got == 0) return JET_errSuccess;
      if (data != nullptr) data->append(buffer_, got);
    }
  }

  void StreamFile(const std::string& name) {
    const uint64_t size = Open(name);
    std::string data;
    ASSERT_EQ(ReadToEnd(&data), JET_errSuccess) << name;
    EXPECT_EQ(data.size(), size) << name;
    ASSERT_EQ(JetCloseFileInstance(inst_, 0), JET_errSuccess);
  }

  // Begin, every database and log, optionally TruncateLog, End(Normal).
  void FullBackup(bool truncate = true) {
    ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
    for (const std::string& db : AttachInfo()) StreamFile(db);
    for (const std::string& log : LogInfo()) StreamFile(log);
    if (truncate) {
      ASSERT_EQ(JetTruncateLogInstance(inst_), JET_errSuccess);
    }
    ASSERT_EQ(JetEndExternalBackupInstance(inst_), JET_errSuccess);
  }

  std::string DbPath() { return AttachInfo()[0]; }

  void CorruptFile(const std::string& path, uint64_t offset, size_t n) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    f.seekp(static_cast<std::streamoff>(offset));
    const std::string junk(n, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(n));
    ASSERT_TRUE(f.good());
  }

  std::vector<std::unique_ptr<TempDir>> dirs_ = [] {
    std::vector<std::unique_ptr<TempDir>> dirs;
    dirs.push_back(std::make_unique<TempDir>());
    return dirs;
  }();
  std::unique_ptr<DaemonProcess> daemon_;
  std::string server_;
  std::unique_ptr<Client> client_;
  JET_INSTANCE inst_ = 0;
  std::vector<JET_INSTANCE> handles_;
  std::unique_ptr<char, AlignedFree> storage_{
      // Room for three 32 KiB pages (PageSizeBeforeTheFirstRead).
      static_cast<char*>(aligned_alloc(4096, 2 * kBufferSize))};
  char* buffer_ = storage_.get();
};

TEST_F(EsentScenario, S01_BeginTwice) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  EXPECT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errBackupInProgress);
}

TEST_F(EsentScenario, S02_InvalidGrbits) {
  for (JET_GRBIT grbit : {0x4ul, 0x10ul, 0x2ul, 0x41ul}) {
    EXPECT_EQ(JetBeginExternalBackupInstance(inst_, grbit), JET_errInvalidGrbit)
        << grbit;
  }
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
}

TEST_F(EsentScenario, S03_CircularLoggingRefusesIncremental) {
  DaemonConfigOptions options;
  options.instance_extra = "circular_logging = true";
  StartDaemon(options, /*fresh=*/true);
  EXPECT_EQ(JetBeginExternalBackupInstance(inst_, JET_bitBackupIncremental),
            JET_errInvalidBackup);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
}

TEST_F(EsentScenario, S05_IncrementalWithoutFull) {
  EXPECT_EQ(JetBeginExternalBackupInstance(inst_, JET_bitBackupIncremental),
            JET_errMissingFullBackup);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
}

TEST_F(EsentScenario, S06_NoBackupRunning) {
  JET_HANDLE h = 0;
  unsigned long low = 0, high = 0, got = 0;
  EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &got), JET_errNoBackup);
  EXPECT_EQ(JetOpenFileInstance(inst_, "x.edb", &h, &low, &high),
            JET_errNoBackup);
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, 3 * kPage, &got),
            JET_errNoBackup);
  EXPECT_EQ(JetCloseFileInstance(inst_, 0), JET_errNoBackup);
  EXPECT_EQ(JetGetLogInfoInstance(inst_, nullptr, 0, &got), JET_errNoBackup);
  EXPECT_EQ(JetGetTruncateLogInfoInstance(inst_, nullptr, 0, &got),
            JET_errNoBackup);
  EXPECT_EQ(JetTruncateLogInstance(inst_), JET_errNoBackup);
  EXPECT_EQ(JetEndExternalBackupInstance(inst_), JET_errNoBackup);
}

TEST_F(EsentScenario, S07_EndGrbitMustBeNormalXorAbort) {
  // The grbit is checked before the backup is looked up (no backup: -1003,
  // not -520).
  EXPECT_EQ(JetEndExternalBackupInstance2(inst_, 0), JET_errInvalidParameter);
  EXPECT_EQ(JetEndExternalBackupInstance2(inst_, 3), JET_errInvalidParameter);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  EXPECT_EQ(JetEndExternalBackupInstance2(inst_, 0), JET_errInvalidParameter);
  EXPECT_EQ(JetEndExternalBackupInstance2(inst_, 3), JET_errInvalidParameter);
  EXPECT_EQ(AttachInfo().size(), 1u);  // still running
}

TEST_F(EsentScenario, S08_AttachInfoListsDatabases) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::vector<std::string> dbs = AttachInfo();
  ASSERT_EQ(dbs.size(), 1u);
  EXPECT_EQ(std::filesystem::path(dbs[0]).filename(), "demo.edb");
  // Silent truncation: the full size is reported, cbMax bytes copied.
  char small[4] = {1, 1, 1, 1};
  unsigned long need = 0;
  ASSERT_EQ(JetGetAttachInfoInstance(inst_, small, 3, &need), JET_errSuccess);
  EXPECT_EQ(need, dbs[0].size() + 2);
  EXPECT_EQ(std::string(small, 3), dbs[0].substr(0, 3));
  EXPECT_EQ(small[3], 1);
}

TEST_F(EsentScenario, S09_AttachInfoDuringIncremental) {
  FullBackup();
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, JET_bitBackupIncremental),
            JET_errSuccess);
  unsigned long need = 0;
  EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &need),
            JET_errInvalidBackupSequence);
}

TEST_F(EsentScenario, S10_OneFileSlot) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::string db = DbPath();
  const uint64_t size = Open(db);
  EXPECT_EQ(size % kPage, 0u);
  Open(db, JET_errOutOfMemory);
  unsigned long got = 0;
  ASSERT_EQ(JetReadFileInstance(inst_, 0, buffer_, 3 * kPage, &got),
            JET_errSuccess);
  EXPECT_EQ(got, 3 * kPage);
}

TEST_F(EsentScenario, S11_OpenFileBadArgumentsAndSection) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::string db = DbPath();
  Open("", JET_errInvalidParameter);
  JET_HANDLE h = 0;
  unsigned long low = 0, high = 0;
  EXPECT_EQ(JetOpenFileInstance(inst_, nullptr, &h, &low, &high),
            JET_errInvalidParameter);
  std::vector<char> name(db.begin(), db.end());
  name.push_back('\0');
  long section_high = 0;
  for (unsigned long long bad : {kPage + 1ull, 2ull * kPage}) {
    EXPECT_EQ(JetOpenFileSectionInstance(inst_, name.data(), &h, 0, 1, bad,
                                         &low, &section_high),
              JET_errInvalidParameter)
        << bad;
  }
  // The whole stream, then the same stream resumed three pages in: the
  // resumed read returns exactly the rest.
  std::string whole;
  const uint64_t size = Open(db);
  ASSERT_EQ(ReadToEnd(&whole), JET_errSuccess);
  ASSERT_EQ(whole.size(), size);
  ASSERT_EQ(JetCloseFileInstance(inst_, 0), JET_errSuccess);
  const unsigned long long resume_at = 3 * kPage;
  ASSERT_EQ(JetOpenFileSectionInstance(inst_, name.data(), &h, 0, 1, resume_at,
                                       &low, &section_high),
            JET_errSuccess);
  EXPECT_EQ((uint64_t(section_high) << 32) | low, size);
  std::string rest;
  // Past the start a single page is a valid read.
  ASSERT_EQ(ReadToEnd(&rest, kPage), JET_errSuccess);
  EXPECT_EQ(rest.size(), size - resume_at);
  EXPECT_TRUE(rest == whole.substr(resume_at)) << "resumed bytes differ";
}

TEST_F(EsentScenario, S12_ReadBufferRules) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  Open(DbPath());
  unsigned long got = 0;
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, 2 * kPage, &got),
            JET_errInvalidParameter);
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_ + 8, 3 * kPage, &got),
            JET_errInvalidParameter);
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, kPage + 1, &got),
            JET_errInvalidParameter);
  EXPECT_EQ(JetReadFileInstance(inst_, 1, buffer_, 3 * kPage, &got),
            JET_errInvalidParameter);
  ASSERT_EQ(JetReadFileInstance(inst_, 0, buffer_, 3 * kPage, &got),
            JET_errSuccess);
  EXPECT_EQ(got, 3 * kPage);
}

TEST_F(EsentScenario, S13_StreamLayout) {
  Put(0, 50);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const uint64_t size = Open(DbPath());
  std::string stream;
  ASSERT_EQ(ReadToEnd(&stream), JET_errSuccess);
  ASSERT_EQ(stream.size(), size);
  // Two header copies at the front; the trailer page at the end.
  EXPECT_TRUE(stream.substr(0, kPage) == stream.substr(kPage, kPage));
  EXPECT_GE(size, 4 * kPage);
}

TEST_F(EsentScenario, S14_OpenLogDuringDatabasePhase) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::string log =
      (std::filesystem::path(DbPath()).parent_path() / "E0000000001.log")
          .string();
  Open(log, JET_errDatabaseNotFound);
  EXPECT_FALSE(LogInfo().empty());  // the backup goes on
}

TEST_F(EsentScenario, S15_GetLogInfoWithFileOpen) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  Open(DbPath());
  unsigned long need = 0;
  EXPECT_EQ(JetGetLogInfoInstance(inst_, nullptr, 0, &need),
            JET_errInvalidBackupSequence);
  ASSERT_EQ(JetCloseFileInstance(inst_, 0), JET_errSuccess);
  EXPECT_FALSE(LogInfo().empty());
}

TEST_F(EsentScenario, S16_GetLogInfoRollsOnce) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  JET_LOGINFO info{};
  const std::vector<std::string> logs = LogInfo(&info);
  ASSERT_FALSE(logs.empty());
  EXPECT_EQ(logs.size(), info.ulGenHigh - info.ulGenLow + 1);
  EXPECT_STREQ(info.szBaseName, "E00");
  EXPECT_EQ(LogInfo(), logs);
  // cbSize is checked.
  JET_LOGINFO wrong{};
  wrong.cbSize = sizeof(JET_LOGINFO) + 1;
  unsigned long need = 0;
  EXPECT_EQ(JetGetLogInfoInstance2(inst_, nullptr, 0, &need, &wrong),
            JET_errInvalidParameter);
  EXPECT_EQ(JetGetLogInfoInstance2(inst_, nullptr, 0, &need, nullptr),
            JET_errInvalidParameter);
}

TEST_F(EsentScenario, S17_OpenDatabaseInLogPhaseEndsBackup) {
  for (bool truncate_info_first : {false, true}) {
    ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
    const std::string db = DbPath();
    LogInfo(nullptr, truncate_info_first);
    Open(db, JET_errInvalidBackupSequence);
    unsigned long need = 0;
    EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &need),
              JET_errNoBackup);
  }
}

TEST_F(EsentScenario, S18_BadLogNamesEndBackup) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::string dir =
      std::filesystem::path(LogInfo()[0]).parent_path().string();
  Open(dir + "/E0000007000.log", JET_errMissingFileToBackup);
  unsigned long need = 0;
  EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &need),
            JET_errNoBackup);

  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  LogInfo();
  Open(dir + "/E00.log", JET_errInvalidParameter);
  EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &need),
            JET_errNoBackup);
}

TEST_F(EsentScenario, S19_TruncateOutOfOrder) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  EXPECT_EQ(JetTruncateLogInstance(inst_), JET_errInvalidBackupSequence);
  const std::vector<std::string> logs = LogInfo();
  Open(logs[0]);
  EXPECT_EQ(JetTruncateLogInstance(inst_), JET_errInvalidBackupSequence);
}

TEST_F(EsentScenario, S21_CloseBeforeEofDoesNotCount) {
  Put(0, 20);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::vector<std::string> logs = LogInfo();
  for (size_t i = 0; i + 1 < logs.size(); ++i) StreamFile(logs[i]);
  Open(logs.back());
  unsigned long got = 0;
  ASSERT_EQ(JetReadFileInstance(inst_, 0, buffer_, 2 * kPage, &got),
            JET_errSuccess);
  ASSERT_EQ(JetCloseFileInstance(inst_, 0), JET_errSuccess);
  EXPECT_EQ(JetTruncateLogInstance(inst_), JET_errLogFileNotCopied);
  StreamFile(logs.back());
  EXPECT_EQ(JetTruncateLogInstance(inst_), JET_errSuccess);
}

TEST_F(EsentScenario, S22_StopDuringBackupCarriesItsReason) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::string db = DbPath();
  Open(db);
  ASSERT_EQ(JetStopBackupInstanceWithReason(inst_, "maintenance window"),
            JET_errSuccess);
  unsigned long got = 0;
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, 4 * kPage, &got),
            JET_errBackupAbortByServer);
  char reason[64], initiator[64];
  ASSERT_EQ(JetGetLastStopReason(inst_, reason, sizeof(reason), initiator,
                                 sizeof(initiator)),
            JET_errSuccess);
  EXPECT_STREQ(reason, "maintenance window");
  EXPECT_NE(initiator[0], '\0');
  unsigned long need = 0;
  EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &need),
            JET_errBackupAbortByServer);
  Open(db, JET_errBackupAbortByServer);
  EXPECT_EQ(JetGetLogInfoInstance(inst_, nullptr, 0, &need),
            JET_errBackupAbortByServer);
  EXPECT_EQ(JetGetTruncateLogInfoInstance(inst_, nullptr, 0, &need),
            JET_errBackupAbortByServer);
  EXPECT_EQ(JetTruncateLogInstance(inst_), JET_errBackupAbortByServer);
  EXPECT_EQ(JetCloseFileInstance(inst_, 0), JET_errSuccess);
  EXPECT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errBackupInProgress);
  // End after a stop: 0 (as ESE), recorded as aborted.
  EXPECT_EQ(JetEndExternalBackupInstance(inst_), JET_errSuccess);
  FullBackup();  // the next backup is not affected
}

TEST_F(EsentScenario, S22b_StopAfterTheLastByteIsNotHidden) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  Open(DbPath());
  ASSERT_EQ(ReadToEnd(), JET_errSuccess);
  // The file is read to its end; the next read would be 0 bytes. A stop now
  // must not look like a complete file.
  ASSERT_EQ(JetStopBackupInstance(inst_), JET_errSuccess);
  unsigned long got = 99;
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, kBufferSize, &got),
            JET_errBackupAbortByServer);
  EXPECT_EQ(got, 99u);  // output written only on success
  char reason[64];
  ASSERT_EQ(JetGetLastStopReason(inst_, reason, sizeof(reason), nullptr, 0),
            JET_errSuccess);
  EXPECT_STREQ(reason, "JetStopBackupInstance");
}

TEST_F(EsentScenario, S22c_StopIsCheckedBeforeTheReadArguments) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  Open(DbPath());
  unsigned long got = 0;
  ASSERT_EQ(JetReadFileInstance(inst_, 0, buffer_, 3 * kPage, &got),
            JET_errSuccess);
  ASSERT_EQ(JetStopBackupInstance(inst_), JET_errSuccess);
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_ + 8, kPage, &got),
            JET_errBackupAbortByServer);
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, kPage + 1, &got),
            JET_errBackupAbortByServer);
  EXPECT_EQ(JetReadFileInstance(inst_, 5, buffer_, kPage, &got),
            JET_errBackupAbortByServer);
  ASSERT_EQ(JetCloseFileInstance(inst_, 0), JET_errSuccess);
  // No file open: the stop still comes first.
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, kPage, &got),
            JET_errBackupAbortByServer);
  ASSERT_EQ(JetEndExternalBackupInstance(inst_), JET_errSuccess);
  // With no backup, -520 comes before the arguments.
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_ + 8, kPage, &got),
            JET_errNoBackup);
}

TEST_F(EsentScenario, S23_StopWithNoBackup) {
  ASSERT_EQ(JetStopBackupInstance(inst_), JET_errSuccess);
  unsigned long need = 0;
  EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &need),
            JET_errNoBackup);
  FullBackup();  // a stop before Begin does not touch the later backup
}

TEST_F(EsentScenario, S24_UnknownInstance) {
  JET_INSTANCE h = 0;
  EXPECT_EQ(JetConnectInstance(server_.c_str(), "no-such-instance", &h),
            JET_errInvalidParameter);
  EXPECT_EQ(JetStopBackupInstance(JET_instanceNil), JET_errInvalidParameter);
  EXPECT_EQ(JetStopBackupInstanceWithReason(0, "x"), JET_errInvalidParameter);
}

TEST_F(EsentScenario, S25_LegacyStopInMultiInstanceMode) {
  DaemonConfigOptions options;
  options.instances = {"demo", "second"};
  StartDaemon(options, /*fresh=*/true);
  EXPECT_EQ(JetStopBackup(), JET_errRunningInMultiInstanceMode);
}

TEST_F(EsentScenario, S26_StopServiceDuringBackup) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::string db = DbPath();
  ASSERT_EQ(JetStopServiceInstance(inst_), JET_errSuccess);
  const JET_ERR stopped = JET_errClientRequestToStopJetService;
  unsigned long need = 0;
  EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &need), stopped);
  Open(db, stopped);
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, 3 * kPage, &need), stopped);
  EXPECT_EQ(JetCloseFileInstance(inst_, 0), stopped);
  EXPECT_EQ(JetGetLogInfoInstance(inst_, nullptr, 0, &need), stopped);
  EXPECT_EQ(JetTruncateLogInstance(inst_), stopped);
  EXPECT_EQ(JetEndExternalBackupInstance(inst_), stopped);
  EXPECT_EQ(JetBeginExternalBackupInstance(inst_, 0), stopped);
}

TEST_F(EsentScenario, S27_StopServicePartialKeepsBackup) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  ASSERT_EQ(
      JetStopServiceInstance2(inst_, JET_bitStopServiceBackgroundUserTasks),
      JET_errSuccess);
  ASSERT_EQ(JetStopServiceInstance2(inst_, JET_bitStopServiceQuiesceCaches),
            JET_errSuccess);
  EXPECT_EQ(AttachInfo().size(), 1u);
  ASSERT_EQ(JetEndExternalBackupInstance2(inst_, JET_bitBackupEndAbort),
            JET_errSuccess);
  FullBackup();
}

TEST_F(EsentScenario, S30_EndBeforeLogPhaseIsAbort) {
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  Open(DbPath());
  unsigned long got = 0;
  ASSERT_EQ(JetReadFileInstance(inst_, 0, buffer_, 3 * kPage, &got),
            JET_errSuccess);
  ASSERT_EQ(JetEndExternalBackupInstance(inst_), JET_errSuccess);
  // Not a full backup: an incremental still has nothing to build on.
  EXPECT_EQ(JetBeginExternalBackupInstance(inst_, JET_bitBackupIncremental),
            JET_errMissingFullBackup);
}

TEST_F(EsentScenario, S31_TruncatingFullAllowsIncremental) {
  Put(0, 20);
  FullBackup();
  auto instances = client_->ListInstances();
  ASSERT_TRUE(instances.ok());
  ASSERT_EQ(instances->size(), 1u);
  EXPECT_NE((*instances)[0].databases(0).full_gen_low(), 0u);
  Put(100, 20);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, JET_bitBackupIncremental),
            JET_errSuccess);
  for (const std::string& log : LogInfo()) StreamFile(log);
  ASSERT_EQ(JetEndExternalBackupInstance(inst_), JET_errSuccess);
}

TEST_F(EsentScenario, S35_CorruptPageLeavesDatabaseOut) {
  Put(0, 200);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::string db = DbPath();
  // The stream is the header copies, the pages and the trailer: its last
  // data page starts two pages before its end, and one page later on disk
  // (one header page there).
  const uint64_t stream_size = Open(db);
  ASSERT_EQ(JetEndExternalBackupInstance2(inst_, JET_bitBackupEndAbort),
            JET_errSuccess);
  // Stop the daemon cleanly, damage the last data page, start it again.
  daemon_->Signal(SIGTERM);
  ASSERT_EQ(daemon_->WaitExit(absl::Seconds(20)), 0);
  CorruptFile(db, stream_size - 2 * kPage + 100, 8);
  StartDaemon({});
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  Open(db);
  const JET_ERR err = ReadToEnd();
  EXPECT_TRUE(err == JET_errReadVerifyFailure ||
              err == JET_errReadPgnoVerifyFailure)
      << err;
  // The handle was closed by the failure; the backup goes on.
  EXPECT_EQ(JetCloseFileInstance(inst_, 0), JET_errInvalidParameter);
  EXPECT_FALSE(LogInfo().empty());
  EXPECT_EQ(JetEndExternalBackupInstance(inst_), JET_errSuccess);
}

TEST_F(EsentScenario, S36_CorruptLogEndsBackup) {
  Put(0, 20);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::vector<std::string> logs = LogInfo();
  CorruptFile(logs[0], 4096 + 40, 16);
  Open(logs[0]);
  EXPECT_EQ(ReadToEnd(), JET_errLogReadVerifyFailure);
  unsigned long need = 0;
  EXPECT_EQ(JetGetLogInfoInstance(inst_, nullptr, 0, &need), JET_errNoBackup);
}

TEST_F(EsentScenario, SecondHandleOnTheSameInstance) {
  const JET_INSTANCE other = Connect("demo");
  ASSERT_NE(other, 0u);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  EXPECT_EQ(JetBeginExternalBackupInstance(other, 0), JET_errBackupInProgress);
  unsigned long need = 0;
  EXPECT_EQ(JetGetAttachInfoInstance(other, nullptr, 0, &need),
            JET_errNoBackup);
  EXPECT_EQ(JetEndExternalBackupInstance2(other, JET_bitBackupEndAbort),
            JET_errNoBackup);
  EXPECT_EQ(AttachInfo().size(), 1u);  // the owner's backup is untouched
  // A stop from the other handle reaches the owner.
  ASSERT_EQ(JetStopBackupInstanceWithReason(other, "from the other handle"),
            JET_errSuccess);
  EXPECT_EQ(JetGetAttachInfoInstance(inst_, nullptr, 0, &need),
            JET_errBackupAbortByServer);
  char reason[64];
  ASSERT_EQ(JetGetLastStopReason(inst_, reason, sizeof(reason), nullptr, 0),
            JET_errSuccess);
  EXPECT_STREQ(reason, "from the other handle");
  ASSERT_EQ(JetEndExternalBackupInstance(inst_), JET_errSuccess);
  ASSERT_EQ(JetBeginExternalBackupInstance(other, 0), JET_errSuccess);
}

TEST_F(EsentScenario, PageSizeBeforeTheFirstRead) {
  DaemonConfigOptions options;
  options.instance_extra = "page_size = 32768";
  StartDaemon(options, /*fresh=*/true);
  ASSERT_EQ(JetBeginExternalBackupInstance(inst_, 0), JET_errSuccess);
  const std::string db = DbPath();
  unsigned long page_size = 0;
  ASSERT_EQ(
      JetGetDatabaseFileInfoInstance(inst_, db.c_str(), &page_size,
                                     sizeof(page_size), JET_DbInfoPageSize),
      JET_errSuccess);
  EXPECT_EQ(page_size, 32768u);
  unsigned long long file_size = 0;
  ASSERT_EQ(
      JetGetDatabaseFileInfoInstance(inst_, db.c_str(), &file_size,
                                     sizeof(file_size), JET_DbInfoFilesize),
      JET_errSuccess);
  EXPECT_EQ(file_size, std::filesystem::file_size(db));
  // Its first read: three of *its* pages.
  Open(db);
  unsigned long got = 0;
  EXPECT_EQ(JetReadFileInstance(inst_, 0, buffer_, 3 * kPage, &got),
            JET_errInvalidParameter);
  ASSERT_EQ(JetReadFileInstance(inst_, 0, buffer_, 3 * page_size, &got),
            JET_errSuccess);
  EXPECT_EQ(got, 3 * page_size);
  EXPECT_EQ(
      JetGetDatabaseFileInfoInstance(inst_, "nope.edb", &page_size,
                                     sizeof(page_size), JET_DbInfoPageSize),
      JET_errFileNotFound);
  EXPECT_EQ(JetGetDatabaseFileInfoInstance(inst_, db.c_str(), &page_size, 2,
                                           JET_DbInfoPageSize),
            JET_errInvalidParameter);
  EXPECT_EQ(JetGetDatabaseFileInfoInstance(inst_, db.c_str(), &page_size,
                                           sizeof(page_size), 14),
            JET_errInvalidParameter);
}

}  // namespace
}  // namespace jetback::testing
