// Offline checks of the ESE-style C API: the JET_ERR constants come from the
// one table, bad handles and arguments give -1003, an unreachable daemon
// gives -1090. A whole backup through it runs in tests/client_c_api_test.c.

#include "jetback/esent.h"

#include <stdlib.h>

#include "gtest/gtest.h"
#include "jetback/jet_err.h"

namespace {

static_assert(JET_errBackupAbortByServer == -801);
static_assert(JET_errInvalidParameter == -1003);
static_assert(JET_errSuccess == 0);

TEST(EsentTest, ConstantsMatchTheTable) {
  EXPECT_EQ(JET_errNoBackup, jetback::jet::JET_errNoBackup);
  EXPECT_EQ(JET_errOutOfMemory, jetback::jet::JET_errOutOfMemory);
  EXPECT_EQ(JET_errClientRequestToStopJetService,
            jetback::jet::JET_errClientRequestToStopJetService);
}

TEST(EsentTest, InvalidInstanceHandles) {
  char buf[64];
  unsigned long cb = 0;
  JET_HANDLE h = 0;
  unsigned long lo = 0, hi = 0;
  JET_LOGINFO info = {sizeof(JET_LOGINFO), 0, 0, {0}};
  for (JET_INSTANCE bad : {JET_INSTANCE{0}, JET_instanceNil,
                           reinterpret_cast<JET_INSTANCE>(&cb)}) {
    EXPECT_EQ(JetBeginExternalBackupInstance(bad, 0), JET_errInvalidParameter);
    EXPECT_EQ(JetGetAttachInfoInstance(bad, buf, sizeof(buf), &cb),
              JET_errInvalidParameter);
    EXPECT_EQ(JetOpenFileInstance(bad, "x", &h, &lo, &hi),
              JET_errInvalidParameter);
    EXPECT_EQ(JetReadFileInstance(bad, 0, buf, 0, &cb),
              JET_errInvalidParameter);
    EXPECT_EQ(JetCloseFileInstance(bad, 0), JET_errInvalidParameter);
    EXPECT_EQ(JetGetLogInfoInstance(bad, buf, sizeof(buf), &cb),
              JET_errInvalidParameter);
    EXPECT_EQ(JetGetLogInfoInstance2(bad, buf, sizeof(buf), &cb, &info),
              JET_errInvalidParameter);
    EXPECT_EQ(JetGetTruncateLogInfoInstance(bad, buf, sizeof(buf), &cb),
              JET_errInvalidParameter);
    EXPECT_EQ(JetTruncateLogInstance(bad), JET_errInvalidParameter);
    EXPECT_EQ(JetEndExternalBackupInstance(bad), JET_errInvalidParameter);
    EXPECT_EQ(JetEndExternalBackupInstance2(bad, JET_bitBackupEndAbort),
              JET_errInvalidParameter);
    EXPECT_EQ(JetStopBackupInstance(bad), JET_errInvalidParameter);
    EXPECT_EQ(JetStopServiceInstance(bad), JET_errInvalidParameter);
    EXPECT_EQ(JetStopServiceInstance2(bad, 0), JET_errInvalidParameter);
    EXPECT_EQ(JetDisconnectInstance(bad), JET_errInvalidParameter);
  }
}

TEST(EsentTest, ConnectArguments) {
  JET_INSTANCE instance = 0;
  EXPECT_EQ(JetConnectInstance("unix:/x.sock", nullptr, &instance),
            JET_errInvalidParameter);
  EXPECT_EQ(JetConnectInstance("unix:/x.sock", "", &instance),
            JET_errInvalidParameter);
  EXPECT_EQ(JetConnectInstance("unix:/x.sock", "demo", nullptr),
            JET_errInvalidParameter);
  EXPECT_EQ(JetConnectInstance("bogus", "demo", &instance),
            JET_errInvalidParameter);
  EXPECT_EQ(instance, JET_INSTANCE{0});  // untouched on failure
}

TEST(EsentTest, UnreachableDaemon) {
  JET_INSTANCE instance = 0;
  EXPECT_EQ(JetConnectInstance("unix:/nonexistent-jetback/jetbackd.sock",
                               "demo", &instance),
            JET_errInstanceUnavailable);
  // Legacy JetStopBackup with no connected instance uses the default socket.
  setenv("JETBACK_STATE_DIR", "/nonexistent-jetback-state", 1);
  EXPECT_EQ(JetStopBackup(), JET_errInstanceUnavailable);
  unsetenv("JETBACK_STATE_DIR");
}

}  // namespace
