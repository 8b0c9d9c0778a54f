// `jetback put | get | delete | scan`: rows of a hosted database through the
// Data service, so a person can put data in and see it come back (and a test
// can compare a restored database with its source).

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/commands.h"
#include "client/cli/output.h"

namespace jetback::cli {
namespace {

// The daemon's embedded default creates this table in each database.
constexpr char kDefaultTable[] = "default";

struct DataArgs {
  std::string instance;
  std::string db;  // empty: the instance's first database
  std::string table = kDefaultTable;
  std::string key, value, prefix;
};

v1::Operation Op(v1::Operation::Kind kind, const DataArgs& a) {
  v1::Operation op;
  op.set_kind(kind);
  op.set_table(a.table);
  op.set_key(a.key);
  op.set_value(a.value);
  return op;
}

int RunPut(const GlobalOptions& g, const DataArgs& a) {
  auto client = ConnectFrom(g);
  if (!client.ok()) return ReportError("put", client.status());
  auto done =
      (*client)->Transact(a.instance, a.db, {Op(v1::Operation::KIND_PUT, a)});
  if (!done.ok() && JetErrOf(done.status()) == jet::JET_errObjectNotFound) {
    // A new table on first use; the put then runs again, committed or not.
    absl::Status created = (*client)->CreateTable(a.instance, a.db, a.table);
    if (created.ok() || JetErrOf(created) == jet::JET_errTableDuplicate) {
      done = (*client)->Transact(a.instance, a.db,
                                 {Op(v1::Operation::KIND_PUT, a)});
    }
  }
  if (!done.ok()) return ReportError("put", done.status());
  if (g.json()) {
    std::printf("{\"ok\":true,\"commit_generation\":%u}\n",
                done->commit_generation());
  }
  return kExitOk;
}

int RunGet(const GlobalOptions& g, const DataArgs& a) {
  auto client = ConnectFrom(g);
  if (!client.ok()) return ReportError("get", client.status());
  auto value = (*client)->Get(a.instance, a.db, a.table, a.key);
  if (!value.ok()) return ReportError("get", value.status());
  if (g.json()) {
    std::printf("{\"key\":%s,\"value\":%s}\n", JsonString(a.key).c_str(),
                JsonString(*value).c_str());
  } else {
    std::fwrite(value->data(), 1, value->size(), stdout);
    std::fputc('\n', stdout);
  }
  return kExitOk;
}

int RunDelete(const GlobalOptions& g, const DataArgs& a) {
  auto client = ConnectFrom(g);
  if (!client.ok()) return ReportError("delete", client.status());
  auto done = (*client)->Transact(a.instance, a.db,
                                  {Op(v1::Operation::KIND_DELETE, a)});
  if (!done.ok()) return ReportError("delete", done.status());
  return kExitOk;
}

int RunScan(const GlobalOptions& g, const DataArgs& a) {
  auto client = ConnectFrom(g);
  if (!client.ok()) return ReportError("scan", client.status());
  v1::ScanRequest request;
  request.set_instance(a.instance);
  request.set_database(a.db);
  request.set_table(a.table);
  request.set_prefix(a.prefix);
  std::vector<std::string> rows;
  absl::Status status = (*client)->Scan(request, [&](const v1::Row& row) {
    if (g.json()) {
      rows.push_back(absl::StrCat("{\"key\":", JsonString(row.key()),
                                  ",\"value\":", JsonString(row.value()), "}"));
    } else {
      std::printf("%s\t%s\n", row.key().c_str(), row.value().c_str());
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return ReportError("scan", status);
  if (g.json()) std::printf("[%s]\n", absl::StrJoin(rows, ",").c_str());
  return kExitOk;
}

CLI::App* AddDataCommand(CLI::App& app, const char* name, const char* help,
                         DataArgs* a) {
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_option("--instance", a->instance, "Instance name")->required();
  cmd->add_option("--db", a->db,
                  "Database name (default: the instance's first)");
  cmd->add_option("--table", a->table, "Table name")
      ->default_str(kDefaultTable);
  return cmd;
}

}  // namespace

void AddDataCommands(CLI::App& app, const GlobalOptions& g, RunFn* run) {
  auto put = std::make_shared<DataArgs>();
  CLI::App* cmd = AddDataCommand(
      app, "put", "Store KEY=VALUE; exits 0 only once committed", put.get());
  cmd->add_option("KEY", put->key)->required();
  cmd->add_option("VALUE", put->value)->required();
  cmd->callback(
      [&g, put, run] { *run = [&g, put] { return RunPut(g, *put); }; });

  auto get = std::make_shared<DataArgs>();
  cmd = AddDataCommand(app, "get", "Print the value of KEY", get.get());
  cmd->add_option("KEY", get->key)->required();
  cmd->callback(
      [&g, get, run] { *run = [&g, get] { return RunGet(g, *get); }; });

  auto del = std::make_shared<DataArgs>();
  cmd = AddDataCommand(app, "delete", "Delete KEY", del.get());
  cmd->add_option("KEY", del->key)->required();
  cmd->callback(
      [&g, del, run] { *run = [&g, del] { return RunDelete(g, *del); }; });

  auto scan = std::make_shared<DataArgs>();
  cmd = AddDataCommand(app, "scan", "Print rows in key order (KEY<TAB>VALUE)",
                       scan.get());
  cmd->add_option("--prefix", scan->prefix, "Only keys with this prefix");
  cmd->callback(
      [&g, scan, run] { *run = [&g, scan] { return RunScan(g, *scan); }; });
}

}  // namespace jetback::cli
