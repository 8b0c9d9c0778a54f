// daemon_bench: jetbackd over the wire, against baselines from the same run.
//
//  1. ReadFile throughput of a full database stream over the Unix socket and
//     over TCP + mutual TLS, next to raw_copy of the same file over the same
//     transport: through the client API (jetback::Client::ReadFile, every
//     check the library makes) and through the bare stub (no client checks).
//  2. StopBackup -> the streaming client sees -801: p50/p99 over N stops.
//
// Usage: daemon_bench [--mib N] [--stops N] [--runs N] [--tcp 0|1]
// Starts its own jetbackd in a temporary directory.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "jetback/client.h"
#include "jetback/status.h"
#include "jetback/v1/backup.grpc.pb.h"
#include "jetback/v1/data.grpc.pb.h"
#include "proto/jet_status.h"

extern char** environ;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "daemon_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// CA, server (CN=localhost) and client (CN=bench-agent) certificates.
bool MakeCerts(const std::string& dir) {
  const std::string script = absl::StrCat(
      "set -e; cd ", dir,
      "; k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';",
      "openssl req -x509 $k -keyout ca.key -out ca.pem -days 1 -subj "
      "/CN=bench-ca;",
      "for n in localhost bench-agent; do ",
      "openssl req $k -keyout $n.key -out $n.csr -subj /CN=$n;",
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext;",
      "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial",
      " -out $n.pem -days 1 -extfile ext; done");
  std::ofstream(dir + "/mkcerts.sh") << script;
  return std::system(("sh " + dir + "/mkcerts.sh >/dev/null 2>&1").c_str()) ==
         0;
}

struct Daemon {
  pid_t pid = -1;
  std::string dir, unix_target, tcp_target;
  ~Daemon() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

void StartDaemon(Daemon* d, bool tls) {
  const std::string config = d->dir + "/jetbackd.toml";
  std::string toml = absl::StrCat(
      "state_dir = \"", d->dir, "\"\nlisten = [\"unix:", d->dir,
      "/jetbackd.sock\"", tls ? ", \"tcp:127.0.0.1:0\"" : "", "]\n");
  if (tls) {
    absl::StrAppend(&toml, "[tls]\ncert = \"", d->dir,
                    "/localhost.pem\"\nkey = \"", d->dir,
                    "/localhost.key\"\nclient_ca = \"", d->dir, "/ca.pem\"\n");
  }
  absl::StrAppend(&toml,
                  "[roles]\nread = [\"uid:0\", \"cert:bench-agent\", \"uid:",
                  ::getuid(), "\"]\nstop = [\"uid:0\", \"uid:", ::getuid(),
                  "\"]\ndata = [\"uid:0\", \"uid:", ::getuid(), "\"]\n",
                  "[[instances]]\nname = \"bench\"\nlog_file_size = 8388608\n",
                  "databases = [\"bench.edb\"]\ntables = [\"t\"]\n");
  std::ofstream(config) << toml;
  const std::string log = d->dir + "/jetbackd.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::string flag = "--config=" + config;
  // JETBACK_BENCH_JETBACKD: another build's daemon, for before/after runs.
  const char* other = std::getenv("JETBACK_BENCH_JETBACKD");
  const char* path = other != nullptr ? other : JETBACKD_PATH;
  char* argv[] = {const_cast<char*>(path), flag.data(), nullptr};
  if (::posix_spawn(&d->pid, path, &actions, nullptr, argv, environ) != 0) {
    Die("cannot start jetbackd");
  }
  // The ready line names every listener, including the TCP port picked.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    const std::string text = Slurp(log);
    const size_t ready = text.find("msg=ready listen=");
    if (ready != std::string::npos) {
      d->unix_target = "unix:" + d->dir + "/jetbackd.sock";
      const size_t tcp = text.find("tcp:", ready);
      if (tcp != std::string::npos) {
        const size_t end = text.find_first_of(" ,\n", tcp);
        d->tcp_target = text.substr(tcp + 4, end - tcp - 4);
      }
      return;
    }
    ::poll(nullptr, 0, 20);
  }
  Die("jetbackd did not become ready:\n" + Slurp(log));
}

std::shared_ptr<grpc::Channel> Connect(const Daemon& d, bool tcp) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  if (!tcp) {
    return grpc::CreateCustomChannel(d.unix_target,
                                     grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = Slurp(d.dir + "/ca.pem");
  tls.pem_private_key = Slurp(d.dir + "/bench-agent.key");
  tls.pem_cert_chain = Slurp(d.dir + "/bench-agent.pem");
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(d.tcp_target, grpc::SslCredentials(tls),
                                   args);
}

void Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) Die(absl::StrCat(what, ": ", s.error_message()));
}

