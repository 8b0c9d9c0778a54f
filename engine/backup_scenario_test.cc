// The scenarios of ese-semantics.md section 7, one test each, named by
// number, against the engine API. Not applicable here:
//  - S41 as written (JetExternalRestore2's cbSize, target instance name and
//    process-mode checks): our Restore has no such parameters; S41 below
//    tests the parameter checks our Restore does have.
//  - S42 (JetRestoreInstance of a JetBackupInstance directory with *.pat
//    markers): the product has no JetBackupInstance.
// Restore scenarios S37-S40 live in restore_test.cc.

#include <filesystem>
#include <string>
#include <vector>

#include "engine/backup_test_util.h"
#include "engine/format.h"
#include "gtest/gtest.h"

namespace jetback::testing {
namespace {

using EseScenario = BackupFixture;

constexpr uint32_t kNormal = JET_bitBackupEndNormal;
constexpr uint32_t kAbort = JET_bitBackupEndAbort;

// Reads the whole open file through the sequential Read.
uint64_t DrainRead(BackupEngine& b, size_t bytes = 64 * 1024) {
  AlignedBuffer buf(bytes);
  uint64_t total = 0;
  for (;;) {
    auto n = b.Read("", 0, buf.span());
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) return total;
    total += *n;
  }
}

void StreamDatabase(BackupEngine& b, const std::string& path) {
  auto opened = b.OpenFile("", path, 0);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(DrainRead(b), opened->size);
  ASSERT_OK(b.CloseFile("", 0));
}

void StreamLogs(BackupEngine& b, const LogList& logs, size_t skip_last = 0) {
  for (size_t i = 0; i + skip_last < logs.files.size(); ++i) {
    auto opened = b.OpenFile("", logs.files[i], 0);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(DrainRead(b), opened->size);
    ASSERT_OK(b.CloseFile("", 0));
  }
}

TEST_F(EseScenario, S01_BeginTwice) {
  ASSERT_OK(backup().Begin(0, {}));
  EXPECT_JET(backup().Begin(0, {}), jet::JET_errBackupInProgress);
}

TEST_F(EseScenario, S02_InvalidGrbits) {
  for (uint32_t grbit : {0x4u, 0x10u, 0x2u, 0x41u}) {
    EXPECT_JET(backup().Begin(grbit, {}), jet::JET_errInvalidGrbit) << grbit;
  }
  EXPECT_FALSE(backup().InProgress());
  ASSERT_OK(backup().Begin(0, {}));
}

TEST_F(EseScenario, S03_CircularLoggingRefusesIncremental) {
  InstanceOptions o = Options("circular");
  o.circular_logging = true;
  Instance* inst = StartInstance(o);
  ASSERT_NE(inst, nullptr);
  EXPECT_JET(inst->backup().Begin(JET_bitBackupIncremental, {}),
             jet::JET_errInvalidBackup);
  ASSERT_OK(inst->backup().Begin(0, {}));
}

TEST_F(EseScenario, S04_LoggingDisabled) {
  InstanceOptions o = Options("nolog");
  o.logging_enabled = false;
  Instance* inst = StartInstance(o, "");
  ASSERT_NE(inst, nullptr);
  EXPECT_JET(inst->backup().Begin(0, {}), jet::JET_errLoggingDisabled);
}

TEST_F(EseScenario, S05_IncrementalWithoutFull) {
  EXPECT_JET(backup().Begin(JET_bitBackupIncremental, {}),
             jet::JET_errMissingFullBackup);
  EXPECT_FALSE(backup().InProgress());
  ASSERT_OK(backup().Begin(0, {}));
}

TEST_F(EseScenario, S06_NoBackupRunning) {
  AlignedBuffer buf(3 * page_size_);
  EXPECT_JET(backup().GetAttachInfo(""), jet::JET_errNoBackup);
  EXPECT_JET(backup().OpenFile("", DbPath(), 0), jet::JET_errNoBackup);
  EXPECT_JET(backup().Read("", 0, buf.span()), jet::JET_errNoBackup);
  EXPECT_JET(backup().ReadAt("", 0, 0, buf.span()), jet::JET_errNoBackup);
  EXPECT_JET(backup().CloseFile("", 0), jet::JET_errNoBackup);
  EXPECT_JET(backup().GetLogInfo(""), jet::JET_errNoBackup);
  EXPECT_JET(backup().GetTruncateLogInfo(""), jet::JET_errNoBackup);
  EXPECT_JET(backup().TruncateLog(""), jet::JET_errNoBackup);
  EXPECT_JET(backup().End("", kNormal), jet::JET_errNoBackup);
}

TEST_F(EseScenario, S07_EndGrbitMustBeNormalXorAbort) {
  EXPECT_JET(backup().End("", 0), jet::JET_errInvalidParameter);
  EXPECT_JET(backup().End("", 3), jet::JET_errInvalidParameter);
  ASSERT_OK(backup().Begin(0, {}));
  EXPECT_JET(backup().End("", 0), jet::JET_errInvalidParameter);
  EXPECT_JET(backup().End("", 3), jet::JET_errInvalidParameter);
  EXPECT_TRUE(backup().InProgress());
  ASSERT_OK(backup().GetAttachInfo(""));
}

TEST_F(EseScenario, S08_AttachInfoListsDatabases) {
  ASSERT_OK(backup().Begin(0, {}));
  auto dbs = backup().GetAttachInfo("");
  ASSERT_OK(dbs);
  EXPECT_EQ(*dbs, std::vector<std::string>{DbPath()});
}

TEST_F(EseScenario, S09_AttachInfoDuringIncremental) {
  FullBackupToDir(JoinPath(dir_, "full"));
  ASSERT_OK(backup().Begin(JET_bitBackupIncremental, {}));
  EXPECT_JET(backup().GetAttachInfo(""), jet::JET_errInvalidBackupSequence);
}

TEST_F(EseScenario, S10_OneFileSlot) {
  ASSERT_OK(backup().Begin(0, {}));
  auto opened = backup().OpenFile("", DbPath(), 0);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->handle, 0u);
  EXPECT_EQ(opened->size,
            (uint64_t{db_->HeaderInfo().pgno_last} + 3) * page_size_);
  EXPECT_JET(backup().OpenFile("", DbPath(), 0), jet::JET_errOutOfMemory);
  AlignedBuffer buf(3 * page_size_);
  auto n = backup().Read("", 0, buf.span());
  ASSERT_OK(n);
  EXPECT_EQ(*n, 3 * page_size_);
}

