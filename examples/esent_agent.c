/* esent_agent: a complete ESE-style streaming backup agent in plain C, built
 * from the installed package:
 *
 *   cc esent_agent.c $(pkg-config --cflags --libs jetback-esent) -o agent
 *   ./agent unix:/run/jetback/jetbackd.sock demo /backups/demo-full
 *
 * It writes every database and log the backup lists into OUTDIR under its
 * file name: the set `jetback restore OUTDIR --to TARGET` accepts. Options:
 * --incremental (logs only), --no-truncate (a copy backup: logs are kept).
 * Exit: 0 done, 2 stopped by the host (-801: the reason is printed), 3
 * interrupted (SIGINT / SIGTERM: the backup is ended as aborted), 1 other
 * errors (the JET_ERR is printed). */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jetback/esent.h"

static volatile sig_atomic_t g_interrupted = 0;
static void OnSignal(int sig) {
  (void)sig;
  g_interrupted = 1;
}

/* "stopped" (2) for -801, else 1; prints what failed. */
static int Fail(JET_INSTANCE inst, const char* call, JET_ERR err) {
  if (err == JET_errBackupAbortByServer) {
    char reason[512], initiator[256];
    JetGetLastStopReason(inst, reason, sizeof(reason), initiator,
                         sizeof(initiator));
    fprintf(stderr, "esent_agent: %s: backup stopped by %s: %s (-801)\n", call,
            initiator, reason);
    return 2;
  }
  fprintf(stderr, "esent_agent: %s failed: JET_ERR %ld\n", call, (long)err);
  return 1;
}

