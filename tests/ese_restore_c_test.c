/* The ESE offline restore entry points of jetback/esent.h used from C: the
 * header's restore block (JET_PFNSTATUS, JET_SNPROG, JET_RSTMAP_A) must
 * compile as C, and a C callback sees begin, progress and complete. */

#include "tests/ese_restore_c_test.h"

#include <stdio.h>
#include <string.h>

#include "jetback/esent.h"

static int g_begin, g_progress, g_complete, g_bad_progress;

static JET_ERR OnStatus(JET_SESID sesid, JET_SNP snp, JET_SNT snt, void* pv) {
  const JET_SNPROG* prog = (const JET_SNPROG*)pv;
  (void)sesid;
  if (snp != JET_snpRestore) return JET_errSuccess;
  if (snt == JET_sntBegin) ++g_begin;
  if (snt == JET_sntComplete) ++g_complete;
  if (snt == JET_sntProgress) {
    ++g_progress;
    if (prog == NULL || prog->cbStruct != sizeof(JET_SNPROG) ||
        prog->cunitDone > prog->cunitTotal || prog->cunitDone == 0) {
      ++g_bad_progress;
    }
  }
  return JET_errSuccess;
}

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      snprintf(message, cb_message, "%s:%d: expected %s", __FILE__, __LINE__, \
               #cond);                                                        \
      return 1;                                                               \
    }                                                                         \
  } while (0)

int RunCRestore(const char* set_dir, const char* dest_dir, char* message,
                unsigned long cb_message) {
  JET_RSTMAP_A map[1];
  JET_ERR err;
  message[0] = '\0';
  g_begin = g_progress = g_complete = g_bad_progress = 0;
  map[0].szDatabaseName = NULL;
  map[0].szNewDatabaseName = NULL;
  CHECK(JetExternalRestore(NULL, "x", map, 1, (JET_PSTR)set_dir, 0, 0,
                           OnStatus) == JET_errInvalidParameter);
  CHECK(JetRestoreInstance(1, set_dir, dest_dir, NULL) ==
        JET_errInvalidParameter);
  CHECK(g_begin == 0); /* refused arguments start nothing */
  err = JetRestoreInstance(JET_instanceNil, set_dir, dest_dir, OnStatus);
  if (err != JET_errSuccess) {
    snprintf(message, cb_message, "JetRestoreInstance returned %ld", (long)err);
    return 1;
  }
  CHECK(g_begin == 1 && g_complete == 1);
  CHECK(g_progress >= 1 && g_bad_progress == 0);
  return 0;
}
