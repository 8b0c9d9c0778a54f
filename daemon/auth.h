// File: daemon/auth.h
//
// Who is calling, and may they? Callers are identified by SO_PEERCRED on the
// Unix socket (recorded by the accept loop per connection fd) or by the
// common name of their client certificate on TCP + mutual TLS. Roles come
// from the configuration; every handler is wrapped by WithRole(), so the
// check lives in one place and a refused call is PERMISSION_DENIED + -1907.
//
// Thread-safety: all methods may be called concurrently.

#ifndef JETBACK_DAEMON_AUTH_H_
#define JETBACK_DAEMON_AUTH_H_

#include <grpcpp/server_context.h>
#include <sys/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "daemon/config.h"
#include "daemon/request_checks.h"
#include "jetback/mutex.h"
#include "proto/jet_status.h"

namespace jetback::daemon {

enum class Role { kRead, kStop, kData };

struct Principal {
  std::string name;  // "uid:1000" or "cert:ops-agent"; the initiator
  bool has_uid = false;
  uid_t uid = 0;
  std::vector<gid_t> gids;  // primary and supplementary
  std::string cert_name;
};

class Authorizer {
 public:
  // Resolves user and group names of `roles`. Errors name the key (-1003).
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(
      const RolesConfig& roles);

  // Called by the accept loop for each Unix connection, before gRPC sees it.
  void RecordPeer(int fd, uid_t uid, gid_t gid);

  // The caller of `ctx`. Errors: -1907 when it cannot be identified.
  absl::StatusOr<Principal> Identify(const grpc::ServerContextBase& ctx) const;

  // The caller, if it holds `role`; else -1907 naming the role.
  absl::StatusOr<Principal> Authorize(const grpc::ServerContextBase& ctx,
                                      Role role) const;

  // A backup belongs to the principal that began it (`owner`): only the
  // owner or a holder of the stop role may act on it. OK for those; else
  // -1907. Sets *by_other when the caller is not the owner (to be logged).
  absl::Status AuthorizeOnBackup(const Principal& caller,
                                 absl::string_view owner, bool* by_other) const;

 private:
  struct Grants {
    std::set<uid_t> uids;
    std::set<gid_t> gids;
    std::set<std::string> certs;
  };
  Authorizer() = default;
  static absl::Status Resolve(const std::vector<std::string>& list,
                              absl::string_view key, Grants* grants);
  bool Holds(const Principal& p, Role role) const;

  Grants read_, stop_, data_;
  mutable jetback::Mutex mu_;
  std::map<int, Principal> peers_ ABSL_GUARDED_BY(mu_);
};

// The role check as a decorator: runs `handler(principal)` (returning
// absl::Status) only when the caller holds `role` and `request` is within
// `max_request_bytes`, and converts the result to the wire once.
template <typename Handler>
grpc::Status WithRole(const Authorizer& auth,
                      const grpc::ServerContextBase& ctx, Role role,
                      const google::protobuf::MessageLite& request,
                      Handler&& handler,
                      size_t max_request_bytes = kMaxControlRequestBytes) {
  absl::StatusOr<Principal> principal = auth.Authorize(ctx, role);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  absl::Status size = CheckRequestSize(request, max_request_bytes);
  if (!size.ok()) return ToGrpcStatus(size);
  return ToGrpcStatus(handler(*principal));
}

}  // namespace jetback::daemon

#endif  // JETBACK_DAEMON_AUTH_H_
