// Restore replay benchmark: MiB of log replayed per second, with the log
// and the database cold in the page cache as `jetback restore` leaves them
// (it copies both with O_DIRECT before replaying). Not a test.
//
//   jetback_replay_bench [--dir DIR] [--log-mib N] [--runs N]
//                        [--modes before,through,coalesced,direct,buffered]
//                        [--keep 1]   (keeps DIR; a kept DIR is reused)
//
// Generates N MiB of log once (random 1 KiB puts, 32 KiB pages), then per
// run copies the archived generations and the database into a fresh
// directory, drops them from the page cache and times
// ReplayArchiveLogsForRestore (which fsyncs before returning) with every
// page image treated as newer than the copy (a full restore's worst case).
// Each run replays once per mode (ReplayWrites), in turn, so every mode
// sees the same state of a shared machine. "before" writes images through
// and reads each generation only when it gets to it, through the page cache
// (the write and read side as before issue 18; the scan itself is today's);
// "through" adds only the read-ahead of the next generation (on a thread,
// bypassing the page cache); "buffered" is "coalesced" (the default) with
// the log read through the page cache. To compare with an older build, run
// both binaries alternately.
// Prints one line per run and mode:
//   "replay run=I mode=M log_mib=L seconds=S mib_per_s=X".

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "engine/format.h"
#include "engine/restore_replay.h"
#include "jetback/instance.h"
#include "jetback/status.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

uint64_t DirBytes(const std::string& dir) {
  // The log rolls meanwhile: files come and go between listing and stat.
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const uint64_t size = e.file_size(ec);
    if (!ec) n += size;
  }
  return n;
}

// Copies `from` to `to`, then makes it durable and evicts it from the page
// cache, as restore's O_DIRECT copy leaves it.
void CopyCold(const std::string& from, const std::string& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  int fd = open(to.c_str(), O_RDONLY);
  if (fd < 0) return;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

bool Generate(const std::string& dir, uint64_t log_mib, uint32_t* gen_high) {
  jetback::InstanceRegistry registry;
  jetback::InstanceOptions o;
  o.name = "replay";
  o.log_dir = dir + "/logs";
  o.system_dir = dir + "/sys";
  o.page_size = 32768;
  o.log_file_size = 16 << 20;
  auto inst = registry.Create(o);
  if (!inst.ok() || !(*inst)->Init().ok()) return false;
  auto db = (*inst)->CreateDatabase(dir + "/bench.edb");
  if (!db.ok() || !(*db)->CreateTable("t").ok()) return false;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      const std::string value(1024, 'v');
      char key[32];
      while (!stop.load()) {
        auto txn = (*db)->Begin();
        for (int p = 0; p < 20; ++p) {
          // 64 Ki keys: the tree stays ~2 GiB / 32 KiB-page sized, and
          // pages are rewritten many times, as a busy instance's are.
          snprintf(key, sizeof(key), "%08llx",
                   static_cast<unsigned long long>(rng() % 65536));
          if (!txn->Put("t", key, value).ok()) return;
        }
        if (!txn->Commit().ok()) return;
      }
    });
  }
  while (DirBytes(o.log_dir) < (log_mib << 20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop.store(true);
  for (auto& w : workers) w.join();
  auto rolled = (*inst)->RollLog();
  if (!rolled.ok()) return false;
  *gen_high = *rolled - 1;
  return (*inst)->Term(jetback::TermMode::kComplete).ok();
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  uint64_t log_mib = 1024;
  int runs = 3;
  std::string modes = "before,through,coalesced,direct";
  bool keep = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    if (a == "--log-mib") log_mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
    if (a == "--modes") modes = argv[i + 1];
    if (a == "--keep") keep = std::atoi(argv[i + 1]) != 0;
  }
  if (dir.empty()) {
    char tmpl[] = "/tmp/jetback_replay_bench_XXXXXX";
    dir = mkdtemp(tmpl);
  }
  const std::string gen_dir = dir + "/gen";
  fs::create_directories(gen_dir);
  uint64_t signature = 0;
  uint32_t gen_high = 0;
  if (fs::exists(gen_dir + "/bench.edb")) {
    while (fs::exists(gen_dir + "/logs/" +
                      jetback::format::ArchiveLogName("E00", gen_high + 1))) {
      ++gen_high;
    }
  } else if (!Generate(gen_dir, log_mib, &gen_high)) {
    std::fprintf(stderr, "replay_bench: generating the log failed\n");
    return 1;
  }
  // The database's signature, from its header.
  {
    std::string page(32768, '\0');
    int fd = open((gen_dir + "/bench.edb").c_str(), O_RDONLY);
    if (fd < 0 || pread(fd, page.data(), page.size(), 0) <= 0) return 1;
    close(fd);
    auto h = jetback::format::DecodeDbHeader(
        absl::MakeConstSpan(page.data(), page.size()));
    if (!h.ok()) return 1;
    signature = h->db_signature;
  }
  std::vector<std::pair<std::string, jetback::ReplayWrites>> kinds;
  for (absl::string_view m : absl::StrSplit(modes, ',')) {
    if (m == "before") kinds.emplace_back(m, jetback::ReplayWrites::kThrough);
    if (m == "through") kinds.emplace_back(m, jetback::ReplayWrites::kThrough);
    if (m == "coalesced") {
      kinds.emplace_back(m, jetback::ReplayWrites::kCoalesced);
    }
    if (m == "direct") kinds.emplace_back(m, jetback::ReplayWrites::kDirect);
    if (m == "buffered") {
      kinds.emplace_back(m, jetback::ReplayWrites::kCoalesced);
    }
  }
  for (int run = 1; run <= runs; ++run) {
    for (const auto& [mode_name, mode] : kinds) {
      const std::string to = dir + "/restore";
      fs::remove_all(to);
      fs::create_directories(to + "/logs");
      for (uint32_t g = 1; g <= gen_high; ++g) {
        const std::string name = jetback::format::ArchiveLogName("E00", g);
        CopyCold(gen_dir + "/logs/" + name, to + "/logs/" + name);
      }
      CopyCold(gen_dir + "/bench.edb", to + "/bench.edb");
      jetback::RestoreReplayOptions r;
      r.log_dir = to + "/logs";
      r.page_size = 32768;
      r.gen_low = 1;
      r.gen_high = gen_high;
      r.writes = mode;
      r.read_ahead = mode_name != "before";
      r.direct_reads = mode_name != "before" && mode_name != "buffered";
      std::vector<uint64_t> dbtimes;  // all older: every image is written
      r.targets.push_back({signature, to + "/bench.edb", &dbtimes});
      const auto start = Clock::now();
      auto result = jetback::ReplayArchiveLogsForRestore(r);
      const double secs =
          std::chrono::duration<double>(Clock::now() - start).count();
      if (!result.ok()) {
        std::fprintf(stderr, "replay_bench: %s\n",
                     result.status().ToString().c_str());
        return 1;
      }
      std::printf(
          "replay run=%d mode=%s log_mib=%.1f seconds=%.3f mib_per_s=%.1f\n",
          run, mode_name.c_str(), result->log_bytes / 1048576.0, secs,
          result->log_bytes / 1048576.0 / secs);
      std::fflush(stdout);
    }
  }
  if (!keep) fs::remove_all(dir);
  return 0;
}