struct Session {
  std::unique_ptr<jetback::v1::Backup::Stub> stub;
  std::string id, db;
  uint64_t size = 0;
};

void BeginAndOpen(Session* s) {
  grpc::ClientContext c1, c2, c3;
  jetback::v1::BeginBackupRequest begin;
  begin.set_instance("bench");
  jetback::v1::BeginBackupResponse begun;
  Check(s->stub->BeginBackup(&c1, begin, &begun), "BeginBackup");
  s->id = begun.backup_id();
  jetback::v1::BackupCall call;
  call.set_instance("bench");
  call.set_backup_id(s->id);
  jetback::v1::AttachInfo attach;
  Check(s->stub->GetAttachInfo(&c2, call, &attach), "GetAttachInfo");
  s->db = attach.databases(0);
  jetback::v1::OpenFileRequest open;
  open.set_instance("bench");
  open.set_backup_id(s->id);
  open.set_name(s->db);
  jetback::v1::OpenFileResponse opened;
  Check(s->stub->OpenFile(&c3, open, &opened), "OpenFile");
  s->size = opened.size();
}

void End(Session* s) {
  grpc::ClientContext c1, c2;
  jetback::v1::CloseFileRequest close;
  close.set_instance("bench");
  close.set_backup_id(s->id);
  jetback::v1::CloseFileResponse closed;
  Check(s->stub->CloseFile(&c1, close, &closed), "CloseFile");
  jetback::v1::EndBackupRequest end;
  end.set_instance("bench");
  end.set_backup_id(s->id);
  end.set_grbit(0x2);
  jetback::v1::EndBackupResponse ended;
  Check(s->stub->EndBackup(&c2, end, &ended), "EndBackup");
}

// MiB/s of one full ReadFile stream.
double StreamOnce(const std::shared_ptr<grpc::Channel>& channel) {
  Session s;
  s.stub = jetback::v1::Backup::NewStub(channel);
  BeginAndOpen(&s);
  jetback::v1::ReadFileRequest req;
  req.set_instance("bench");
  req.set_backup_id(s.id);
  grpc::ClientContext ctx;
  const absl::Time start = absl::Now();
  auto reader = s.stub->ReadFile(&ctx, req);
  jetback::v1::FileChunk chunk;
  uint64_t bytes = 0;
  while (reader->Read(&chunk)) bytes += chunk.data().size();
  Check(reader->Finish(), "ReadFile");
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  if (bytes != s.size) Die("short stream");
  End(&s);
  return bytes / 1048576.0 / secs;
}

// MiB/s of one full ReadFile through the client library.
double ClientStreamOnce(const std::shared_ptr<grpc::Channel>& channel,
                        jetback::Client* client) {
  Session s;
  s.stub = jetback::v1::Backup::NewStub(channel);
  BeginAndOpen(&s);
  uint64_t bytes = 0;
  const absl::Time start = absl::Now();
  auto read = client->ReadFile(jetback::BackupRef{"bench", s.id}, 0, 0, 0,
                               [&](uint64_t, absl::string_view data) {
                                 bytes += data.size();
                                 return absl::OkStatus();
                               });
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  if (!read.ok())
    Die(absl::StrCat("client ReadFile: ", read.status().message()));
  if (bytes != s.size) Die("short stream");
  End(&s);
  return bytes / 1048576.0 / secs;
}

std::unique_ptr<jetback::Client> ConnectClient(const Daemon& d, bool tcp,
                                               int window = -1) {
  jetback::ClientOptions options;
  if (window >= 0) options.stream_window_bytes = window;
  if (tcp) {
    options.server = "tcp:" + d.tcp_target;
    options.tls_ca = d.dir + "/ca.pem";
    options.tls_cert = d.dir + "/bench-agent.pem";
    options.tls_key = d.dir + "/bench-agent.key";
  } else {
    options.server = d.unix_target;
  }
  auto client = jetback::Client::Connect(options);
  if (!client.ok()) Die(std::string(client.status().message()));
  return std::move(*client);
}

double RawCopy(const char* transport, const std::string& file) {
  const std::string out =
      Run(absl::StrCat(RAW_COPY_PATH, " ", transport, " ", file));
  const size_t at = out.find("mib_per_s=");
  if (at == std::string::npos) Die("raw_copy failed: " + out);
  return std::atof(out.c_str() + at + 10);
}

