/* File: jetback/esent.h
 *
 * ESE-style C API for streaming backup over jetbackd. Same names, argument
 * lists and results as ESE's esent.h for the backup calls, so ESE-era agent
 * code ports by relinking; plus JetConnectInstance / JetDisconnectInstance,
 * which bind a JET_INSTANCE to a daemon and a hosted instance name.
 *
 * Rules (as ESE):
 * - Every call returns a JET_ERR: 0 success, negative an error number from
 *   the one JET_ERR table (jetback/jet_err_table.inc).
 * - Multi-strings (GetAttachInfo, GetLogInfo, GetTruncateLogInfo) are each
 *   NUL-terminated plus one final NUL. *pcbActual (if not NULL) always
 *   receives the full size; at most cbMax bytes are copied, silently
 *   truncated. The buffer may be NULL with cbMax 0 to ask for the size.
 * - JetReadFileInstance: pv aligned to 4096 bytes, cb a multiple of the page
 *   size, a database's first read >= 3 pages, a log's >= 2 pages (-1003
 *   otherwise). Reads are sequential; 0 bytes means the end of the file.
 * - Output parameters are written only on success. Strings passed in are
 *   copied; the caller keeps ownership of every buffer.
 * - A JET_INSTANCE may be used by one thread at a time; different instances
 *   are independent.
 */
#ifndef JETBACK_ESENT_H_
#define JETBACK_ESENT_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef long JET_ERR;
typedef uintptr_t JET_API_PTR;
typedef JET_API_PTR JET_INSTANCE;
typedef JET_API_PTR JET_HANDLE;
typedef unsigned long JET_GRBIT;
typedef char* JET_PSTR;
typedef const char* JET_PCSTR;

#define JET_instanceNil (~(JET_INSTANCE)0)
#define JET_handleNil (~(JET_HANDLE)0)

/* JET_ERR values, built from the one table (no second list). */
enum {
#define JET_ERR_ENTRY(sym, val, code, desc) sym = (val),
#include "jetback/jet_err_table.inc"
#undef JET_ERR_ENTRY
  JET_errJetbackTableEnd_ = 0
};

/* Grbits, values as ESE's. */
#define JET_bitBackupIncremental 0x00000001
#define JET_bitBackupAtomic 0x00000004
#define JET_bitBackupSnapshot 0x00000010
#define JET_bitBackupEndNormal 0x0001
#define JET_bitBackupEndAbort 0x0002
#define JET_bitBackupTruncateDone 0x0100
#define JET_bitStopServiceAll 0x00000000
#define JET_bitStopServiceBackgroundUserTasks 0x00000002
#define JET_bitStopServiceQuiesceCaches 0x00000004
#define JET_bitStopServiceStopAndEmitLog 0x00000008
#define JET_bitStopServiceResume 0x80000000

#define JET_BASE_NAME_LENGTH 3

typedef struct {
  unsigned long cbSize; /* must be sizeof(JET_LOGINFO_A) */
  unsigned long ulGenLow;
  unsigned long ulGenHigh;
  char szBaseName[JET_BASE_NAME_LENGTH + 1];
} JET_LOGINFO_A;
typedef JET_LOGINFO_A JET_LOGINFO;

/* ---- jetback extensions ------------------------------------------------ */

/* Binds a new JET_INSTANCE to `instance_name` on the daemon at `server`
 * ("unix:PATH" or "tcp:HOST:PORT"; NULL: the default socket). Checks that
 * the daemon answers and hosts the instance: -1090 unreachable, -1003
 * unknown instance or bad arguments. Release with JetDisconnectInstance. */
JET_ERR JetConnectInstance(const char* server, const char* instance_name,
                           JET_INSTANCE* pinstance);

/* Frees the instance handle (does not end a running backup). -1003 for an
 * invalid handle. */
JET_ERR JetDisconnectInstance(JET_INSTANCE instance);

/* The reason and initiator of the last -801 seen on `instance` (empty
 * strings when none), NUL-terminated and truncated to the buffer sizes. */
JET_ERR JetGetLastStopReason(JET_INSTANCE instance, char* reason,
                             unsigned long cbReason, char* initiator,
                             unsigned long cbInitiator);

/* ---- ESE streaming backup ---------------------------------------------- */

JET_ERR JetBeginExternalBackupInstance(JET_INSTANCE instance, JET_GRBIT grbit);

JET_ERR JetGetAttachInfoInstance(JET_INSTANCE instance, JET_PSTR szzDatabases,
                                 unsigned long cbMax, unsigned long* pcbActual);

/* The whole file's size in two halves; *phfFile is 0 (one slot). */
JET_ERR JetOpenFileInstance(JET_INSTANCE instance, JET_PCSTR szFileName,
                            JET_HANDLE* phfFile, unsigned long* pulFileSizeLow,
                            unsigned long* pulFileSizeHigh);

JET_ERR JetReadFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile, void* pv,
                            unsigned long cb, unsigned long* pcbActual);

JET_ERR JetCloseFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile);

JET_ERR JetGetLogInfoInstance(JET_INSTANCE instance, JET_PSTR szzLogs,
                              unsigned long cbMax, unsigned long* pcbActual);

/* As JetGetLogInfoInstance; pLogInfo (cbSize set by the caller, else -1003)
 * receives the generation range and base name. */
JET_ERR JetGetLogInfoInstance2(JET_INSTANCE instance, JET_PSTR szzLogs,
                               unsigned long cbMax, unsigned long* pcbActual,
                               JET_LOGINFO* pLogInfo);

JET_ERR JetGetTruncateLogInfoInstance(JET_INSTANCE instance, JET_PSTR szzLogs,
                                      unsigned long cbMax,
                                      unsigned long* pcbActual);

JET_ERR JetTruncateLogInstance(JET_INSTANCE instance);

/* = JetEndExternalBackupInstance2(instance, JET_bitBackupEndNormal). */
JET_ERR JetEndExternalBackupInstance(JET_INSTANCE instance);
JET_ERR JetEndExternalBackupInstance2(JET_INSTANCE instance, JET_GRBIT grbit);

JET_ERR JetStopBackupInstance(JET_INSTANCE instance);

/* Legacy process-wide form: acts on the daemon of the first connected
 * instance (the default socket when none) with no instance name, so the
 * daemon answers -1081 when it hosts several instances. */
JET_ERR JetStopBackup(void);

JET_ERR JetStopServiceInstance(JET_INSTANCE instance);
JET_ERR JetStopServiceInstance2(JET_INSTANCE instance, JET_GRBIT grbit);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* JETBACK_ESENT_H_ */
