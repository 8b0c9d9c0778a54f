// Crash test: a child process commits the crash workload and is killed
// with SIGKILL at random moments (JETBACK_CRASH_ROUNDS times, default 50).
// After each kill recovery runs here and the table must hold exactly the
// transactions 1..L of each writer with L >= the last acknowledged one:
// every acknowledged commit, no partial transaction.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include "engine/crash_workload.h"
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

TEST(CrashTest, KilledChildLosesNoAcknowledgedCommit) {
  int rounds = 50;
  if (const char* env = std::getenv("JETBACK_CRASH_ROUNDS")) {
    rounds = std::max(1, std::atoi(env));
  }
  std::mt19937 rng(std::random_device{}());
  const uint32_t sizes[] = {4096, 8192, 16384};
  int kills = 0;
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
      Verify(dir.path(), page_size, circular, child,
             std::uniform_int_distribution<int>(0, 1)(rng) == 0, round);
      if (::testing::Test::HasFailure()) return;
    }
  }
  EXPECT_EQ(kills, rounds);
}

}  // namespace
}  // namespace jetback::crash
