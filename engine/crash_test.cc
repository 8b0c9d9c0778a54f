// Crash test: a child process commits the crash workload and is killed
// with SIGKILL at random moments (JETBACK_CRASH_ROUNDS times, default 60;
// JETBACK_CRASH_SEED reproduces a run). After each kill recovery runs here
// and the table must hold exactly the transactions 1..L of each writer with
// L >= the last acknowledged one: every acknowledged commit, no partial
// transaction. After some kills the current log is damaged first, at a
// random block and byte: inside an acknowledged group that later groups
// follow, recovery must refuse with -501 naming that block and change
// nothing on disk (the damage is then undone); after the last group (a torn
// write the kill interrupted), recovery must succeed and lose nothing.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/checkpoint.h"
#include "engine/crash_workload.h"
#include "engine/format.h"
#include "engine/log.h"
#include "engine/test_util.h"
#include "gtest/gtest.h"

namespace jetback::crash {
namespace {

struct ChildResult {
  int acked[kWriters] = {0, 0};
  bool ready = false;
  std::string error;
};

// Runs the child until it has acknowledged `kill_after` commits (or said
// ready, for 0), then SIGKILLs it.
ChildResult RunAndKill(const std::string& dir, uint32_t page_size,
                       bool circular, int kill_after) {
  ChildResult r;
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    std::string ps = std::to_string(page_size);
    execl(JETBACK_CRASH_CHILD, JETBACK_CRASH_CHILD, dir.c_str(), ps.c_str(),
          circular ? "1" : "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string buf;
  char chunk[4096];
  int acks = 0;
  bool killed = false;
  while (true) {
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    buf.append(chunk, n);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line == "ready") r.ready = true;
      int w, i;
      if (sscanf(line.c_str(), "ack %d %d", &w, &i) == 2) {
        r.acked[w] = std::max(r.acked[w], i);
        ++acks;
      }
      if (line.rfind("error", 0) == 0) r.error = line;
    }
    if (!killed && r.ready && acks >= kill_after) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(killed) << "child exited on its own, status " << status << " "
                      << r.error;
  return r;
}

void Verify(const std::string& dir, uint32_t page_size, bool circular,
            const ChildResult& child, bool clean_term, int round) {
  InstanceRegistry registry;
  Instance* inst = *registry.Create(CrashOptions(dir, page_size, circular));
  absl::Status init = inst->Init();
  ASSERT_TRUE(init.ok()) << "round " << round << ": " << init;
  Database* db = inst->FindDatabase("c.edb");
  if (db == nullptr || db->ListTables()->empty()) {
    // Killed before the table existed: nothing may have been acknowledged.
    EXPECT_EQ(child.acked[0] + child.acked[1], 0) << "round " << round;
    inst->TermDirty();
    return;
  }
  int last[kWriters];
  for (int w = 0; w < kWriters; ++w) {
    auto v = db->Begin()->Get("t", LastKey(w));
    last[w] = v.ok() ? std::atoi(v->c_str()) : 0;
    EXPECT_GE(last[w], child.acked[w])
        << "round " << round << ": acknowledged commit lost";
  }
  auto expected = Expected(last);
  auto it = expected.begin();
  size_t n = 0, mismatches = 0;
  JB_ASSERT_OK(db->Begin()->Scan("t", "", "", [&](auto k, auto v) {
    if (it == expected.end() || it->first != k || it->second != v) {
      if (mismatches++ < 3) {
        ADD_FAILURE() << "round " << round << ": unexpected key " << k
                      << " (expected "
                      << (it == expected.end() ? "<end>" : it->first) << ")";
      }
      return false;
    }
    ++it;
    ++n;
    return true;
  }));
  EXPECT_EQ(n, expected.size()) << "round " << round;
  if (clean_term) {
    JB_ASSERT_OK(inst->Term(TermMode::kComplete));
  } else {
    inst->TermDirty();  // the next child recovers from this crash state
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

struct LogLayout {
  uint32_t generation = 0;
  std::vector<uint32_t> starts;  // group starts at or after redo begins
  uint32_t end = 0;              // first block after the last group
};

// Where recovery will read the current log: from the checkpoint's redo
// position when it lies in this generation, else from block 1.
LogLayout Layout(const std::string& dir, const std::string& log) {
  LogLayout l;
  auto header = format::DecodeLogHeader(absl::MakeConstSpan(log));
  auto chk = ReadCheckpoint(Env::Default(), dir + "/sys", "E00");
  if (!header.ok() || !chk.ok()) return l;
  l.generation = header->generation;
  const LogPosition redo = PositionOf(chk->redo_lsn);
  uint32_t b = redo.generation == l.generation
                   ? std::max<uint32_t>(1, redo.offset / format::kLogBlockSize)
                   : 1;
  for (; size_t{b + 1} * format::kLogBlockSize <= log.size(); ++b) {
    auto block = absl::MakeConstSpan(log).subspan(
        size_t{b} * format::kLogBlockSize, format::kLogBlockSize);
    format::LogBlockHeader h;
    if (format::IsZero(block) ||
        !format::CheckLogBlock(block, l.generation, b, &h).ok()) {
      break;
    }
    if (h.flags & format::kLogBlockGroupStart) l.starts.push_back(b);
  }
  l.end = b;
  return l;
}

enum class Damage { kNone, kMiddle, kTornTail };

// Damages the current log as `damage` asks, checks what recovery says about
// a middle block and undoes it. Returns whether damage was applied.
bool DamageAndCheck(const std::string& dir, uint32_t page_size, bool circular,
                    Damage damage, std::mt19937& rng, int round) {
  const std::string path = dir + "/logs/E00.log";
  const std::string log = ReadAll(path);
  LogLayout l = Layout(dir, log);
  if (damage == Damage::kTornTail) {
    if (size_t{l.end + 1} * format::kLogBlockSize > log.size()) return false;
    std::string torn = log;
    const size_t from = size_t{l.end} * format::kLogBlockSize;
    const size_t len = std::uniform_int_distribution<size_t>(
        1, std::min<size_t>(log.size() - from, 3 * format::kLogBlockSize))(rng);
    for (size_t i = 0; i < len; ++i) torn[from + i] = static_cast<char>(rng());
    WriteAll(path, torn);
    return true;  // Verify must then succeed with nothing acknowledged lost
  }
  if (l.starts.size() < 2) return false;
  const uint32_t block = std::uniform_int_distribution<uint32_t>(
      l.starts.front(), l.starts.back() - 1)(rng);
  const size_t at =
      size_t{block} * format::kLogBlockSize +
      std::uniform_int_distribution<size_t>(0, format::kLogBlockSize - 1)(rng);
  std::string damaged = log;
  damaged[at] = static_cast<char>(damaged[at] ^ (1 + rng() % 255));
  WriteAll(path, damaged);
  {
    InstanceRegistry registry;
    Instance* inst = *registry.Create(CrashOptions(dir, page_size, circular));
    absl::Status s = inst->Init();
    EXPECT_EQ(JetErrOf(s), jet::JET_errLogFileCorrupt)
        << "round " << round << ", block " << block << ": " << s;
    EXPECT_NE(s.message().find(absl::StrCat("block ", block, ":")),
              std::string::npos)
        << "round " << round << ": " << s;
    EXPECT_EQ(ReadAll(path), damaged) << "round " << round << ": log changed";
  }
  WriteAll(path, log);
  return true;
}

TEST(CrashTest, KilledChildLosesNoAcknowledgedCommit) {
  int rounds = 60;
  if (const char* env = std::getenv("JETBACK_CRASH_ROUNDS")) {
    rounds = std::max(1, std::atoi(env));
  }
  uint32_t seed = std::random_device{}();
  if (const char* env = std::getenv("JETBACK_CRASH_SEED")) {
    seed = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
  }
  std::cout << "JETBACK_CRASH_SEED=" << seed << " rounds=" << rounds << "\n";
  std::mt19937 rng(seed);
  const uint32_t sizes[] = {4096, 8192, 16384};
  int kills = 0, middle = 0, torn = 0;
  for (int set = 0; set < 3; ++set) {
    testing_util::TempDir dir;
    uint32_t page_size = sizes[set];
    bool circular = set == 1;
    int per_set = rounds / 3 + (set < rounds % 3 ? 1 : 0);
    for (int round = 0; round < per_set; ++round) {
      int kill_after = std::uniform_int_distribution<int>(0, 40)(rng);
      if (kill_after < 3) kill_after = 0;
      ChildResult child =
          RunAndKill(dir.path(), page_size, circular, kill_after);
      ++kills;
      ASSERT_TRUE(child.error.empty()) << child.error;
      const int pick = std::uniform_int_distribution<int>(0, 3)(rng);
      const Damage damage = pick == 0   ? Damage::kMiddle
                            : pick == 1 ? Damage::kTornTail
                                        : Damage::kNone;
      if (damage != Damage::kNone &&
          DamageAndCheck(dir.path(), page_size, circular, damage, rng, round)) {
        ++(damage == Damage::kMiddle ? middle : torn);
      }
      if (::testing::Test::HasFailure()) return;
      Verify(dir.path(), page_size, circular, child,
             std::uniform_int_distribution<int>(0, 1)(rng) == 0, round);
      if (::testing::Test::HasFailure()) return;
    }
  }
  std::cout << kills << " kills, " << middle << " middle-block damages (-501), "
            << torn << " torn tails\n";
  // Both damage kinds really ran.
  if (rounds >= 50) {
    EXPECT_GT(middle, 0);
    EXPECT_GT(torn, 0);
  }
  EXPECT_EQ(kills, rounds);
}

}  // namespace
}  // namespace jetback::crash
