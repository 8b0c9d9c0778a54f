#include "daemon/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "jetback/status.h"

namespace jetback::daemon {
namespace {

absl::Status KeyError(absl::string_view key, absl::string_view what) {
  return JetStatus(jet::JET_errInvalidParameter,
                   absl::StrCat("config: ", key, ": ", what));
}

std::string Join(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return absl::StrCat(dir, "/", path);
}

// Typed access to one TOML table that remembers its key path for errors and
// rejects keys it was not asked about (a typo must not be silently ignored).
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path)
      : table_(table), path_(std::move(path)) {}

  std::string Key(absl::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }

  absl::Status String(absl::string_view key, std::string* out) {
    const toml::node* node = Find(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_string()) return KeyError(Key(key), "must be a string");
    *out = node->as_string()->get();
    return absl::OkStatus();
  }

  absl::Status Int(absl::string_view key, int64_t min, int64_t max,
                   int64_t* out) {
    const toml::node* node = Find(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_integer()) return KeyError(Key(key), "must be an integer");
    const int64_t v = node->as_integer()->get();
    if (v < min || v > max) {
      return KeyError(Key(key),
                      absl::StrCat("must be between ", min, " and ", max));
    }
    *out = v;
    return absl::OkStatus();
  }

  absl::Status Bool(absl::string_view key, bool* out) {
    const toml::node* node = Find(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_boolean()) return KeyError(Key(key), "must be true or false");
    *out = node->as_boolean()->get();
    return absl::OkStatus();
  }

  absl::Status Strings(absl::string_view key, std::vector<std::string>* out) {
    const toml::node* node = Find(key);
    if (node == nullptr) return absl::OkStatus();
    const toml::array* array = node->as_array();
    if (array == nullptr) return KeyError(Key(key), "must be an array");
    out->clear();
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& item = *array->get(i);
      if (!item.is_string()) {
        return KeyError(absl::StrCat(Key(key), "[", i, "]"),
                        "must be a string");
      }
      out->push_back(item.as_string()->get());
    }
    return absl::OkStatus();
  }

  const toml::table* Table(absl::string_view key, absl::Status* status) {
    const toml::node* node = Find(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) *status = KeyError(Key(key), "must be a table");
    return node->as_table();
  }

  const toml::array* Array(absl::string_view key, absl::Status* status) {
    const toml::node* node = Find(key);
    if (node == nullptr) return nullptr;
    if (!node->is_array()) *status = KeyError(Key(key), "must be an array");
    return node->as_array();
  }

  // Call after reading every known key.
  absl::Status RejectUnknown() const {
    for (const auto& [key, value] : table_) {
      if (!known_.contains(std::string(key.str()))) {
        return KeyError(Key(std::string(key.str())), "unknown key");
      }
    }
    return absl::OkStatus();
  }

 private:
  const toml::node* Find(absl::string_view key) {
    known_.insert(std::string(key));
    return table_.get(std::string_view(key.data(), key.size()));
  }

  const toml::table& table_;
  std::string path_;
  std::set<std::string> known_;
};

