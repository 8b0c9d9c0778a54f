/* A whole streaming backup through the ESE-style C API (jetback/esent.h),
 * compiled as C. tests/client_c_api_driver_test.cc starts a real jetbackd
 * and calls RunCApiBackup; every check names the call and the JET_ERR. */

#include "tests/client_c_api_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jetback/esent.h"

#define PAGE 8192ul
#define BUFFER_SIZE (64ul * 1024ul)

static char* g_message;
static unsigned long g_cb_message;

#define EXPECT_ERR(call, expected)                                          \
  do {                                                                      \
    JET_ERR err_ = (call);                                                  \
    if (err_ != (expected)) {                                               \
      snprintf(g_message, g_cb_message, "%s:%d: %s returned %ld, want %ld", \
               __FILE__, __LINE__, #call, (long)err_, (long)(expected));    \
      goto fail;                                                            \
    }                                                                       \
  } while (0)

#define EXPECT_TRUE(cond)                                               \
  do {                                                                  \
    if (!(cond)) {                                                      \
      snprintf(g_message, g_cb_message, "%s:%d: expected %s", __FILE__, \
               __LINE__, #cond);                                        \
      goto fail;                                                        \
    }                                                                   \
  } while (0)

/* Reads the open file to its end; returns the byte count or -1. */
static long long ReadAll(JET_INSTANCE inst, JET_HANDLE h, char* buffer,
                         char* first_pages) {
  long long total = 0;
  for (;;) {
    unsigned long got = 0;
    JET_ERR err = JetReadFileInstance(inst, h, buffer, BUFFER_SIZE, &got);
    if (err != JET_errSuccess) {
      snprintf(g_message, g_cb_message, "JetReadFileInstance: %ld", (long)err);
      return -1;
    }
    if (got == 0) return total;
    if (total == 0 && first_pages != NULL)
      memcpy(first_pages, buffer, 2 * PAGE);
    total += got;
  }
}

int RunCApiBackup(const char* server, const char* instance_name, char* message,
                  unsigned long cb_message) {
  JET_INSTANCE inst = 0;
  char* buffer = aligned_alloc(4096, BUFFER_SIZE + 4096);
  char* names = NULL;
  char first_pages[2 * PAGE];
  unsigned long cb = 0, cb_small = 0, lo = 0, hi = 0, got = 0;
  JET_HANDLE h = 99;
  JET_LOGINFO info;
  const char* name;
  int databases = 0, logs = 0;
  char reason[128], initiator[128];
  g_message = message;
  g_cb_message = cb_message;
  message[0] = '\0';

  EXPECT_ERR(JetConnectInstance(server, "no-such-instance", &inst),
             JET_errInvalidParameter);
  EXPECT_ERR(JetConnectInstance(server, instance_name, &inst), JET_errSuccess);

  /* No backup yet. */
  EXPECT_ERR(JetGetAttachInfoInstance(inst, NULL, 0, &cb), JET_errNoBackup);
  EXPECT_ERR(JetEndExternalBackupInstance(inst), JET_errNoBackup);
  EXPECT_ERR(JetBeginExternalBackupInstance(inst, JET_bitBackupAtomic),
             JET_errInvalidGrbit);

  EXPECT_ERR(JetBeginExternalBackupInstance(inst, 0), JET_errSuccess);
  EXPECT_ERR(JetBeginExternalBackupInstance(inst, 0), JET_errBackupInProgress);

  /* Multi-string size, then a silently truncated copy, then the whole. */
  EXPECT_ERR(JetGetAttachInfoInstance(inst, NULL, 0, &cb), JET_errSuccess);
  EXPECT_TRUE(cb > 2);
  names = calloc(1, cb);
  memset(names, 'Z', cb);
  EXPECT_ERR(JetGetAttachInfoInstance(inst, names, 3, &cb_small),
             JET_errSuccess);
  EXPECT_TRUE(cb_small == cb);
  EXPECT_TRUE(names[3] == 'Z');
  EXPECT_ERR(JetGetAttachInfoInstance(inst, names, cb, &cb_small),
             JET_errSuccess);
  EXPECT_TRUE(names[cb - 1] == '\0' && names[cb - 2] == '\0');

  for (name = names; *name != '\0'; name += strlen(name) + 1) {
    long long total;
    EXPECT_ERR(JetOpenFileInstance(inst, name, &h, &lo, &hi), JET_errSuccess);
    EXPECT_TRUE(h == 0);
    EXPECT_ERR(JetOpenFileInstance(inst, name, &h, &lo, &hi),
               JET_errOutOfMemory); /* one file slot */
    /* The reference's buffer rules. */
    EXPECT_ERR(JetReadFileInstance(inst, h, buffer + 512, 3 * PAGE, &got),
               JET_errInvalidParameter);
    EXPECT_ERR(JetReadFileInstance(inst, h, buffer, PAGE + 1, &got),
               JET_errInvalidParameter);
    EXPECT_ERR(JetReadFileInstance(inst, h, buffer, 2 * PAGE, &got),
               JET_errInvalidParameter);
    total = ReadAll(inst, h, buffer, first_pages);
    EXPECT_TRUE(total >= 0);
    EXPECT_TRUE((unsigned long long)total ==
                (((unsigned long long)hi << 32) | lo));
    EXPECT_TRUE(total % PAGE == 0 && total >= 3 * (long long)PAGE);
    EXPECT_TRUE(memcmp(first_pages, first_pages + PAGE, PAGE) == 0);
    EXPECT_ERR(JetCloseFileInstance(inst, h), JET_errSuccess);
    EXPECT_ERR(JetCloseFileInstance(inst, h), JET_errInvalidParameter);
    ++databases;
  }
  EXPECT_TRUE(databases >= 1);

  info.cbSize = 1;
  EXPECT_ERR(JetGetLogInfoInstance2(inst, NULL, 0, &cb, &info),
             JET_errInvalidParameter);
  info.cbSize = sizeof(info);
  EXPECT_ERR(JetGetLogInfoInstance2(inst, NULL, 0, &cb, &info), JET_errSuccess);
  EXPECT_TRUE(info.ulGenLow >= 1 && info.ulGenLow <= info.ulGenHigh);
  EXPECT_TRUE(strcmp(info.szBaseName, "E00") == 0);
  free(names);
  names = calloc(1, cb);
  EXPECT_ERR(JetGetLogInfoInstance(inst, names, cb, &cb_small), JET_errSuccess);
  for (name = names; *name != '\0'; name += strlen(name) + 1) {
    EXPECT_ERR(JetOpenFileInstance(inst, name, &h, &lo, &hi), JET_errSuccess);
    EXPECT_ERR(JetReadFileInstance(inst, h, buffer, PAGE, &got),
               JET_errInvalidParameter); /* a log's first read: >= 2 pages */
    EXPECT_TRUE(ReadAll(inst, h, buffer, NULL) ==
                (long long)(((unsigned long long)hi << 32) | lo));
    EXPECT_ERR(JetCloseFileInstance(inst, h), JET_errSuccess);
    ++logs;
  }
  EXPECT_TRUE(logs == (int)(info.ulGenHigh - info.ulGenLow + 1));
  EXPECT_ERR(JetGetTruncateLogInfoInstance(inst, NULL, 0, &cb), JET_errSuccess);
  EXPECT_TRUE(cb >= 1);
  EXPECT_ERR(JetTruncateLogInstance(inst), JET_errSuccess);
  EXPECT_ERR(JetEndExternalBackupInstance2(inst, 0), JET_errInvalidParameter);
  EXPECT_ERR(JetEndExternalBackupInstance2(
                 inst, JET_bitBackupEndNormal | JET_bitBackupEndAbort),
             JET_errInvalidParameter);
  EXPECT_ERR(JetEndExternalBackupInstance(inst), JET_errSuccess);
  EXPECT_ERR(JetGetAttachInfoInstance(inst, NULL, 0, &cb), JET_errNoBackup);

  /* A stop: streaming calls get -801 with the reason, Close and End work. */
  EXPECT_ERR(JetBeginExternalBackupInstance(inst, 0), JET_errSuccess);
  free(names);
  EXPECT_ERR(JetGetAttachInfoInstance(inst, NULL, 0, &cb), JET_errSuccess);
  names = calloc(1, cb);
  EXPECT_ERR(JetGetAttachInfoInstance(inst, names, cb, &cb), JET_errSuccess);
  EXPECT_ERR(JetOpenFileInstance(inst, names, &h, &lo, &hi), JET_errSuccess);
  EXPECT_ERR(JetStopBackupInstance(inst), JET_errSuccess);
  EXPECT_ERR(JetReadFileInstance(inst, h, buffer, BUFFER_SIZE, &got),
             JET_errBackupAbortByServer);
  EXPECT_ERR(JetGetLastStopReason(inst, reason, sizeof(reason), initiator,
                                  sizeof(initiator)),
             JET_errSuccess);
  EXPECT_TRUE(strcmp(reason, "JetStopBackupInstance") == 0);
  EXPECT_TRUE(initiator[0] != '\0');
  EXPECT_ERR(JetGetLogInfoInstance(inst, NULL, 0, &cb),
             JET_errBackupAbortByServer);
  EXPECT_ERR(JetCloseFileInstance(inst, h), JET_errSuccess);
  EXPECT_ERR(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort),
             JET_errSuccess);
  EXPECT_ERR(JetBeginExternalBackupInstance(inst, 0), JET_errSuccess);
  EXPECT_ERR(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort),
             JET_errSuccess);

  EXPECT_ERR(JetDisconnectInstance(inst), JET_errSuccess);
  free(names);
  free(buffer);
  return 0;

fail:
  if (inst != 0) JetDisconnectInstance(inst);
  free(names);
  free(buffer);
  return 1;
}
