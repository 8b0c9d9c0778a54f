// backup_bench: client-side measurements against a running jetbackd.
//
// Every mode takes [--tls-ca F --tls-cert F --tls-key F] for tcp: servers.
//
//   backup_bench --server S --instance I stream
//       One full backup through the client API (databases and logs read and
//       discarded; every chunk's XXH3-64 and every file's XXH3-128 checked).
//       Prints "stream bytes=N seconds=S mib_per_s=R".
//   backup_bench --server S --instance I commits --seconds T [--threads K]
//                [--during-backup]
//       Commits 1 KiB puts for T seconds from K threads; with
//       --during-backup, full backups run back to back meanwhile.
//       Prints "commits n=N seconds=S per_s=R backups=B".
//   backup_bench --server S --instance I load --mib M [--value-kib V]
//                [--values random|json]
//       Fills the instance's first database with M MiB of values
//       (transactions of about 3 MiB): incompressible random bytes, or
//       JSON-like rows as jetback_set_codec_bench writes them
//       ({"id":N,"name":"userK","balance":B,"active":true} per line).

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "jetback/client.h"

namespace {

using Clock = std::chrono::steady_clock;

// SIGTERM/SIGINT end a running stream with EndBackup(abort), so a killed
// agent never leaves the instance busy until its lease runs out.
std::atomic<bool> g_terminate{false};
void OnTerminate(int) { g_terminate.store(true); }

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "backup_bench: %s: %s (%d)\n", what,
               std::string(status.message()).c_str(),
               jetback::JetErrOf(status));
  std::exit(2);
}

