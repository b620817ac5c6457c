// hc_cluster_bench: the cluster load benchmark (issue 7, docs/performance.md "Cluster benchmark").
//
// Starts a local network of `healthchain` processes exactly as operators run them (keys, TLS
// identities and node.toml from cli/network_gen.h; TLS between peers, synced RocksDB, every client
// signature checked by every validator), on free loopback ports. The workload is the ledger tests'
// mixed workload (tests/ledger/workload.h: enrolments, consent grants and revocations, anchors,
// accesses granted and denied, break-glass, claims, adjudications, erasures) re-keyed onto real
// Ed25519 identities and signed before anything is measured; the genesis names the workload's
// commission ("gov").
//
// Load goes over persistent HTTP/1.1 connections, spread over all validators, as
// `POST /v1/txs?wait=commit` batches. The node answers a batch when every admitted tx of it has
// executed, and says for each tx when (`commit_ms`, from the request's arrival), so the client
// learns every commit without asking about any single tx: a tx's commit latency is the batch's
// round trip minus (the node's elapsed time − the tx's commit_ms).
//
//   closed loop: `--inflight` txs in flight (inflight / batch connections, each with one batch
//                outstanding);
//   open loop:   `--rate` tx/s, one batch every batch / rate seconds, taken by a pool of
//                connections; latency counts from the batch's scheduled time, so a backlog shows.
//
// Every loop is bounded in time and count; every child process is killed on exit (destructors,
// SIGINT/SIGTERM, and PR_SET_PDEATHSIG if this process dies).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cli/network_gen.h"
#include "common/encoding.h"
#include "crypto/box.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/signer.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "node/config.h"
#include "node/local_ports.h"
#include "tests/ledger/workload.h"

namespace hc::bench {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace http = boost::beast::http;
namespace pb = ::healthchain::v1;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string Fmt(double v, int prec = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

// ---- Options ----

struct Options {
  uint32_t validators = 4;
  std::string mode = "closed";  // closed | open
  double rate = 0;              // open loop, tx/s
  uint32_t inflight = 4000;     // closed loop, txs
  uint32_t batch = 250;
  double warmup_s = 10;
  double window_s = 60;
  uint32_t patients = 2000;
  uint32_t hospitals = 24;
  uint32_t insurers = 8;
  uint64_t txs = 0;  // 0: sized from the rate guess and the run's length
  double rate_guess = 9000;
  bool sweep = false;
  std::string node_bin;
  std::string work_dir = "/tmp/hc-cluster-bench";
  std::string json_out;
  std::string md_out;
  bool keep = false;
  // After the load: start an observer with an empty data directory (or stop the last validator,
  // wipe its data directory and restart it) and time its state transfer.
  bool catchup = false;
  std::string catchup_node = "observer";
  double catchup_timeout_s = 600;
  // Seconds into the window at which validator 0 writes an online backup (SIGUSR1); < 0: none.
  double backup_at_s = -1;
  // Seconds into the window at which the primary (validator 0) is killed with SIGKILL; < 0: none.
  double crash_primary_at_s = -1;
  // With crash_primary_at_s: seconds after the new view's first commit at which the killed
  // validator is started again on its data directory; < 0: never.
  double restart_after_s = -1;
  // Genesis consensus parameters (0: `hcctl network new`'s defaults).
  int64_t batch_delay_ms = 0;
  uint32_t batch_txs_max = 0;
  bool no_tx_lifetime = false;  // genesis without "txs": R5 reads the tx index for every tx
  // node.toml's storage.compaction_priority ("low" or "normal"); empty: `hcctl network new`'s.
  std::string compaction_priority;
};

// ---- Processes ----

class NodeProcess {
 public:
  NodeProcess() = default;
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;
  ~NodeProcess() { Kill(); }

  bool Start(const std::string& bin, const std::string& config, const std::string& log) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      // Child: dies with the benchmark, logs to its file. Only async-signal-safe calls here.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      const char* argv[] = {bin.c_str(), "--config", config.c_str(), nullptr};
      ::execv(bin.c_str(), const_cast<char* const*>(argv));
      ::_exit(127);
    }
    pid_ = pid;
    return true;
  }
  pid_t pid() const { return pid_; }
  bool Alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    for (int i = 0; i < 500; ++i) {  // at most 5 s
      if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(Ms(10));
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15).
// utime + stime from a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, in seconds (0 when
// the process or thread is gone).
double StatCpuSeconds(const fs::path& stat_path) {
  std::ifstream in(stat_path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = s.rfind(')');
  if (close == std::string::npos || close + 2 > s.size()) return 0;
  std::istringstream fields(s.substr(close + 2));
  std::string f;
  double ut = 0, st = 0;
  // After "pid (comm) ", field 3 (state) is index 0; utime is field 14 (index 11).
  for (int i = 0; i <= 12 && (fields >> f); ++i) {
    if (i == 11) ut = std::strtod(f.c_str(), nullptr);
    if (i == 12) st = std::strtod(f.c_str(), nullptr);
  }
  return (ut + st) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ProcessCpuSeconds(pid_t pid) {
  return StatCpuSeconds("/proc/" + std::to_string(pid) + "/stat");
}

// CPU seconds of each thread of `pid`, summed by thread group: the node names its threads
// (hc-api, hc-p2p, hc-verify-N, hc-driver, hc-executor, ...); numbered ones are summed
// (hc-verify), RocksDB's are "rocksdb", unnamed ones "other".
void AddThreadCpuSeconds(pid_t pid, std::map<std::string, double>* out) {
  std::error_code ec;
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : fs::directory_iterator(tasks, ec)) {
    std::ifstream comm_in(entry.path() / "comm");
    std::string comm;
    std::getline(comm_in, comm);
    if (comm.empty()) continue;  // the thread ended meanwhile
    std::string group = comm;
    if (group.rfind("rocksdb", 0) == 0) {
      group = "rocksdb";
    } else if (group.rfind("hc-", 0) != 0) {
      group = "other";
    } else {
      const size_t dash = group.find_last_of('-');
      if (dash != std::string::npos && dash + 1 < group.size() &&
          std::all_of(group.begin() + static_cast<long>(dash) + 1, group.end(),
                      [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
        group.resize(dash);
      }
    }
    (*out)[group] += StatCpuSeconds(entry.path() / "stat");
  }
}

double SelfCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

uint64_t DiskBytes(const fs::path& dir) {  // as du: allocated blocks
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

// ---- HTTP over one persistent connection ----

class Conn {
 public:
  explicit Conn(uint16_t port) : port_(port), socket_(io_) {}

  struct Reply {
    int status = 0;
    std::string body;
  };

  std::optional<Reply> Do(http::verb method, const std::string& target, std::string body,
                          const std::string& content_type) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!socket_.is_open() && !Connect()) return std::nullopt;
      http::request<http::string_body> req{method, target, 11};
      req.set(http::field::host, "127.0.0.1");
      req.keep_alive(true);
      if (!content_type.empty()) req.set(http::field::content_type, content_type);
      req.body() = body;
      req.prepare_payload();
      boost::system::error_code ec;
      http::write(socket_, req, ec);
      if (!ec) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(64u << 20);
        http::read(socket_, buffer_, parser, ec);
        if (!ec) {
          Reply r;
          r.status = static_cast<int>(parser.get().result_int());
          r.body = std::move(parser.get().body());
          if (!parser.get().keep_alive()) Close();
          return r;
        }
      }
      Close();  // a stale keep-alive connection: reconnect once
    }
    return std::nullopt;
  }

 private:
  bool Connect() {
    boost::system::error_code ec;
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    if (ec) {
      Close();
      return false;
    }
    // Bounded reads and writes: a wait=commit batch is answered within the node's 30 s wait.
    timeval tv{40, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buffer_.clear();
    return true;
  }
  void Close() {
    boost::system::error_code ec;
    socket_.close(ec);
    buffer_.clear();
  }

  uint16_t port_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

std::optional<json::object> GetJson(uint16_t port, const std::string& target) {
  Conn c(port);
  auto r = c.Do(http::verb::get, target, "", "");
  if (!r || r->status != 200) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

// Sum of the Prometheus samples whose name (before any label set) is `name`.
double MetricSum(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    if (line.size() > name.size() && line[name.size()] != ' ' && line[name.size()] != '{') {
      continue;
    }
    const size_t sp = line.rfind(' ');
    if (sp != std::string::npos) sum += std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return sum;
}

std::string Metrics(uint16_t port) {
  Conn c(port);
  auto r = c.Do(http::verb::get, "/metrics", "", "");
  return r && r->status == 200 ? r->body : std::string();
}

// ---- Workload: the ledger tests' mix, re-keyed onto real Ed25519 identities ----

struct KeyHash {
  size_t operator()(const crypto::Ed25519PublicKey& k) const {
    size_t h;
    std::memcpy(&h, k.data(), sizeof h);
    return h;
  }
};

class RealKeys {
 public:
  void Add(const std::string& name) {
    const crypto::Ed25519PublicKey fake = ledger::testing::KeyOf(name);
    const Hash32 seed = crypto::Sha256(AsBytes("hc-cluster-bench/" + name));
    auto kp = crypto::Ed25519FromSeed(ByteView(seed.data(), seed.size()));
    HC_ASSERT(kp.ok());
    public_.push_back(kp->public_key);
    signers_.push_back(crypto::MakeEd25519Signer(std::move(kp->secret_key)));
    index_.emplace(fake, signers_.size() - 1);
  }
  const crypto::Ed25519PublicKey* RealOf(const std::string& fake_bytes, size_t* index) const {
    if (fake_bytes.size() != 32) return nullptr;
    crypto::Ed25519PublicKey k{};
    std::memcpy(k.data(), fake_bytes.data(), 32);
    auto it = index_.find(k);
    if (it == index_.end()) return nullptr;
    if (index != nullptr) *index = it->second;
    return &public_[it->second];
  }
  const crypto::Signer& signer(size_t i) const { return *signers_[i]; }

 private:
  std::unordered_map<crypto::Ed25519PublicKey, size_t, KeyHash> index_;
  std::vector<crypto::Ed25519PublicKey> public_;
  std::vector<std::unique_ptr<crypto::Signer>> signers_;
};

// Replaces every 32-byte bytes field that is a workload identity's fake key by its real key.
void Rekey(google::protobuf::Message* m, const RealKeys& keys) {
  const auto* d = m->GetDescriptor();
  const auto* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_BYTES) {
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(*m, f); ++j) {
          if (auto* k = keys.RealOf(r->GetRepeatedString(*m, f, j), nullptr)) {
            r->SetRepeatedString(m, f, j,
                                 std::string(reinterpret_cast<const char*>(k->data()), 32));
          }
        }
      } else if (r->HasField(*m, f)) {
        if (auto* k = keys.RealOf(r->GetString(*m, f), nullptr)) {
          r->SetString(m, f, std::string(reinterpret_cast<const char*>(k->data()), 32));
        }
      }
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(*m, f); ++j)
          Rekey(r->MutableRepeatedMessage(m, f, j), keys);
      } else if (r->HasField(*m, f)) {
        Rekey(r->MutableMessage(m, f), keys);
      }
    }
  }
}

