// Set storage cost: writes the same bytes into a local set directory
// (repo::LocalSetWriter: O_DIRECT, background writer, fsync, rename)
// through each codec (repo/set_codec.h), as `jetback backup` stores what
// the daemon streams, in 1 MiB appends. Two kinds of data: compressible
// (JSON-like rows, {"id":N,"name":"userN","active":...}) and
// incompressible (random bytes). Baseline: codec none, no key, measured
// in the same run. Prints one row per case: MiB/s (median of --runs),
// ratio to the baseline, stored size / original size, and CPU ms per MiB
// (process CPU time, all threads).
//
//   jetback_set_codec_bench [--mib N] [--runs R] [--dir DIR] [--no-pipe]
//
// --no-pipe: compress and encrypt in the appending thread, as before
// set_file_pipe.h (EncodeOptions::pipe = false), for before/after runs.

#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/repo/backup_set.h"
#include "client/repo/set_codec.h"

namespace {

using namespace jetback::repo;  // a tool's main file

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::string Rows(size_t n) {
  std::string s;
  std::mt19937 rng(7);
  for (int i = 0; s.size() < n; ++i) {
    absl::StrAppend(&s, "{\"id\":", i, ",\"name\":\"user", rng() % 100000,
                    "\",\"balance\":", rng() % 1000000,
                    ",\"active\":", rng() % 2 ? "true" : "false", "}\n");
  }
  s.resize(n);
  return s;
}

std::string Random(size_t n) {
  std::mt19937_64 rng(11);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

struct Result {
  double mibs = 0, stored_ratio = 0, cpu_ms_per_mib = 0;
};

Result RunOnce(const std::string& root, const std::string& data, int mib,
               const EncodeOptions& options, int n) {
  const std::string dir = absl::StrCat(root, "/run", n);
  bool created = false;
  if (!PrepareOutputDir(dir, &created).ok()) std::abort();
  auto writer =
      EncodingSetWriter(LocalSetWriter(dir, created), options, "bench");
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  auto file = writer->CreateFile("demo.edb", false);
  if (!file.ok()) std::abort();
  const size_t chunk = 1 << 20;
  for (int i = 0; i < mib; ++i) {
    const size_t at = (static_cast<size_t>(i) * chunk) % data.size();
    if (!(*file)->Append(absl::string_view(data).substr(at, chunk)).ok()) {
      std::abort();
    }
  }
  if (!(*file)->Commit({}).ok()) std::abort();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  const double cpu = CpuSeconds() - cpu0;
  ManifestFile entry;
  entry.set_stored_size((*file)->size());
  (*file)->AddStorageTo(&entry);
  Result r;
  r.mibs = mib / seconds;
  r.stored_ratio = static_cast<double>(entry.stored_size()) /
                   (static_cast<double>(mib) * chunk);
  r.cpu_ms_per_mib = cpu * 1000 / mib;
  file->reset();
  writer.reset();
  std::filesystem::remove_all(dir);
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int mib = 512, runs = 5;
  bool pipe = true;
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-pipe") == 0) {
      pipe = false;
      continue;
    }
    if (i + 1 >= argc) break;
    if (std::strcmp(argv[i], "--mib") == 0) mib = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    ++i;
  }
  std::string root = dir + "/jb-codec-bench-XXXXXX";
  if (mkdtemp(root.data()) == nullptr) return 1;
  auto key = RepoKey::FromText(std::string(64, '7'), "bench");
  struct Case {
    const char* name;
    const char* compress;
    bool encrypt;
  };
  const std::vector<Case> cases = {{"none", "none", false},
                                   {"zstd:1 (default)", "zstd:1", false},
                                   {"zstd:3", "zstd:3", false},
                                   {"zstd:9 (high)", "zstd:9", false},
                                   {"none + encryption", "none", true},
                                   {"zstd:1 + encryption", "zstd:1", true}};
  const size_t pool = 64 << 20;  // cycled through: no page-cache effects
  std::printf(
      "| data | storage | MiB/s | vs none | stored/original | CPU "
      "ms/MiB |\n|---|---|---|---|---|---|\n");
  int n = 0;
  for (const char* kind : {"JSON-like rows", "random bytes"}) {
    const std::string data =
        std::strcmp(kind, "random bytes") == 0 ? Random(pool) : Rows(pool);
    double base = 0;
    for (const Case& c : cases) {
      EncodeOptions options;
      options.compress = *ParseCompress(c.compress);
      options.pipe = pipe;
      if (c.encrypt) options.key = *key;
      std::vector<double> rate, cpu;
      Result last;
      for (int r = 0; r < runs; ++r) {
        last = RunOnce(root, data, mib, options, ++n);
        rate.push_back(last.mibs);
        cpu.push_back(last.cpu_ms_per_mib);
      }
      const double median = Median(rate);
      if (base == 0) base = median;
      std::printf("| %s | %s | %.0f | %.2f | %.3f | %.2f |\n", kind, c.name,
                  median, median / base, last.stored_ratio, Median(cpu));
    }
  }
  std::filesystem::remove_all(root);
  return 0;
}
