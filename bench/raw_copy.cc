// raw_copy: the physical baseline for backup throughput. Streams the bytes
// of the given files over a socket (Unix or TCP loopback) from a sender
// process to a receiver that discards them or writes them to a directory
// (with fsync, as a backup set writer does). No framing beyond a length
// header per file, no checksums: the fastest honest copy of the same bytes.
// --direct writes with O_DIRECT in 4 MiB aligned pieces (the tail buffered),
// as `jetback backup` does; on the benchmark VM that is the faster way to
// disk, so it is the physical limit for the to-disk rows.
//
// tls is TCP with mutual TLS (OpenSSL, TLS 1.3 defaults, both ends present
// --cert/--key and verify the peer against --ca): the physical limit for
// jetback's TCP listener, which is mutual TLS only.
//
// Usage: raw_copy unix|tcp|tls [--ca F --cert F --key F] [--out DIR
//        [--direct]] FILE...
// Prints: "raw_copy <transport> bytes=<n> seconds=<s> mib_per_s=<r>".

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kBuffer = 1 << 20;

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(2);
}

// A connected socket, with TLS on top when ssl is set.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
};

ssize_t WriteSome(const Conn& c, const char* p, size_t n) {
  if (c.ssl != nullptr) {
    int w = SSL_write(c.ssl, p, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    return w > 0 ? w : -1;
  }
  return write(c.fd, p, n);
}

ssize_t ReadSome(const Conn& c, char* p, size_t n) {
  if (c.ssl != nullptr) {
    int r = SSL_read(c.ssl, p, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    return r > 0 ? r : -1;
  }
  return read(c.fd, p, n);
}

bool SendAll(const Conn& c, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = WriteSome(c, p, n);
    if (w < 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool WriteAll(int fd, const char* p, size_t n) {
  return SendAll(Conn{fd, nullptr}, p, n);
}

bool ReadAll(const Conn& c, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ReadSome(c, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

struct TlsFiles {
  std::string ca, cert, key;
};

// Both ends present cert/key and require the peer's, signed by ca.
SSL* StartTls(int fd, const TlsFiles& files, bool server) {
  SSL_CTX* ctx =
      SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr ||
      SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) !=
          1 ||
      SSL_CTX_load_verify_locations(ctx, files.ca.c_str(), nullptr) != 1) {
    ERR_print_errors_fp(stderr);
    Die("tls setup");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  // No session tickets: the sender never reads, and unread bytes at its
  // close() would reset the connection under the receiver.
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if ((server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) {
    ERR_print_errors_fp(stderr);
    Die("tls handshake");
  }
  return ssl;
}

void Send(const Conn& sock, const std::vector<std::string>& files) {
  std::vector<char> buf(kBuffer);
  for (const std::string& path : files) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) Die(path.c_str());
    struct stat st;
    fstat(fd, &st);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (!SendAll(sock, reinterpret_cast<char*>(&size), sizeof size)) {
      Die("send header");
    }
    uint64_t off = 0;
    while (off < size) {
      ssize_t r = pread(fd, buf.data(), kBuffer, static_cast<off_t>(off));
      if (r <= 0) Die("pread");
      if (!SendAll(sock, buf.data(), static_cast<size_t>(r))) Die("send");
      off += static_cast<uint64_t>(r);
    }
    close(fd);
  }
}

// Writing to disk overlaps receiving (a writer thread, three 4 MiB
// buffers), as `jetback backup` does, so the baseline is the faster of the
// two stages, not their sum.
uint64_t Receive(const Conn& sock, size_t count, const std::string& out_dir,
                 bool direct) {
  // 4 MiB, 4 KiB aligned: what O_DIRECT needs and what the CLI writes.
  constexpr size_t kPiece = 4 << 20;
  struct Piece {
    char* buf;
    size_t n;
    int fd;
    bool last;  // of its file: fsync and close after it
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<char*> free_bufs;
  std::deque<Piece> full;
  bool done = false;
  for (int i = 0; i < 3; ++i) {
    free_bufs.push_back(static_cast<char*>(std::aligned_alloc(4096, kPiece)));
  }
  std::thread writer([&] {
    for (;;) {
      Piece p;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !full.empty() || done; });
        if (full.empty()) return;
        p = full.front();
        full.pop_front();
      }
      if (p.fd >= 0) {
        if (direct && p.n % 4096 != 0) {
          fcntl(p.fd, F_SETFL, fcntl(p.fd, F_GETFL) & ~O_DIRECT);  // the tail
        }
        if (!WriteAll(p.fd, p.buf, p.n)) Die("write");
        if (p.last) {
          fsync(p.fd);
          close(p.fd);
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      free_bufs.push_back(p.buf);
      cv.notify_all();
    }
  });
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
    if (size == 0 && fd >= 0) close(fd);
    uint64_t left = size;
    while (left > 0) {
      char* buf;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !free_bufs.empty(); });
        buf = free_bufs.back();
        free_bufs.pop_back();
      }
      size_t want = left < kPiece ? static_cast<size_t>(left) : kPiece;
      if (!ReadAll(sock, buf, want)) Die("recv");
      left -= want;
      std::lock_guard<std::mutex> lock(mu);
      full.push_back({buf, want, fd, left == 0});
      cv.notify_all();
    }
    total += size;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  }
  writer.join();
  for (char* b : free_bufs) std::free(b);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(
        stderr,
        "usage: raw_copy unix|tcp|tls [--ca F --cert F --key F] [--out DIR "
        "[--direct]] FILE...\n");
    return 1;
  }
  std::string transport = argv[1];
  std::string out_dir;
  bool direct = false;
  TlsFiles tls;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--direct") == 0) {
      direct = true;
    } else if (std::strcmp(argv[i], "--ca") == 0 && i + 1 < argc) {
      tls.ca = argv[++i];
    } else if (std::strcmp(argv[i], "--cert") == 0 && i + 1 < argc) {
      tls.cert = argv[++i];
    } else if (std::strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
      tls.key = argv[++i];
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
    Conn c{s, nullptr};
    if (transport == "tls") c.ssl = StartTls(s, tls, /*server=*/false);
    Send(c, files);
    if (c.ssl != nullptr) SSL_shutdown(c.ssl);
    // Close only after the receiver has: nothing unread, no reset.
    shutdown(s, SHUT_WR);
    char drain[4096];
    while (read(s, drain, sizeof drain) > 0) {
    }
    close(s);
    _exit(0);
  }
  int conn = accept(listener, nullptr, nullptr);
  if (conn < 0) Die("accept");
  Conn c{conn, nullptr};
  // The handshake is inside the timed span, as a backup's would be.
  if (transport == "tls") c.ssl = StartTls(conn, tls, /*server=*/true);
  uint64_t total = Receive(c, files.size(), out_dir, direct);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  close(conn);  // the sender waits for this before it closes
  int status = 0;
  waitpid(sender, &status, 0);
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