TEST_F(EseScenario, S11_OpenFileBadArguments) {
  ASSERT_OK(backup().Begin(0, {}));
  EXPECT_JET(backup().OpenFile("", "", 0), jet::JET_errInvalidParameter);
  EXPECT_JET(backup().OpenFile("", DbPath(), page_size_ + 1),
             jet::JET_errInvalidParameter);
  EXPECT_JET(backup().OpenFile("", DbPath(), 2 * page_size_),
             jet::JET_errInvalidParameter);
  ASSERT_OK(backup().OpenFile("", DbPath(), 0));  // backup not ended
}

TEST_F(EseScenario, S12_ReadBufferRules) {
  ASSERT_OK(backup().Begin(0, {}));
  ASSERT_OK(backup().OpenFile("", DbPath(), 0));
  AlignedBuffer buf(8 * page_size_);
  EXPECT_JET(backup().Read("", 0, absl::MakeSpan(buf.data(), 2 * page_size_)),
             jet::JET_errInvalidParameter);
  EXPECT_JET(
      backup().Read("", 0, absl::MakeSpan(buf.data() + 8, 3 * page_size_)),
      jet::JET_errInvalidParameter);
  EXPECT_JET(backup().Read("", 0, absl::MakeSpan(buf.data(), page_size_ + 1)),
             jet::JET_errInvalidParameter);
  auto n = backup().Read("", 0, absl::MakeSpan(buf.data(), 3 * page_size_));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 3 * page_size_);
}

