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

/* JetGetDatabaseFileInfoInstance levels, values as ESE's. */
#define JET_DbInfoFilesize 10
#define JET_DbInfoPageSize 17

/* ---- Errors every call below can return ---------------------------------
 * -1003 JET_errInvalidParameter      an invalid JET_INSTANCE, a NULL output
 *                                    pointer, an argument out of range
 * -1090 JET_errInstanceUnavailable   the daemon is unreachable or the
 *                                    connection broke beyond the library's
 *                                    reconnect window
 * -1907 JET_errAccessDenied          the caller's principal lacks the role
 *                                    (read for backup calls, stop for stops)
 * -1329 JET_errClientRequestToStopJetService  after JetStopServiceInstance
 *                                    (not JetStopBackup*, which still work)
 * Besides these, each function lists what it adds, in the order checked.
 *
 * Several handles and agents: a backup belongs to the handle that began it
 * (its id never leaves that handle). On the same daemon instance a second
 * handle (or another agent) gets -505 from Begin while the backup runs and
 * -520 from every other backup call, since it has no backup of its own;
 * JetStopBackupInstance from any handle stops the instance's backup and its
 * owner's next call gets -801. End on the owning handle ends it. */

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

/* JetStopBackupInstance with the reason every agent's -801 will carry (at
 * most 1024 bytes, no control characters: -1003). NULL or "": the reason
 * "JetStopBackupInstance". Same results as JetStopBackupInstance. */
JET_ERR JetStopBackupInstanceWithReason(JET_INSTANCE instance,
                                        const char* reason);

/* ESE's JetGetDatabaseFileInfo for a database of the connected instance,
 * named by its path as GetAttachInfo lists it (or its name on the daemon):
 * JET_DbInfoPageSize writes an unsigned long (the page size every read of
 * that database is a multiple of), JET_DbInfoFilesize an unsigned long long
 * (bytes on the daemon's disk). Needs no backup. -1003 for another level or
 * cbMax too small; -1811 JET_errFileNotFound when the instance has no such
 * database attached. */
JET_ERR JetGetDatabaseFileInfoInstance(JET_INSTANCE instance,
                                       JET_PCSTR szDatabaseName,
                                       void* pvResult, unsigned long cbMax,
                                       unsigned long InfoLevel);

/* ---- ESE streaming backup ---------------------------------------------- */

/* -900 grbit outside {0, Incremental}; -505 a backup already runs on the
 * instance (begun by any handle or agent); -516 logging off; -526
 * incremental with circular logging; -560 incremental before a full backup
 * of every database; -523 the instance is not ready. Clears the stop. */
JET_ERR JetBeginExternalBackupInstance(JET_INSTANCE instance, JET_GRBIT grbit);

/* -520 no backup begun through this handle; -801 stopped; -521 during an
 * incremental backup. */
JET_ERR JetGetAttachInfoInstance(JET_INSTANCE instance, JET_PSTR szzDatabases,
                                 unsigned long cbMax, unsigned long* pcbActual);

/* The whole file's size in two halves; *phfFile is 0 (one slot).
 * -520; -801; -1003 NULL or empty name, or a log name that is not one this
 * backup listed; -1011 a file is already open; -1203 not an attached
 * database (database phase; the backup goes on); -521 a database after the
 * log phase began or in an incremental (ends the backup); -569 a listed log
 * that is gone (ends the backup). */
JET_ERR JetOpenFileInstance(JET_INSTANCE instance, JET_PCSTR szFileName,
                            JET_HANDLE* phfFile, unsigned long* pulFileSizeLow,
                            unsigned long* pulFileSizeHigh);

/* Opens a file to resume it at byte `ibRead` (0, or a multiple of the page
 * size at least three pages in: the header copies are not sent again), for
 * an agent whose earlier read broke off. iSection and cSections are accepted
 * and not used (as ESE). The size returned is the whole file's. Results as
 * JetOpenFileInstance, plus -1003 for a bad ibRead or one beyond the end. */
JET_ERR JetOpenFileSectionInstance(JET_INSTANCE instance, JET_PSTR szFile,
                                   JET_HANDLE* phFile, long iSection,
                                   long cSections, unsigned long long ibRead,
                                   unsigned long* pulSectionSizeLow,
                                   long* plSectionSizeHigh);