struct PreparedWorkload {
  std::vector<std::string> orgs;      // RegisterOrg + policy (committed first)
  std::vector<std::string> patients;  // initial enrolments (committed second)
  std::vector<std::string> load;      // the measured stream
  double sign_seconds = 0;
  std::map<std::string, uint64_t> mix;  // the stream's txs by payload kind
  double mean_tx_bytes = 0;             // the stream's signed txs
};

PreparedWorkload PrepareWorkload(const Options& o, const std::string& chain_id,
                                 const RealKeys& keys) {
  ledger::testing::WorkloadOptions wo;
  wo.hospitals = static_cast<int>(o.hospitals);
  wo.insurers = static_cast<int>(o.insurers);
  wo.initial_patients = static_cast<int>(o.patients);
  wo.bad_percent = 0;  // every tx is admissible, so every tx offered should commit
  ledger::testing::Workload w(7, wo);
  std::vector<std::string> setup = w.SetupTxs();
  const int64_t now_ms =
      std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<std::string> load = w.NextTxs(o.txs, now_ms);

  // Re-key and re-sign, in parallel (signing is the costly part; it is never measured).
  PreparedWorkload out;
  const auto t0 = Clock::now();
  // Counts the txs by payload kind into `mix` (each worker its own map, merged after).
  auto resign = [&](std::vector<std::string>& txs, std::map<std::string, uint64_t>* mix) {
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::map<std::string, uint64_t>> counts(threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (size_t i = t; i < txs.size(); i += threads) {
          pb::SignedTx st;
          pb::TxBody body;
          if (!st.ParseFromString(txs[i]) || !body.ParseFromString(st.body())) continue;
          size_t signer = 0;
          if (keys.RealOf(body.signer(), &signer) == nullptr) continue;
          const auto* kind = body.GetDescriptor()->FindFieldByNumber(body.payload_case());
          ++counts[t][kind != nullptr ? kind->name() : "none"];
          Rekey(&body, keys);
          body.set_chain_id(chain_id);
          body.set_created_ms(now_ms);
          txs[i] = ledger::SignTx(body, keys.signer(signer));
        }
      });
    }
    for (auto& th : pool) th.join();
    for (const auto& c : counts) {
      for (const auto& [kind, n] : c) (*mix)[kind] += n;
    }
  };
  std::map<std::string, uint64_t> setup_mix;
  resign(setup, &setup_mix);
  resign(load, &out.mix);
  uint64_t load_bytes = 0;
  for (const std::string& tx : load) load_bytes += tx.size();
  if (!load.empty()) {
    out.mean_tx_bytes = static_cast<double>(load_bytes) / static_cast<double>(load.size());
  }
  out.sign_seconds = Seconds(Clock::now() - t0);
  const size_t n_orgs = o.hospitals + o.insurers + 1;
  out.orgs.assign(setup.begin(), setup.begin() + static_cast<long>(n_orgs));
  out.patients.assign(setup.begin() + static_cast<long>(n_orgs), setup.end());
  out.load = std::move(load);
  return out;
}

std::string Delimited(const std::vector<std::string>& txs, size_t from, size_t to) {
  std::string body;
  for (size_t i = from; i < to; ++i) {
    uint64_t len = txs[i].size();
    while (len >= 0x80) {
      body.push_back(static_cast<char>((len & 0x7f) | 0x80));
      len >>= 7;
    }
    body.push_back(static_cast<char>(len));
    body += txs[i];
  }
  return body;
}

// ---- One run ----

// Node CPU per committed tx over the cost of one client-signature check per validator per tx,
// at `verify_rate` (one core's verifies per CPU second); 0 without txs or a rate.
double CpuOverSigChecks(double node_cpu_s, double txs, uint32_t validators, double verify_rate) {
  if (verify_rate <= 0 || txs <= 0) return 0;
  return (node_cpu_s / txs) / (validators / verify_rate);
}

// CPU seconds by thread group spent between two readings of AddThreadCpuSeconds.
std::map<std::string, double> ThreadCpuSince(const std::map<std::string, double>& after,
                                             const std::map<std::string, double>& before) {
  std::map<std::string, double> used;
  for (const auto& [group, cpu] : after) {
    const auto it = before.find(group);
    used[group] = cpu - (it == before.end() ? 0 : it->second);
  }
  return used;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// What the window's slices count (RunResult::slices); the rates are derived when reported.
constexpr double kSliceS = 10;
struct Slice {
  double start_s = 0, length_s = 0;  // from the window's start
  double committed = 0;              // the counted validator's committed counter
  double node_cpu_s = 0;             // all validators
  uint64_t probe_verifies = 0;       // the window's verify probe, within the slice
  double probe_cpu_s = 0;
  std::map<std::string, double> thread_cpu_s;  // node CPU by thread group, all validators
  // Commit latencies (client-observed, ms) of the txs whose commit fell in the slice: whether
  // latency holds as the databases grow.
  std::vector<double> latencies_ms;

  double committed_tps() const { return length_s > 0 ? committed / length_s : 0; }
  double node_cpu_us_per_tx() const { return committed > 0 ? node_cpu_s * 1e6 / committed : 0; }
  double verify_rate() const {
    return probe_cpu_s > 0 ? static_cast<double>(probe_verifies) / probe_cpu_s : 0;
  }
  // At the slice's own verify rate.
  double cpu_over_sigchecks(uint32_t validators) const {
    return CpuOverSigChecks(node_cpu_s, committed, validators, verify_rate());
  }
  double latency_ms(double p) const {
    std::vector<double> v = latencies_ms;
    return Percentile(v, p);
  }
  // `this` followed by `next`, as one slice.
  Slice Then(const Slice& next) const {
    Slice m = *this;
    m.latencies_ms.insert(m.latencies_ms.end(), next.latencies_ms.begin(), next.latencies_ms.end());
    m.length_s += next.length_s;
    m.committed += next.committed;
    m.node_cpu_s += next.node_cpu_s;
    m.probe_verifies += next.probe_verifies;
    m.probe_cpu_s += next.probe_cpu_s;
    for (const auto& [group, cpu] : next.thread_cpu_s) m.thread_cpu_s[group] += cpu;
    return m;
  }
};

struct RunResult {
  uint32_t validators = 0;
  std::string mode;
  double offered_rate = 0;  // open loop
  uint32_t inflight = 0;    // closed loop
  double window_s = 0;
  uint64_t committed_window = 0;  // node-side: hc_node_txs_committed_total of validator 0
                                  // (validator 1 in a --crash-primary-at run)
  double committed_tps = 0;
  uint64_t observed_commits = 0;  // client-side, txs whose commit landed in the window
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  uint64_t not_committed = 0;  // offered in the window, answered without a commit
  uint64_t rejected = 0;       // duplicate / invalid / mempool_full answers
  uint64_t late_batches = 0;   // open loop: batches started > 100 ms after their slot
  double view_changes = 0;
  double node_cpu_s = 0;
  double node_cpu_per_1k = 0;
  double gen_cpu_s = 0;
  double gen_cpu_per_1k = 0;
  double bytes_per_tx = 0;
  // One core's Ed25519 verifies per CPU second: probed during the window (the cost of the
  // signature checks as the nodes paid it: the ceiling and the CPU ratio use it), and once
  // before the load with the network idle.
  double verify_rate = 0;
  double verify_rate_idle = 0;
  unsigned cores = 0;
  double ceiling_tps = 0;
  double achieved_over_ceiling = 0;
  double cpu_over_sigchecks = 0;
  double tx_sig_checks_per_tx = 0;   // Ed25519 checks of client signatures per tx per validator
  double consensus_sigs_per_tx = 0;  // PBFT message signature checks per tx, all validators
  double txs_per_block = 0;
  // Node CPU by thread group (all validators), µs per committed tx: where the time goes.
  std::map<std::string, double> thread_cpu_us_per_tx;
  double load_avg_1m = 0;
  double sign_s = 0;
  uint64_t prepared_txs = 0;
  std::map<std::string, uint64_t> mix;  // the prepared stream by payload kind
  double mean_tx_bytes = 0;
  bool ran_out_of_txs = false;
  // --catchup: an observer started empty after the load replays the chain by state transfer.
  uint64_t catchup_height = 0;        // validator 0's height when the observer started
  uint64_t catchup_txs = 0;           // txs the observer committed (all blocks 1..height)
  uint64_t catchup_attested_txs = 0;  // of those, txs of blocks attested by later ones (R26)
  double catchup_s = 0;  // from the observer's process start to its height = that height
  double catchup_tps = 0;
  std::string catchup_node;             // "observer" or "validator"
  double catchup_node_cpu_s = 0;        // of the node catching up
  double catchup_validators_cpu_s = 0;  // the validators serving it (otherwise idle)
  // Client-observed commits in each second of the window (the commits' own times).
  std::vector<uint64_t> per_second;
  // The window in slices of kSliceS seconds (the last one up to half a slice longer): whether
  // a falling rate over a long run is the node costing more per tx or the machine getting
  // slower shows in the slices' verify rates and their ratios of node CPU to signature checks.
  std::vector<Slice> slices;
  // --backup-at: validator 0's online backup during the load.
  double backup_at_s = -1;       // when the signal was sent, seconds into the window
  double backup_s = 0;           // from the signal to the node counting the backup
  bool backup_ok = false;        // counted as ok (else failed, or not done within the window)
  uint64_t backup_height = 0;    // the backup's ledger height
  double backup_bytes = 0;       // the backup's size
  uint64_t backup_db_bytes = 0;  // validator 0's data directory when the signal was sent
  // --crash-primary-at: the primary, validator 0, killed with SIGKILL under the load (DESIGN.md
  // §8: a new view and progress within 2 x the view-change timeout). Times are from the kill, as
  // validator 1 reports them (polled every ≈ 50 ms); its committed counter is the window's.
  double crash_at_s = -1;               // when it was killed, seconds into the window
  uint32_t view_change_timeout_ms = 0;  // genesis
  double crash_new_view_s = -1;         // to validator 1 installing a new view
  double crash_progress_s = -1;         // to validator 1's first commit after it
  uint64_t crash_lost_batches = 0;      // requests cut by the kill (their txs' fate unknown)
  // --restart-after: the killed validator restarted on its data directory under the load.
  double restart_at_s = -1;  // seconds into the window
  double rejoin_s = -1;      // from the restart to its height within one block of validator 1's
  uint64_t rejoin_gap_blocks = 0;  // validator 1's height less its own when its API first answered
  uint64_t rejoin_last_gap_blocks = 0;  // the same, at the last poll
  std::string error;
};

// One thread's Ed25519 verifies per CPU second, from short probes. CPU time, not wall time: a
// probe that shares the cores with the nodes loses wall time to them, not CPU time per verify.
// The machine's own speed does move (a shared host: one core's rate has been seen to change by a
// quarter within a minute), so the run probes during its window as well as before it.
class VerifyProbe {
 public:
  VerifyProbe() : kp_(crypto::GenerateEd25519()), msg_(300, 'x') {
    sig_ = crypto::Ed25519Sign(kp_.secret_key, AsBytes(msg_));
  }
  // Verifies until `cpu_budget_s` of this thread's CPU is spent.
  void Run(double cpu_budget_s) {
    const double start = ThreadCpu();
    double spent = 0;
    while (spent < cpu_budget_s) {
      for (int i = 0; i < 50; ++i) {
        if (crypto::Ed25519Verify(kp_.public_key, AsBytes(msg_),
                                  ByteView(sig_.data(), sig_.size()))) {
          ++verifies_;
        }
      }
      spent = ThreadCpu() - start;
    }
    cpu_s_ += spent;
  }
  double rate() const { return cpu_s_ > 0 ? static_cast<double>(verifies_) / cpu_s_ : 0; }
  double cpu_s() const { return cpu_s_; }
  uint64_t verifies() const { return verifies_; }

 private:
  static double ThreadCpu() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  }
  crypto::Ed25519KeyPair kp_;
  std::string msg_;
  crypto::Ed25519Signature sig_;
  uint64_t verifies_ = 0;
  double cpu_s_ = 0;
};

