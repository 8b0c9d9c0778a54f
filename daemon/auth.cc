#include "daemon/auth.h"

#include <grp.h>
#include <pwd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "jetback/status.h"

namespace jetback::daemon {
namespace {

constexpr absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kStop:
      return "stop";
    case Role::kData:
      return "data";
  }
  return "?";
}

// Supplementary groups of `uid` from the user database (as login would set
// them); the peer's own primary gid is always included.
std::vector<gid_t> GroupsOf(uid_t uid, gid_t gid) {
  std::vector<gid_t> gids = {gid};
  std::vector<char> buf(16384);
  struct passwd pw, *result = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) != 0 ||
      result == nullptr) {
    return gids;
  }
  int n = 64;
  std::vector<gid_t> groups(n);
  if (::getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) {
    groups.resize(n);
    if (::getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) return gids;
  }
  groups.resize(n);
  for (gid_t g : groups) {
    if (g != gid) gids.push_back(g);
  }
  return gids;
}

}  // namespace

absl::Status Authorizer::Resolve(const std::vector<std::string>& list,
                                 absl::string_view key, Grants* grants) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string item_key = absl::StrCat(key, "[", i, "]");
    absl::string_view entry = list[i];
    std::vector<char> buf(16384);
    if (absl::ConsumePrefix(&entry, "uid:")) {
      uint32_t id = 0;
      if (!absl::SimpleAtoi(entry, &id)) {
        struct passwd pw, *result = nullptr;
        if (::getpwnam_r(std::string(entry).c_str(), &pw, buf.data(),
                         buf.size(), &result) != 0 ||
            result == nullptr) {
          return JetStatus(jet::JET_errInvalidParameter,
                           absl::StrCat("config: ", item_key,
                                        ": no such user '", entry, "'"));
        }
        id = pw.pw_uid;
      }
      grants->uids.insert(id);
    } else if (absl::ConsumePrefix(&entry, "gid:")) {
      uint32_t id = 0;
      if (!absl::SimpleAtoi(entry, &id)) {
        struct group gr, *result = nullptr;
        if (::getgrnam_r(std::string(entry).c_str(), &gr, buf.data(),
                         buf.size(), &result) != 0 ||
            result == nullptr) {
          return JetStatus(jet::JET_errInvalidParameter,
                           absl::StrCat("config: ", item_key,
                                        ": no such group '", entry, "'"));
        }
        id = gr.gr_gid;
      }
      grants->gids.insert(id);
    } else if (absl::ConsumePrefix(&entry, "cert:")) {
      grants->certs.insert(std::string(entry));
    } else {
      return JetStatus(
          jet::JET_errInvalidParameter,
          absl::StrCat("config: ", item_key, ": must be uid:, gid: or cert:"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(
    const RolesConfig& roles) {
  std::unique_ptr<Authorizer> auth(new Authorizer());
  JB_RETURN_IF_ERROR(Resolve(roles.read, "roles.read", &auth->read_));
  JB_RETURN_IF_ERROR(Resolve(roles.stop, "roles.stop", &auth->stop_));
  JB_RETURN_IF_ERROR(Resolve(roles.data, "roles.data", &auth->data_));
  return auth;
}

void Authorizer::RecordPeer(int fd, uid_t uid, gid_t gid) {
  Principal p;
  p.name = absl::StrCat("uid:", uid);
  p.has_uid = true;
  p.uid = uid;
  p.gids = GroupsOf(uid, gid);
  jetback::MutexLock lock(&mu_);
  peers_[fd] = std::move(p);
}

absl::StatusOr<Principal> Authorizer::Identify(
    const grpc::ServerContextBase& ctx) const {
  const std::string peer = ctx.peer();
  absl::string_view rest = peer;
  int fd = -1;
  // Connections from our own Unix accept loop show up as "fd:N".
  if (absl::ConsumePrefix(&rest, "fd:") && absl::SimpleAtoi(rest, &fd)) {
    jetback::MutexLock lock(&mu_);
    auto it = peers_.find(fd);
    if (it != peers_.end()) return it->second;
  } else if (std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
             auth != nullptr && auth->IsPeerAuthenticated()) {
    // TCP listeners require and verify a client certificate.
    for (const grpc::string_ref& cn :
         auth->FindPropertyValues("x509_common_name")) {
      Principal p;
      p.cert_name = std::string(cn.data(), cn.size());
      p.name = absl::StrCat("cert:", p.cert_name);
      return p;
    }
  }
  return JetStatus(jet::JET_errAccessDenied,
                   absl::StrCat("cannot identify caller ", peer));
}

bool Authorizer::Holds(const Principal& p, Role role) const {
  const Grants& g = role == Role::kRead   ? read_
                    : role == Role::kStop ? stop_
                                          : data_;
  if (p.has_uid && g.uids.contains(p.uid)) return true;
  for (gid_t gid : p.gids) {
    if (g.gids.contains(gid)) return true;
  }
  return !p.cert_name.empty() && g.certs.contains(p.cert_name);
}

absl::StatusOr<Principal> Authorizer::Authorize(
    const grpc::ServerContextBase& ctx, Role role) const {
  JB_ASSIGN_OR_RETURN(Principal p, Identify(ctx));
  if (!Holds(p, role)) {
    return JetStatus(
        jet::JET_errAccessDenied,
        absl::StrCat(p.name, " lacks the ", RoleName(role), " role"));
  }
  return p;
}

absl::Status Authorizer::AuthorizeOnBackup(const Principal& caller,
                                           absl::string_view owner,
                                           bool* by_other) const {
  *by_other = caller.name != owner;
  if (!*by_other || Holds(caller, Role::kStop)) return absl::OkStatus();
  return JetStatus(
      jet::JET_errAccessDenied,
      absl::StrCat(caller.name, " may watch but not act on a backup begun by ",
                   owner, " (needs the stop role)"));
}

}  // namespace jetback::daemon