absl::Status ParseInstance(const toml::table& table, const std::string& path,
                           const std::string& state_dir, InstanceConfig* out) {
  TableReader r(table, path);
  JB_RETURN_IF_ERROR(r.String("name", &out->name));
  if (out->name.empty()) return KeyError(r.Key("name"), "is required");
  if (!CheckFileName(out->name).ok()) {
    return KeyError(r.Key("name"), "must be a plain name");
  }
  std::string data_dir = out->name, log_dir, system_dir;
  JB_RETURN_IF_ERROR(r.String("data_dir", &data_dir));
  JB_RETURN_IF_ERROR(r.String("log_dir", &log_dir));
  JB_RETURN_IF_ERROR(r.String("system_dir", &system_dir));
  out->data_dir = Join(state_dir, data_dir);
  out->log_dir =
      log_dir.empty() ? out->data_dir + "/logs" : Join(state_dir, log_dir);
  out->system_dir = system_dir.empty() ? out->data_dir + "/system"
                                       : Join(state_dir, system_dir);
  JB_RETURN_IF_ERROR(r.String("base_name", &out->base_name));
  if (out->base_name.size() != 3) {
    return KeyError(r.Key("base_name"), "must be exactly 3 characters");
  }
  int64_t page_size = out->page_size;
  JB_RETURN_IF_ERROR(r.Int("page_size", 4096, 32768, &page_size));
  if (page_size != 4096 && page_size != 8192 && page_size != 16384 &&
      page_size != 32768) {
    return KeyError(r.Key("page_size"), "must be 4096, 8192, 16384 or 32768");
  }
  out->page_size = static_cast<uint32_t>(page_size);
  int64_t log_size = static_cast<int64_t>(out->log_file_size);
  JB_RETURN_IF_ERROR(
      r.Int("log_file_size", 64 << 10, int64_t{1} << 30, &log_size));
  if (log_size % 4096 != 0) {
    return KeyError(r.Key("log_file_size"), "must be a multiple of 4096");
  }
  out->log_file_size = static_cast<uint64_t>(log_size);
  JB_RETURN_IF_ERROR(r.Bool("circular_logging", &out->circular_logging));
  int64_t rate = static_cast<int64_t>(out->max_backup_rate);
  JB_RETURN_IF_ERROR(r.Int("max_backup_rate", 0, int64_t{1} << 40, &rate));
  out->max_backup_rate = static_cast<uint64_t>(rate);
  int64_t attempts = out->page_read_attempts;
  JB_RETURN_IF_ERROR(r.Int("page_read_attempts", 1, 1000, &attempts));
  out->page_read_attempts = static_cast<int>(attempts);
  int64_t backoff_ms = absl::ToInt64Milliseconds(out->page_read_backoff);
  JB_RETURN_IF_ERROR(r.Int("page_read_backoff_ms", 0, 60000, &backoff_ms));
  out->page_read_backoff = absl::Milliseconds(backoff_ms);
  JB_RETURN_IF_ERROR(r.Strings("databases", &out->databases));
  if (out->databases.size() > 6) {
    return KeyError(r.Key("databases"), "at most 6 databases per instance");
  }
  for (size_t i = 0; i < out->databases.size(); ++i) {
    if (!CheckFileName(out->databases[i]).ok()) {
      return KeyError(absl::StrCat(r.Key("databases"), "[", i, "]"),
                      "must be a file name inside data_dir");
    }
  }
  JB_RETURN_IF_ERROR(r.Strings("tables", &out->tables));
  return r.RejectUnknown();
}

