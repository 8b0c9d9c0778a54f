// The ESE-style C API (jetback/esent.h) over the C++ client. A JET_INSTANCE
// is a pointer to an InstanceState: the channel, the running backup's id and
// the open file's read cursor, which turns ESE's sequential, buffer-based
// JetReadFileInstance into gRPC reads by offset.

#include "jetback/esent.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "jetback/client.h"
#include "jetback/mutex.h"

namespace jetback {
namespace {

constexpr uintptr_t kBufferAlignment = 4096;

struct OpenFileState {
  bool open = false;
  JET_HANDLE handle = 0;
  bool is_log = false;
  uint64_t size = 0;
  uint32_t page_size = 0;
  uint64_t cursor = 0;  // next byte JetReadFileInstance returns
};

struct InstanceState {
  std::unique_ptr<Client> client;
  BackupRef backup;  // backup_id empty: no backup begun through this handle
  OpenFileState file;
  std::string stop_reason, stop_initiator;
};

struct Registry {
  jetback::Mutex mu;
  // In connection order: JetStopBackup() acts on the daemon of the oldest
  // handle still connected.
  std::vector<InstanceState*> live ABSL_GUARDED_BY(mu);
};

Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

InstanceState* Lookup(JET_INSTANCE instance) {
  auto* state = reinterpret_cast<InstanceState*>(instance);
  Registry& r = registry();
  jetback::MutexLock lock(&r.mu);
  return std::find(r.live.begin(), r.live.end(), state) != r.live.end()
             ? state
             : nullptr;
}

// The one place a status becomes a C JET_ERR; remembers a stop's reason.
JET_ERR Result(InstanceState* state, const absl::Status& status) {
  const JetErr err = JetErrOf(status);
  if (state != nullptr && err == jet::JET_errBackupAbortByServer) {
    state->stop_reason = JetReasonOf(status);
    state->stop_initiator = JetInitiatorOf(status);
  }
  return err;
}

// ESE multi-string: each NUL-terminated plus one final NUL; full size
// always reported, copy silently truncated to cbMax.
void PutMultiString(const std::vector<std::string>& items, char* buffer,
                    unsigned long cb_max, unsigned long* pcb_actual) {
  std::string multi;
  for (const std::string& item : items) {
    multi.append(item);
    multi.push_back('\0');
  }
  multi.push_back('\0');
  if (buffer != nullptr && cb_max > 0) {
    std::memcpy(buffer, multi.data(), std::min<size_t>(cb_max, multi.size()));
  }
  if (pcb_actual != nullptr) *pcb_actual = multi.size();
}

void ForgetBackup(InstanceState* state) {
  state->backup.backup_id.clear();
  state->file = OpenFileState();
}

void CopyTruncated(const std::string& from, char* to, unsigned long cb) {
  if (to == nullptr || cb == 0) return;
  const size_t n = std::min<size_t>(from.size(), cb - 1);
  std::memcpy(to, from.data(), n);
  to[n] = '\0';
}

JET_ERR LogInfoCall(JET_INSTANCE instance, bool truncate_info, char* szz,
                    unsigned long cb_max, unsigned long* pcb_actual,
                    JET_LOGINFO* info) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  if (info != nullptr && info->cbSize != sizeof(JET_LOGINFO)) {
    return jet::JET_errInvalidParameter;
  }
  absl::StatusOr<v1::LogInfo> logs =
      truncate_info ? state->client->GetTruncateLogInfo(state->backup)
                    : state->client->GetLogInfo(state->backup);
  if (!logs.ok()) return Result(state, logs.status());
  PutMultiString({logs->files().begin(), logs->files().end()}, szz, cb_max,
                 pcb_actual);
  if (info != nullptr) {
    info->ulGenLow = logs->gen_low();
    info->ulGenHigh = logs->gen_high();
    std::memset(info->szBaseName, 0, sizeof(info->szBaseName));
    std::memcpy(
        info->szBaseName, logs->base_name().data(),
        std::min<size_t>(logs->base_name().size(), JET_BASE_NAME_LENGTH));
  }
  return jet::JET_errSuccess;
}

// Opens `name` with the read cursor at `offset` (the daemon checks the
// offset: a page multiple, 0 or at least three pages in).
JET_ERR OpenAt(InstanceState* state, const char* name, uint64_t offset,
               JET_HANDLE* handle, uint64_t* size) {
  // A NULL name goes to the daemon as "", so its checks (-520 before -1003)
  // keep their order.
  auto opened = state->client->OpenFile(state->backup,
                                        name == nullptr ? "" : name, offset);
  if (!opened.ok()) {
    const JET_ERR err = Result(state, opened.status());
    // These end the backup on the daemon (ese-semantics.md 2.3).
    if (err == jet::JET_errInvalidBackupSequence ||
        err == jet::JET_errMissingFileToBackup) {
      state->file = OpenFileState();
    }
    return err;
  }
  OpenFileState& file = state->file;
  file.open = true;
  file.handle = opened->handle();
  file.is_log = opened->is_log();
  file.size = opened->size();
  file.page_size = opened->page_size();
  file.cursor = offset;
  *handle = file.handle;
  *size = file.size;
  return jet::JET_errSuccess;
}

// What the daemon says about this handle's backup before the library answers
// a read locally (a bad argument, or the end of the file): ESE checks
// StopService (-1329), the backup (-520) and the stop (-801) before the
// arguments, and a stop that lands after the last byte must still reach the
// agent. A daemon read that cannot return data asks exactly that, in that
// order: at the end of the open file it succeeds with nothing; otherwise
// (offset 1, never a page multiple) it ends with -1003 once those pass.
JET_ERR CheckBackupBeforeLocalAnswer(InstanceState* state, bool at_end) {
  const OpenFileState& file = state->file;
  auto read = state->client->ReadFile(
      state->backup, static_cast<uint32_t>(file.handle), at_end ? file.size : 1,
      0, [](uint64_t, absl::string_view data) -> absl::Status {
        if (data.empty()) return absl::OkStatus();
        return JetStatus(jet::JET_errInternalError,
                         "daemon sent data for an empty read");
      });
  if (read.ok()) {
    return at_end ? jet::JET_errSuccess : jet::JET_errInvalidParameter;
  }
  return Result(state, read.status());
}

}  // namespace
}  // namespace jetback