/* -520; -801 (also once the file was read to its end: a stop is never
 * hidden behind a local end-of-file); -1003 handle not open, pv not aligned
 * to 4096, cb not a multiple of the page size or a first read too short;
 * -1018 / -1019 / -1119 a damaged database page (that database leaves the
 * backup and its handle is closed; the backup goes on); -612 a damaged log
 * (ends the backup). Data errors from the transport's own checks are
 * -1018 too. */
JET_ERR JetReadFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile, void* pv,
                            unsigned long cb, unsigned long* pcbActual);

/* -520; -1003 handle not open. Not refused after a stop (as ESE). */
JET_ERR JetCloseFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile);

/* -520; -801; -521 a file is open; -1811 / -569 a log of the range is
 * missing (the backup stays; end it with JET_bitBackupEndAbort). */
JET_ERR JetGetLogInfoInstance(JET_INSTANCE instance, JET_PSTR szzLogs,
                              unsigned long cbMax, unsigned long* pcbActual);

/* As JetGetLogInfoInstance; pLogInfo (cbSize set by the caller, else -1003)
 * receives the generation range and base name. */
JET_ERR JetGetLogInfoInstance2(JET_INSTANCE instance, JET_PSTR szzLogs,
                               unsigned long cbMax, unsigned long* pcbActual,
                               JET_LOGINFO* pLogInfo);

/* As JetGetLogInfoInstance, listing the generations TruncateLog deletes. */
JET_ERR JetGetTruncateLogInfoInstance(JET_INSTANCE instance, JET_PSTR szzLogs,
                                      unsigned long cbMax,
                                      unsigned long* pcbActual);

/* -520; -801; -521 a file is open or the logs were not listed yet; -616 not
 * every listed log was read to its end. */
JET_ERR JetTruncateLogInstance(JET_INSTANCE instance);

/* = JetEndExternalBackupInstance2(instance, JET_bitBackupEndNormal). */
JET_ERR JetEndExternalBackupInstance(JET_INSTANCE instance);
/* -1003 grbit not exactly one of EndNormal and EndAbort (checked first, even
 * with no backup); -520 no backup. Otherwise 0: the backup has ended, as a
 * success only for EndNormal after the log phase with no stop (a stopped
 * backup ends with 0 and is recorded as aborted, as ESE). */
JET_ERR JetEndExternalBackupInstance2(JET_INSTANCE instance, JET_GRBIT grbit);

/* Sets the instance's stop: from then on its backup's streaming calls fail
 * with -801 (reason "JetStopBackupInstance") until End. 0 also with no
 * backup running (which it does not affect). -1907 without the stop role. */
JET_ERR JetStopBackupInstance(JET_INSTANCE instance);

/* Legacy process-wide form: acts on the daemon of the oldest instance handle
 * still connected (the default socket when none) with no instance name, so
 * the daemon answers -1081 when it hosts several instances. */
JET_ERR JetStopBackup(void);

/* -900 an unknown grbit or StopAndEmitLog combined. JET_bitStopServiceAll
 * (or JetStopServiceInstance) makes every later call on the instance -1329,
 * End included, and cannot be resumed (as ESE). */
JET_ERR JetStopServiceInstance(JET_INSTANCE instance);
JET_ERR JetStopServiceInstance2(JET_INSTANCE instance, JET_GRBIT grbit);

/* ---- ESE offline restore ---- */

/* Restores a backup set offline, through the same code as `jetback
 * restore` (client/ese_set.h over the engine's Restore): every log of the
 * range and every page of every database is checked first, nothing is
 * replaced unless the whole restore succeeded, and the backup log
 * directory is only ever read. There is no running instance to restore
 * into: the restored databases come out cleanly shut down, so no logs or
 * checkpoint are left behind for them (an instance attaches them with a
 * log directory of its own). Errors of the set, in ESE's order (logs
 * first, then each database): -1811 a log of the range missing (or none
 * at all), -555 a log of another log set, -556 logs not chained, -501 a
 * damaged log, -1206 not a database, -615 a database that was never
 * streamed, -535 its trailer (last) page damaged, -552 a trailer of
 * another backup, -1018 a damaged page, -554 a database needs logs below
 * genLow, -553 above genHigh. -1022 / -1808 for I/O. Not thread-safe
 * against another restore into the same paths. */

typedef JET_API_PTR JET_SESID;
typedef unsigned long JET_SNP;
typedef unsigned long JET_SNT;

#define JET_snpRestore 8
#define JET_sntProgress 0
#define JET_sntBegin 5
#define JET_sntComplete 6

