// File: engine/btree.h
//
// A B+tree of byte-string keys (memcmp order) and values over a DbFile's
// pages. Page 1 is the meta page (root, last page, free list, next table
// id); leaves and internal nodes are slotted pages; values too large to
// sit in a leaf go to overflow page chains. Splits on overflow, merges or
// redistribution below a quarter full. Freed pages join the free list.
//
// REQUIRES: Put/Delete/Init/SetNextTableId with db->tree_mu() held
// exclusively (inside a commit); Get/ScanChunk with it held at least
// shared.

#ifndef JETBACK_ENGINE_BTREE_H_
#define JETBACK_ENGINE_BTREE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/db_file.h"

namespace jetback {

class BTree {
 public:
  explicit BTree(DbFile* db);

  // Whether page 1 holds a meta page; Init() creates meta and empty root.
  absl::StatusOr<bool> Initialized();
  absl::Status Init();

  absl::Status Put(absl::string_view key, absl::string_view value);
  // *found false when the key was absent (nothing changed).
  absl::Status Delete(absl::string_view key, bool* found);
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key);
  // Appends pairs with start <= key < end (empty end: no bound) to *out
  // until about max_bytes; *next is where to resume, nullopt when done.
  absl::Status ScanChunk(absl::string_view start, absl::string_view end,
                         size_t max_bytes,
                         std::vector<std::pair<std::string, std::string>>* out,
                         std::optional<std::string>* next);

  absl::StatusOr<uint32_t> NextTableId();
  absl::Status SetNextTableId(uint32_t id);
  absl::StatusOr<uint32_t> PgnoLast();

  // Largest key + value that fit in a leaf without overflow pages.
  size_t max_cell() const { return max_cell_; }

 private:
  struct Cell {
    std::string key;
    std::string rest;  // leaf: kind, length, inline bytes or first pgno;
                       // internal: child pgno
  };
  struct Node {
    bool leaf = true;
    uint32_t leftmost = 0;
    std::vector<Cell> cells;
  };
  struct Split {
    bool happened = false;
    std::string key;
    uint32_t right = 0;
  };
  struct Meta {
    uint32_t root, pgno_last, free_head, next_table_id;
  };

  absl::StatusOr<Meta> ReadMeta();
  absl::Status WriteMeta(const Meta& meta);
  absl::StatusOr<uint32_t> Allocate();
  absl::Status FreePage(uint32_t pgno);
  absl::StatusOr<Node> Load(uint32_t pgno);
  size_t NodeSize(const Node& node) const;
  absl::Status Store(uint32_t pgno, const Node& node);
  // Stores node at pgno, splitting it into a new right page when too big.
  absl::Status StoreOrSplit(uint32_t pgno, Node& node, Split* split);
  size_t SplitPoint(const std::vector<Cell>& cells, bool leaf) const;
  absl::Status InsertRec(uint32_t pgno, absl::string_view key,
                         const std::string& rest, Split* split, int depth);
  absl::Status DeleteRec(uint32_t pgno, absl::string_view key, bool* found,
                         bool* underfull, Split* split, int depth);
  absl::Status Rebalance(Node& parent, size_t child_index);
  absl::StatusOr<std::string> MakeLeafRest(absl::string_view key,
                                           absl::string_view value);
  absl::StatusOr<std::string> ReadValue(absl::string_view rest);
  absl::Status FreeValue(absl::string_view rest);
  absl::Status GrowRoot(uint32_t old_root, const Split& split);

  DbFile* db_;
  const uint32_t page_size_;
  const size_t max_cell_;
};

}  // namespace jetback

#endif  // JETBACK_ENGINE_BTREE_H_