// The first line of /proc/<file> that starts with `key`, after its colon; "" when absent.
std::string ProcField(const std::string& file, std::string_view key) {
  std::ifstream in("/proc/" + file);
  std::string line;
  for (int i = 0; i < 100'000 && std::getline(in, line); ++i) {
    if (!line.starts_with(key)) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return "";
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

// What a published table must say it was measured on: the machine, the network's settings and
// the load's shape (docs/performance.md gives these with every table).
struct Conditions {
  std::string cpu_model;
  unsigned cores = 0;
  std::string memory;
  std::string kernel;
  std::string started_utc;
};

Conditions ReadConditions() {
  Conditions c;
  c.cpu_model = ProcField("cpuinfo", "model name");
  c.cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string mem_kb = ProcField("meminfo", "MemTotal");  // "24683748 kB"
  c.memory = mem_kb.ends_with(" kB")
                 ? Fmt(std::strtod(mem_kb.c_str(), nullptr) / (1024.0 * 1024.0)) + " GiB"
                 : mem_kb;
  utsname u{};
  if (::uname(&u) == 0) c.kernel = std::string(u.sysname) + " " + u.release;
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  char buf[32] = {};
  if (::gmtime_r(&now, &tm) != nullptr) std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  c.started_utc = buf;
  return c;
}

double LoadAvg1() {
  std::ifstream in("/proc/loadavg");
  double v = 0;
  in >> v;
  return v;
}

class Cluster {
 public:
  ~Cluster() { Stop(); }
  void Stop() {
    for (auto& p : procs_) p->Kill();
  }
  std::vector<std::unique_ptr<NodeProcess>> procs_;
  std::vector<uint16_t> api_ports_;
  std::vector<std::string> data_dirs_;
  std::vector<std::string> configs_, logs_;  // what each process was started with
};

// Submits `txs` in batches with wait=commit to validator 0 until all are committed.
bool CommitSetup(uint16_t port, const std::vector<std::string>& txs, size_t batch) {
  Conn c(port);
  for (size_t from = 0; from < txs.size(); from += batch) {
    const size_t to = std::min(txs.size(), from + batch);
    auto r = c.Do(http::verb::post, "/v1/txs?wait=commit", Delimited(txs, from, to),
                  "application/x-protobuf");
    if (!r || r->status != 200) return false;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object()) return false;
    if (v.as_object().at("committed").to_number<uint64_t>() != to - from) return false;
  }
  return true;
}

std::optional<uint64_t> StatusHeight(uint16_t port) {
  auto st = GetJson(port, "/v1/status");
  if (!st) return std::nullopt;
  const json::value* h = st->if_contains("height");
  if (h == nullptr || !h->is_number()) return std::nullopt;
  return h->to_number<uint64_t>();
}

// DESIGN.md §8's restart catch-up: once the load has stopped and validator 0's height is steady,
// starts `node` with an empty data directory — an observer, or the last validator stopped and its
// data directory wiped (a validator that lost its disk) — and waits until it reaches that height.
// It checks every block's commit certificate and re-executes every block, checking the tx
// signatures of the blocks no later fetched block attests (ledger-rules.md R26).
void MeasureCatchUp(const Options& o, const cli::GeneratedNode& node, Cluster& cluster,
                    RunResult* res) {
  const uint16_t port0 = cluster.api_ports_[0];
  uint64_t height = 0;
  const auto steady_deadline = Clock::now() + std::chrono::seconds(30);
  for (int steady = 0; steady < 10 && !g_stop && Clock::now() < steady_deadline;) {
    const uint64_t h = StatusHeight(port0).value_or(0);
    steady = (h == height) ? steady + 1 : 0;
    height = h;
    std::this_thread::sleep_for(Ms(100));
  }
  if (height == 0) {
    res->error = "catch-up: validator 0 reports no height";
    return;
  }
  const uint16_t obs_port =
      static_cast<uint16_t>(std::stoi(node.api_address.substr(node.api_address.rfind(':') + 1)));
  if (node.validator) {
    cluster.procs_[node.id]->Kill();
    std::error_code ec;
    fs::remove_all(cluster.data_dirs_[node.id], ec);
    if (ec) {
      res->error = "catch-up: removing " + cluster.data_dirs_[node.id] + ": " + ec.message();
      return;
    }
  }
  // The CPU of the validators serving it (the stopped one reads 0).
  auto serving_cpu = [&] {
    double sum = 0;
    for (auto& p : cluster.procs_) sum += ProcessCpuSeconds(p->pid());
    return sum;
  };
  const double validators_cpu0 = serving_cpu();
  auto proc = std::make_unique<NodeProcess>();
  const auto t0 = Clock::now();
  if (!proc->Start(o.node_bin, node.config_path, node.dir + "/node.log")) {
    res->error = "catch-up: cannot start " + node.name;
    return;
  }
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.catchup_timeout_s));
  bool reached = false;
  while (!g_stop && Clock::now() < deadline && proc->Alive()) {
    if (StatusHeight(obs_port).value_or(0) >= height) {
      reached = true;
      break;
    }
    std::this_thread::sleep_for(Ms(20));
  }
  const auto t1 = Clock::now();
  res->catchup_height = height;
  res->catchup_s = Seconds(t1 - t0);
  res->catchup_node = node.validator ? "validator" : "observer";
  res->catchup_node_cpu_s = ProcessCpuSeconds(proc->pid());
  res->catchup_validators_cpu_s = serving_cpu() - validators_cpu0;
  const std::string metrics = Metrics(obs_port);
  res->catchup_txs = static_cast<uint64_t>(MetricSum(metrics, "hc_node_txs_committed_total"));
  res->catchup_attested_txs =
      static_cast<uint64_t>(MetricSum(metrics, "hc_node_state_transfer_attested_txs_total"));
  if (res->catchup_s > 0) res->catchup_tps = static_cast<double>(res->catchup_txs) / res->catchup_s;
  if (!reached) {
    res->error = "catch-up: " + node.name + " did not reach height " + std::to_string(height) +
                 " within " + Fmt(o.catchup_timeout_s, 0) + " s (see " + node.dir + "/node.log)";
  }
  // Stopped with the validators.
  if (node.validator) {
    cluster.procs_[node.id] = std::move(proc);
  } else {
    cluster.procs_.push_back(std::move(proc));
  }
}