using jetback::InstanceState;
using jetback::Lookup;
using jetback::Result;
namespace jet = jetback::jet;

extern "C" {

JET_ERR JetConnectInstance(const char* server, const char* instance_name,
                           JET_INSTANCE* pinstance) {
  if (instance_name == nullptr || *instance_name == '\0' ||
      pinstance == nullptr) {
    return jet::JET_errInvalidParameter;
  }
  jetback::ClientOptions options;
  if (server != nullptr) options.server = server;
  auto client = jetback::Client::Connect(options);
  if (!client.ok()) return Result(nullptr, client.status());
  auto instances = (*client)->ListInstances();
  if (!instances.ok()) return Result(nullptr, instances.status());
  const bool hosted = std::any_of(instances->begin(), instances->end(),
                                  [&](const jetback::v1::InstanceInfo& i) {
                                    return i.name() == instance_name;
                                  });
  if (!hosted) return jet::JET_errInvalidParameter;

  auto state = std::make_unique<InstanceState>();
  state->backup.instance = instance_name;
  state->client = std::move(*client);
  jetback::Registry& r = jetback::registry();
  {
    jetback::MutexLock lock(&r.mu);
    r.live.push_back(state.get());
  }
  *pinstance = reinterpret_cast<JET_INSTANCE>(state.release());
  return jet::JET_errSuccess;
}

JET_ERR JetDisconnectInstance(JET_INSTANCE instance) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  jetback::Registry& r = jetback::registry();
  {
    jetback::MutexLock lock(&r.mu);
    r.live.erase(std::find(r.live.begin(), r.live.end(), state));
  }
  delete state;
  return jet::JET_errSuccess;
}

JET_ERR JetGetLastStopReason(JET_INSTANCE instance, char* reason,
                             unsigned long cbReason, char* initiator,
                             unsigned long cbInitiator) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  jetback::CopyTruncated(state->stop_reason, reason, cbReason);
  jetback::CopyTruncated(state->stop_initiator, initiator, cbInitiator);
  return jet::JET_errSuccess;
}

JET_ERR JetBeginExternalBackupInstance(JET_INSTANCE instance, JET_GRBIT grbit) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  auto begun = state->client->BeginBackup(
      state->backup.instance, static_cast<uint32_t>(grbit), "jetback esent.h");
  if (!begun.ok()) return Result(state, begun.status());
  jetback::ForgetBackup(state);
  state->backup.backup_id = begun->backup_id();
  state->stop_reason.clear();
  state->stop_initiator.clear();
  return jet::JET_errSuccess;
}

JET_ERR JetGetAttachInfoInstance(JET_INSTANCE instance, JET_PSTR szzDatabases,
                                 unsigned long cbMax,
                                 unsigned long* pcbActual) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  auto databases = state->client->GetAttachInfo(state->backup);
  if (!databases.ok()) return Result(state, databases.status());
  jetback::PutMultiString(*databases, szzDatabases, cbMax, pcbActual);
  return jet::JET_errSuccess;
}

