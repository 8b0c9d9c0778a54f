// Engine benchmark: commits/s and puts/s with 1 KiB values, random and
// sequential keys, next to the raw fsync rate of the same disk measured in
// the same run (the baseline of the ratios). Not a test.
// Usage: jetback_engine_bench [DIR] [SECONDS_PER_CASE]

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "jetback/instance.h"
#include "jetback/status.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Raw baseline: 4 KiB pwrite + fdatasync in a loop, same directory.
double RawFsyncPerSecond(const std::string& dir, double seconds) {
  std::string path = dir + "/raw_fsync";
  int fd = open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) return 0;
  std::string block(4096, 'r');
  int n = 0;
  auto start = Clock::now();
  while (Seconds(start) < seconds) {
    if (pwrite(fd, block.data(), block.size(), (n % 256) * 4096) < 0) break;
    if (fdatasync(fd) != 0) break;
    ++n;
  }
  double rate = n / Seconds(start);
  close(fd);
  unlink(path.c_str());
  return rate;
}

struct Result {
  double commits_per_s = 0;
  double puts_per_s = 0;
};

// `threads` committers, each commit holding `puts_per_commit` 1 KiB puts.
Result Run(const std::string& dir, bool sequential, int threads,
           int puts_per_commit, double seconds) {
  std::filesystem::remove_all(dir);
  jetback::InstanceRegistry registry;
  jetback::InstanceOptions o;
  o.name = "bench";
  o.log_dir = dir + "/logs";
  o.system_dir = dir + "/sys";
  o.circular_logging = true;
  o.log_file_size = 16 << 20;
  auto inst = registry.Create(o);
  if (!inst.ok() || !(*inst)->Init().ok()) return {};
  auto db = (*inst)->CreateDatabase(dir + "/bench.edb");
  if (!db.ok() || !(*db)->CreateTable("t").ok()) return {};
  std::atomic<long> commits{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const std::string value(1024, 'v');
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      long seq = 0;
      char key[32];
      while (!stop.load()) {
        auto txn = (*db)->Begin();
        for (int p = 0; p < puts_per_commit; ++p) {
          uint64_t k = sequential ? (uint64_t(t) << 40) | seq++ : rng();
          snprintf(key, sizeof(key), "%016llx",
                   static_cast<unsigned long long>(k));
          if (!txn->Put("t", key, value).ok()) return;
        }
        if (!txn->Commit().ok()) return;
        commits.fetch_add(1);
      }
    });
  }
  while (Seconds(start) < seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop.store(true);
  for (auto& w : workers) w.join();
  double elapsed = Seconds(start);
  (*inst)->Term(jetback::TermMode::kComplete).IgnoreError();
  Result r;
  r.commits_per_s = commits.load() / elapsed;
  r.puts_per_s = r.commits_per_s * puts_per_commit;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "";
  if (dir.empty()) {
    char tmpl[] = "/tmp/jetback_engine_bench_XXXXXX";
    dir = mkdtemp(tmpl);
  }
  double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  std::filesystem::create_directories(dir);
  double fsyncs = RawFsyncPerSecond(dir, seconds);
  std::printf(
      "raw fdatasync (4 KiB): %.0f /s  [baseline, same disk, same run]\n",
      fsyncs);
  std::printf("%-34s %12s %12s %14s\n", "case", "commits/s", "puts/s",
              "commits/fsync");
  struct Case {
    const char* name;
    bool sequential;
    int threads;
    int puts;
  } cases[] = {
      {"1 put/commit, sequential, 1 thr", true, 1, 1},
      {"1 put/commit, random, 1 thr", false, 1, 1},
      {"1 put/commit, random, 8 thr", false, 8, 1},
      {"100 puts/commit, sequential", true, 1, 100},
      {"100 puts/commit, random", false, 1, 100},
  };
  for (const Case& c : cases) {
    Result r = Run(dir + "/case", c.sequential, c.threads, c.puts, seconds);
    std::printf("%-34s %12.0f %12.0f %14.2f\n", c.name, r.commits_per_s,
                r.puts_per_s, fsyncs > 0 ? r.commits_per_s / fsyncs : 0);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