RunResult RunOnce(const Options& o, uint32_t validators, const std::string& mode, double rate,
                  uint32_t inflight) {
  RunResult res;
  res.validators = validators;
  res.mode = mode;
  res.offered_rate = mode == "open" ? rate : 0;
  res.inflight = mode == "closed" ? inflight : 0;
  res.cores = std::max(1u, std::thread::hardware_concurrency());

  // 1. The network, as `hcctl network new` makes it, with the workload's commission in genesis.
  const std::string dir = o.work_dir + "/n" + std::to_string(validators);
  cli::NetworkSpec spec;
  spec.chain_id = "hc-bench";
  spec.validators = validators;
  spec.overwrite = true;
  spec.observers = o.catchup && o.catchup_node == "observer" ? 1 : 0;
  spec.log_level = "warn";
  if (o.batch_delay_ms > 0) spec.consensus.batch_delay_ms = static_cast<uint32_t>(o.batch_delay_ms);
  if (o.batch_txs_max > 0) spec.consensus.batch_txs_max = o.batch_txs_max;
  // Every tx is signed before the run (created_ms: then), so the chain's tx lifetime (R5) must
  // cover the whole run: the default, for preparing and setting up, plus warm-up and window.
  if (o.no_tx_lifetime) {
    spec.txs = {};
  } else {
    spec.txs.max_age_ms += static_cast<int64_t>((o.warmup_s + o.window_s) * 1000);
  }
  // Held until the run ends, so that concurrent runs and tests never share a port.
  auto ports = node::PortBlock::Reserve(4 * validators);
  if (!ports.ok()) {
    res.error = "ports: " + ports.status().message();
    return res;
  }
  spec.base_p2p_port = ports->base();
  spec.base_api_port = ports->port(2 * validators);
  std::error_code fec;
  fs::remove_all(dir, fec);
  cli::GeneratedNetwork net;
  if (Status s = cli::GenerateNetwork(spec, dir, &net); !s.ok()) {
    res.error = "generate network: " + s.message();
    return res;
  }
  if (!o.compaction_priority.empty()) {
    for (const auto& node : net.nodes) {
      auto config = node::LoadNodeConfig(node.config_path);
      if (!config.ok()) {
        res.error = "node config: " + config.status().message();
        return res;
      }
      config->storage.low_priority_compaction = o.compaction_priority == "low";
      std::ofstream(node.config_path, std::ios::trunc) << node::EncodeNodeConfig(*config);
    }
  }
  auto genesis = ledger::LoadGenesisFile(net.genesis_path);
  if (!genesis.ok()) {
    res.error = "genesis: " + genesis.status().message();
    return res;
  }
  RealKeys keys;
  keys.Add("gov");
  for (uint32_t i = 0; i < o.hospitals; ++i) keys.Add("hosp-" + std::to_string(i));
  for (uint32_t i = 0; i < o.insurers; ++i) keys.Add("ins-" + std::to_string(i));
  const uint64_t patients_max = o.patients + o.txs / 16 + 1000;  // enrolments are ≈ 5 % of txs
  for (uint64_t i = 0; i < patients_max; ++i) keys.Add("pat-" + std::to_string(i));
  {
    size_t gi = 0;
    ledger::GenesisCommission gov;
    gov.name = "Bench Health Commission";
    gov.key = *keys.RealOf(ledger::testing::K("gov"), &gi);
    gov.encryption_key = crypto::GenerateX25519().public_key;
    genesis->commissions = {gov};
    std::ofstream(net.genesis_path, std::ios::trunc) << ledger::GenesisToJson(*genesis);
  }

  // 2. The workload, signed before anything is measured.
  std::cerr << "preparing " << o.txs << " txs ...\n";
  PreparedWorkload wl = PrepareWorkload(o, genesis->chain_id, keys);
  res.sign_s = wl.sign_seconds;
  res.prepared_txs = wl.load.size();
  res.mix = wl.mix;
  res.mean_tx_bytes = wl.mean_tx_bytes;
  std::cerr << "signed in " << wl.sign_seconds << " s\n";

  // 3. The processes.
  Cluster cluster;
  for (const auto& node : net.nodes) {
    if (!node.validator) continue;
    // node.toml exactly as `hcctl network new` writes it (the operator's defaults).
    auto p = std::make_unique<NodeProcess>();
    if (!p->Start(o.node_bin, node.config_path, node.dir + "/node.log")) {
      res.error = "cannot start " + node.name;
      return res;
    }
    cluster.procs_.push_back(std::move(p));
    cluster.configs_.push_back(node.config_path);
    cluster.logs_.push_back(node.dir + "/node.log");
    cluster.api_ports_.push_back(
        static_cast<uint16_t>(std::stoi(node.api_address.substr(node.api_address.rfind(':') + 1))));
    cluster.data_dirs_.push_back(node.dir + "/data");
  }
  const uint16_t port0 = cluster.api_ports_[0];
  // The validator whose committed counter is the window's: validator 0, or validator 1 when
  // validator 0 is to be killed.
  const uint16_t count_port = cluster.api_ports_[o.crash_primary_at_s >= 0 ? 1 : 0];
  res.view_change_timeout_ms = genesis->consensus.view_change_timeout_ms;
  // Ready when every validator answers and the network commits the org setup.
  const auto ready_deadline = Clock::now() + std::chrono::seconds(60);
  for (uint16_t p : cluster.api_ports_) {
    while (!g_stop && Clock::now() < ready_deadline && !GetJson(p, "/v1/status")) {
      std::this_thread::sleep_for(Ms(100));
    }
  }
  for (auto& p : cluster.procs_) {
    if (!p->Alive()) {
      res.error = "a node exited at start (see its node.log under " + dir + ")";
      return res;
    }
  }
  if (g_stop || !CommitSetup(port0, wl.orgs, 500) || !CommitSetup(port0, wl.patients, 500)) {
    res.error = "the network did not commit the setup txs";
    return res;
  }
  std::cerr << "network of " << validators << " up, setup committed\n";

  // 4. One core's verify rate, measured now (the network idle); probed again in the window.
  VerifyProbe idle_probe;
  idle_probe.Run(1.0);
  res.verify_rate_idle = idle_probe.rate();

  // 5. Load.
  struct Sample {
    double commit_at_s;  // since run start, client clock
    double latency_ms;
  };
  std::mutex mu;
  std::vector<Sample> samples;
  std::atomic<uint64_t> not_committed{0}, rejected{0}, late{0}, next_tx{0}, http_errors{0};
  // --crash-primary-at: the validator killed (-1: none yet); requests it cut are not errors.
  std::atomic<int> crashed{-1};
  std::atomic<uint64_t> cut_batches{0};
  std::atomic<bool> out_of_txs{false};
  const auto run_start = Clock::now();
  const double total_s = o.warmup_s + o.window_s;
  const auto load_end = run_start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(total_s));
  // Open loop: slots handed to workers through a bounded queue of scheduled times.
  std::mutex qmu;
  std::condition_variable qcv;
  std::deque<Clock::time_point> slots;
  bool sched_done = false;
  const size_t batch = o.batch;
  const uint32_t conns =
      mode == "closed"
          ? std::max<uint32_t>(1, (inflight + o.batch - 1) / o.batch)
          : std::max<uint32_t>(validators * 2,
                               static_cast<uint32_t>(std::ceil(rate * 0.6 / o.batch)) + validators);

  auto send_batch = [&](Conn& c, uint32_t node, Clock::time_point t0) -> bool {
    const uint64_t from = next_tx.fetch_add(batch);
    if (from >= wl.load.size()) {
      out_of_txs = true;
      return false;
    }
    const uint64_t to = std::min<uint64_t>(wl.load.size(), from + batch);
    auto r = c.Do(http::verb::post, "/v1/txs?wait=commit", Delimited(wl.load, from, to),
                  "application/x-protobuf");
    const auto t1 = Clock::now();
    if (!r || r->status != 200) {
      if (crashed.load() == static_cast<int>(node)) {
        cut_batches += 1;
      } else {
        http_errors += 1;
        std::this_thread::sleep_for(Ms(50));
      }
      return true;
    }
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object()) return true;
    const auto& obj = v.as_object();
    const double rtt_ms = Seconds(t1 - t0) * 1000;
    const double node_ms = obj.at("elapsed_ms").to_number<double>();
    std::vector<Sample> local;
    for (const auto& e : obj.at("results").as_array()) {
      const auto& t = e.as_object();
      if (t.at("status").as_string() != "pending") {
        ++rejected;
        continue;
      }
      const auto* c_ms = t.if_contains("commit_ms");
      if (c_ms == nullptr) {
        ++not_committed;
        continue;
      }
      const double lat = std::max(0.0, rtt_ms - (node_ms - c_ms->to_number<double>()));
      local.push_back({Seconds(t0 - run_start) + lat / 1000, lat});
    }
    std::lock_guard lock(mu);
    samples.insert(samples.end(), local.begin(), local.end());
    return true;
  };

  std::vector<std::thread> workers;
  for (uint32_t w = 0; w < conns; ++w) {
    workers.emplace_back([&, w] {
      uint32_t node = w % validators;
      auto c = std::make_unique<Conn>(cluster.api_ports_[node]);
      for (uint64_t iter = 0; iter < 10'000'000; ++iter) {
        if (g_stop || Clock::now() >= load_end || out_of_txs) return;
        if (crashed.load() == static_cast<int>(node)) {  // a client moves to the next validator
          node = (node + 1) % validators;
          c = std::make_unique<Conn>(cluster.api_ports_[node]);
        }
        Clock::time_point t0 = Clock::now();
        if (mode == "open") {
          std::unique_lock lock(qmu);
          if (!qcv.wait_for(lock, Ms(200), [&] { return !slots.empty() || sched_done; })) {
            continue;
          }
          if (slots.empty()) return;
          t0 = slots.front();
          slots.pop_front();
          lock.unlock();
          if (Clock::now() - t0 > Ms(100)) ++late;
        }
        if (!send_batch(*c, node, t0)) return;
      }
    });
  }
  std::thread scheduler;
  if (mode == "open") {
    scheduler = std::thread([&] {
      const double interval_s = static_cast<double>(batch) / rate;
      for (uint64_t k = 0; k < 100'000'000; ++k) {
        const auto slot =
            run_start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(interval_s * static_cast<double>(k)));
        if (g_stop || slot >= load_end) break;
        std::this_thread::sleep_until(slot);
        std::lock_guard lock(qmu);
        if (slots.size() < 100'000) slots.push_back(slot);
        qcv.notify_one();
      }
      std::lock_guard lock(qmu);
      sched_done = true;
      qcv.notify_all();
    });
  }

  // Window boundaries: node CPU, generator CPU, committed counter, view changes, and where the
  // signature checks went (summed over validators).
  struct Snapshot {
    double cpu = 0, committed = 0, blocks = 0, views = 0, tx_sig_checks = 0, consensus_sigs = 0;
    std::map<std::string, double> thread_cpu;
  };
  // A killed validator's CPU and counters as they were read just before the kill, so that what
  // it spent and checked stays in the window's totals (with a restarted process's own added).
  struct Frozen {
    double cpu = 0;
    std::map<std::string, double> thread_cpu;
    std::string metrics;
  };
  std::vector<std::optional<Frozen>> frozen(validators);
  auto read_process_cpu = [](pid_t pid, double* cpu, std::map<std::string, double>* thread_cpu) {
    *cpu += ProcessCpuSeconds(pid);
    AddThreadCpuSeconds(pid, thread_cpu);
  };
  // All validators' CPU, in all and by thread group (the window's ends and its slices).
  auto read_node_cpu = [&](double* cpu, std::map<std::string, double>* thread_cpu) {
    for (size_t i = 0; i < cluster.procs_.size(); ++i) {
      if (frozen[i]) {
        *cpu += frozen[i]->cpu;
        for (const auto& [group, used] : frozen[i]->thread_cpu) (*thread_cpu)[group] += used;
      }
      if (cluster.procs_[i]->pid() <= 0) continue;  // killed, not restarted
      read_process_cpu(cluster.procs_[i]->pid(), cpu, thread_cpu);
    }
  };
  auto snapshot = [&](Snapshot* s) {
    *s = Snapshot{};
    read_node_cpu(&s->cpu, &s->thread_cpu);
    const std::string m = Metrics(count_port);
    s->committed = MetricSum(m, "hc_node_txs_committed_total");
    s->blocks = MetricSum(m, "hc_node_blocks_committed_total");
    for (size_t i = 0; i < cluster.api_ports_.size(); ++i) {
      std::vector<std::string> texts;  // a killed node's last counters, and a restarted one's
      if (frozen[i]) texts.push_back(frozen[i]->metrics);
      if (cluster.procs_[i]->pid() > 0) texts.push_back(Metrics(cluster.api_ports_[i]));
      for (const std::string& mv : texts) {
        s->views = std::max(s->views, MetricSum(mv, "hc_consensus_new_views_installed_total"));
        s->tx_sig_checks += MetricSum(mv, "hc_node_tx_signature_checks_total");
        s->consensus_sigs += MetricSum(mv, "hc_consensus_signatures_verified_total");
      }
    }
  };
  const auto window_start = run_start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(o.warmup_s));
  while (!g_stop && Clock::now() < window_start && !out_of_txs) std::this_thread::sleep_for(Ms(50));
  Snapshot s0, s1;
  snapshot(&s0);
  const double gen0 = SelfCpuSeconds();
  const auto w0 = Clock::now();
  // 20 ms of verifying every 2 s (1 % of one core, taken out of the generator's CPU).
  VerifyProbe window_probe;
  auto next_probe = w0;
  // --backup-at: signal validator 0 once, then watch its backup counters until it is counted.
  double backups_before = 0;
  double backups_ok_before = 0;
  std::optional<Clock::time_point> backup_sent;
  bool backup_counted = false;
  const std::string backups_ok = "hc_node_backups_total{result=\"ok\"}";
  // --crash-primary-at: kill validator 0 once, then watch validator 1 for a new view and for its
  // first commit in that view; --restart-after: then start validator 0 again and watch its height
  // until it reaches validator 1's.
  std::optional<Clock::time_point> killed_at, progress_at, restarted_at;
  double views_before = 0, committed_at_new_view = 0;
  bool gap_read = false;  // the restarted node's API has answered
  auto watch_restart = [&](Clock::time_point now) {
    if (o.restart_after_s < 0 || res.rejoin_s >= 0 || !res.error.empty()) return;
    if (!restarted_at) {
      if (Seconds(now - *progress_at) < o.restart_after_s) return;
      if (!cluster.procs_[0]->Start(o.node_bin, cluster.configs_[0], cluster.logs_[0])) {
        res.error = "--restart-after: cannot start validator 0 again";
        return;
      }
      restarted_at = Clock::now();
      res.restart_at_s = Seconds(*restarted_at - w0);
      return;
    }
    const std::optional<uint64_t> h1 = StatusHeight(count_port);
    const std::optional<uint64_t> h0 = StatusHeight(port0);
    if (!h0 || !h1) return;  // still opening its database
    const uint64_t gap = *h1 > *h0 ? *h1 - *h0 : 0;
    if (!std::exchange(gap_read, true)) res.rejoin_gap_blocks = gap;
    res.rejoin_last_gap_blocks = gap;
    // In step: at most the block in flight behind (read after validator 1's height).
    if (*h0 + 1 >= *h1) res.rejoin_s = Seconds(Clock::now() - *restarted_at);
  };
  auto watch_crash = [&] {
    const auto now = Clock::now();
    if (progress_at) {
      watch_restart(now);
      return;
    }
    if (!killed_at) {
      if (Seconds(now - w0) < o.crash_primary_at_s) return;
      const auto status = GetJson(count_port, "/v1/status");
      const json::value* view = status ? status->if_contains("view") : nullptr;
      if (view == nullptr || !view->is_number() || view->to_number<uint64_t>() != 0) {
        res.error =
            "--crash-primary-at: the view is not 0 at the kill (validator 0 is not the "
            "primary)";
        res.crash_at_s = Seconds(now - w0);
        killed_at = now;
        return;
      }
      views_before = MetricSum(Metrics(count_port), "hc_consensus_new_views_installed_total");
      Frozen f;
      read_process_cpu(cluster.procs_[0]->pid(), &f.cpu, &f.thread_cpu);
      f.metrics = Metrics(cluster.api_ports_[0]);
      frozen[0] = std::move(f);
      crashed = 0;
      cluster.procs_[0]->Kill();
      killed_at = Clock::now();
      res.crash_at_s = Seconds(*killed_at - w0);
      return;
    }
    if (!res.error.empty()) return;
    const std::string m = Metrics(count_port);
    if (res.crash_new_view_s < 0) {
      if (MetricSum(m, "hc_consensus_new_views_installed_total") <= views_before) return;
      res.crash_new_view_s = Seconds(now - *killed_at);
      committed_at_new_view = MetricSum(m, "hc_node_txs_committed_total");
    } else if (MetricSum(m, "hc_node_txs_committed_total") > committed_at_new_view) {
      progress_at = now;
      res.crash_progress_s = Seconds(now - *killed_at);
    }
  };
  // Slice boundaries (RunResult::slices): all nodes' CPU (by thread group too), the counted
  // validator's committed counter and the probe's totals, every kSliceS seconds.
  struct Mark {
    Clock::time_point at;
    double cpu = 0, committed = 0, probe_cpu_s = 0;
    uint64_t probe_verifies = 0;
    std::map<std::string, double> thread_cpu;
  };
  std::vector<Mark> marks{Mark{w0, s0.cpu, s0.committed, 0, 0, s0.thread_cpu}};
  auto mark = [&](Clock::time_point at, double cpu, double committed,
                  std::map<std::string, double> thread_cpu) {
    marks.push_back(Mark{at, cpu, committed, window_probe.cpu_s(), window_probe.verifies(),
                         std::move(thread_cpu)});
  };
  const auto slice =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kSliceS));
  while (!g_stop && Clock::now() < load_end && !out_of_txs) {
    if (Clock::now() >= next_probe) {
      window_probe.Run(0.02);
      next_probe += std::chrono::seconds(2);
    }
    if (Clock::now() >= marks.back().at + slice) {
      double cpu = 0;
      std::map<std::string, double> thread_cpu;
      read_node_cpu(&cpu, &thread_cpu);
      mark(Clock::now(), cpu, MetricSum(Metrics(count_port), "hc_node_txs_committed_total"),
           std::move(thread_cpu));
    }
    std::this_thread::sleep_for(Ms(50));
    if (o.crash_primary_at_s >= 0) watch_crash();
    if (o.backup_at_s < 0 || backup_counted) continue;
    const double in_window = Seconds(Clock::now() - w0);
    if (!backup_sent && in_window >= o.backup_at_s) {
      const std::string m = Metrics(port0);
      backups_before = MetricSum(m, "hc_node_backups_total");
      backups_ok_before = MetricSum(m, backups_ok);
      res.backup_db_bytes = DiskBytes(cluster.data_dirs_[0]);
      res.backup_at_s = in_window;
      ::kill(cluster.procs_[0]->pid(), SIGUSR1);
      backup_sent = Clock::now();
    } else if (backup_sent) {
      const std::string m = Metrics(port0);
      if (MetricSum(m, "hc_node_backups_total") > backups_before) {
        backup_counted = true;
        res.backup_s = Seconds(Clock::now() - *backup_sent);
        res.backup_ok = MetricSum(m, backups_ok) > backups_ok_before;
        res.backup_height = static_cast<uint64_t>(MetricSum(m, "hc_node_backup_last_height"));
        res.backup_bytes = MetricSum(m, "hc_node_backup_last_bytes");
      }
    }
  }
  if (backup_sent && !backup_counted) res.error = "the backup was not counted within the window";
  if (res.crash_at_s >= 0 && res.crash_progress_s < 0 && res.error.empty()) {
    res.error = res.crash_new_view_s < 0
                    ? "no new view within the window after the primary was killed"
                    : "no commit within the window after the new view";
  }
  if (o.restart_after_s >= 0 && res.crash_progress_s >= 0 && res.rejoin_s < 0 &&
      res.error.empty()) {
    res.error = res.restart_at_s < 0 ? "--restart-after: the window ended before the restart"
                                     : "the restarted validator was still " +
                                           std::to_string(res.rejoin_last_gap_blocks) +
                                           " blocks behind validator 1 at the window's end";
  }
  if (backup_counted && !res.backup_ok) res.error = "the online backup failed (validator 0's log)";
  snapshot(&s1);
  const double gen1 = SelfCpuSeconds() - window_probe.cpu_s();
  const auto w1 = Clock::now();
  // A last slice shorter than half of one joins the one before.
  if (marks.size() > 1 && w1 - marks.back().at < slice / 2) marks.pop_back();
  mark(w1, s1.cpu, s1.committed, s1.thread_cpu);
  for (size_t i = 1; i < marks.size(); ++i) {
    const Mark& a = marks[i - 1];
    const Mark& b = marks[i];
    res.slices.push_back(Slice{Seconds(a.at - w0), Seconds(b.at - a.at), b.committed - a.committed,
                               b.cpu - a.cpu, b.probe_verifies - a.probe_verifies,
                               b.probe_cpu_s - a.probe_cpu_s,
                               ThreadCpuSince(b.thread_cpu, a.thread_cpu)});
  }
  res.verify_rate = window_probe.rate() > 0 ? window_probe.rate() : res.verify_rate_idle;
  res.ceiling_tps = res.cores * res.verify_rate / validators;
  res.load_avg_1m = LoadAvg1();
  if (scheduler.joinable()) scheduler.join();
  {
    std::lock_guard lock(qmu);
    sched_done = true;
    qcv.notify_all();
  }
  for (auto& t : workers) t.join();  // each returns within one batch's bounded wait

  res.ran_out_of_txs = out_of_txs;
  res.crash_lost_batches = cut_batches;
  res.window_s = Seconds(w1 - w0);
  res.committed_window = static_cast<uint64_t>(s1.committed - s0.committed);
  res.committed_tps =
      res.window_s > 0 ? static_cast<double>(res.committed_window) / res.window_s : 0;
  const double ws = Seconds(w0 - run_start), we = Seconds(w1 - run_start);
  std::vector<double> lat;
  res.per_second.assign(static_cast<size_t>(std::ceil(we - ws)), 0);
  for (const Sample& s : samples) {
    if (s.commit_at_s >= ws && s.commit_at_s < we) {
      lat.push_back(s.latency_ms);
      res.per_second[std::min(res.per_second.size() - 1,
                              static_cast<size_t>(s.commit_at_s - ws))] += 1;
      // The slice whose span holds the commit (the last one that starts at or before it).
      auto after = std::upper_bound(res.slices.begin(), res.slices.end(), s.commit_at_s - ws,
                                    [](double t, const Slice& sl) { return t < sl.start_s; });
      if (after != res.slices.begin()) std::prev(after)->latencies_ms.push_back(s.latency_ms);
    }
  }
  res.observed_commits = lat.size();
  res.p50_ms = Percentile(lat, 0.50);
  res.p90_ms = Percentile(lat, 0.90);
  res.p99_ms = Percentile(lat, 0.99);
  res.max_ms = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  res.not_committed = not_committed;
  res.rejected = rejected;
  res.late_batches = late;
  res.view_changes = s1.views - s0.views;
  res.node_cpu_s = s1.cpu - s0.cpu;
  res.gen_cpu_s = gen1 - gen0;
  if (res.committed_window > 0) {
    const double k = static_cast<double>(res.committed_window) / 1000;
    res.node_cpu_per_1k = res.node_cpu_s / k;
    res.gen_cpu_per_1k = res.gen_cpu_s / k;
    const double txs = static_cast<double>(res.committed_window);
    res.cpu_over_sigchecks = CpuOverSigChecks(res.node_cpu_s, txs, validators, res.verify_rate);
    res.tx_sig_checks_per_tx = (s1.tx_sig_checks - s0.tx_sig_checks) / txs / validators;
    res.consensus_sigs_per_tx = (s1.consensus_sigs - s0.consensus_sigs) / txs;
    if (s1.blocks > s0.blocks) res.txs_per_block = txs / (s1.blocks - s0.blocks);
    for (const auto& [group, used] : ThreadCpuSince(s1.thread_cpu, s0.thread_cpu)) {
      res.thread_cpu_us_per_tx[group] = used * 1e6 / txs;
    }
  }
  res.achieved_over_ceiling = res.ceiling_tps > 0 ? res.committed_tps / res.ceiling_tps : 0;
  // Bytes on disk per committed tx, per validator (all data dirs / validators / txs ever
  // committed).
  uint64_t disk = 0;
  for (const auto& d : cluster.data_dirs_) disk += DiskBytes(d);
  const double total_committed = MetricSum(Metrics(count_port), "hc_node_txs_committed_total");
  if (total_committed > 0)
    res.bytes_per_tx = static_cast<double>(disk) / validators / total_committed;
  if (http_errors > 0 && res.error.empty()) {
    res.error = std::to_string(http_errors.load()) + " batch requests failed";
  }
  if (o.catchup && res.error.empty()) {
    const cli::GeneratedNode& node =
        o.catchup_node == "observer" ? net.nodes.back() : net.nodes[validators - 1];
    std::cerr << "catch-up: starting " << node.name << " with an empty data directory\n";
    MeasureCatchUp(o, node, cluster, &res);
  }
  cluster.Stop();
  if (!o.keep) fs::remove_all(dir, fec);
  return res;
}

