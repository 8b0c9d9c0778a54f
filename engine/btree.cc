// B+tree over DbFile pages. Nodes are decoded into vectors, changed and
// re-encoded whole, which keeps split/merge logic short and obviously
// right; page layout in engine/FORMAT.md.

#include "engine/btree.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/format.h"
#include "jetback/status.h"

namespace jetback {
namespace {

using format::PageType;
constexpr size_t kNodeHeader = 40;  // page header + count, pad, leftmost
constexpr uint8_t kInline = 0;
constexpr uint8_t kOverflow = 1;
constexpr uint32_t kMetaPgno = 1;

uint32_t U32At(absl::string_view s, size_t pos) {
  uint32_t v = 0;
  if (pos + 4 <= s.size()) std::memcpy(&v, s.data() + pos, 4);
  return v;
}

std::string U32Str(uint32_t v) {
  return std::string(reinterpret_cast<char*>(&v), 4);
}

void SetType(CachedPage& p, PageType type) {
  format::PageHeader h = format::ReadPageHeader(
      absl::MakeConstSpan(p.bytes(), sizeof(format::PageHeader)));
  h.type = static_cast<uint32_t>(type);
  h.pgno = p.pgno;
  std::memcpy(p.bytes(), &h, sizeof(h));
}

absl::Status Corrupt(uint32_t pgno, absl::string_view why) {
  return JetStatus(jet::JET_errDatabaseCorrupted,
                   absl::StrCat("page ", pgno, ": ", why));
}

}  // namespace

BTree::BTree(DbFile* db)
    : db_(db),
      page_size_(db->page_size()),
      max_cell_((db->page_size() - kNodeHeader) / 3 - 2) {}

absl::StatusOr<bool> BTree::Initialized() {
  JB_ASSIGN_OR_RETURN(PagePtr p, db_->Read(kMetaPgno));
  return format::ReadPageHeader(absl::MakeConstSpan(p->bytes(), 32)).type ==
         static_cast<uint32_t>(PageType::kMeta);
}

absl::Status BTree::Init() {
  PagePtr root = db_->New(2);
  SetType(*root, PageType::kLeaf);
  db_->New(kMetaPgno);
  return WriteMeta(Meta{2, 2, 0, 1});
}

absl::StatusOr<BTree::Meta> BTree::ReadMeta() {
  JB_ASSIGN_OR_RETURN(PagePtr p, db_->Read(kMetaPgno));
  Reader r(absl::MakeConstSpan(p->bytes() + 32, 16));
  Meta m{r.U32(), r.U32(), r.U32(), r.U32()};
  if (m.root == 0 || m.pgno_last < 2) return Corrupt(1, "bad meta page");
  return m;
}

absl::Status BTree::WriteMeta(const Meta& m) {
  JB_ASSIGN_OR_RETURN(PagePtr p, db_->Write(kMetaPgno));
  SetType(*p, PageType::kMeta);
  Writer w(absl::MakeSpan(p->bytes() + 32, 16));
  w.U32(m.root);
  w.U32(m.pgno_last);
  w.U32(m.free_head);
  w.U32(m.next_table_id);
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> BTree::NextTableId() {
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  return m.next_table_id;
}

absl::Status BTree::SetNextTableId(uint32_t id) {
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  m.next_table_id = id;
  return WriteMeta(m);
}

absl::StatusOr<uint32_t> BTree::PgnoLast() {
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  return m.pgno_last;
}

absl::StatusOr<uint32_t> BTree::Allocate() {
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  uint32_t pgno;
  if (m.free_head != 0) {
    pgno = m.free_head;
    JB_ASSIGN_OR_RETURN(PagePtr p, db_->Write(pgno));
    m.free_head = U32At(absl::string_view(p->bytes(), page_size_), 32);
  } else {
    pgno = ++m.pgno_last;
  }
  JB_RETURN_IF_ERROR(WriteMeta(m));
  db_->New(pgno);
  return pgno;
}

absl::Status BTree::FreePage(uint32_t pgno) {
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  JB_ASSIGN_OR_RETURN(PagePtr p, db_->Write(pgno));
  std::memset(p->bytes(), 0, page_size_);
  SetType(*p, PageType::kFree);
  std::memcpy(p->bytes() + 32, &m.free_head, 4);
  m.free_head = pgno;
  return WriteMeta(m);
}

absl::StatusOr<BTree::Node> BTree::Load(uint32_t pgno) {
  JB_ASSIGN_OR_RETURN(PagePtr p, db_->Read(pgno));
  absl::string_view page(p->bytes(), page_size_);
  format::PageHeader h =
      format::ReadPageHeader(absl::MakeConstSpan(page.data(), 32));
  Node node;
  if (h.type == static_cast<uint32_t>(PageType::kInternal)) {
    node.leaf = false;
  } else if (h.type != static_cast<uint32_t>(PageType::kLeaf)) {
    return Corrupt(pgno, absl::StrCat("not a tree page (type ", h.type, ")"));
  }
  uint16_t count;
  std::memcpy(&count, page.data() + 32, 2);
  node.leftmost = U32At(page, 36);
  if (kNodeHeader + size_t{count} * 2 > page_size_)
    return Corrupt(pgno, "count");
  node.cells.reserve(count);
  for (uint16_t i = 0; i < count; ++i) {
    uint16_t off, klen;
    std::memcpy(&off, page.data() + kNodeHeader + i * 2, 2);
    if (off + 2u > page_size_) return Corrupt(pgno, "slot");
    std::memcpy(&klen, page.data() + off, 2);
    size_t rest_len = 4;
    if (node.leaf) {
      if (off + 2u + klen + 5 > page_size_) return Corrupt(pgno, "cell");
      uint8_t kind = static_cast<uint8_t>(page[off + 2 + klen]);
      uint32_t vlen = U32At(page, off + 2 + klen + 1);
      rest_len = 5 + (kind == kInline ? vlen : 4);
    }
    if (off + 2u + klen + rest_len > page_size_) return Corrupt(pgno, "cell");
    node.cells.push_back({std::string(page.substr(off + 2, klen)),
                          std::string(page.substr(off + 2 + klen, rest_len))});
  }
  return node;
}

size_t BTree::NodeSize(const Node& node) const {
  size_t size = kNodeHeader;
  for (const Cell& c : node.cells) size += 2 + 2 + c.key.size() + c.rest.size();
  return size;
}

absl::Status BTree::Store(uint32_t pgno, const Node& node) {
  JB_ASSIGN_OR_RETURN(PagePtr p, db_->Write(pgno));
  std::memset(p->bytes() + 32, 0, page_size_ - 32);
  SetType(*p, node.leaf ? PageType::kLeaf : PageType::kInternal);
  uint16_t count = static_cast<uint16_t>(node.cells.size());
  std::memcpy(p->bytes() + 32, &count, 2);
  std::memcpy(p->bytes() + 36, &node.leftmost, 4);
  size_t end = page_size_;
  for (size_t i = 0; i < node.cells.size(); ++i) {
    const Cell& c = node.cells[i];
    size_t len = 2 + c.key.size() + c.rest.size();
    end -= len;
    uint16_t off = static_cast<uint16_t>(end),
             klen = static_cast<uint16_t>(c.key.size());
    std::memcpy(p->bytes() + kNodeHeader + i * 2, &off, 2);
    std::memcpy(p->bytes() + end, &klen, 2);
    std::memcpy(p->bytes() + end + 2, c.key.data(), c.key.size());
    std::memcpy(p->bytes() + end + 2 + c.key.size(), c.rest.data(),
                c.rest.size());
  }
  return absl::OkStatus();
}

size_t BTree::SplitPoint(const std::vector<Cell>& cells, bool leaf) const {
  size_t total = 0;
  for (const Cell& c : cells) total += 4 + c.key.size() + c.rest.size();
  size_t acc = 0, m = 0;
  while (m < cells.size() && acc < total / 2) {
    acc += 4 + cells[m].key.size() + cells[m].rest.size();
    ++m;
  }
  size_t hi = leaf ? cells.size() - 1 : cells.size() - 2;
  return std::clamp<size_t>(m, 1, hi);
}

absl::Status BTree::StoreOrSplit(uint32_t pgno, Node& node, Split* split) {
  if (NodeSize(node) <= page_size_) return Store(pgno, node);
  size_t m = SplitPoint(node.cells, node.leaf);
  Node right;
  right.leaf = node.leaf;
  if (node.leaf) {
    right.cells.assign(node.cells.begin() + m, node.cells.end());
    split->key = right.cells.front().key;
  } else {
    split->key = node.cells[m].key;
    right.leftmost = U32At(node.cells[m].rest, 0);
    right.cells.assign(node.cells.begin() + m + 1, node.cells.end());
  }
  node.cells.resize(m);
  JB_ASSIGN_OR_RETURN(split->right, Allocate());
  split->happened = true;
  JB_RETURN_IF_ERROR(Store(split->right, right));
  return Store(pgno, node);
}

absl::StatusOr<std::string> BTree::MakeLeafRest(absl::string_view key,
                                                absl::string_view value) {
  std::string rest(1, static_cast<char>(kInline));
  rest += U32Str(static_cast<uint32_t>(value.size()));
  if (2 + key.size() + 5 + value.size() <= max_cell_) {
    rest.append(value.data(), value.size());
    return rest;
  }
  rest[0] = static_cast<char>(kOverflow);
  // Chain written back to front so each page knows its successor.
  const size_t chunk = page_size_ - kNodeHeader;
  size_t chunks = (value.size() + chunk - 1) / chunk;
  uint32_t next = 0;
  for (size_t i = chunks; i-- > 0;) {
    JB_ASSIGN_OR_RETURN(uint32_t pgno, Allocate());
    JB_ASSIGN_OR_RETURN(PagePtr p, db_->Write(pgno));
    SetType(*p, PageType::kOverflow);
    absl::string_view part = value.substr(i * chunk, chunk);
    uint32_t len = static_cast<uint32_t>(part.size());
    std::memcpy(p->bytes() + 32, &next, 4);
    std::memcpy(p->bytes() + 36, &len, 4);
    std::memcpy(p->bytes() + kNodeHeader, part.data(), part.size());
    next = pgno;
  }
  rest += U32Str(next);
  return rest;
}

absl::StatusOr<std::string> BTree::ReadValue(absl::string_view rest) {
  uint32_t vlen = U32At(rest, 1);
  if (rest[0] == static_cast<char>(kInline)) return std::string(rest.substr(5));
  std::string value;
  value.reserve(vlen);
  uint32_t pgno = U32At(rest, 5);
  while (value.size() < vlen) {
    if (pgno == 0) return Corrupt(0, "overflow chain ends early");
    JB_ASSIGN_OR_RETURN(PagePtr p, db_->Read(pgno));
    absl::string_view page(p->bytes(), page_size_);
    uint32_t len = U32At(page, 36);
    if (len > page_size_ - kNodeHeader) return Corrupt(pgno, "overflow length");
    value.append(page.data() + kNodeHeader, len);
    pgno = U32At(page, 32);
  }
  return value;
}

absl::Status BTree::FreeValue(absl::string_view rest) {
  if (rest[0] == static_cast<char>(kInline)) return absl::OkStatus();
  uint32_t pgno = U32At(rest, 5);
  while (pgno != 0) {
    JB_ASSIGN_OR_RETURN(PagePtr p, db_->Read(pgno));
    uint32_t next = U32At(absl::string_view(p->bytes(), page_size_), 32);
    JB_RETURN_IF_ERROR(FreePage(pgno));
    pgno = next;
  }
  return absl::OkStatus();
}

absl::Status BTree::InsertRec(uint32_t pgno, absl::string_view key,
                              const std::string& rest, Split* split,
                              int depth) {
  if (depth > 64) return Corrupt(pgno, "tree too deep (cycle?)");
  JB_ASSIGN_OR_RETURN(Node node, Load(pgno));
  auto it = std::lower_bound(
      node.cells.begin(), node.cells.end(), key,
      [](const Cell& c, absl::string_view k) { return c.key < k; });
  if (node.leaf) {
    if (it != node.cells.end() && it->key == key) {
      JB_RETURN_IF_ERROR(FreeValue(it->rest));
      it->rest = rest;
    } else {
      node.cells.insert(it, Cell{std::string(key), rest});
    }
    return StoreOrSplit(pgno, node, split);
  }
  // Child for key: last cell with key <= k, else leftmost.
  size_t idx = static_cast<size_t>(it - node.cells.begin());
  if (it != node.cells.end() && it->key == key) ++idx;
  uint32_t child =
      idx == 0 ? node.leftmost : U32At(node.cells[idx - 1].rest, 0);
  Split child_split;
  JB_RETURN_IF_ERROR(InsertRec(child, key, rest, &child_split, depth + 1));
  if (!child_split.happened) return absl::OkStatus();
  node.cells.insert(node.cells.begin() + idx,
                    Cell{child_split.key, U32Str(child_split.right)});
  return StoreOrSplit(pgno, node, split);
}

absl::Status BTree::GrowRoot(uint32_t old_root, const Split& split) {
  JB_ASSIGN_OR_RETURN(uint32_t root, Allocate());
  Node node;
  node.leaf = false;
  node.leftmost = old_root;
  node.cells.push_back({split.key, U32Str(split.right)});
  JB_RETURN_IF_ERROR(Store(root, node));
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  m.root = root;
  return WriteMeta(m);
}

absl::Status BTree::Put(absl::string_view key, absl::string_view value) {
  JB_ASSIGN_OR_RETURN(std::string rest, MakeLeafRest(key, value));
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  Split split;
  JB_RETURN_IF_ERROR(InsertRec(m.root, key, rest, &split, 0));
  if (split.happened) return GrowRoot(m.root, split);
  return absl::OkStatus();
}

absl::Status BTree::Rebalance(Node& parent, size_t ci) {
  if (parent.cells.empty()) return absl::OkStatus();
  size_t li = ci > 0 ? ci - 1 : 0, ri = li + 1;
  auto child_at = [&](size_t i) {
    return i == 0 ? parent.leftmost : U32At(parent.cells[i - 1].rest, 0);
  };
  uint32_t lp = child_at(li), rp = child_at(ri);
  JB_ASSIGN_OR_RETURN(Node left, Load(lp));
  JB_ASSIGN_OR_RETURN(Node right, Load(rp));
  std::vector<Cell> all = std::move(left.cells);
  if (!left.leaf)
    all.push_back({parent.cells[ri - 1].key, U32Str(right.leftmost)});
  for (Cell& c : right.cells) all.push_back(std::move(c));
  Node merged{left.leaf, left.leftmost, std::move(all)};
  if (NodeSize(merged) <= page_size_) {
    JB_RETURN_IF_ERROR(Store(lp, merged));
    JB_RETURN_IF_ERROR(FreePage(rp));
    parent.cells.erase(parent.cells.begin() + (ri - 1));
    return absl::OkStatus();
  }
  size_t m = SplitPoint(merged.cells, merged.leaf);
  Node r2;
  r2.leaf = merged.leaf;
  std::string sep;
  if (merged.leaf) {
    r2.cells.assign(merged.cells.begin() + m, merged.cells.end());
    sep = r2.cells.front().key;
  } else {
    sep = merged.cells[m].key;
    r2.leftmost = U32At(merged.cells[m].rest, 0);
    r2.cells.assign(merged.cells.begin() + m + 1, merged.cells.end());
  }
  merged.cells.resize(m);
  JB_RETURN_IF_ERROR(Store(lp, merged));
  JB_RETURN_IF_ERROR(Store(rp, r2));
  parent.cells[ri - 1].key = std::move(sep);
  return absl::OkStatus();
}

absl::Status BTree::DeleteRec(uint32_t pgno, absl::string_view key, bool* found,
                              bool* underfull, Split* split, int depth) {
  if (depth > 64) return Corrupt(pgno, "tree too deep (cycle?)");
  JB_ASSIGN_OR_RETURN(Node node, Load(pgno));
  auto it = std::lower_bound(
      node.cells.begin(), node.cells.end(), key,
      [](const Cell& c, absl::string_view k) { return c.key < k; });
  if (node.leaf) {
    if (it == node.cells.end() || it->key != key) return absl::OkStatus();
    *found = true;
    JB_RETURN_IF_ERROR(FreeValue(it->rest));
    node.cells.erase(it);
    *underfull = NodeSize(node) < page_size_ / 4;
    return Store(pgno, node);
  }
  size_t idx = static_cast<size_t>(it - node.cells.begin());
  if (it != node.cells.end() && it->key == key) ++idx;
  uint32_t child =
      idx == 0 ? node.leftmost : U32At(node.cells[idx - 1].rest, 0);
  bool child_under = false;
  Split child_split;
  JB_RETURN_IF_ERROR(
      DeleteRec(child, key, found, &child_under, &child_split, depth + 1));
  if (!child_under && !child_split.happened) return absl::OkStatus();
  if (child_split.happened) {
    node.cells.insert(node.cells.begin() + idx,
                      Cell{child_split.key, U32Str(child_split.right)});
  } else {
    JB_RETURN_IF_ERROR(Rebalance(node, idx));
  }
  *underfull = NodeSize(node) < page_size_ / 4;
  return StoreOrSplit(pgno, node, split);
}

absl::Status BTree::Delete(absl::string_view key, bool* found) {
  *found = false;
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  bool underfull = false;
  Split split;
  JB_RETURN_IF_ERROR(DeleteRec(m.root, key, found, &underfull, &split, 0));
  if (split.happened) return GrowRoot(m.root, split);
  JB_ASSIGN_OR_RETURN(Node root, Load(m.root));
  if (!root.leaf && root.cells.empty()) {
    JB_ASSIGN_OR_RETURN(m, ReadMeta());
    uint32_t old = m.root;
    m.root = root.leftmost;
    JB_RETURN_IF_ERROR(WriteMeta(m));
    return FreePage(old);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BTree::Get(absl::string_view key) {
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  uint32_t pgno = m.root;
  for (int depth = 0; depth < 64; ++depth) {
    JB_ASSIGN_OR_RETURN(Node node, Load(pgno));
    auto it = std::lower_bound(
        node.cells.begin(), node.cells.end(), key,
        [](const Cell& c, absl::string_view k) { return c.key < k; });
    if (node.leaf) {
      if (it == node.cells.end() || it->key != key) return std::nullopt;
      JB_ASSIGN_OR_RETURN(std::string v, ReadValue(it->rest));
      return v;
    }
    size_t idx = static_cast<size_t>(it - node.cells.begin());
    if (it != node.cells.end() && it->key == key) ++idx;
    pgno = idx == 0 ? node.leftmost : U32At(node.cells[idx - 1].rest, 0);
  }
  return Corrupt(pgno, "tree too deep");
}

absl::Status BTree::ScanChunk(
    absl::string_view start, absl::string_view end, size_t max_bytes,
    std::vector<std::pair<std::string, std::string>>* out,
    std::optional<std::string>* next) {
  JB_ASSIGN_OR_RETURN(Meta m, ReadMeta());
  std::string cur(start);
  size_t bytes = 0;
  while (true) {
    // Descend to the leaf for cur, remembering the nearest separator above
    // it: where the next leaf begins.
    std::optional<std::string> fence;
    uint32_t pgno = m.root;
    Node node;
    for (int depth = 0;; ++depth) {
      if (depth > 64) return Corrupt(pgno, "tree too deep");
      JB_ASSIGN_OR_RETURN(node, Load(pgno));
      if (node.leaf) break;
      auto it = std::upper_bound(
          node.cells.begin(), node.cells.end(), absl::string_view(cur),
          [](absl::string_view k, const Cell& c) { return k < c.key; });
      size_t idx = static_cast<size_t>(it - node.cells.begin());
      if (it != node.cells.end()) fence = it->key;
      pgno = idx == 0 ? node.leftmost : U32At(node.cells[idx - 1].rest, 0);
    }
    auto it = std::lower_bound(
        node.cells.begin(), node.cells.end(), absl::string_view(cur),
        [](const Cell& c, absl::string_view k) { return c.key < k; });
    for (; it != node.cells.end(); ++it) {
      if (!end.empty() && it->key >= end) {
        *next = std::nullopt;
        return absl::OkStatus();
      }
      JB_ASSIGN_OR_RETURN(std::string v, ReadValue(it->rest));
      bytes += it->key.size() + v.size() + 64;
      out->emplace_back(it->key, std::move(v));
      if (bytes >= max_bytes) {
        *next = it->key + std::string(1, '\0');
        return absl::OkStatus();
      }
    }
    if (!fence || (!end.empty() && *fence >= end)) {
      *next = std::nullopt;
      return absl::OkStatus();
    }
    cur = *fence;
  }
}

}  // namespace jetback
