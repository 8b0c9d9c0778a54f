// raw_copy: the physical baseline for backup throughput. Streams the bytes
// of the given files over a socket (Unix or TCP loopback) from a sender
// process to a receiver that discards them or writes them to a directory
// (with fsync, as a backup set writer does). No framing beyond a length
// header per file, no checksums: the fastest honest copy of the same bytes.
// --direct writes with O_DIRECT in 4 MiB aligned pieces (the tail buffered),
// as `jetback backup` does; on the benchmark VM that is the faster way to
// disk, so it is the physical limit for the to-disk rows.
//
// Usage: raw_copy unix|tcp [--out DIR [--direct]] FILE...
// Prints: "raw_copy <transport> bytes=<n> seconds=<s> mib_per_s=<r>".

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kBuffer = 1 << 20;

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(2);
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void Send(int sock, const std::vector<std::string>& files) {
  std::vector<char> buf(kBuffer);
  for (const std::string& path : files) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) Die(path.c_str());
    struct stat st;
    fstat(fd, &st);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (!WriteAll(sock, reinterpret_cast<char*>(&size), sizeof size)) {
      Die("send header");
    }
    uint64_t off = 0;
    while (off < size) {
      ssize_t r = pread(fd, buf.data(), kBuffer, static_cast<off_t>(off));
      if (r <= 0) Die("pread");
      if (!WriteAll(sock, buf.data(), static_cast<size_t>(r))) Die("send");
      off += static_cast<uint64_t>(r);
    }
    close(fd);
  }
}

uint64_t Receive(int sock, size_t count, const std::string& out_dir,
                 bool direct) {
  // 4 MiB, 4 KiB aligned: what O_DIRECT needs and what the CLI writes.
  constexpr size_t kPiece = 4 << 20;
  char* buf = static_cast<char*>(std::aligned_alloc(4096, kPiece));
  uint64_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    uint64_t size = 0;
    if (!ReadAll(sock, reinterpret_cast<char*>(&size), sizeof size)) {
      Die("recv header");
    }
    int fd = -1;
    if (!out_dir.empty()) {
      std::string path = out_dir + "/file" + std::to_string(i);
      fd = open(path.c_str(),
                O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0644);
      if (fd < 0) Die(path.c_str());
    }
    uint64_t left = size;
    while (left > 0) {
      size_t want = left < kPiece ? static_cast<size_t>(left) : kPiece;
      if (!ReadAll(sock, buf, want)) Die("recv");
      if (fd >= 0 && direct && want % 4096 != 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT);  // the tail
      }
      if (fd >= 0 && !WriteAll(fd, buf, want)) Die("write");
      left -= want;
    }
    if (fd >= 0) {
      fsync(fd);
      close(fd);
    }
    total += size;
  }
  std::free(buf);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: raw_copy unix|tcp [--out DIR [--direct]] FILE...\n");
    return 1;
  }
  std::string transport = argv[1];
  std::string out_dir;
  bool direct = false;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--direct") == 0) {
      direct = true;
    } else {
      files.emplace_back(argv[i]);
    }
  }

  int listener;
  sockaddr_storage addr{};
  socklen_t addr_len;
  std::string unix_path;
  if (transport == "unix") {
    listener = socket(AF_UNIX, SOCK_STREAM, 0);
    auto* un = reinterpret_cast<sockaddr_un*>(&addr);
    un->sun_family = AF_UNIX;
    char tmpl[] = "/tmp/raw_copy.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
    unix_path = std::string(tmpl) + "/s";
    std::snprintf(un->sun_path, sizeof un->sun_path, "%s", unix_path.c_str());
    addr_len = sizeof(sockaddr_un);
  } else {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->sin_port = 0;
    addr_len = sizeof(sockaddr_in);
  }
  if (listener < 0) Die("socket");
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    Die("bind");
  }
  if (listen(listener, 1) != 0) Die("listen");
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &addr_len);

  auto start = std::chrono::steady_clock::now();
  pid_t sender = fork();
  if (sender == 0) {
    int s = socket(addr.ss_family, SOCK_STREAM, 0);
    if (connect(s, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
      Die("connect");
    }
    Send(s, files);
    close(s);
    _exit(0);
  }
  int conn = accept(listener, nullptr, nullptr);
  if (conn < 0) Die("accept");
  uint64_t total = Receive(conn, files.size(), out_dir, direct);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  int status = 0;
  waitpid(sender, &status, 0);
  close(conn);
  close(listener);
  if (!unix_path.empty()) {
    unlink(unix_path.c_str());
    rmdir(unix_path.substr(0, unix_path.size() - 2).c_str());
  }
  std::printf("raw_copy %s bytes=%llu seconds=%.4f mib_per_s=%.1f\n",
              transport.c_str(), static_cast<unsigned long long>(total),
              seconds, total / 1048576.0 / seconds);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 2;
}