// The window's client-observed commits per second from second `from` to second `to`.
json::array CommitsAround(const RunResult& r, double from, double to) {
  json::array out;
  for (size_t k = static_cast<size_t>(std::max(0.0, from)); k < r.per_second.size() && k <= to;
       ++k) {
    out.push_back(r.per_second[k]);
  }
  return out;
}

// From 5 s before the backup's signal to 5 s after it was counted.
json::array BackupWindow(const RunResult& r) {
  if (r.backup_at_s < 0) return {};
  return CommitsAround(r, r.backup_at_s - 5, r.backup_at_s + r.backup_s + 5);
}

// From 5 s before the kill to 10 s after the first commit in the new view (or the window's end).
json::array CrashWindow(const RunResult& r) {
  if (r.crash_at_s < 0) return {};
  const double after = r.crash_progress_s >= 0 ? r.crash_progress_s + 10 : r.window_s;
  return CommitsAround(r, r.crash_at_s - 5, r.crash_at_s + after);
}

// DESIGN.md §8's bar for a primary crash: a new view and progress within 2 x the timeout.
bool CrashWithinBar(const RunResult& r) {
  return r.crash_new_view_s >= 0 && r.crash_progress_s >= 0 &&
         r.crash_progress_s * 1000 <= 2.0 * r.view_change_timeout_ms;
}