// CPU seconds (user + system) used so far by process `pid` / by this one.
double ProcessCpuSeconds(pid_t pid) {
  std::istringstream stat(Slurp(absl::StrCat("/proc/", pid, "/stat")));
  std::string field;
  // Skip to utime and stime (fields 14 and 15); comm has no spaces here.
  for (int i = 1; i <= 13; ++i) stat >> field;
  double utime = 0, stime = 0;
  stat >> utime >> stime;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  struct rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

// CPU cost of the streams `run` makes: ms of CPU per MiB, daemon and client.
struct CpuCost {
  double daemon_ms_per_mib = 0, client_ms_per_mib = 0;
};

template <typename F>
CpuCost MeasureCpu(pid_t daemon, double mib, F run) {
  const double d0 = ProcessCpuSeconds(daemon), c0 = SelfCpuSeconds();
  run();
  CpuCost cost;
  cost.daemon_ms_per_mib = (ProcessCpuSeconds(daemon) - d0) * 1e3 / mib;
  cost.client_ms_per_mib = (SelfCpuSeconds() - c0) * 1e3 / mib;
  return cost;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void Fill(const std::shared_ptr<grpc::Channel>& channel, int mib) {
  auto data = jetback::v1::Data::NewStub(channel);
  const std::string value(64 * 1024 - 64, 'x');
  int key = 0;
  for (int t = 0; t < mib; ++t) {
    jetback::v1::TransactRequest req;
    req.set_instance("bench");
    for (int i = 0; i < 16; ++i) {
      jetback::v1::Operation* op = req.add_operations();
      op->set_kind(jetback::v1::Operation::KIND_PUT);
      op->set_table("t");
      op->set_key(absl::StrFormat("k%09d", key++));
      op->set_value(value);
    }
    grpc::ClientContext ctx;
    jetback::v1::TransactResponse resp;
    Check(data->Transact(&ctx, req, &resp), "Transact");
  }
}

// How the agent of a stop-latency run reads.
struct StopMode {
  const char* name;
  uint64_t rate = 0;          // asks jetbackd to pace the stream
  absl::Duration pace;        // its own work per message
  bool fixed_window = false;  // libjetback_client's receive window
};

void StopLatency(const Daemon& d, int stops, const StopMode& mode) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  if (mode.fixed_window) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 32 << 10);
  }
  auto agent_channel = grpc::CreateCustomChannel(
      d.unix_target, grpc::InsecureChannelCredentials(), args);
  auto operator_stub = jetback::v1::Backup::NewStub(Connect(d, false));
  std::vector<double> ms;
  std::vector<int> drained;
  int not_801 = 0, without_reason = 0;
  absl::Duration interval;  // the agent's time per message, averaged
  int messages = 0;
  for (int i = 0; i < stops; ++i) {
    Session s;
    s.stub = jetback::v1::Backup::NewStub(agent_channel);
    BeginAndOpen(&s);
    jetback::v1::ReadFileRequest req;
    req.set_instance("bench");
    req.set_backup_id(s.id);
    req.set_max_bytes_per_second(mode.rate);
    grpc::ClientContext ctx;
    auto reader = s.stub->ReadFile(&ctx, req);
    jetback::v1::FileChunk chunk;
    // Two messages first, so the stream (and any pacing) is in its stride;
    // the agent's interval is the time from one to the next.
    if (!reader->Read(&chunk)) Die("no first chunk");
    const absl::Time first_at = absl::Now();
    absl::SleepFor(mode.pace);
    if (!reader->Read(&chunk)) Die("no second chunk");
    interval += absl::Now() - first_at;
    absl::SleepFor(mode.pace);
    messages += 1;
    // The agent keeps reading at its pace while the operator stops;
    // latency is stop-sent -> agent's Finish() returned -801.
    absl::Time stop_sent;  // written by `op`, read after join
    std::thread op([&] {
      jetback::v1::StopBackupRequest stop;
      stop.set_instance("bench");
      stop.set_reason("bench");
      jetback::v1::StopBackupResponse stopped;
      grpc::ClientContext c;
      stop_sent = absl::Now();
      Check(operator_stub->StopBackup(&c, stop, &stopped), "StopBackup");
    });
    std::vector<absl::Time> reads;  // when each later message arrived
    while (reader->Read(&chunk)) {
      reads.push_back(absl::Now());
      absl::SleepFor(mode.pace);
    }
    const grpc::Status end = reader->Finish();
    const absl::Time seen = absl::Now();
    op.join();
    // Messages the agent still had to take after the stop: the tail of
    // the latency is how much was already queued towards it.
    const int after = static_cast<int>(
        reads.end() - std::upper_bound(reads.begin(), reads.end(), stop_sent));
    drained.push_back(after);
    const absl::Status status = jetback::FromGrpcStatus(end);
    if (jetback::JetErrOf(status) != -801) ++not_801;
    if (jetback::JetReasonOf(status) != "bench" ||
        jetback::JetInitiatorOf(status).empty()) {
      ++without_reason;
    }
    ms.push_back(absl::ToDoubleMilliseconds(seen - stop_sent));
    End(&s);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(drained.begin(), drained.end());
  std::printf(
      "stop_latency mode=%s stops=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
      "interval_ms=%.1f not_801=%d without_reason=%d drained_msgs_p50=%d "
      "p99=%d max=%d\n",
      mode.name, stops, ms[ms.size() / 2],
      ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], ms.back(),
      absl::ToDoubleMilliseconds(interval / std::max(messages, 1)), not_801,
      without_reason, drained[drained.size() / 2],
      drained[std::min(drained.size() - 1, drained.size() * 99 / 100)],
      drained.back());
}

}  // namespace