absl::Status CheckPrincipals(const std::vector<std::string>& list,
                             const std::string& key) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string& p = list[i];
    if (!absl::StartsWith(p, "uid:") && !absl::StartsWith(p, "gid:") &&
        !absl::StartsWith(p, "cert:")) {
      return KeyError(absl::StrCat(key, "[", i, "]"),
                      "must be uid:USER, gid:GROUP or cert:COMMON_NAME");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseRoot(const toml::table& root, const std::string& override,
                       DaemonConfig* config) {
  TableReader r(root, "");
  JB_RETURN_IF_ERROR(r.String("state_dir", &config->state_dir));
  if (!override.empty()) config->state_dir = override;
  if (config->state_dir.empty()) config->state_dir = "jetback-state";

  std::vector<std::string> listen;
  JB_RETURN_IF_ERROR(r.Strings("listen", &listen));
  for (size_t i = 0; i < listen.size(); ++i) {
    JB_ASSIGN_OR_RETURN(
        ListenerConfig l,
        ParseListener(listen[i], absl::StrCat("listen[", i, "]")));
    if (l.kind == ListenerConfig::Kind::kUnix) {
      l.address = Join(config->state_dir, l.address);
    }
    config->listeners.push_back(std::move(l));
  }
  if (listen.empty()) {
    config->listeners.push_back(
        {ListenerConfig::Kind::kUnix, config->state_dir + "/jetbackd.sock"});
  }

  int64_t v = 0;
  v = config->chunk_size;
  JB_RETURN_IF_ERROR(r.Int("chunk_size", 64 << 10, 4 << 20, &v));
  if (v % 32768 != 0) {
    return KeyError("chunk_size", "must be a multiple of 32768");
  }
  config->chunk_size = static_cast<uint32_t>(v);
  v = absl::ToInt64Milliseconds(config->lease);
  JB_RETURN_IF_ERROR(r.Int("lease_ms", 0, int64_t{24} * 3600 * 1000, &v));
  config->lease = absl::Milliseconds(v);
  v = absl::ToInt64Milliseconds(config->stop_grace);
  JB_RETURN_IF_ERROR(r.Int("stop_grace_ms", 10, 60000, &v));
  config->stop_grace = absl::Milliseconds(v);

  absl::Status status;
  if (const toml::table* t = r.Table("unix_socket", &status)) {
    TableReader s(*t, "unix_socket");
    std::string mode;
    JB_RETURN_IF_ERROR(s.String("mode", &mode));
    if (!mode.empty()) {
      uint32_t m = 0;
      if (!absl::numbers_internal::safe_strtou32_base(mode, &m, 8) ||
          m > 0777) {
        return KeyError("unix_socket.mode", "must be an octal mode like 0660");
      }
      config->socket_mode = m;
    }
    JB_RETURN_IF_ERROR(s.String("group", &config->socket_group));
    JB_RETURN_IF_ERROR(s.RejectUnknown());
  }
  JB_RETURN_IF_ERROR(status);
  if (const toml::table* t = r.Table("tls", &status)) {
    TableReader s(*t, "tls");
    JB_RETURN_IF_ERROR(s.String("cert", &config->tls.cert_file));
    JB_RETURN_IF_ERROR(s.String("key", &config->tls.key_file));
    JB_RETURN_IF_ERROR(s.String("client_ca", &config->tls.client_ca_file));
    JB_RETURN_IF_ERROR(s.RejectUnknown());
  }
  JB_RETURN_IF_ERROR(status);
  if (const toml::table* t = r.Table("roles", &status)) {
    TableReader s(*t, "roles");
    JB_RETURN_IF_ERROR(s.Strings("read", &config->roles.read));
    JB_RETURN_IF_ERROR(s.Strings("stop", &config->roles.stop));
    JB_RETURN_IF_ERROR(s.Strings("data", &config->roles.data));
    JB_RETURN_IF_ERROR(s.RejectUnknown());
  } else {
    config->roles = DefaultConfig(config->state_dir).roles;
  }
  JB_RETURN_IF_ERROR(status);
  JB_RETURN_IF_ERROR(CheckPrincipals(config->roles.read, "roles.read"));
  JB_RETURN_IF_ERROR(CheckPrincipals(config->roles.stop, "roles.stop"));
  JB_RETURN_IF_ERROR(CheckPrincipals(config->roles.data, "roles.data"));
  if (const toml::table* t = r.Table("limits", &status)) {
    TableReader s(*t, "limits");
    v = config->max_streams;
    JB_RETURN_IF_ERROR(s.Int("max_streams", 1, 4096, &v));
    config->max_streams = static_cast<int>(v);
    v = config->reader_nice;
    JB_RETURN_IF_ERROR(s.Int("reader_nice", 0, 19, &v));
    config->reader_nice = static_cast<int>(v);
    v = config->max_transaction_ops;
    JB_RETURN_IF_ERROR(s.Int("max_transaction_ops", 1, 1000000, &v));
    config->max_transaction_ops = static_cast<int>(v);
    v = static_cast<int64_t>(config->max_backup_rate);
    JB_RETURN_IF_ERROR(s.Int("max_backup_rate", 0, int64_t{1} << 40, &v));
    config->max_backup_rate = static_cast<uint64_t>(v);
    v = config->max_request_bytes;
    JB_RETURN_IF_ERROR(s.Int("max_request_bytes", 64 << 10, 64 << 20, &v));
    config->max_request_bytes = static_cast<uint32_t>(v);
    v = static_cast<int64_t>(config->grpc_memory_bytes);
    JB_RETURN_IF_ERROR(
        s.Int("grpc_memory_bytes", 8 << 20, int64_t{4} << 30, &v));
    config->grpc_memory_bytes = static_cast<uint64_t>(v);
    v = config->grpc_max_threads;
    JB_RETURN_IF_ERROR(s.Int("grpc_max_threads", 8, 1024, &v));
    config->grpc_max_threads = static_cast<int>(v);
    v = config->background_threads;
    JB_RETURN_IF_ERROR(s.Int("background_threads", 0, 64, &v));
    config->background_threads = static_cast<int>(v);
    v = absl::ToInt64Milliseconds(config->keepalive);
    JB_RETURN_IF_ERROR(s.Int("keepalive_ms", 1000, 7200000, &v));
    config->keepalive = absl::Milliseconds(v);
    JB_RETURN_IF_ERROR(s.RejectUnknown());
  }
  JB_RETURN_IF_ERROR(status);
  if (const toml::table* t = r.Table("metrics", &status)) {
    TableReader s(*t, "metrics");
    JB_RETURN_IF_ERROR(s.String("listen", &config->metrics_listen));
    JB_RETURN_IF_ERROR(s.RejectUnknown());
    if (!config->metrics_listen.empty()) {
      sockaddr_in address;
      if (!ParseIpv4Endpoint(config->metrics_listen, &address)) {
        return KeyError("metrics.listen", "must be IPV4:PORT");
      }
    }
  }
  JB_RETURN_IF_ERROR(status);

  const toml::array* instances = r.Array("instances", &status);
  JB_RETURN_IF_ERROR(status);
  if (instances == nullptr || instances->empty()) {
    return KeyError("instances", "at least one [[instances]] is required");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < instances->size(); ++i) {
    const std::string key = absl::StrCat("instances[", i, "]");
    const toml::table* t = instances->get(i)->as_table();
    if (t == nullptr) return KeyError(key, "must be a table");
    InstanceConfig instance;
    instance.max_backup_rate = config->max_backup_rate;
    JB_RETURN_IF_ERROR(ParseInstance(*t, key, config->state_dir, &instance));
    if (!names.insert(instance.name).second) {
      return KeyError(key + ".name", "duplicate instance name");
    }
    config->instances.push_back(std::move(instance));
  }
  bool tcp = false;
  for (const ListenerConfig& l : config->listeners) {
    tcp |= l.kind == ListenerConfig::Kind::kTcp;
  }
  if (tcp && (config->tls.cert_file.empty() || config->tls.key_file.empty() ||
              config->tls.client_ca_file.empty())) {
    return KeyError("tls",
                    "a tcp listener needs tls.cert, tls.key and "
                    "tls.client_ca (mutual TLS only)");
  }
  return r.RejectUnknown();
}

}  // namespace

