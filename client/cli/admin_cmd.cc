// `jetback stop | status | instances | health`: operating a running daemon.

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/cli/commands.h"
#include "client/cli/output.h"
#include "client/cli/progress.h"

namespace jetback::cli {
namespace {

struct StopArgs {
  std::string instance;
  bool all = false;
  std::string reason;
};

int RunStop(const GlobalOptions& g, const StopArgs& args) {
  auto client = ConnectFrom(g);
  if (!client.ok()) return ReportError("stop", client.status());
  std::vector<std::string> targets;
  if (args.all) {
    auto instances = (*client)->ListInstances();
    if (!instances.ok()) return ReportError("stop", instances.status());
    for (const auto& i : *instances) targets.push_back(i.name());
  } else {
    targets.push_back(args.instance);  // empty: legacy JetStopBackup
  }
  const std::string reason =
      args.reason.empty() ? "stopped with jetback stop" : args.reason;
  int code = kExitOk;
  std::vector<std::string> json_items;
  for (const std::string& target : targets) {
    auto stopped = (*client)->StopBackup(target, reason);
    if (!stopped.ok()) {
      code = ReportError(
          absl::StrCat("stop ", target.empty() ? "(legacy)" : target),
          stopped.status());
      continue;
    }
    if (g.json()) {
      json_items.push_back(absl::StrCat(
          "{\"instance\":", JsonString(stopped->instance()),
          ",\"backup_was_running\":",
          stopped->backup_was_running() ? "true" : "false",
          ",\"backup_id\":", JsonString(stopped->backup_id()), "}"));
    } else if (stopped->backup_was_running()) {
      std::printf("stopped backup %s of instance %s (reason: %s)\n",
                  stopped->backup_id().c_str(), stopped->instance().c_str(),
                  reason.c_str());
    } else {
      std::printf("instance %s: no backup running; stop flag set\n",
                  stopped->instance().c_str());
    }
  }
  if (g.json()) std::printf("[%s]\n", absl::StrJoin(json_items, ",").c_str());
  return code;
}

const char* PhaseName(v1::BackupPhase phase) {
  switch (phase) {
    case v1::BACKUP_PHASE_DATABASES:
      return "databases";
    case v1::BACKUP_PHASE_LOGS:
      return "logs";
    default:
      return "none";
  }
}

std::string StatusJson(const v1::BackupStatus& s) {
  return absl::StrCat(
      "{\"instance\":", JsonString(s.instance()),
      ",\"backup_id\":", JsonString(s.backup_id()),
      ",\"phase\":", JsonString(PhaseName(s.phase())),
      ",\"incremental\":", s.incremental() ? "true" : "false",
      ",\"current_file\":", JsonString(s.current_file()),
      ",\"bytes_done\":", s.bytes_done(), ",\"bytes_total\":", s.bytes_total(),
      ",\"bytes_per_second\":", s.bytes_per_second(),
      ",\"initiator\":", JsonString(s.initiator()),
      ",\"client_name\":", JsonString(s.client_name()),
      ",\"stop_requested\":", s.stop_requested() ? "true" : "false",
      ",\"stop_reason\":", JsonString(s.stop_reason()),
      ",\"stop_initiator\":", JsonString(s.stop_initiator()), "}");
}

void PrintStatus(const v1::BackupStatus& s) {
  if (s.phase() == v1::BACKUP_PHASE_NONE) {
    std::printf("%s: no backup running\n", s.instance().c_str());
    return;
  }
  std::printf(
      "%s: backup %s (%s), phase %s, %s, by %s [%s]\n", s.instance().c_str(),
      s.backup_id().c_str(), s.incremental() ? "incremental" : "full",
      PhaseName(s.phase()),
      ProgressText(s.current_file().empty() ? "-" : s.current_file(),
                   s.bytes_done(), s.bytes_total(), s.bytes_per_second())
          .c_str(),
      s.initiator().c_str(), s.client_name().c_str());
  if (s.stop_requested()) {
    std::printf("  stop requested by %s: %s\n", s.stop_initiator().c_str(),
                s.stop_reason().c_str());
  }
}

int RunStatus(const GlobalOptions& g, const std::string& instance) {
  auto client = ConnectFrom(g);
  if (!client.ok()) return ReportError("status", client.status());
  std::vector<v1::BackupStatus> list;
  if (!instance.empty()) {
    auto one = (*client)->GetBackupStatus(instance);
    if (!one.ok()) return ReportError("status", one.status());
    list.push_back(*one);
  } else {
    auto all = (*client)->ListBackups();
    if (!all.ok()) return ReportError("status", all.status());
    list = *all;
  }
  if (g.json()) {
    std::vector<std::string> items;
    for (const auto& s : list) items.push_back(StatusJson(s));
    std::printf("[%s]\n", absl::StrJoin(items, ",").c_str());
  } else if (list.empty()) {
    std::printf("no backups running\n");
  } else {
    for (const auto& s : list) PrintStatus(s);
  }
  return kExitOk;
}

int RunInstances(const GlobalOptions& g) {
  auto client = ConnectFrom(g);
  if (!client.ok()) return ReportError("instances", client.status());
  auto instances = (*client)->ListInstances();
  if (!instances.ok()) return ReportError("instances", instances.status());
  std::vector<std::string> items;
  for (const v1::InstanceInfo& i : *instances) {
    std::vector<std::string> dbs;
    for (const auto& db : i.databases()) dbs.push_back(db.name());
    if (g.json()) {
      std::vector<std::string> quoted;
      for (const auto& d : dbs) quoted.push_back(JsonString(d));
      items.push_back(absl::StrCat(
          "{\"name\":", JsonString(i.name()), ",\"databases\":[",
          absl::StrJoin(quoted, ","), "],\"page_size\":", i.page_size(),
          ",\"current_generation\":", i.current_generation(),
          ",\"checkpoint_generation\":", i.checkpoint_generation(),
          ",\"circular_logging\":", i.circular_logging() ? "true" : "false",
          ",\"backup_running\":", i.backup_running() ? "true" : "false",
          ",\"service_stopped\":", i.service_stopped() ? "true" : "false",
          "}"));
    } else {
      std::printf(
          "%s  databases: %s  page %u  log gen %u (checkpoint %u)%s%s%s\n",
          i.name().c_str(), absl::StrJoin(dbs, ",").c_str(), i.page_size(),
          i.current_generation(), i.checkpoint_generation(),
          i.circular_logging() ? "  circular" : "",
          i.backup_running() ? "  backup running" : "",
          i.service_stopped() ? "  service stopped" : "");
    }
  }
  if (g.json()) std::printf("[%s]\n", absl::StrJoin(items, ",").c_str());
  return kExitOk;
}

int RunHealth(const GlobalOptions& g) {
  auto client = ConnectFrom(g);
  if (!client.ok()) return ReportError("health", client.status());
  auto health = (*client)->Health();
  if (!health.ok()) return ReportError("health", health.status());
  if (g.json()) {
    std::printf("{\"server\":%s,\"status\":%s}\n",
                JsonString((*client)->server()).c_str(),
                JsonString(*health).c_str());
  } else {
    std::printf("%s: %s\n", (*client)->server().c_str(), health->c_str());
  }
  return *health == "SERVING" ? kExitOk : kExitJetError;
}

}  // namespace

void AddAdminCommands(CLI::App& app, const GlobalOptions& g, RunFn* run) {
  auto stop = std::make_shared<StopArgs>();
  CLI::App* cmd = app.add_subcommand(
      "stop", "Stop a running backup (JetStopBackupInstance)");
  auto* instance_opt =
      cmd->add_option("--instance", stop->instance, "Instance name");
  auto* all_opt = cmd->add_flag("--all", stop->all, "Every hosted instance");
  instance_opt->excludes(all_opt);
  cmd->add_option("--reason", stop->reason,
                  "Why; the backup's client sees it with -801");
  cmd->callback(
      [&g, stop, run] { *run = [&g, stop] { return RunStop(g, *stop); }; });

  auto status_instance = std::make_shared<std::string>();
  cmd = app.add_subcommand("status", "Show running backups and progress");
  cmd->add_option("--instance", *status_instance, "Only this instance");
  cmd->callback([&g, status_instance, run] {
    *run = [&g, status_instance] { return RunStatus(g, *status_instance); };
  });

  cmd = app.add_subcommand("instances", "List the hosted instances");
  cmd->callback([&g, run] { *run = [&g] { return RunInstances(g); }; });

  cmd = app.add_subcommand("health", "Check that the daemon serves");
  cmd->callback([&g, run] { *run = [&g] { return RunHealth(g); }; });
}

}  // namespace jetback::cli
