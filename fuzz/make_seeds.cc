// Writes the seed corpora of the fuzz targets that need real bytes (a real
// backup set, its pages and logs, FileChunk messages, daemon requests) into
// fuzz/corpus/<target>/. Run by hand when a format changes:
//   build-fuzz/fuzz/make_seeds fuzz/corpus
// The config and manifest seeds are plain text files kept as they are.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "jetback/backup.h"
#include "jetback/instance.h"
#include "jetback/v1/backup.pb.h"
#include "jetback/v1/data.pb.h"
#include "jetback/v1/instances.pb.h"

namespace {

using namespace jetback;
namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

size_t Trimmed(const std::string& s) {
  size_t n = s.size();
  while (n > 0 && s[n - 1] == '\0') --n;
  return n;
}

void Die(const absl::Status& s) {
  std::fprintf(stderr, "make_seeds: %s\n", s.ToString().c_str());
  std::exit(1);
}

// Streams one file of the running backup.
std::string ReadFile(BackupEngine& b, const std::string& name) {
  auto opened = b.OpenFile("", name, 0);
  if (!opened.ok()) Die(opened.status());
  std::string out(opened->size, '\0');
  uint64_t off = 0;
  while (off < out.size()) {
    const size_t want = std::min<uint64_t>(64 * 1024, out.size() - off);
    auto n = b.ReadAt("", 0, off, absl::MakeSpan(out.data() + off, want));
    if (!n.ok()) Die(n.status());
    if (*n == 0) break;
    off += *n;
  }
  if (auto s = b.CloseFile("", 0); !s.ok()) Die(s);
  return out;
}

std::string U32(uint32_t v) {
  return std::string(reinterpret_cast<char*>(&v), 4);
}
std::string U16(uint16_t v) {
  return std::string(reinterpret_cast<char*>(&v), 2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path corpus = argv[1];
  const fs::path tmp = fs::temp_directory_path() / "jetback-make-seeds";
  fs::remove_all(tmp);
  fs::create_directories(tmp);

  // A small instance: 4 KiB pages, 64 KiB logs, a hundred rows.
  InstanceRegistry registry;
  InstanceOptions o;
  o.name = "seed";
  o.log_dir = (tmp / "logs").string();
  o.system_dir = (tmp / "system").string();
  o.page_size = 4096;
  o.log_file_size = 64 * 1024;
  fs::create_directories(o.log_dir);
  fs::create_directories(o.system_dir);
  auto inst = registry.Create(o);
  if (!inst.ok()) Die(inst.status());
  if (auto s = (*inst)->Init(); !s.ok()) Die(s);
  auto db = (*inst)->CreateDatabase((tmp / "demo.edb").string());
  if (!db.ok()) Die(db.status());
  if (auto s = (*db)->CreateTable("t"); !s.ok()) Die(s);
  // Few commits: the logs stay within generations 1-3, the names the
  // backup_set_fuzzer input format has.
  for (int i = 0; i < 4; ++i) {
    auto txn = (*db)->Begin();
    for (int j = 0; j < 30; ++j) {
      if (auto s = txn->Put("t", absl::StrCat("key", i, "-", j),
                            std::string(100, 'a' + j % 26));
          !s.ok()) {
        Die(s);
      }
    }
    if (auto s = txn->Commit(); !s.ok()) Die(s);
  }

  BackupEngine& b = (*inst)->backup();
  if (auto s = b.Begin(0, {}); !s.ok()) Die(s.status());
  std::map<std::string, std::string> files;
  auto dbs = b.GetAttachInfo("");
  if (!dbs.ok()) Die(dbs.status());
  for (const std::string& p : *dbs) files["demo.edb"] = ReadFile(b, p);
  auto logs = b.GetLogInfo("");
  if (!logs.ok()) Die(logs.status());
  for (const std::string& p : logs->files) {
    files[fs::path(p).filename().string()] = ReadFile(b, p);
  }
  if (auto e = b.End("", JET_bitBackupEndNormal); !e.ok()) Die(e.status());

  // backup_set: the TLV of backup_set_fuzzer.cc, trailing zeros implied.
  auto kind_of = [](const std::string& name) -> int {
    if (name == "demo.edb") return 0;
    for (int g = 1; g <= 3; ++g) {
      if (name == absl::StrCat("E00", absl::StrFormat("%08X", g), ".log")) {
        return g + 1;
      }
    }
    return -1;
  };
  std::string set;
  for (const auto& [name, bytes] : files) {
    const int kind = kind_of(name);
    if (kind < 0) continue;
    const size_t n = std::min<size_t>(Trimmed(bytes), 65535);
    absl::StrAppend(&set, std::string(1, static_cast<char>(kind)),
                    std::string(1, '\0'), U32(bytes.size()),
                    U16(static_cast<uint16_t>(n)), bytes.substr(0, n));
  }
  const std::string range = {static_cast<char>(logs->gen_low),
                             static_cast<char>(logs->gen_high)};
  Write(corpus / "backup_set_fuzzer" / "restore",
        std::string(1, '\1') + range + set);
  Write(corpus / "backup_set_fuzzer" / "verify",
        std::string(1, '\0') + range + set);

  // page: the header page, page 1, a data page and the trailer.
  const std::string& dbfile = files["demo.edb"];
  const uint32_t pages = static_cast<uint32_t>(dbfile.size() / 4096);
  const std::pair<uint32_t, uint32_t> picks[] = {
      {0, 0}, {2, 1}, {3, 2}, {pages - 1, 0}};
  for (const auto& [index, pgno] : picks) {
    const std::string page = dbfile.substr(uint64_t{index} * 4096, 4096);
    Write(corpus / "page_fuzzer" / absl::StrCat("page", index),
          std::string(1, '\0') + U32(pgno) + std::string(1, '\0') +
              page.substr(0, Trimmed(page)));
  }

  // log: a real generation as is, and its blocks for the sealed mode.
  for (const auto& [name, bytes] : files) {
    if (name.size() < 4 || name.substr(name.size() - 4) != ".log") continue;
    const std::string body = bytes.substr(0, Trimmed(bytes));
    Write(corpus / "log_fuzzer" / (name + ".raw"), std::string(1, '\2') + body);
    if (body.size() > 4096) {
      Write(corpus / "log_fuzzer" / (name + ".sealed"),
            std::string(1, '\1') + body.substr(4096));
    }
    break;
  }

  // FileChunk messages as the daemon sends them.
  {
    v1::FileChunk c;
    c.set_offset(8192);
    c.set_data(dbfile.substr(0, 4096));
    c.set_xxh3(0x1234567890abcdefull);
    Write(corpus / "filechunk_fuzzer" / "chunk",
          std::string(1, '\x1b') + c.SerializeAsString());
    c.set_last(true);
    c.set_file_size(dbfile.size());
    c.set_xxh3_128(std::string(16, '\x42'));
    c.set_stream_xxh3_128(std::string(16, '\x43'));
    Write(corpus / "filechunk_fuzzer" / "last",
          std::string(1, '\0') + c.SerializeAsString());
  }

  // Requests, with request_fuzzer's selector byte.
  {
    v1::BeginBackupRequest begin;
    begin.set_instance("demo");
    begin.set_client_name("agent");
    Write(corpus / "request_fuzzer" / "begin",
          std::string(1, '\0') + begin.SerializeAsString());
    v1::OpenFileRequest open;
    open.set_instance("demo");
    open.set_backup_id("00000000deadbeef");
    open.set_name("/var/lib/jetback/demo/logs/E0000000001.log");
    Write(corpus / "request_fuzzer" / "open",
          std::string(1, '\1') + open.SerializeAsString());
    v1::StopBackupRequest stop;
    stop.set_instance("demo");
    stop.set_reason("maintenance window");
    Write(corpus / "request_fuzzer" / "stop",
          std::string(1, '\2') + stop.SerializeAsString());
    v1::TransactRequest txn;
    txn.set_instance("demo");
    v1::Operation* op = txn.add_operations();
    op->set_kind(v1::Operation::KIND_PUT);
    op->set_table("t");
    op->set_key("k");
    op->set_value("v");
    Write(corpus / "request_fuzzer" / "transact",
          std::string(1, '\3') + txn.SerializeAsString());
    v1::ReadFileRequest read;
    read.set_instance("demo");
    read.set_backup_id("00000000deadbeef");
    read.set_length(65536);
    Write(corpus / "request_fuzzer" / "read",
          std::string(1, '\4') + read.SerializeAsString());
    v1::DatabaseRequest dbreq;
    dbreq.set_instance("demo");
    dbreq.set_name("demo.edb");
    Write(corpus / "request_fuzzer" / "database",
          std::string(1, '\5') + dbreq.SerializeAsString());
  }
  (void)(*inst)->Term(TermMode::kComplete);
  fs::remove_all(tmp);
  std::printf("make_seeds: wrote seeds under %s\n", corpus.c_str());
  return 0;
}