absl::StatusOr<ListenerConfig> ParseListener(absl::string_view spec,
                                             absl::string_view key) {
  ListenerConfig l;
  if (absl::StartsWith(spec, "unix:") && spec.size() > 5) {
    l.kind = ListenerConfig::Kind::kUnix;
    l.address = std::string(spec.substr(5));
    if (l.address.size() >= 100) {
      return KeyError(key, "socket path too long (max 99 bytes)");
    }
    return l;
  }
  if (absl::StartsWith(spec, "tcp:")) {
    l.kind = ListenerConfig::Kind::kTcp;
    l.address = std::string(spec.substr(4));
    const size_t colon = l.address.rfind(':');
    uint32_t port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(l.address.substr(colon + 1), &port) || port > 65535) {
      return KeyError(key, "must be tcp:HOST:PORT");
    }
    return l;
  }
  return KeyError(key, "must be unix:PATH or tcp:HOST:PORT");
}

bool ParseIpv4Endpoint(absl::string_view spec, sockaddr_in* address) {
  const size_t colon = spec.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(spec.substr(colon + 1), &port) || port > 65535) {
    return false;
  }
  *address = sockaddr_in{};
  address->sin_family = AF_INET;
  address->sin_port = htons(static_cast<uint16_t>(port));
  const std::string host(spec.substr(0, colon));
  return ::inet_pton(AF_INET, host.c_str(), &address->sin_addr) == 1;
}

DaemonConfig DefaultConfig(const std::string& state_dir) {
  DaemonConfig config;
  config.state_dir = state_dir;
  config.listeners.push_back(
      {ListenerConfig::Kind::kUnix, state_dir + "/jetbackd.sock"});
  std::vector<std::string> owners = {"uid:0"};
  if (::getuid() != 0) owners.push_back(absl::StrCat("uid:", ::getuid()));
  config.roles = {owners, owners, owners};
  InstanceConfig demo;
  demo.name = "demo";
  demo.data_dir = state_dir + "/demo";
  demo.log_dir = demo.data_dir + "/logs";
  demo.system_dir = demo.data_dir + "/system";
  demo.databases = {"demo.edb"};
  demo.tables = {"default"};
  config.instances.push_back(std::move(demo));
  return config;
}

absl::StatusOr<DaemonConfig> ParseConfig(
    absl::string_view text, absl::string_view source_name,
    const std::string& state_dir_override) {
  toml::table root;
  try {
    root =
        toml::parse(std::string_view(text.data(), text.size()),
                    std::string_view(source_name.data(), source_name.size()));
  } catch (const toml::parse_error& e) {
    return JetStatus(
        jet::JET_errInvalidParameter,
        absl::StrCat("config: ", source_name, ":", e.source().begin.line, ":",
                     e.source().begin.column, ": ",
                     std::string(e.description())));
  }
  DaemonConfig config;
  JB_RETURN_IF_ERROR(ParseRoot(root, state_dir_override, &config));
  return config;
}

absl::StatusOr<DaemonConfig> LoadConfigFile(
    const std::string& path, const std::string& state_dir_override) {
  std::ifstream in(path);
  if (!in) {
    return JetStatus(jet::JET_errFileNotFound,
                     absl::StrCat("config: cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path, state_dir_override);
}

absl::Status CheckNameLength(absl::string_view name, absl::string_view what) {
  if (name.size() <= kMaxNameBytes) return absl::OkStatus();
  return JetStatus(jet::JET_errInvalidParameter,
                   absl::StrCat(what, " longer than ", kMaxNameBytes,
                                " bytes (", name.size(), ")"));
}

absl::Status CheckFileName(absl::string_view name) {
  JB_RETURN_IF_ERROR(CheckNameLength(name, "file name"));
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != absl::string_view::npos ||
      name.find('\0') != absl::string_view::npos ||
      absl::StrContains(name, "..")) {
    return JetStatus(jet::JET_errInvalidName,
                     absl::StrCat("not a plain file name: '",
                                  absl::CHexEscape(name.substr(0, 64)), "'"));
  }
  return absl::OkStatus();
}

}  // namespace jetback::daemon
