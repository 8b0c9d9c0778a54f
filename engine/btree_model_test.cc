// The B+tree (through transactions) against a std::map model: long random
// sequences of puts, inserts, deletes and scans, with rollbacks, across
// page sizes, reopening the instance (clean and after a crash) midway.

#include <map>
#include <random>
#include <string>

#include "engine/test_util.h"
#include "gtest/gtest.h"
#include "jetback/instance.h"

namespace jetback {
namespace {

using testing_util::Options;
using testing_util::TempDir;

class BTreeModelTest : public ::testing::TestWithParam<uint32_t> {};

std::string RandomKey(std::mt19937& rng, int space) {
  int k = std::uniform_int_distribution<int>(0, space)(rng);
  // Varying lengths so separators and splits differ in size.
  return "key" + std::to_string(k) + std::string(k % 37, 'p');
}

std::string RandomValue(std::mt19937& rng, uint32_t page_size) {
  int kind = std::uniform_int_distribution<int>(0, 99)(rng);
  size_t len =
      kind < 85 ? std::uniform_int_distribution<size_t>(0, 200)(rng)
      : kind < 97
          ? std::uniform_int_distribution<size_t>(200, page_size)(rng)
          : std::uniform_int_distribution<size_t>(page_size, 70 * 1024)(rng);
  std::string v(len, '\0');
  for (auto& c : v) c = static_cast<char>(rng());
  return v;
}

void CheckAll(Database* db, const std::map<std::string, std::string>& model) {
  auto txn = db->Begin();
  auto it = model.begin();
  size_t n = 0;
  bool ok = true;
  JB_ASSERT_OK(txn->Scan("t", "", "", [&](auto k, auto v) {
    if (it == model.end() || it->first != k || it->second != v) {
      ok = false;
      return false;
    }
    ++it;
    ++n;
    return true;
  }));
  EXPECT_TRUE(ok) << "scan diverged at entry " << n;
  EXPECT_EQ(n, model.size());
}

TEST_P(BTreeModelTest, RandomOpsWithRollbacks) {
  const uint32_t page_size = GetParam();
  TempDir dir;
  InstanceRegistry registry;
  InstanceOptions o = Options(dir.path());
  o.page_size = page_size;
  o.cache_pages = 64;  // small: forces evictions and reloads
  o.log_file_size = 1 << 20;
  Instance* inst = *registry.Create(o);
  JB_ASSERT_OK(inst->Init());
  Database* db = *inst->CreateDatabase(dir.path() + "/m.edb");
  JB_ASSERT_OK(db->CreateTable("t"));
  JB_ASSERT_OK(db->CreateTable("other"));  // neighbours must not leak in
  {
    auto txn = db->Begin();
    JB_ASSERT_OK(txn->Put("other", "key1", "x"));
    JB_ASSERT_OK(txn->Commit());
  }
  std::mt19937 rng(page_size);
  std::map<std::string, std::string> model;
  const int kTxns = 600;
  const int space = 3000;
  for (int t = 0; t < kTxns; ++t) {
    auto txn = db->Begin();
    std::map<std::string, std::string> next = model;
    int ops = std::uniform_int_distribution<int>(1, 40)(rng);
    // Phases: grow, then shrink hard (merges), then mixed.
    int phase = (t * 3) / kTxns;
    for (int i = 0; i < ops; ++i) {
      std::string k = RandomKey(rng, space);
      int op = std::uniform_int_distribution<int>(0, 99)(rng);
      int del_pct = phase == 0 ? 10 : phase == 1 ? 75 : 35;
      if (op < del_pct) {
        absl::Status s = txn->Delete("t", k);
        EXPECT_EQ(JetErrOf(s), next.count(k) ? 0 : jet::JET_errRecordNotFound);
        next.erase(k);
      } else if (op < del_pct + 10) {
        std::string v = RandomValue(rng, page_size);
        absl::Status s = txn->Insert("t", k, v);
        EXPECT_EQ(JetErrOf(s), next.count(k) ? jet::JET_errKeyDuplicate : 0);
        next.emplace(k, v);
      } else {
        std::string v = RandomValue(rng, page_size);
        JB_ASSERT_OK(txn->Put("t", k, v));
        next[k] = v;
      }
      if (i % 7 == 0) {
        auto got = txn->Get("t", k);
        if (next.count(k)) {
          ASSERT_TRUE(got.ok());
          EXPECT_EQ(*got, next[k]);
        } else {
          EXPECT_EQ(JetErrOf(got.status()), jet::JET_errRecordNotFound);
        }
      }
    }
    if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) {
      txn->Rollback();
    } else {
      JB_ASSERT_OK(txn->Commit());
      model = std::move(next);
    }
    if (t % 150 == 149) {
      CheckAll(db, model);
      // Reopen: clean every other time, a simulated crash otherwise.
      if (t % 300 == 149) {
        inst->TermDirty();
      } else {
        JB_ASSERT_OK(inst->Term(TermMode::kComplete));
      }
      JB_ASSERT_OK(inst->Init());
      db = inst->FindDatabase("m.edb");
      ASSERT_NE(db, nullptr);
      CheckAll(db, model);
    }
  }
  CheckAll(db, model);
  // Range scans with bounds.
  auto txn = db->Begin();
  std::string lo = "key1", hi = "key5";
  size_t n = 0;
  JB_ASSERT_OK(txn->Scan("t", lo, hi, [&](auto k, auto) {
    EXPECT_GE(k, lo);
    EXPECT_LT(k, hi);
    ++n;
    return true;
  }));
  size_t expected = 0;
  for (auto it = model.lower_bound(lo); it != model.end() && it->first < hi;
       ++it) {
    ++expected;
  }
  EXPECT_EQ(n, expected);
  EXPECT_EQ(*db->Begin()->Get("other", "key1"), "x");
}

INSTANTIATE_TEST_SUITE_P(PageSizes, BTreeModelTest,
                         ::testing::Values(4096u, 8192u, 32768u));

TEST(BTreeBulkTest, ManyKeysSmallCache) {
  TempDir dir;
  InstanceRegistry registry;
  InstanceOptions o = Options(dir.path());
  o.cache_pages = 256;
  o.log_file_size = 4 << 20;
  Instance* inst = *registry.Create(o);
  JB_ASSERT_OK(inst->Init());
  Database* db = *inst->CreateDatabase(dir.path() + "/bulk.edb");
  JB_ASSERT_OK(db->CreateTable("t"));
  const int kKeys = 100000;
  char key[16];
  for (int base = 0; base < kKeys; base += 5000) {
    auto txn = db->Begin();
    for (int i = base; i < base + 5000; ++i) {
      // Scattered order so inserts land all over the tree.
      int k = static_cast<int>(
          (uint64_t{static_cast<uint32_t>(i)} * 2654435761u) % kKeys);
      snprintf(key, sizeof(key), "%08d", k);
      JB_ASSERT_OK(txn->Put("t", key, std::string(40, 'a' + k % 26)));
    }
    JB_ASSERT_OK(txn->Commit());
  }
  auto txn = db->Begin();
  int n = 0, prev = -1;
  JB_ASSERT_OK(txn->Scan("t", "", "", [&](auto k, auto v) {
    int cur = std::stoi(std::string(k));
    EXPECT_GT(cur, prev);
    EXPECT_EQ(v, std::string(40, 'a' + cur % 26));
    prev = cur;
    ++n;
    return true;
  }));
  EXPECT_EQ(n, kKeys);
  JB_ASSERT_OK(inst->Term(TermMode::kComplete));
}

}  // namespace
}  // namespace jetback