TEST_F(EseScenario, S13_StreamLayout) {
  auto begun = backup().Begin(0, {});
  ASSERT_OK(begun);
  auto opened = backup().OpenFile("", DbPath(), 0);
  ASSERT_OK(opened);
  std::string stream;
  AlignedBuffer buf(64 * 1024);
  for (;;) {
    auto n = backup().Read("", 0, buf.span());
    ASSERT_OK(n);
    if (*n == 0) break;
    stream.append(buf.data(), *n);
  }
  ASSERT_EQ(stream.size(), opened->size);
  const size_t p = page_size_;
  EXPECT_EQ(stream.substr(0, p), stream.substr(p, p));
  auto header = format::DecodeDbHeader(absl::MakeConstSpan(stream.data(), p));
  ASSERT_OK(header);
  EXPECT_EQ(header->full_cur.gen_low, begun->checkpoint_generation);
  EXPECT_EQ(header->full_cur.gen_high, 0u);
  auto trailer = format::DecodeTrailer(
      absl::MakeConstSpan(stream.data() + stream.size() - p, p));
  ASSERT_OK(trailer);
  EXPECT_GE(trailer->backup.gen_high, trailer->backup.gen_low);
  EXPECT_EQ(trailer->backup.gen_low, begun->checkpoint_generation);
}

TEST_F(EseScenario, S14_OpenLogDuringDatabasePhase) {
  ASSERT_OK(backup().Begin(0, {}));
  const std::string log =
      JoinPath(instance_->options().log_dir, format::ArchiveLogName("E00", 1));
  EXPECT_JET(backup().OpenFile("", log, 0), jet::JET_errDatabaseNotFound);
  ASSERT_OK(backup().GetLogInfo(""));
}

TEST_F(EseScenario, S15_GetLogInfoWithFileOpen) {
  ASSERT_OK(backup().Begin(0, {}));
  ASSERT_OK(backup().OpenFile("", DbPath(), 0));
  EXPECT_JET(backup().GetLogInfo(""), jet::JET_errInvalidBackupSequence);
  ASSERT_OK(backup().CloseFile("", 0));
  ASSERT_OK(backup().GetLogInfo(""));
}

TEST_F(EseScenario, S16_GetLogInfoRollsOnce) {
  auto begun = backup().Begin(0, {});
  ASSERT_OK(begun);
  const uint32_t g = instance_->CurrentGeneration();
  auto logs = backup().GetLogInfo("");
  ASSERT_OK(logs);
  EXPECT_EQ(logs->gen_low, begun->checkpoint_generation);
  EXPECT_EQ(logs->gen_high, g);
  EXPECT_EQ(instance_->CurrentGeneration(), g + 1);
  ASSERT_EQ(logs->files.size(), g - logs->gen_low + 1);
  EXPECT_EQ(std::filesystem::path(logs->files.back()).filename(),
            format::ArchiveLogName("E00", g));
  auto again = backup().GetLogInfo("");
  ASSERT_OK(again);
  EXPECT_EQ(again->files, logs->files);
  EXPECT_EQ(instance_->CurrentGeneration(), g + 1);
}

TEST_F(EseScenario, S17_OpenDatabaseInLogPhaseEndsBackup) {
  for (bool truncate_info_first : {false, true}) {
    ASSERT_OK(backup().Begin(0, {}));
    if (truncate_info_first) {
      ASSERT_OK(backup().GetTruncateLogInfo(""));
    } else {
      ASSERT_OK(backup().GetLogInfo(""));
    }
    EXPECT_JET(backup().OpenFile("", DbPath(), 0),
               jet::JET_errInvalidBackupSequence);
    EXPECT_JET(backup().GetAttachInfo(""), jet::JET_errNoBackup);
  }
}

TEST_F(EseScenario, S18_BadLogNamesEndBackup) {
  ASSERT_OK(backup().Begin(0, {}));
  ASSERT_OK(backup().GetLogInfo(""));
  const std::string dir = instance_->options().log_dir;
  EXPECT_JET(backup().OpenFile(
                 "", JoinPath(dir, format::ArchiveLogName("E00", 0x7000)), 0),
             jet::JET_errMissingFileToBackup);
  EXPECT_JET(backup().GetAttachInfo(""), jet::JET_errNoBackup);

  ASSERT_OK(backup().Begin(0, {}));
  ASSERT_OK(backup().GetLogInfo(""));
  EXPECT_JET(backup().OpenFile("", JoinPath(dir, "E00.log"), 0),
             jet::JET_errInvalidParameter);
  EXPECT_JET(backup().GetAttachInfo(""), jet::JET_errNoBackup);
}