JET_ERR JetOpenFileInstance(JET_INSTANCE instance, JET_PCSTR szFileName,
                            JET_HANDLE* phfFile, unsigned long* pulFileSizeLow,
                            unsigned long* pulFileSizeHigh) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  if (phfFile == nullptr || pulFileSizeLow == nullptr ||
      pulFileSizeHigh == nullptr) {
    return jet::JET_errInvalidParameter;
  }
  uint64_t size = 0;
  const JET_ERR err = jetback::OpenAt(state, szFileName, 0, phfFile, &size);
  if (err != jet::JET_errSuccess) return err;
  *pulFileSizeLow = static_cast<unsigned long>(size & 0xffffffffu);
  *pulFileSizeHigh = static_cast<unsigned long>(size >> 32);
  return jet::JET_errSuccess;
}

JET_ERR JetOpenFileSectionInstance(JET_INSTANCE instance, JET_PSTR szFile,
                                   JET_HANDLE* phFile, long iSection,
                                   long cSections, unsigned long long ibRead,
                                   unsigned long* pulSectionSizeLow,
                                   long* plSectionSizeHigh) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  if (phFile == nullptr || pulSectionSizeLow == nullptr ||
      plSectionSizeHigh == nullptr) {
    return jet::JET_errInvalidParameter;
  }
  uint64_t size = 0;
  const JET_ERR err = jetback::OpenAt(state, szFile, ibRead, phFile, &size);
  if (err != jet::JET_errSuccess) return err;
  *pulSectionSizeLow = static_cast<unsigned long>(size & 0xffffffffu);
  *plSectionSizeHigh = static_cast<long>(size >> 32);
  return jet::JET_errSuccess;
}

JET_ERR JetReadFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile, void* pv,
                            unsigned long cb, unsigned long* pcbActual) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  if (state->backup.backup_id.empty()) return jet::JET_errNoBackup;
  jetback::OpenFileState& file = state->file;
  const uint64_t page = file.page_size;
  // The first read must hold the headers: two header copies plus a page for
  // a database, the log file header for a log.
  const bool arguments_ok =
      file.open && hfFile == file.handle && page != 0 && pv != nullptr &&
      reinterpret_cast<uintptr_t>(pv) % jetback::kBufferAlignment == 0 &&
      cb % page == 0 && cb / page != 0 &&
      (file.cursor != 0 || cb / page >= (file.is_log ? 2u : 3u));
  const uint64_t remaining = file.size - std::min(file.cursor, file.size);
  if (!arguments_ok) {
    const JET_ERR err = jetback::CheckBackupBeforeLocalAnswer(state, false);
    return err != jet::JET_errSuccess ? err : jet::JET_errInvalidParameter;
  }
  if (remaining == 0) {
    const JET_ERR err = jetback::CheckBackupBeforeLocalAnswer(state, true);
    if (err != jet::JET_errSuccess) return err;
    if (pcbActual != nullptr) *pcbActual = 0;
    return jet::JET_errSuccess;
  }
  const uint64_t want = std::min<uint64_t>(cb, remaining);
  const uint64_t start = file.cursor;
  char* out = static_cast<char*>(pv);
  auto copied = state->client->ReadFile(
      state->backup, static_cast<uint32_t>(hfFile), start,
      want == remaining ? 0 : want,
      [&](uint64_t offset, absl::string_view data) -> absl::Status {
        if (offset < start || offset - start + data.size() > want) {
          return jetback::JetStatus(jet::JET_errInternalError,
                                    "daemon sent more than was asked for");
        }
        std::memcpy(out + (offset - start), data.data(), data.size());
        return absl::OkStatus();
      });
  if (!copied.ok()) {
    const JET_ERR err = Result(state, copied.status());
    // A bad database page closes that handle on the daemon; a bad log ends
    // the backup (ese-semantics.md 2.3).
    if (err == jet::JET_errReadVerifyFailure ||
        err == jet::JET_errReadPgnoVerifyFailure ||
        err == jet::JET_errReadLostFlushVerifyFailure ||
        err == jet::JET_errLogReadVerifyFailure) {
      state->file = jetback::OpenFileState();
    }
    return err;
  }
  file.cursor += copied->bytes;
  if (pcbActual != nullptr) {
    *pcbActual = static_cast<unsigned long>(copied->bytes);
  }
  return jet::JET_errSuccess;
}

JET_ERR JetCloseFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  auto closed =
      state->client->CloseFile(state->backup, static_cast<uint32_t>(hfFile));
  if (closed.ok() || (state->file.open && hfFile == state->file.handle)) {
    state->file = jetback::OpenFileState();
  }
  if (!closed.ok()) return Result(state, closed.status());
  return jet::JET_errSuccess;
}

JET_ERR JetGetLogInfoInstance(JET_INSTANCE instance, JET_PSTR szzLogs,
                              unsigned long cbMax, unsigned long* pcbActual) {
  return jetback::LogInfoCall(instance, false, szzLogs, cbMax, pcbActual,
                              nullptr);
}

