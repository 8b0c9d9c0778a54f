// Child process of crash_test: recovers the instance in argv[1], then
// commits the crash workload from two threads, printing "ack <w> <i>"
// after each acknowledged commit, until it is killed.
// Usage: jetback_crash_child DIR PAGE_SIZE CIRCULAR(0|1)

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "engine/crash_workload.h"
#include "jetback/instance.h"
#include "jetback/status.h"

namespace jetback::crash {
namespace {

std::mutex out_mu;

void Say(const std::string& line) {
  std::lock_guard<std::mutex> lock(out_mu);
  std::string l = line + "\n";
  if (write(1, l.data(), l.size()) < 0) _exit(3);
}

int Run(const std::string& dir, uint32_t page_size, bool circular) {
  InstanceRegistry registry;
  auto inst = registry.Create(CrashOptions(dir, page_size, circular));
  if (!inst.ok() || !(*inst)->Init().ok()) return 2;
  Database* db = (*inst)->FindDatabase("c.edb");
  if (db == nullptr) {
    auto created = (*inst)->CreateDatabase(dir + "/c.edb");
    if (!created.ok()) return 2;
    db = *created;
  }
  auto tables = db->ListTables();
  if (!tables.ok()) return 2;
  if (tables->empty() && !db->CreateTable("t").ok()) return 2;
  Say("ready");
  std::thread writers[kWriters];
  for (int w = 0; w < kWriters; ++w) {
    writers[w] = std::thread([w, db] {
      auto last = db->Begin()->Get("t", LastKey(w));
      int i = last.ok() ? std::atoi(last->c_str()) : 0;
      for (int n = 0; n < 5000; ++n) {
        ++i;
        auto txn = db->Begin();
        for (int j = 0; j < Parts(w, i); ++j) {
          if (!txn->Put("t", Key(w, i, j), Value(w, i, j)).ok()) _exit(4);
        }
        if (!txn->Put("t", LastKey(w), std::to_string(i)).ok()) _exit(4);
        if (i > 5 && !txn->Delete("t", Key(w, i - 5, 0)).ok()) _exit(5);
        absl::Status s = txn->Commit();
        if (!s.ok()) {
          Say("error " + s.ToString());
          _exit(6);
        }
        Say("ack " + std::to_string(w) + " " + std::to_string(i));
      }
    });
  }
  for (auto& t : writers) t.join();
  return 0;
}

}  // namespace
}  // namespace jetback::crash

int main(int argc, char** argv) {
  if (argc != 4) return 1;
  return jetback::crash::Run(argv[1], std::atoi(argv[2]),
                             std::atoi(argv[3]) != 0);
}