json::object ToJson(const RunResult& r) {
  json::object o;
  o["validators"] = r.validators;
  o["mode"] = r.mode;
  if (r.mode == "open") o["offered_tps"] = r.offered_rate;
  if (r.mode == "closed") o["inflight_txs"] = r.inflight;
  o["window_s"] = r.window_s;
  o["committed_txs"] = r.committed_window;
  o["committed_tps"] = r.committed_tps;
  o["observed_commits"] = r.observed_commits;
  o["latency_ms"] = {{"p50", r.p50_ms}, {"p90", r.p90_ms}, {"p99", r.p99_ms}, {"max", r.max_ms}};
  o["not_committed"] = r.not_committed;
  o["rejected"] = r.rejected;
  o["late_batches"] = r.late_batches;
  o["view_changes"] = r.view_changes;
  o["node_cpu_s"] = r.node_cpu_s;
  o["node_cpu_s_per_1k_tx"] = r.node_cpu_per_1k;
  o["generator_cpu_s"] = r.gen_cpu_s;
  o["generator_cpu_s_per_1k_tx"] = r.gen_cpu_per_1k;
  o["disk_bytes_per_tx_per_validator"] = r.bytes_per_tx;
  o["ed25519_verify_per_core_s"] = r.verify_rate;
  o["ed25519_verify_per_core_s_idle"] = r.verify_rate_idle;
  o["cores"] = r.cores;
  o["ceiling_tps"] = r.ceiling_tps;
  o["achieved_over_ceiling"] = r.achieved_over_ceiling;
  o["cpu_over_signature_checks"] = r.cpu_over_sigchecks;
  o["tx_signature_checks_per_tx_per_validator"] = r.tx_sig_checks_per_tx;
  o["consensus_signature_checks_per_tx"] = r.consensus_sigs_per_tx;
  o["txs_per_block"] = r.txs_per_block;
  json::object threads;
  for (const auto& [group, us] : r.thread_cpu_us_per_tx) threads[group] = us;
  o["node_cpu_us_per_tx_by_thread"] = std::move(threads);
  o["load_average_1m"] = r.load_avg_1m;
  o["prepared_txs"] = r.prepared_txs;
  o["signing_s"] = r.sign_s;
  json::object mix;
  for (const auto& [kind, n] : r.mix) mix[kind] = n;
  o["workload_mix"] = std::move(mix);
  o["mean_tx_bytes"] = r.mean_tx_bytes;
  o["ran_out_of_txs"] = r.ran_out_of_txs;
  if (r.catchup_height > 0) {
    o["catchup"] = {{"node", r.catchup_node},
                    {"height", r.catchup_height},
                    {"txs", r.catchup_txs},
                    {"attested_txs", r.catchup_attested_txs},
                    {"seconds", r.catchup_s},
                    {"tps", r.catchup_tps},
                    {"node_cpu_s", r.catchup_node_cpu_s},
                    {"validators_cpu_s", r.catchup_validators_cpu_s}};
  }
  json::array per_second;
  for (uint64_t n : r.per_second) per_second.push_back(n);
  o["commits_per_second"] = std::move(per_second);
  json::array slices;
  for (const Slice& sl : r.slices) {
    json::object by_thread;
    for (const auto& [group, cpu] : sl.thread_cpu_s) {
      by_thread[group] = sl.committed > 0 ? cpu * 1e6 / sl.committed : 0;
    }
    slices.push_back({{"start_s", sl.start_s},
                      {"length_s", sl.length_s},
                      {"committed_tps", sl.committed_tps()},
                      {"node_cpu_us_per_tx", sl.node_cpu_us_per_tx()},
                      {"node_cpu_us_per_tx_by_thread", std::move(by_thread)},
                      {"ed25519_verify_per_core_s", sl.verify_rate()},
                      {"p50_ms", sl.latency_ms(0.50)},
                      {"p99_ms", sl.latency_ms(0.99)},
                      {"cpu_over_signature_checks", sl.cpu_over_sigchecks(r.validators)}});
  }
  o["slices"] = std::move(slices);
  if (r.backup_at_s >= 0) {
    o["backup"] = {{"at_s", r.backup_at_s},
                   {"seconds", r.backup_s},
                   {"ok", r.backup_ok},
                   {"height", r.backup_height},
                   {"bytes", r.backup_bytes},
                   {"db_bytes", r.backup_db_bytes},
                   {"commits_per_second_around", BackupWindow(r)}};
  }
  if (r.crash_at_s >= 0) {
    o["primary_crash"] = {{"at_s", r.crash_at_s},
                          {"killed", 0},
                          {"view_change_timeout_ms", r.view_change_timeout_ms},
                          {"new_view_s", r.crash_new_view_s},
                          {"progress_s", r.crash_progress_s},
                          {"within_two_timeouts", CrashWithinBar(r)},
                          {"lost_batches", r.crash_lost_batches},
                          {"commits_per_second_around", CrashWindow(r)}};
    if (r.restart_at_s >= 0) {
      json::object& c = o["primary_crash"].as_object();
      c["restart_at_s"] = r.restart_at_s;
      c["rejoin_s"] = r.rejoin_s;
      c["rejoin_gap_blocks"] = r.rejoin_gap_blocks;
      c["rejoin_last_gap_blocks"] = r.rejoin_last_gap_blocks;
    }
  }
  if (!r.error.empty()) o["error"] = r.error;
  return o;
}