JET_ERR JetGetLogInfoInstance2(JET_INSTANCE instance, JET_PSTR szzLogs,
                               unsigned long cbMax, unsigned long* pcbActual,
                               JET_LOGINFO* pLogInfo) {
  if (pLogInfo == nullptr) return jet::JET_errInvalidParameter;
  return jetback::LogInfoCall(instance, false, szzLogs, cbMax, pcbActual,
                              pLogInfo);
}

JET_ERR JetGetTruncateLogInfoInstance(JET_INSTANCE instance, JET_PSTR szzLogs,
                                      unsigned long cbMax,
                                      unsigned long* pcbActual) {
  return jetback::LogInfoCall(instance, true, szzLogs, cbMax, pcbActual,
                              nullptr);
}

JET_ERR JetTruncateLogInstance(JET_INSTANCE instance) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  auto deleted = state->client->TruncateLog(state->backup);
  if (!deleted.ok()) return Result(state, deleted.status());
  return jet::JET_errSuccess;
}

JET_ERR JetEndExternalBackupInstance(JET_INSTANCE instance) {
  return JetEndExternalBackupInstance2(instance, JET_bitBackupEndNormal);
}

JET_ERR JetEndExternalBackupInstance2(JET_INSTANCE instance, JET_GRBIT grbit) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  auto ended =
      state->client->EndBackup(state->backup, static_cast<uint32_t>(grbit));
  if (!ended.ok()) {
    const JET_ERR err = Result(state, ended.status());
    if (err == jet::JET_errNoBackup) jetback::ForgetBackup(state);
    return err;
  }
  jetback::ForgetBackup(state);
  return jet::JET_errSuccess;
}

JET_ERR JetStopBackupInstance(JET_INSTANCE instance) {
  return JetStopBackupInstanceWithReason(instance, nullptr);
}

JET_ERR JetStopBackupInstanceWithReason(JET_INSTANCE instance,
                                        const char* reason) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  auto stopped = state->client->StopBackup(
      state->backup.instance,
      reason == nullptr || *reason == '\0' ? "JetStopBackupInstance" : reason);
  if (!stopped.ok()) return Result(state, stopped.status());
  return jet::JET_errSuccess;
}

JET_ERR JetGetDatabaseFileInfoInstance(JET_INSTANCE instance,
                                       JET_PCSTR szDatabaseName, void* pvResult,
                                       unsigned long cbMax,
                                       unsigned long InfoLevel) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  if (szDatabaseName == nullptr || *szDatabaseName == '\0' ||
      pvResult == nullptr) {
    return jet::JET_errInvalidParameter;
  }
  if (InfoLevel != JET_DbInfoPageSize && InfoLevel != JET_DbInfoFilesize) {
    return jet::JET_errInvalidParameter;
  }
  auto instances = state->client->ListInstances();
  if (!instances.ok()) return Result(state, instances.status());
  for (const jetback::v1::InstanceInfo& info : *instances) {
    if (info.name() != state->backup.instance) continue;
    for (const jetback::v1::DatabaseInfo& db : info.databases()) {
      if (db.path() != szDatabaseName && db.name() != szDatabaseName) continue;
      if (InfoLevel == JET_DbInfoPageSize) {
        if (cbMax < sizeof(unsigned long)) return jet::JET_errInvalidParameter;
        const unsigned long page_size = info.page_size();
        std::memcpy(pvResult, &page_size, sizeof(page_size));
      } else {
        if (cbMax < sizeof(unsigned long long)) {
          return jet::JET_errInvalidParameter;
        }
        const unsigned long long size = db.size_bytes();
        std::memcpy(pvResult, &size, sizeof(size));
      }
      return jet::JET_errSuccess;
    }
    return jet::JET_errFileNotFound;
  }
  return jet::JET_errInvalidParameter;  // the daemon no longer hosts it
}

JET_ERR JetStopBackup(void) {
  jetback::ClientOptions options;
  {
    jetback::Registry& r = jetback::registry();
    jetback::MutexLock lock(&r.mu);
    if (!r.live.empty()) options.server = r.live.front()->client->server();
  }
  auto client = jetback::Client::Connect(options);
  if (!client.ok()) return Result(nullptr, client.status());
  auto stopped = (*client)->StopBackup("", "JetStopBackup");
  if (!stopped.ok()) return Result(nullptr, stopped.status());
  return jet::JET_errSuccess;
}

JET_ERR JetStopServiceInstance(JET_INSTANCE instance) {
  return JetStopServiceInstance2(instance, JET_bitStopServiceAll);
}

JET_ERR JetStopServiceInstance2(JET_INSTANCE instance, JET_GRBIT grbit) {
  InstanceState* state = Lookup(instance);
  if (state == nullptr) return jet::JET_errInvalidParameter;
  return Result(state,
                state->client->StopService(state->backup.instance,
                                           static_cast<uint32_t>(grbit)));
}

}  // extern "C"