TEST_F(EseScenario, S19_TruncateOutOfOrder) {
  ASSERT_OK(backup().Begin(0, {}));
  EXPECT_JET(backup().TruncateLog(""), jet::JET_errInvalidBackupSequence);
  auto logs = backup().GetLogInfo("");
  ASSERT_OK(logs);
  ASSERT_OK(backup().OpenFile("", logs->files[0], 0));
  EXPECT_JET(backup().TruncateLog(""), jet::JET_errInvalidBackupSequence);
}

TEST_F(EseScenario, S20_TruncateNeedsEveryLog) {
  // Make old generations the checkpoint has passed, so there is something
  // to truncate.
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(PutRows(db_, "t", 100 + i * 10, 10));
    ASSERT_OK(instance_->RollLog());
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (instance_->CheckpointGeneration() < 3 && absl::Now() < deadline) {
    ASSERT_OK(PutRows(db_, "t", 500, 1));
  }
  ASSERT_GE(instance_->CheckpointGeneration(), 3u);
  ASSERT_OK(backup().Begin(0, {}));
  StreamDatabase(backup(), DbPath());
  auto logs = backup().GetLogInfo("");
  ASSERT_OK(logs);
  auto doomed = backup().GetTruncateLogInfo("");
  ASSERT_OK(doomed);
  ASSERT_FALSE(doomed->files.empty());
  StreamLogs(backup(), *logs, /*skip_last=*/1);
  EXPECT_JET(backup().TruncateLog(""), jet::JET_errLogFileNotCopied);
  auto opened = backup().OpenFile("", logs->files.back(), 0);
  ASSERT_OK(opened);
  DrainRead(backup());
  ASSERT_OK(backup().CloseFile("", 0));
  auto deleted = backup().TruncateLog("");
  ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, doomed->files.size());
  for (const auto& f : doomed->files)
    EXPECT_FALSE(std::filesystem::exists(f)) << f;
  for (uint32_t g = doomed->gen_high + 1; g <= logs->gen_high; ++g) {
    EXPECT_TRUE(std::filesystem::exists(JoinPath(
        instance_->options().log_dir, format::ArchiveLogName("E00", g))));
  }
}

TEST_F(EseScenario, S21_CloseBeforeEofDoesNotCount) {
  ASSERT_OK(backup().Begin(0, {}));
  auto logs = backup().GetLogInfo("");
  ASSERT_OK(logs);
  StreamLogs(backup(), *logs, /*skip_last=*/1);
  ASSERT_OK(backup().OpenFile("", logs->files.back(), 0));
  AlignedBuffer buf(2 * page_size_);
  ASSERT_OK(backup().Read("", 0, buf.span()));
  ASSERT_OK(backup().CloseFile("", 0));
  EXPECT_JET(backup().TruncateLog(""), jet::JET_errLogFileNotCopied);
}

TEST_F(EseScenario, S22_StopDuringBackup) {
  const DatabaseHeaderInfo before = db_->HeaderInfo();
  ASSERT_OK(backup().Begin(0, {}));
  ASSERT_OK(backup().OpenFile("", DbPath(), 0));
  backup().Stop("maintenance window", "uid:0");
  AlignedBuffer buf(4 * page_size_);
  auto read = backup().Read("", 0, buf.span());
  EXPECT_JET(read, jet::JET_errBackupAbortByServer);
  EXPECT_EQ(JetReasonOf(read.status()), "maintenance window");
  EXPECT_EQ(JetInitiatorOf(read.status()), "uid:0");
  EXPECT_JET(backup().GetAttachInfo(""), jet::JET_errBackupAbortByServer);
  EXPECT_JET(backup().OpenFile("", DbPath(), 0),
             jet::JET_errBackupAbortByServer);
  EXPECT_JET(backup().GetLogInfo(""), jet::JET_errBackupAbortByServer);
  EXPECT_JET(backup().GetTruncateLogInfo(""), jet::JET_errBackupAbortByServer);
  EXPECT_JET(backup().TruncateLog(""), jet::JET_errBackupAbortByServer);
  ASSERT_OK(backup().CloseFile("", 0));
  EXPECT_JET(backup().Begin(0, {}), jet::JET_errBackupInProgress);
  auto end = backup().End("", kNormal);
  ASSERT_OK(end);
  EXPECT_FALSE(end->succeeded);
  EXPECT_EQ(end->abort_jet_err, jet::JET_errBackupAbortByServer);
  EXPECT_EQ(end->reason, "maintenance window");
  const DatabaseHeaderInfo after = db_->HeaderInfo();
  EXPECT_EQ(after.full_prev.gen_low, before.full_prev.gen_low);
  EXPECT_EQ(after.copy_prev.gen_low, before.copy_prev.gen_low);
  auto set = StreamBackupSet(backup(), JoinPath(dir_, "set"));
  ASSERT_OK(set);
  EXPECT_TRUE(set->end.succeeded);
}