// The load's shape, as one line: "access_record 39.1 %, anchor_record 16.9 %, ...".
std::string MixLine(const std::map<std::string, uint64_t>& mix) {
  uint64_t total = 0;
  for (const auto& [kind, n] : mix) total += n;
  std::vector<std::pair<uint64_t, std::string>> by_share;
  for (const auto& [kind, n] : mix) by_share.emplace_back(n, kind);
  std::sort(by_share.rbegin(), by_share.rend());
  std::string line;
  for (const auto& [n, kind] : by_share) {
    if (!line.empty()) line += ", ";
    line += kind + " " + Fmt(100.0 * static_cast<double>(n) / static_cast<double>(total)) + " %";
  }
  return line;
}

json::object ConditionsJson(const Options& o, const Conditions& c) {
  json::object j;
  j["started_utc"] = c.started_utc;
  j["cpu_model"] = c.cpu_model;
  j["cores"] = c.cores;
  j["memory"] = c.memory;
  j["kernel"] = c.kernel;
  j["network"] =
      "healthchain processes on 127.0.0.1 as hcctl network new makes them: TLS 1.3 between peers, "
      "synced RocksDB, every client signature checked by every validator";
  j["batch_delay_ms"] = o.batch_delay_ms;  // 0: hcctl network new's default
  j["batch_txs_max"] = o.batch_txs_max;    // 0: hcctl network new's default
  j["compaction_priority"] = o.compaction_priority.empty() ? "default" : o.compaction_priority;
  j["initial_patients"] = o.patients;
  j["hospitals"] = o.hospitals;
  j["insurers"] = o.insurers;
  j["txs_per_request"] = o.batch;
  j["warmup_s"] = o.warmup_s;
  j["window_s"] = o.window_s;
  return j;
}

// "closed 4000 in flight" or "open 3000 tx/s": a run's load, as the tables name it.
std::string LoadLabel(const RunResult& r) {
  return r.mode == "open" ? "open " + Fmt(r.offered_rate, 0) + " tx/s"
                          : "closed " + std::to_string(r.inflight) + " in flight";
}