/* pv of a JET_sntProgress call: cunitDone of cunitTotal generations. */
typedef struct {
  unsigned long cbStruct; /* sizeof(JET_SNPROG) */
  unsigned long cunitDone;
  unsigned long cunitTotal;
} JET_SNPROG;

/* Progress of a restore: (0, JET_snpRestore, JET_sntBegin, NULL) once the
 * arguments are accepted, one JET_sntProgress per generation replayed,
 * then JET_sntComplete on success only. Called on the restoring thread;
 * its return value is ignored. */
typedef JET_ERR (*JET_PFNSTATUS)(JET_SESID sesid, JET_SNP snp, JET_SNT snt,
                                 void* pv);

typedef struct {
  JET_PSTR szDatabaseName;    /* path recorded in the logs (not used) */
  JET_PSTR szNewDatabaseName; /* where the streamed database file lies */
} JET_RSTMAP_A;
typedef JET_RSTMAP_A JET_RSTMAP;

/* ESE's external restore. Inputs: the logs genLow..genHigh in
 * szBackupLogPath (pLogInfo: cbSize must be sizeof(JET_LOGINFO); a 0
 * generation means the lowest / highest present there; an empty
 * szBaseName means the one the logs carry) and the streamed database files
 * at each rgrstmap[i].szNewDatabaseName.
 * What lands where: each szNewDatabaseName is replaced, in place as in
 * ESE, by its restored database (atomically, once the whole restore
 * succeeded; until then the streamed file is untouched). With crstfilemap
 * 0, every streamed database in szBackupLogPath is restored to
 * szLogPath/<file name> instead, since the backup directory is never
 * modified. The work is staged in szLogPath/.jetback-restore.XXXXXX
 * (created, then removed); szCheckpointFilePath (may be NULL) is created
 * when missing and receives nothing.
 * Errors, besides the set's above: -1003 pLogInfo NULL or a wrong cbSize,
 * a bad base name, genLow above genHigh, crstfilemap outside 0..14 or rgrstmap
 * NULL with a non-zero count, a NULL or empty szLogPath / szBackupLogPath /
 * szNewDatabaseName, a map entry inside szBackupLogPath (or, with no map,
 * szLogPath the same directory as szBackupLogPath), two entries with
 * one file name, only one of szTargetInstanceLogPath /
 * szTargetInstanceCheckpointPath, or szTargetInstanceName together with
 * them; -577 szTargetInstanceName alone (jetback has no running instance
 * in this process to restore into); -1032 a destination belongs to a
 * running instance. The two target paths, when both given, are accepted
 * and unused: jetback replays exactly genLow..genHigh and does not roll
 * forward through a target's own logs. */
JET_ERR JetExternalRestore2(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath,
                            JET_RSTMAP_A* rgrstmap, long crstfilemap,
                            JET_PSTR szBackupLogPath, JET_LOGINFO* pLogInfo,
                            JET_PSTR szTargetInstanceName,
                            JET_PSTR szTargetInstanceLogPath,
                            JET_PSTR szTargetInstanceCheckpointPath,
                            JET_PFNSTATUS pfn);

/* = JetExternalRestore2 with pLogInfo {genLow, genHigh, the base name the
 * logs carry} and no target instance. Same results; -1003 for a negative
 * generation. */
JET_ERR JetExternalRestore(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath,
                           JET_RSTMAP_A* rgrstmap, long crstfilemap,
                           JET_PSTR szBackupLogPath, long genLow, long genHigh,
                           JET_PFNSTATUS pfn);

/* ESE's restore of a backup directory, here a set as an ESE agent streams
 * it (databases + logs in sz; no *.pat markers needed): every log present,
 * every database in sz, restored to szDest/<file name> (created when
 * missing; an existing file of that name is replaced atomically once the
 * whole restore succeeded). instance must be 0 or JET_instanceNil: a
 * connected JET_INSTANCE is a running daemon-hosted instance, which this
 * offline restore cannot restore into (-1003). Errors, besides the set's
 * above: -1003 that, sz / szDest NULL or empty (jetback never restores
 * over the paths recorded in the database headers) or the same directory;
 * -1032 szDest belongs to a running instance. */
JET_ERR JetRestoreInstance(JET_INSTANCE instance, JET_PCSTR sz,
                           JET_PCSTR szDest, JET_PFNSTATUS pfn);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* JETBACK_ESENT_H_ */
