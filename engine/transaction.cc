// Transactions: writes buffered in memory, applied whole at commit by the
// group-commit leader, so rollback is dropping the buffer.

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/database_impl.h"
#include "jetback/status.h"

namespace jetback {
namespace {

struct PendingWrite {
  std::optional<std::string> value;  // nullopt: delete
  bool insert_only = false;
};

std::string TableEnd(uint32_t id) { return TableKey(id + 1, ""); }

class TransactionImpl : public Transaction {
 public:
  explicit TransactionImpl(DatabaseImpl* db) : db_(db) {}
  ~TransactionImpl() override = default;

  absl::Status Put(absl::string_view table, absl::string_view key,
                   absl::string_view value) override {
    return Write(table, key, value, false);
  }

  absl::Status Insert(absl::string_view table, absl::string_view key,
                      absl::string_view value) override {
    return Write(table, key, value, true);
  }

  absl::Status Delete(absl::string_view table, absl::string_view key) override {
    JB_RETURN_IF_ERROR(CheckOpen());
    JB_ASSIGN_OR_RETURN(std::optional<std::string> old, Lookup(table, key));
    if (!old) return NotFound(key);
    JB_ASSIGN_OR_RETURN(uint32_t id, db_->TableId(table));
    writes_[TableKey(id, key)] = PendingWrite{};
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Get(absl::string_view table,
                                  absl::string_view key) override {
    JB_RETURN_IF_ERROR(CheckOpen());
    JB_ASSIGN_OR_RETURN(std::optional<std::string> v, Lookup(table, key));
    if (!v) return NotFound(key);
    return *std::move(v);
  }

  absl::Status Scan(
      absl::string_view table, absl::string_view start, absl::string_view end,
      const std::function<bool(absl::string_view, absl::string_view)>& fn)
      override {
    JB_RETURN_IF_ERROR(CheckOpen());
    JB_ASSIGN_OR_RETURN(uint32_t id, db_->TableId(table));
    const std::string lo = TableKey(id, start);
    const std::string hi = end.empty() ? TableEnd(id) : TableKey(id, end);
    if (lo >= hi) return absl::OkStatus();
    auto own = writes_.lower_bound(lo);
    auto emit = [&](const std::string& k, absl::string_view v) {
      return fn(absl::string_view(k).substr(4), v);
    };
    std::optional<std::string> next = lo;
    while (next) {
      std::vector<std::pair<std::string, std::string>> rows;
      {
        jetback::ReaderMutexLock lock(&db_->file()->tree_mu());
        std::string from = *next;
        JB_RETURN_IF_ERROR(
            db_->tree()->ScanChunk(from, hi, 256 * 1024, &rows, &next));
      }
      for (const auto& [k, v] : rows) {
        for (; own != writes_.end() && own->first < k; ++own) {
          if (own->second.value && !emit(own->first, *own->second.value)) {
            return absl::OkStatus();
          }
        }
        if (own != writes_.end() && own->first == k) {
          bool go = !own->second.value || emit(k, *own->second.value);
          ++own;
          if (!go) return absl::OkStatus();
          continue;
        }
        if (!emit(k, v)) return absl::OkStatus();
      }
    }
    for (; own != writes_.end() && own->first < hi; ++own) {
      if (own->second.value && !emit(own->first, *own->second.value)) break;
    }
    return absl::OkStatus();
  }

  absl::Status Commit() override {
    JB_RETURN_IF_ERROR(CheckOpen());
    done_ = true;
    JB_RETURN_IF_ERROR(db_->pipeline()->CheckUsable());
    if (writes_.empty()) {
      commit_generation_ = db_->pipeline()->current_generation();
      return absl::OkStatus();
    }
    // Back-pressure: let the cache drain before adding more dirty pages.
    if (db_->file()->dirty_pages() > db_->pipeline()->cache_pages()) {
      JB_RETURN_IF_ERROR(db_->file()->Flush(UINT64_MAX));
    }
    auto writes = std::move(writes_);
    writes_.clear();
    BTree* tree = db_->tree();
    return db_->pipeline()->CommitTo(
        db_->file(),
        [&]() -> absl::Status {
          for (const auto& [key, w] : writes) {
            if (w.value) {
              if (w.insert_only) {
                JB_ASSIGN_OR_RETURN(auto old, tree->Get(key));
                if (old) {
                  return JetStatus(jet::JET_errKeyDuplicate,
                                   "key inserted concurrently");
                }
              }
              JB_RETURN_IF_ERROR(tree->Put(key, *w.value));
            } else {
              bool found;
              JB_RETURN_IF_ERROR(tree->Delete(key, &found));
            }
          }
          return absl::OkStatus();
        },
        &commit_generation_);
  }

  void Rollback() override {
    writes_.clear();
    done_ = true;
  }

  uint32_t commit_generation() const override { return commit_generation_; }

 private:
  absl::Status CheckOpen() {
    if (done_) {
      return JetStatus(jet::JET_errInvalidParameter,
                       "transaction already committed or rolled back");
    }
    return absl::OkStatus();
  }

  static absl::Status NotFound(absl::string_view key) {
    return JetStatus(jet::JET_errRecordNotFound,
                     absl::StrCat("key not found (", key.size(), " bytes)"));
  }

  absl::Status Write(absl::string_view table, absl::string_view key,
                     absl::string_view value, bool insert_only) {
    JB_RETURN_IF_ERROR(CheckOpen());
    if (key.size() > kMaxKeySize) {
      return JetStatus(jet::JET_errKeyTooBig,
                       absl::StrCat("key of ", key.size(), " bytes"));
    }
    if (value.size() > kMaxValueSize) {
      return JetStatus(jet::JET_errRecordTooBig,
                       absl::StrCat("value of ", value.size(), " bytes"));
    }
    JB_ASSIGN_OR_RETURN(uint32_t id, db_->TableId(table));
    if (insert_only) {
      JB_ASSIGN_OR_RETURN(std::optional<std::string> old, Lookup(table, key));
      if (old) {
        return JetStatus(jet::JET_errKeyDuplicate, "key exists");
      }
    }
    auto [it, fresh] = writes_.try_emplace(TableKey(id, key));
    PendingWrite& w = it->second;
    // Re-checked at commit only for a key this transaction did not touch
    // before; a later Put of an inserted key keeps the check.
    if (fresh) w.insert_only = insert_only;
    w.value = std::string(value);
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> Lookup(absl::string_view table,
                                                    absl::string_view key) {
    JB_ASSIGN_OR_RETURN(uint32_t id, db_->TableId(table));
    std::string k = TableKey(id, key);
    auto it = writes_.find(k);
    if (it != writes_.end()) return it->second.value;
    jetback::ReaderMutexLock lock(&db_->file()->tree_mu());
    return db_->tree()->Get(k);
  }

  DatabaseImpl* db_;
  std::map<std::string, PendingWrite> writes_;
  bool done_ = false;
  uint32_t commit_generation_ = 0;
};

}  // namespace

std::unique_ptr<Transaction> DatabaseImpl::Begin() {
  return std::make_unique<TransactionImpl>(this);
}

}  // namespace jetback