std::string Markdown(const Options& o, const Conditions& c, const std::vector<RunResult>& runs) {
  std::ostringstream md;
  md << "Conditions: " << c.started_utc << "; " << (c.cpu_model.empty() ? "CPU ?" : c.cpu_model)
     << ", " << c.cores << " cores, " << c.memory << " memory, " << c.kernel
     << ". Validators are healthchain processes on 127.0.0.1 as `hcctl network new` makes them "
        "(TLS 1.3 between peers, synced RocksDB, every client signature checked by every "
        "validator); consensus batching: "
     << (o.batch_delay_ms > 0 ? std::to_string(o.batch_delay_ms) + " ms" : "default") << " delay, "
     << (o.batch_txs_max > 0 ? std::to_string(o.batch_txs_max) : "default")
     << " txs per block at most; "
     << (o.no_tx_lifetime ? "no tx lifetime (every replay check reads the tx index)"
                          : "a tx lifetime of the default plus the run (R5)")
     << "; compactions at "
     << (o.compaction_priority.empty() ? "the default" : o.compaction_priority)
     << " CPU priority. Workload: " << o.patients << " initial patients, " << o.hospitals
     << " hospitals, " << o.insurers << " insurers; " << o.batch << " txs per request; "
     << Fmt(o.warmup_s, 0) << " s of warm-up, then a " << Fmt(o.window_s, 0) << " s window.";
  if (!runs.empty() && !runs.front().mix.empty()) {
    md << " Signed txs of " << Fmt(runs.front().mean_tx_bytes, 0)
       << " bytes on average; by kind: " << MixLine(runs.front().mix) << ".";
  }
  md << "\n\n";
  md << "| validators | load | committed tx/s | p50 ms | p90 ms | p99 ms | max ms | view changes "
        "| node CPU s / 1k tx | generator CPU s / 1k tx | disk B / tx | verify/s (1 core): window "
        "/ idle | "
        "ceiling tx/s | achieved / ceiling | CPU / sig checks | tx sig checks / tx / validator | "
        "consensus sig checks / tx | txs / block | load avg |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const RunResult& r : runs) {
    md << "| " << r.validators << " | " << LoadLabel(r) << " | " << Fmt(r.committed_tps, 0) << " | "
       << Fmt(r.p50_ms) << " | " << Fmt(r.p90_ms) << " | " << Fmt(r.p99_ms) << " | "
       << Fmt(r.max_ms) << " | " << Fmt(r.view_changes, 0) << " | " << Fmt(r.node_cpu_per_1k, 3)
       << " | " << Fmt(r.gen_cpu_per_1k, 3) << " | " << Fmt(r.bytes_per_tx, 0) << " | "
       << Fmt(r.verify_rate, 0) << " / " << Fmt(r.verify_rate_idle, 0) << " | "
       << Fmt(r.ceiling_tps, 0) << " | " << Fmt(r.achieved_over_ceiling, 2) << " | "
       << Fmt(r.cpu_over_sigchecks, 2) << " | " << Fmt(r.tx_sig_checks_per_tx, 2) << " | "
       << Fmt(r.consensus_sigs_per_tx, 3) << " | " << Fmt(r.txs_per_block, 0) << " | "
       << Fmt(r.load_avg_1m, 1) << " |";
    if (!r.error.empty()) md << " error: " << r.error;
    if (r.ran_out_of_txs) md << " (ran out of prepared txs: raise --txs)";
    md << "\n";
  }
  // Where the node CPU goes, by thread (µs per committed tx, all validators together).
  std::set<std::string> groups;
  for (const RunResult& r : runs) {
    for (const auto& [group, us] : r.thread_cpu_us_per_tx) groups.insert(group);
  }
  if (!groups.empty()) {
    md << "\nNode CPU by thread, µs per committed tx (all validators):\n\n| validators | load |";
    for (const std::string& g : groups) md << " " << g << " |";
    md << " total |\n|---|---|";
    for (size_t i = 0; i < groups.size(); ++i) md << "---|";
    md << "---|\n";
    for (const RunResult& r : runs) {
      md << "| " << r.validators << " | " << LoadLabel(r) << " |";
      double total = 0;
      for (const std::string& g : groups) {
        const auto it = r.thread_cpu_us_per_tx.find(g);
        const double us = it == r.thread_cpu_us_per_tx.end() ? 0 : it->second;
        total += us;
        md << " " << Fmt(us) << " |";
      }
      md << " " << Fmt(total) << " |\n";
    }
  }
  // Long windows, over time: at most 20 rows of merged slices each.
  for (const RunResult& r : runs) {
    if (r.window_s < 120 || r.slices.empty()) continue;
    const size_t per_row = (r.slices.size() + 19) / 20;
    md << "\nOver the window (" << r.validators << " validators, " << LoadLabel(r)
       << "), from the window's start:\n\n| from s | to s | committed tx/s | p50 ms | p99 ms | "
          "node CPU µs / tx | verify/s (1 core) | CPU / sig checks |\n"
          "|---|---|---|---|---|---|---|---|\n";
    for (size_t i = 0; i < r.slices.size(); i += per_row) {
      Slice m = r.slices[i];
      for (size_t j = i + 1; j < std::min(r.slices.size(), i + per_row); ++j) {
        m = m.Then(r.slices[j]);
      }
      md << "| " << Fmt(m.start_s, 0) << " | " << Fmt(m.start_s + m.length_s, 0) << " | "
         << Fmt(m.committed_tps(), 0) << " | " << Fmt(m.latency_ms(0.50), 1) << " | "
         << Fmt(m.latency_ms(0.99), 1) << " | " << Fmt(m.node_cpu_us_per_tx(), 1) << " | "
         << Fmt(m.verify_rate(), 0) << " | " << Fmt(m.cpu_over_sigchecks(r.validators), 2)
         << " |\n";
    }
  }
  for (const RunResult& r : runs) {
    if (r.backup_at_s < 0) continue;
    md << "\nOnline backup of validator 0 (SIGUSR1) " << Fmt(r.backup_at_s, 1)
       << " s into the window: " << (r.backup_ok ? "ok" : "FAILED") << " in " << Fmt(r.backup_s, 2)
       << " s (signal to counted), height " << r.backup_height << ", "
       << Fmt(r.backup_bytes / 1e6, 1) << " MB; the data directory held "
       << Fmt(static_cast<double>(r.backup_db_bytes) / 1e6, 1)
       << " MB. Commits per second from 5 s before to 5 s after:";
    for (const json::value& n : BackupWindow(r)) md << " " << n.as_uint64();
    md << "\n";
  }
  for (const RunResult& r : runs) {
    if (r.crash_at_s < 0) continue;
    md << "\nPrimary crash: validator 0 killed (SIGKILL) " << Fmt(r.crash_at_s, 1)
       << " s into the window; view-change timeout " << r.view_change_timeout_ms
       << " ms. Validator 1 installed a new view "
       << (r.crash_new_view_s >= 0 ? Fmt(r.crash_new_view_s, 2) + " s" : std::string("never"))
       << " after the kill and committed in it "
       << (r.crash_progress_s >= 0 ? Fmt(r.crash_progress_s, 2) + " s" : std::string("never"))
       << " after (bar: within " << Fmt(2.0 * r.view_change_timeout_ms / 1000, 1)
       << " s: " << (CrashWithinBar(r) ? "met" : "NOT met") << "); " << r.crash_lost_batches
       << " requests in flight to it were cut, and their clients moved to the next validator. "
          "The window's view changes, latencies and CPU include the crash. Commits per second "
          "from 5 s before the kill to 10 s after the first new-view commit:";
    for (const json::value& n : CrashWindow(r)) md << " " << n.as_uint64();
    md << "\n";
    if (r.restart_at_s >= 0) {
      md << "\nValidator 0 restarted on its data directory " << Fmt(r.restart_at_s, 1)
         << " s into the window, " << r.rejoin_gap_blocks
         << " blocks behind validator 1 when its API first answered; it came within one block of "
            "validator 1's height "
         << (r.rejoin_s >= 0 ? Fmt(r.rejoin_s, 2) + " s after its start"
                             : "not within the window (" +
                                   std::to_string(r.rejoin_last_gap_blocks) + " blocks behind)")
         << ".\n";
    }
  }
  if (std::any_of(runs.begin(), runs.end(), [](const RunResult& r) { return r.catchup_height; })) {
    md << "\nCatch-up of an empty node by state transfer, after the load:\n\n"
          "| validators | node | blocks | txs | attested txs | seconds | replayed tx/s | its CPU "
          "s / 1k tx | serving validators' CPU s |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const RunResult& r : runs) {
      if (r.catchup_height == 0) continue;
      const double k = static_cast<double>(std::max<uint64_t>(1, r.catchup_txs)) / 1000;
      md << "| " << r.validators << " | " << r.catchup_node << " | " << r.catchup_height << " | "
         << r.catchup_txs << " | " << r.catchup_attested_txs << " | " << Fmt(r.catchup_s, 2)
         << " | " << Fmt(r.catchup_tps, 0) << " | " << Fmt(r.catchup_node_cpu_s / k, 3) << " | "
         << Fmt(r.catchup_validators_cpu_s, 2) << " |\n";
    }
  }
  return md.str();
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"hc_cluster_bench: load benchmark of a local Health Chain network"};
  app.add_option("--validators", o.validators, "4 or 7 (any n >= 1)")->check(CLI::Range(1, 16));
  app.add_option("--mode", o.mode, "closed (fixed txs in flight) or open (fixed rate)")
      ->check(CLI::IsMember({"closed", "open"}));
  app.add_option("--rate", o.rate, "open loop: offered tx/s");
  app.add_option("--inflight", o.inflight, "closed loop: txs in flight")
      ->check(CLI::Range(1u, 200'000u));
  app.add_option("--batch", o.batch, "txs per POST /v1/txs")->check(CLI::Range(1u, 4096u));
  app.add_option("--batch-delay-ms", o.batch_delay_ms,
                 "genesis: the primary closes a block this long after its oldest tx arrived "
                 "(default: hcctl network new's)")
      ->check(CLI::Range(int64_t{1}, int64_t{60'000}));
  app.add_option("--batch-txs-max", o.batch_txs_max,
                 "genesis: txs per block at most (default: hcctl network new's)")
      ->check(CLI::Range(1u, 100'000u));
  app.add_flag("--no-tx-lifetime", o.no_tx_lifetime,
               "genesis without a tx lifetime (R5): every replay check reads the tx index, as "
               "on chains made before it");
  app.add_option("--compaction-priority", o.compaction_priority,
                 "node.toml: storage.compaction_priority (default: hcctl network new's)")
      ->check(CLI::IsMember({"low", "normal"}));
  app.add_option("--warmup", o.warmup_s, "seconds of load before the window")
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--window", o.window_s, "seconds measured")->check(CLI::Range(0.5, 3600.0));
  app.add_option("--patients", o.patients, "initial patients")->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--hospitals", o.hospitals)->check(CLI::Range(1u, 10'000u));
  app.add_option("--insurers", o.insurers)->check(CLI::Range(1u, 10'000u));
  app.add_option("--txs", o.txs, "txs to prepare (default: rate guess x run length)");
  app.add_option("--rate-guess", o.rate_guess, "tx/s used to size the prepared workload");
  app.add_flag("--sweep", o.sweep,
               "4 and 7 validators: closed loop for saturation, then open loop at 25/50/100 %");
  app.add_option("--node-bin", o.node_bin, "path of healthchain")->required();
  app.add_option("--work-dir", o.work_dir, "where networks are generated");
  app.add_option("--json", o.json_out, "write the JSON report here too");
  app.add_option("--markdown", o.md_out, "write the markdown table here too");
  app.add_flag("--keep", o.keep, "keep the network directories");
  app.add_flag("--catchup", o.catchup,
               "after the load, time an empty node's catch-up by state transfer");
  app.add_option("--catchup-node", o.catchup_node,
                 "observer: a new observer; validator: the last validator, its data wiped")
      ->check(CLI::IsMember({"observer", "validator"}));
  app.add_option("--catchup-timeout", o.catchup_timeout_s, "seconds the catch-up may take")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--backup-at", o.backup_at_s,
                 "seconds into the window at which validator 0 writes an online backup "
                 "(SIGUSR1); the report gives its duration and the commits per second around it")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--crash-primary-at", o.crash_primary_at_s,
                 "seconds into the window at which the primary (validator 0) is killed with "
                 "SIGKILL; the report gives the time to a new view and to its first commit")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--restart-after", o.restart_after_s,
                 "with --crash-primary-at: start the killed validator again this many seconds "
                 "after the new view's first commit; the report gives the time until its height "
                 "is within one block of validator 1's")
      ->check(CLI::Range(0.0, 3600.0));
  CLI11_PARSE(app, argc, argv);
  if (o.mode == "open" && !o.sweep && o.rate <= 0) {
    std::cerr << "--mode open needs --rate\n";
    return 2;
  }
  if (o.backup_at_s >= o.window_s) {
    std::cerr << "--backup-at must fall inside the window (--window " << o.window_s << ")\n";
    return 2;
  }
  if (o.restart_after_s >= 0 && o.crash_primary_at_s < 0) {
    std::cerr << "--restart-after needs --crash-primary-at\n";
    return 2;
  }
  if (o.crash_primary_at_s >= 0) {
    const char* why = o.crash_primary_at_s >= o.window_s ? "must fall inside the window"
                      : o.validators < 4                 ? "needs at least 4 validators (f >= 1)"
                      : o.sweep                          ? "is for one run, not --sweep"
                      : o.backup_at_s >= 0 || o.catchup  ? "kills validator 0, which --backup-at "
                                                           "and --catchup use"
                                                         : nullptr;
    if (why != nullptr) {
      std::cerr << "--crash-primary-at " << why << "\n";
      return 2;
    }
  }
  if (o.txs == 0) {
    const double r = o.mode == "open" && !o.sweep ? o.rate * 1.1 : o.rate_guess;
    o.txs = static_cast<uint64_t>(r * (o.warmup_s + o.window_s)) + 10 * o.batch;
  }
  // Prepared txs are held in memory, so their number is bounded; when the bound cuts the run
  // short, say so before the signing rather than only in the report's "ran out" afterwards.
  constexpr uint64_t kPreparedTxsMax = 5'000'000;
  if (o.txs > kPreparedTxsMax) {
    const double r = o.mode == "open" && !o.sweep ? o.rate : o.rate_guess;
    std::cerr << "warning: preparing " << kPreparedTxsMax << " txs at most, not " << o.txs;
    if (r > 0) {
      std::cerr << "; at " << r << " tx/s they last about "
                << static_cast<uint64_t>(static_cast<double>(kPreparedTxsMax) / r) << " s of the "
                << o.warmup_s + o.window_s << " s of warm-up and window";
    }
    std::cerr << " (shorten --window to measure on prepared load only)\n";
    o.txs = kPreparedTxsMax;
  }
  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);
  ::signal(SIGPIPE, SIG_IGN);
  std::error_code ec;
  fs::create_directories(o.work_dir, ec);

  const Conditions conditions = ReadConditions();
  std::vector<RunResult> runs;
  if (!o.sweep) {
    runs.push_back(RunOnce(o, o.validators, o.mode, o.rate, o.inflight));
  } else {
    for (uint32_t n : {4u, 7u}) {
      RunResult sat = RunOnce(o, n, "closed", 0, o.inflight);
      runs.push_back(sat);
      if (g_stop || sat.committed_tps <= 0) break;
      for (double f : {0.25, 0.5, 1.0}) {
        Options oo = o;
        oo.txs = static_cast<uint64_t>(sat.committed_tps * f * 1.1 * (o.warmup_s + o.window_s)) +
                 10 * o.batch;
        runs.push_back(RunOnce(oo, n, "open", sat.committed_tps * f, 0));
        if (g_stop) break;
      }
      if (g_stop) break;
    }
  }
  json::array arr;
  for (const RunResult& r : runs) arr.push_back(ToJson(r));
  json::object report;
  report["benchmark"] = "hc_cluster_bench";
  report["conditions"] = ConditionsJson(o, conditions);
  report["runs"] = std::move(arr);
  const std::string js = json::serialize(report);
  const std::string md = Markdown(o, conditions, runs);
  std::cout << js << "\n\n" << md << std::flush;
  if (!o.json_out.empty()) std::ofstream(o.json_out) << js << "\n";
  if (!o.md_out.empty()) std::ofstream(o.md_out) << md;
  bool ok = !runs.empty();
  // A run counts when it committed load and its report is whole: the verify rate it priced the
  // checks at, the mix it offered, and slices that account for every commit of the window (the
  // CI smoke relies on this exit status).
  for (const RunResult& r : runs) {
    double sliced = 0;
    for (const Slice& sl : r.slices) sliced += sl.committed;
    ok = ok && r.error.empty() && r.committed_window > 0 && r.verify_rate > 0 &&
         r.verify_rate_idle > 0 && !r.mix.empty() &&
         sliced == static_cast<double>(r.committed_window);
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace hc::bench

int main(int argc, char** argv) { return hc::bench::Main(argc, argv); }