int main(int argc, char** argv) {
  int mib = 256, stops = 200, runs = 3, tcp_too = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (flag == "--mib")
      mib = v;
    else if (flag == "--stops")
      stops = v;
    else if (flag == "--runs")
      runs = v;
    else if (flag == "--tcp")
      tcp_too = v;
  }
  char tmpl[] = "/tmp/jbbench-XXXXXX";
  Daemon d;
  d.dir = ::mkdtemp(tmpl);
  const bool tls = MakeCerts(d.dir);
  if (!tls) std::fprintf(stderr, "daemon_bench: no openssl, TCP skipped\n");
  StartDaemon(&d, tls);
  Fill(Connect(d, false), mib);
  const std::string db = d.dir + "/bench/bench.edb";
  std::printf("database bytes=%ju\n",
              static_cast<uintmax_t>(std::filesystem::file_size(db)));

  for (bool tcp : {false, true}) {
    if (tcp && (d.tcp_target.empty() || tcp_too == 0)) continue;
    auto channel = Connect(d, tcp);
    std::unique_ptr<jetback::Client> client = ConnectClient(d, tcp);
    std::vector<double> api_rates, stub_rates, raw_rates;
    CpuCost api_cpu, stub_cpu;
    const double db_mib = std::filesystem::file_size(db) / 1048576.0;
    for (int r = 0; r < runs; ++r) {
      const CpuCost a = MeasureCpu(d.pid, db_mib, [&] {
        api_rates.push_back(ClientStreamOnce(channel, client.get()));
      });
      const CpuCost s = MeasureCpu(
          d.pid, db_mib, [&] { stub_rates.push_back(StreamOnce(channel)); });
      api_cpu.daemon_ms_per_mib += a.daemon_ms_per_mib / runs;
      api_cpu.client_ms_per_mib += a.client_ms_per_mib / runs;
      stub_cpu.daemon_ms_per_mib += s.daemon_ms_per_mib / runs;
      stub_cpu.client_ms_per_mib += s.client_ms_per_mib / runs;
      raw_rates.push_back(RawCopy(tcp ? "tcp" : "unix", db));
    }
    // The library's fixed 32 KiB receive window against gRPC's BDP-sized
    // one, paired run by run.
    std::vector<double> window_ratios;
    {
      std::unique_ptr<jetback::Client> bdp = ConnectClient(d, tcp, 0);
      for (int r = 0; r < runs; ++r) {
        const double fixed = ClientStreamOnce(channel, client.get());
        const double grown = ClientStreamOnce(channel, bdp.get());
        window_ratios.push_back(fixed / grown);
      }
      std::printf("window %s fixed_32k_vs_bdp_ratio=%.2f\n",
                  tcp ? "tcp+mtls" : "unix", Median(window_ratios));
    }
    const double api = Median(api_rates), stub = Median(stub_rates),
                 raw = Median(raw_rates);
    std::printf(
        "readfile %s client_api_mib_per_s=%.1f stub_mib_per_s=%.1f "
        "raw_mib_per_s=%.1f ratio=%.2f stub_ratio=%.2f\n",
        tcp ? "tcp+mtls" : "unix", api, stub, raw, api / raw, stub / raw);
    // CPU per MiB hardly depends on what else runs on the machine, unlike
    // the rates: compare these across builds.
    std::printf(
        "cpu %s client_api daemon_ms_per_mib=%.3f client_ms_per_mib=%.3f "
        "stub daemon_ms_per_mib=%.3f client_ms_per_mib=%.3f\n",
        tcp ? "tcp+mtls" : "unix", api_cpu.daemon_ms_per_mib,
        api_cpu.client_ms_per_mib, stub_cpu.daemon_ms_per_mib,
        stub_cpu.client_ms_per_mib);
  }
  if (stops > 0) {
    StopLatency(d, stops, {"full"});
    StopLatency(d, stops, {"paced", 1 << 20, absl::ZeroDuration(), true});
    StopLatency(d, stops, {"slow", 0, absl::Milliseconds(50), true});
  }
  const std::string dir = d.dir;
  ::kill(d.pid, SIGTERM);
  ::waitpid(d.pid, nullptr, 0);
  d.pid = -1;
  std::filesystem::remove_all(dir);
  return 0;
}