TEST_F(EseScenario, S23_StopWithNoBackup) {
  EXPECT_EQ(backup().Stop("early", "uid:0"), "");
  EXPECT_JET(backup().GetAttachInfo(""), jet::JET_errNoBackup);
  auto set = StreamBackupSet(backup(), JoinPath(dir_, "set"));
  ASSERT_OK(set);
  EXPECT_TRUE(set->end.succeeded);
}

TEST_F(EseScenario, S24_StopUnknownInstance) {
  EXPECT_JET(registry_->Lookup("no-such-instance"),
             jet::JET_errInvalidParameter);
}

TEST_F(EseScenario, S25_LegacyCallsInMultiInstanceMode) {
  InstanceRegistry empty;
  EXPECT_JET(empty.Lookup(""), jet::JET_errInvalidParameter);
  ASSERT_OK(registry_->Lookup(""));  // single instance: the legacy form works
  ASSERT_NE(StartInstance(Options("second"), ""), nullptr);
  EXPECT_JET(registry_->Lookup(""), jet::JET_errRunningInMultiInstanceMode);
}

TEST_F(EseScenario, S26_StopServiceDuringBackup) {
  ASSERT_OK(backup().Begin(0, {}));
  ASSERT_OK(instance_->StopService(JET_bitStopServiceAll));
  AlignedBuffer buf(3 * page_size_);
  const JetErr stopped = jet::JET_errClientRequestToStopJetService;
  EXPECT_JET(backup().GetAttachInfo(""), stopped);
  EXPECT_JET(backup().OpenFile("", DbPath(), 0), stopped);
  EXPECT_JET(backup().Read("", 0, buf.span()), stopped);
  EXPECT_JET(backup().CloseFile("", 0), stopped);
  EXPECT_JET(backup().GetLogInfo(""), stopped);
  EXPECT_JET(backup().GetTruncateLogInfo(""), stopped);
  EXPECT_JET(backup().TruncateLog(""), stopped);
  EXPECT_JET(backup().End("", kNormal), stopped);
  EXPECT_JET(backup().Begin(0, {}), stopped);
  ASSERT_OK(instance_->Term(TermMode::kAbrupt));
  ASSERT_OK(registry_->Remove("main"));
  instance_ = nullptr;
  instance_ = StartInstance(Options("main"));
  ASSERT_NE(instance_, nullptr);
  auto set = StreamBackupSet(backup(), JoinPath(dir_, "set"));
  ASSERT_OK(set);
  EXPECT_TRUE(set->end.succeeded);
}

TEST_F(EseScenario, S27_StopServicePartialKeepsBackup) {
  ASSERT_OK(backup().Begin(0, {}));
  ASSERT_OK(instance_->StopService(JET_bitStopServiceBackgroundUserTasks));
  ASSERT_OK(instance_->StopService(JET_bitStopServiceQuiesceCaches));
  ASSERT_OK(backup().GetAttachInfo(""));
  ASSERT_OK(backup().End("", kAbort));
  auto set = StreamBackupSet(backup(), JoinPath(dir_, "set"));
  ASSERT_OK(set);
  EXPECT_TRUE(set->end.succeeded);
}