// One full backup, everything read and discarded. Returns bytes read.
absl::StatusOr<uint64_t> StreamBackup(jetback::Client& client,
                                      const std::string& instance,
                                      const std::atomic<bool>* cancel) {
  auto begin = client.BeginBackup(instance, 0, "backup_bench");
  if (!begin.ok()) return begin.status();
  jetback::BackupRef ref{instance, begin->backup_id()};
  uint64_t bytes = 0;
  auto copy = [&](const std::string& name) -> absl::Status {
    auto open = client.OpenFile(ref, name);
    if (!open.ok()) return open.status();
    auto read = client.ReadFile(
        ref, open->handle(), 0, 0,
        [&](uint64_t, absl::string_view data) {
          bytes += data.size();
          return absl::OkStatus();
        },
        cancel);
    if (!read.ok()) return read.status();
    return client.CloseFile(ref, open->handle()).status();
  };
  absl::Status status;
  auto dbs = client.GetAttachInfo(ref);
  if (!dbs.ok()) status = dbs.status();
  for (size_t i = 0; status.ok() && i < dbs->size(); ++i) {
    status = copy((*dbs)[i]);
  }
  if (status.ok()) {
    auto logs = client.GetLogInfo(ref);
    if (!logs.ok()) status = logs.status();
    for (int i = 0; status.ok() && i < logs->files_size(); ++i) {
      status = copy(logs->files(i));
    }
  }
  auto end = client.EndBackup(ref, status.ok() ? 0x1 : 0x2);
  if (!status.ok()) return status;
  if (!end.ok()) return end.status();
  return bytes;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

// JSON-like rows, one per line, cut to n bytes (set_codec_bench.cc's Rows).
std::string JsonRows(std::mt19937_64& rng, uint64_t* id, size_t n) {
  std::string s;
  while (s.size() < n) {
    absl::StrAppend(&s, "{\"id\":", (*id)++, ",\"name\":\"user", rng() % 100000,
                    "\",\"balance\":", rng() % 1000000,
                    ",\"active\":", rng() % 2 ? "true" : "false", "}\n");
  }
  s.resize(n);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server, instance = "demo", mode, tls_ca, tls_cert, tls_key;
  std::string values = "random";
  double seconds = 5;
  int threads = 4;
  bool during_backup = false;
  uint64_t mib = 64, value_kib = 60;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    // clang-format off
    if (a == "--server") server = next();
    else if (a == "--instance") instance = next();
    else if (a == "--tls-ca") tls_ca = next();
    else if (a == "--tls-cert") tls_cert = next();
    else if (a == "--tls-key") tls_key = next();
    else if (a == "--seconds") seconds = std::atof(next().c_str());
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else if (a == "--during-backup") during_backup = true;
    else if (a == "--mib") mib = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--value-kib") value_kib = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--values") values = next();
    else mode = a;
    // clang-format on
  }
  jetback::ClientOptions options;
  options.server = server;
  options.tls_ca = tls_ca;
  options.tls_cert = tls_cert;
  options.tls_key = tls_key;
  auto client = jetback::Client::Connect(options);
  if (!client.ok()) Fail("connect", client.status());

  if (mode == "stream") {
    signal(SIGTERM, OnTerminate);
    signal(SIGINT, OnTerminate);
    auto start = Clock::now();
    auto bytes = StreamBackup(**client, instance, &g_terminate);
    if (!bytes.ok()) Fail("backup", bytes.status());
    double s = Since(start);
    std::printf("stream bytes=%llu seconds=%.4f mib_per_s=%.1f\n",
                static_cast<unsigned long long>(*bytes), s,
                *bytes / 1048576.0 / s);
    return 0;
  }

  if (mode == "load") {
    std::mt19937_64 rng(42);
    const size_t value_size = value_kib * 1024;
    const size_t per_txn = std::max<size_t>(1, (3 << 20) / value_size);
    if (values != "random" && values != "json") {
      std::fprintf(stderr, "--values: random or json\n");
      return 1;
    }
    uint64_t written = 0, key = 0, row = 0;
    auto start = Clock::now();
    while (written < mib << 20) {
      std::vector<jetback::v1::Operation> ops;
      for (size_t i = 0; i < per_txn; ++i) {
        jetback::v1::Operation op;
        op.set_kind(jetback::v1::Operation::KIND_PUT);
        op.set_table("default");
        op.set_key(absl::StrCat("load/", key++));
        op.set_value(values == "json" ? JsonRows(rng, &row, value_size)
                                      : RandomBytes(rng, value_size));
        written += value_size;
        ops.push_back(std::move(op));
      }
      auto r = (*client)->Transact(instance, "", ops);
      if (!r.ok()) Fail("load", r.status());
    }
    std::printf("load bytes=%llu seconds=%.2f\n",
                static_cast<unsigned long long>(written), Since(start));
    return 0;
  }

  if (mode == "commits") {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> commits{0};
    std::atomic<int> backups{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::mt19937_64 rng(t + 1);
        std::string value = RandomBytes(rng, 1024);
        uint64_t n = 0;
        while (!stop.load()) {
          jetback::v1::Operation op;
          op.set_kind(jetback::v1::Operation::KIND_PUT);
          op.set_table("default");
          op.set_key(absl::StrCat("commit/", t, "/", n++ % 10000));
          op.set_value(value);
          auto r = (*client)->Transact(instance, "", {op});
          if (!r.ok()) Fail("commit", r.status());
          commits.fetch_add(1);
        }
      });
    }
    std::thread backup_loop;
    if (during_backup) {
      backup_loop = std::thread([&] {
        while (!stop.load()) {
          auto bytes = StreamBackup(**client, instance, &stop);
          if (bytes.ok()) backups.fetch_add(1);
        }
      });
    }
    auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop.store(true);
    double s = Since(start);
    for (auto& w : workers) w.join();
    if (backup_loop.joinable()) backup_loop.join();
    std::printf("commits n=%llu seconds=%.2f per_s=%.1f backups=%d\n",
                static_cast<unsigned long long>(commits.load()), s,
                commits.load() / s, backups.load());
    return 0;
  }
  std::fprintf(stderr,
               "usage: backup_bench --server S --instance I "
               "stream|commits|load ...\n");
  return 1;
}