static const char* BaseName(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

/* Streams one listed file into OUTDIR/<its name>; 0 or an exit code. */
static int CopyFile(JET_INSTANCE inst, const char* name, const char* outdir,
                    char* buffer, unsigned long cb_buffer,
                    unsigned long long* bytes) {
  JET_HANDLE h;
  unsigned long low = 0, high = 0, got = 0;
  unsigned long long size, done = 0;
  char path[4096];
  FILE* out;
  JET_ERR err = JetOpenFileInstance(inst, name, &h, &low, &high);
  if (err != JET_errSuccess) return Fail(inst, "JetOpenFileInstance", err);
  size = ((unsigned long long)high << 32) | low;
  snprintf(path, sizeof(path), "%s/%s", outdir, BaseName(name));
  out = fopen(path, "wb");
  if (out == NULL) {
    fprintf(stderr, "esent_agent: %s: %s\n", path, strerror(errno));
    JetCloseFileInstance(inst, h);
    return 1;
  }
  for (;;) {
    if (g_interrupted) {
      fclose(out);
      JetCloseFileInstance(inst, h);
      return 3;
    }
    err = JetReadFileInstance(inst, h, buffer, cb_buffer, &got);
    if (err != JET_errSuccess) {
      fclose(out);
      return Fail(inst, "JetReadFileInstance", err);
    }
    if (got == 0) break;
    if (fwrite(buffer, 1, got, out) != got) {
      fprintf(stderr, "esent_agent: %s: write failed\n", path);
      fclose(out);
      JetCloseFileInstance(inst, h);
      return 1;
    }
    done += got;
  }
  if (fflush(out) != 0 || fclose(out) != 0 || done != size) {
    fprintf(stderr, "esent_agent: %s: %llu of %llu bytes\n", path, done, size);
    JetCloseFileInstance(inst, h);
    return 1;
  }
  err = JetCloseFileInstance(inst, h);
  if (err != JET_errSuccess) return Fail(inst, "JetCloseFileInstance", err);
  printf("%s %llu\n", BaseName(name), size);
  *bytes += size;
  return 0;
}

/* Fetches a multi-string list (attach info or log info) into *list. */
static JET_ERR GetList(JET_INSTANCE inst, int logs, char** list) {
  unsigned long need = 0;
  JET_ERR err = logs ? JetGetLogInfoInstance(inst, NULL, 0, &need)
                     : JetGetAttachInfoInstance(inst, NULL, 0, &need);
  if (err != JET_errSuccess) return err;
  *list = calloc(1, need);
  if (*list == NULL) return JET_errOutOfMemory;
  return logs ? JetGetLogInfoInstance(inst, *list, need, &need)
              : JetGetAttachInfoInstance(inst, *list, need, &need);
}

static int Backup(JET_INSTANCE inst, const char* outdir, int incremental,
                  int truncate) {
  char* list = NULL;
  char* buffer = NULL;
  const char* name;
  unsigned long page_size = 4096, cb_buffer;
  unsigned long long bytes = 0;
  int rc = 0, files = 0;
  JET_ERR err = JetBeginExternalBackupInstance(
      inst, incremental ? JET_bitBackupIncremental : 0);
  if (err != JET_errSuccess)
    return Fail(inst, "JetBeginExternalBackupInstance", err);

  if (!incremental) {
    err = GetList(inst, 0, &list);
    if (err != JET_errSuccess) {
      rc = Fail(inst, "JetGetAttachInfoInstance", err);
      goto end;
    }
    /* The buffer: 16 of the largest page size among the databases, so the
     * first read holds the headers whatever the page size. */
    for (name = list; *name != '\0'; name += strlen(name) + 1) {
      unsigned long p = 0;
      err = JetGetDatabaseFileInfoInstance(inst, name, &p, sizeof(p),
                                           JET_DbInfoPageSize);
      if (err != JET_errSuccess) {
        rc = Fail(inst, "JetGetDatabaseFileInfoInstance", err);
        goto end;
      }
      if (p > page_size) page_size = p;
    }
  }
  cb_buffer = 16 * page_size;
  buffer = aligned_alloc(4096, cb_buffer);
  if (buffer == NULL) {
    rc = 1;
    goto end;
  }
  if (list != NULL) {
    for (name = list; *name != '\0' && rc == 0; name += strlen(name) + 1) {
      rc = CopyFile(inst, name, outdir, buffer, cb_buffer, &bytes);
      ++files;
    }
    free(list);
    list = NULL;
    if (rc != 0) goto end;
  }
  err = GetList(inst, 1, &list);
  if (err != JET_errSuccess) {
    rc = Fail(inst, "JetGetLogInfoInstance", err);
    goto end;
  }
  for (name = list; *name != '\0' && rc == 0; name += strlen(name) + 1) {
    rc = CopyFile(inst, name, outdir, buffer, cb_buffer, &bytes);
    ++files;
  }
  if (rc == 0 && truncate) {
    err = JetTruncateLogInstance(inst);
    if (err != JET_errSuccess) rc = Fail(inst, "JetTruncateLogInstance", err);
  }
end:
  free(list);
  free(buffer);
  /* End is allowed after a stop and after an error; it records the backup
   * as aborted unless everything above succeeded. */
  err = JetEndExternalBackupInstance2(
      inst, rc == 0 ? JET_bitBackupEndNormal : JET_bitBackupEndAbort);
  if (err != JET_errSuccess && rc == 0)
    rc = Fail(inst, "JetEndExternalBackupInstance2", err);
  if (rc == 0) printf("done: %d files, %llu bytes\n", files, bytes);
  if (rc == 3) fprintf(stderr, "esent_agent: interrupted; backup aborted\n");
  return rc;
}

int main(int argc, char** argv) {
  int incremental = 0, truncate = 1, i, rc;
  JET_INSTANCE inst;
  JET_ERR err;
  struct sigaction action;
  if (argc < 4) {
    fprintf(stderr,
            "usage: %s SERVER INSTANCE OUTDIR [--incremental] "
            "[--no-truncate]\n",
            argv[0]);
    return 1;
  }
  for (i = 4; i < argc; ++i) {
    if (strcmp(argv[i], "--incremental") == 0) {
      incremental = 1;
    } else if (strcmp(argv[i], "--no-truncate") == 0) {
      truncate = 0;
    } else {
      fprintf(stderr, "esent_agent: unknown option %s\n", argv[i]);
      return 1;
    }
  }
  memset(&action, 0, sizeof(action));
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);

  err = JetConnectInstance(argv[1], argv[2], &inst);
  if (err != JET_errSuccess) {
    fprintf(stderr, "esent_agent: JetConnectInstance(%s, %s): JET_ERR %ld\n",
            argv[1], argv[2], (long)err);
    return 1;
  }
  rc = Backup(inst, argv[3], incremental, truncate);
  JetDisconnectInstance(inst);
  return rc;
}