TEST_F(EseScenario, S28_TermDuringBackup) {
  ASSERT_OK(backup().Begin(0, {}));
  EXPECT_JET(instance_->Term(TermMode::kComplete),
             jet::JET_errBackupInProgress);
  EXPECT_TRUE(backup().InProgress());
  ASSERT_OK(backup().GetAttachInfo(""));
  EXPECT_JET(backup().Begin(0, {}), jet::JET_errBackupNotAllowedYet);
  ASSERT_OK(instance_->Term(TermMode::kAbrupt));
  EXPECT_FALSE(backup().InProgress());
  ASSERT_OK(registry_->Remove("main"));
  instance_ = nullptr;
  instance_ = StartInstance(Options("main"));
  ASSERT_NE(instance_, nullptr);
  ASSERT_OK(backup().Begin(0, {}));
}

TEST_F(EseScenario, S29_AttachDetachDuringBackup) {
  ASSERT_OK(backup().Begin(0, {}));
  EXPECT_JET(instance_->CreateDatabase(JoinPath(dir_, "main/db/db2.edb")),
             jet::JET_errBackupInProgress);
  EXPECT_JET(instance_->DetachDatabase(DbPath()), jet::JET_errBackupInProgress);
}

TEST_F(EseScenario, S30_EndBeforeLogPhaseIsAbort) {
  const DatabaseHeaderInfo before = db_->HeaderInfo();
  ASSERT_OK(backup().Begin(0, {}));
  ASSERT_OK(backup().OpenFile("", DbPath(), 0));
  AlignedBuffer buf(3 * page_size_);
  ASSERT_OK(backup().Read("", 0, buf.span()));
  auto end = backup().End("", kNormal);
  ASSERT_OK(end);
  EXPECT_FALSE(end->succeeded);
  EXPECT_EQ(end->abort_jet_err, jet::JET_errInvalidBackupSequence);
  const DatabaseHeaderInfo after = db_->HeaderInfo();
  EXPECT_TRUE(after.full_prev.empty() && after.copy_prev.empty());
  EXPECT_EQ(before.full_prev.gen_high, after.full_prev.gen_high);
}

TEST_F(EseScenario, S31_TruncatingFullStampsFullPrev) {
  StreamedSet set = FullBackupToDir(JoinPath(dir_, "set"));
  EXPECT_TRUE(set.end.succeeded);
  EXPECT_EQ(set.end.slot, BackupSlotKind::kFull);
  const DatabaseHeaderInfo h = db_->HeaderInfo();
  EXPECT_EQ(h.full_prev.gen_low, set.logs.gen_low);
  EXPECT_EQ(h.full_prev.gen_high, set.logs.gen_high);
  EXPECT_TRUE(h.inc_prev.empty());
  ASSERT_OK(backup().Begin(JET_bitBackupIncremental, {}));
}

TEST_F(EseScenario, S32_NonTruncatingFullIsCopy) {
  StreamedSet copy =
      FullBackupToDir(JoinPath(dir_, "copy"), /*truncate=*/false);
  EXPECT_EQ(copy.end.slot, BackupSlotKind::kCopy);
  DatabaseHeaderInfo h = db_->HeaderInfo();
  EXPECT_EQ(h.copy_prev.gen_high, copy.logs.gen_high);
  EXPECT_TRUE(h.full_prev.empty());

  StreamOptions opts;
  opts.truncate = false;
  opts.end_grbit = kNormal | JET_bitBackupTruncateDone;
  auto full = StreamBackupSet(backup(), JoinPath(dir_, "full"), opts);
  ASSERT_OK(full);
  EXPECT_EQ(full->end.slot, BackupSlotKind::kFull);
  h = db_->HeaderInfo();
  EXPECT_EQ(h.full_prev.gen_high, full->logs.gen_high);
}

TEST_F(EseScenario, S33_IncrementalStampsIncOrDiff) {
  FullBackupToDir(JoinPath(dir_, "full"));
  ASSERT_OK(PutRows(db_, "t", 100, 20));
  StreamOptions opts;
  opts.incremental = true;
  auto inc = StreamBackupSet(backup(), JoinPath(dir_, "inc"), opts);
  ASSERT_OK(inc);
  EXPECT_EQ(inc->end.slot, BackupSlotKind::kIncremental);
  DatabaseHeaderInfo h = db_->HeaderInfo();
  EXPECT_EQ(h.inc_prev.gen_high, inc->logs.gen_high);
  EXPECT_EQ(inc->logs.gen_high + 1, instance_->CurrentGeneration());

  ASSERT_OK(PutRows(db_, "t", 200, 20));
  opts.truncate = false;
  auto diff = StreamBackupSet(backup(), JoinPath(dir_, "diff"), opts);
  ASSERT_OK(diff);
  EXPECT_EQ(diff->end.slot, BackupSlotKind::kDifferential);
  h = db_->HeaderInfo();
  EXPECT_EQ(h.diff_prev.gen_high, diff->logs.gen_high);
  EXPECT_EQ(h.inc_prev.gen_high, inc->logs.gen_high);
}

TEST_F(EseScenario, S34_IncrementalGap) {
  StreamedSet full = FullBackupToDir(JoinPath(dir_, "full"));
  ASSERT_OK(PutRows(db_, "t", 100, 5));
  ASSERT_OK(instance_->RollLog());
  ASSERT_OK(PutRows(db_, "t", 200, 5));
  ASSERT_OK(instance_->RollLog());
  const std::string log_dir = instance_->options().log_dir;
  for (uint32_t g = 1; g <= full.logs.gen_high + 1; ++g) {
    std::filesystem::remove(
        JoinPath(log_dir, format::ArchiveLogName("E00", g)));
  }
  ASSERT_OK(backup().Begin(JET_bitBackupIncremental, {}));
  EXPECT_JET(backup().GetLogInfo(""), jet::JET_errMissingFileToBackup);
  EXPECT_TRUE(backup().InProgress());
  auto end = backup().End("", kAbort);
  ASSERT_OK(end);
  EXPECT_FALSE(end->succeeded);
}

TEST_F(EseScenario, S35_CorruptPageLeavesDatabaseOut) {
  // Flush everything, damage the last page on disk, bring the instance up.
  const std::string path = DbPath();
  ASSERT_OK(PutRows(db_, "t", 100, 200));
  const uint32_t pgno_last = db_->HeaderInfo().pgno_last;
  ASSERT_OK(instance_->Term(TermMode::kComplete));
  ASSERT_OK(registry_->Remove("main"));
  CorruptFile(path, format::PageOffset(pgno_last, page_size_) + 100, 8);
  instance_ = StartInstance(Options("main"));
  ASSERT_NE(instance_, nullptr);
  db_ = instance_->FindDatabase(path);
  ASSERT_NE(db_, nullptr);
  const DatabaseHeaderInfo before = db_->HeaderInfo();

  ASSERT_OK(backup().Begin(0, {}));
  auto opened = backup().OpenFile("", path, 0);
  ASSERT_OK(opened);
  EXPECT_JET(ReadWhole(backup(), "", opened->size),
             jet::JET_errReadVerifyFailure);
  EXPECT_JET(backup().CloseFile("", 0), jet::JET_errInvalidParameter);
  ASSERT_OK(backup().GetLogInfo(""));
  auto end = backup().End("", kNormal);
  ASSERT_OK(end);
  EXPECT_TRUE(end->succeeded);
  const DatabaseHeaderInfo after = db_->HeaderInfo();
  EXPECT_EQ(after.copy_prev.gen_high, before.copy_prev.gen_high);
  EXPECT_EQ(after.full_prev.gen_high, before.full_prev.gen_high);
}

TEST_F(EseScenario, S36_CorruptLogEndsBackup) {
  ASSERT_OK(backup().Begin(0, {}));
  auto logs = backup().GetLogInfo("");
  ASSERT_OK(logs);
  CorruptFile(logs->files[0], format::kLogBlockSize + 40, 16);
  auto opened = backup().OpenFile("", logs->files[0], 0);
  ASSERT_OK(opened);
  EXPECT_JET(ReadWhole(backup(), "", opened->size),
             jet::JET_errLogReadVerifyFailure);
  EXPECT_JET(backup().GetLogInfo(""), jet::JET_errNoBackup);
}

}  // namespace
}  // namespace jetback::testing
