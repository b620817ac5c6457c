// Integration-test helpers: generate a local network (keys, TLS identities, genesis, one
// node.toml per node, free loopback ports) with the library functions directly, run `healthchain`
// processes, and talk to their HTTP API.
//
// Every process a test starts is killed (SIGKILL) when its NodeProcess is destroyed, so a failed
// assertion never leaves nodes behind. Test-only code: failures are reported through gtest
// assertions or empty results, never by crashing.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/signer.h"
#include "crypto/tls.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "node/config.h"
#include "node/local_ports.h"
#include "tests/api/test_client.h"

extern char** environ;

namespace hc::integration {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

// ---- Ports ----

// A loopback port reserved for this process's lifetime (node/local_ports.h: below the ephemeral
// range, exclusive across concurrently running tests).
inline uint16_t FreePort() { return node::ReservePortForProcess(); }

// ---- Network generation ----

struct TestNode {
  std::string name;
  bool validator = true;
  uint32_t id = 0;  // replica index or observer id
  std::string dir;
  std::string config_path;
  uint16_t p2p_port = 0;
  uint16_t api_port = 0;
  node::NodeConfig config;
};

struct TestNetwork {
  std::string dir;
  std::string genesis_path;
  ledger::Genesis genesis;
  std::string commission_key_path;  // signs RegisterOrg
  std::vector<TestNode> nodes;      // validators first, then observers

  const TestNode& validator(uint32_t i) const { return nodes[i]; }
  const TestNode& observer(uint32_t j) const { return nodes[genesis.validators.size() + j]; }

  // Rewrites a node's config file (after a test changed nodes[i].config).
  void SaveConfig(size_t i) const {
    std::ofstream(nodes[i].config_path) << node::EncodeNodeConfig(nodes[i].config);
  }
};

// Consensus parameters that suit tests: small batches, short timeouts.
inline ledger::ConsensusParams TestConsensusParams() {
  ledger::ConsensusParams p;
  p.batch_txs_max = 500;
  p.batch_bytes_max = 1 << 20;
  p.batch_delay_ms = 5;
  p.window = 32;
  p.checkpoint_interval = 8;
  p.view_change_timeout_ms = 1000;
  return p;
}

inline std::optional<TestNetwork> MakeTestNetwork(
    const std::string& dir, uint32_t validators, uint32_t observers,
    ledger::ConsensusParams params = TestConsensusParams()) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  TestNetwork net;
  net.dir = dir;
  net.genesis_path = dir + "/genesis.json";
  net.genesis.chain_id = "hc-it";
  net.genesis.genesis_time_ms =
      std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch()).count() -
      1000;
  net.genesis.consensus = params;
  net.genesis.txs = ledger::kDefaultTxLifetime;  // as `hcctl network new` writes it

  crypto::Identity commission = crypto::GenerateIdentity();
  net.commission_key_path = dir + "/commission.key.json";
  if (!crypto::SaveIdentity(commission, net.commission_key_path).ok()) return std::nullopt;
  ledger::GenesisCommission gc;
  gc.name = "Test Health Commission";
  gc.key = commission.signing.public_key;
  gc.encryption_key = commission.encryption.public_key;
  net.genesis.commissions.push_back(gc);

  std::vector<crypto::TlsPin> observer_pins;
  for (uint32_t k = 0; k < validators + observers; ++k) {
    const bool is_validator = k < validators;
    TestNode n;
    n.validator = is_validator;
    n.id = is_validator ? k : 1000 + (k - validators);
    n.name = is_validator ? "validator-" + std::to_string(k)
                          : "observer-" + std::to_string(k - validators);
    n.dir = dir + "/" + n.name;
    n.config_path = n.dir + "/node.toml";
    n.p2p_port = FreePort();
    n.api_port = FreePort();
    fs::create_directories(n.dir);
    crypto::Identity id = crypto::GenerateIdentity();
    if (!crypto::SaveIdentity(id, n.dir + "/identity.key.json").ok()) return std::nullopt;
    auto tls = crypto::GenerateTlsIdentity(n.name);
    if (!tls.ok()) return std::nullopt;
    if (!crypto::SaveTlsIdentity(tls.value(), n.dir + "/tls.key.pem", n.dir + "/tls.crt.pem")
             .ok()) {
      return std::nullopt;
    }
    if (is_validator) {
      ledger::GenesisValidator v;
      v.id = n.name;
      v.key = id.signing.public_key;
      v.tls_key_pin = tls->pin();
      v.address = "127.0.0.1:" + std::to_string(n.p2p_port);
      net.genesis.validators.push_back(v);
    } else {
      observer_pins.push_back(tls->pin());
    }
    node::NodeConfig& c = n.config;
    c.name = n.name;
    c.mode = is_validator ? node::NodeMode::kValidator : node::NodeMode::kObserver;
    if (is_validator) {
      c.replica = n.id;
    } else {
      c.observer_id = n.id;
    }
    c.data_dir = "data";
    c.genesis_path = "../genesis.json";
    c.log_level = "info";
    c.identity_key_path = "identity.key.json";
    c.tls_cert_path = "tls.crt.pem";
    c.tls_key_path = "tls.key.pem";
    c.p2p_listen = {"127.0.0.1", n.p2p_port};
    c.api_listen = {"127.0.0.1", n.api_port};
    c.limits.verify_threads = 1;
    net.nodes.push_back(std::move(n));
  }
  for (TestNode& n : net.nodes) {
    if (!n.validator) continue;
    for (uint32_t j = 0; j < observers; ++j) {
      node::ObserverPeer o;
      o.id = 1000 + j;
      o.name = "observer-" + std::to_string(j);
      o.tls_pin = Bytes(observer_pins[j].begin(), observer_pins[j].end());
      n.config.observers.push_back(o);
    }
  }
  std::ofstream(net.genesis_path) << ledger::GenesisToJson(net.genesis);
  for (size_t i = 0; i < net.nodes.size(); ++i) net.SaveConfig(i);
  return net;
}

// ---- Processes ----

class NodeProcess {
 public:
  NodeProcess() = default;
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;
  ~NodeProcess() { Kill(SIGKILL); }

  // Starts `binary --config config_path` with stdout and stderr appended to `log_path`.
  bool Start(const std::string& binary, const std::string& config_path,
             const std::string& log_path) {
    log_path_ = log_path;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<std::string> args = {binary, "--config", config_path};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
    return pid_ > 0;
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Sends `sig` and, for SIGKILL, reaps the process.
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (sig == SIGKILL) Wait(Ms(10'000));
  }

  // Waits for the process to exit; its exit code (128 + signal when killed), or nullopt on
  // timeout.
  std::optional<int> Wait(Ms timeout) {
    if (pid_ <= 0) return exit_code_;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      std::this_thread::sleep_for(Ms(20));
    }
    return std::nullopt;
  }

  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// ---- HTTP ----

struct HttpResult {
  int status = 0;  // 0: no answer
  std::string body;
  boost::json::value json;  // null unless the body parsed as JSON
};

// One request on a connected `client` (null: not connected), answered within `timeout`; a status
// of 0 when the connection or the exchange failed.
inline HttpResult RoundTrip(api::testing::RawClient* client, std::string_view method,
                            std::string_view target, std::string_view body,
                            const std::map<std::string, std::string>& headers, Ms timeout) {
  HttpResult out;
  if (client == nullptr) return out;
  if (!client->Send(api::testing::MakeRequest(method, target, body, headers))) return out;
  auto resp = client->ReadResponse(timeout);
  if (!resp) return out;
  out.status = static_cast<int>(resp->result_int());
  out.body = resp->body();
  boost::system::error_code ec;
  out.json = boost::json::parse(out.body, ec);
  if (ec) out.json = nullptr;
  return out;
}

inline HttpResult Http(uint16_t port, std::string_view method, std::string_view target,
                       std::string_view body = {}, std::string_view content_type = {},
                       Ms timeout = Ms(5000)) {
  std::map<std::string, std::string> headers;
  if (!content_type.empty()) headers["Content-Type"] = std::string(content_type);
  return RoundTrip(api::testing::RawClient::Connect(port).get(), method, target, body, headers,
                   timeout);
}

inline std::optional<boost::json::object> Status(uint16_t api_port) {
  HttpResult r = Http(api_port, "GET", "/v1/status", {}, {}, Ms(2000));
  if (r.status != 200 || !r.json.is_object()) return std::nullopt;
  return r.json.as_object();
}

inline uint64_t HeightOf(const boost::json::object& status) {
  return status.at("height").to_number<uint64_t>();
}

// Polls `pred` every 50 ms until it holds or `timeout` passes.
inline bool WaitUntil(const std::function<bool()>& pred, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(Ms(50));
  }
  return pred();
}

// ---- Transactions ----

// Signs RegisterOrg txs for fresh hospitals with the network's commission key (each commits with
// receipt OK).
// The value of one series of a Prometheus exposition ("name{labels}"), or -1 when absent.
inline double MetricValue(const std::string& exposition, const std::string& series) {
  const size_t at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + series.size() + 2));
}

class TxMaker {
 public:
  explicit TxMaker(const TestNetwork& net) : chain_id_(net.genesis.chain_id) {
    auto id = crypto::LoadIdentity(net.commission_key_path);
    if (id.ok()) {
      key_ = id->signing.public_key;
      signer_ = crypto::MakeEd25519Signer(std::move(id->signing.secret_key));
    }
  }

  // SignedTx bytes, created `created_offset_ms` from now (R5's lifetime refuses it outside the
  // genesis bounds: `hcctl network new` writes 15 minutes back, 5 forward).
  std::string Next(int64_t created_offset_ms = 0) {
    ::healthchain::v1::TxBody b;
    b.set_chain_id(chain_id_);
    b.set_signer(std::string(reinterpret_cast<const char*>(key_.data()), key_.size()));
    std::string nonce(16, '\0');
    for (char& c : nonce) c = static_cast<char>(rng_());
    b.set_nonce(nonce);
    b.set_created_ms(
        std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch())
            .count() +
        created_offset_ms);
    auto* p = b.mutable_register_org();
    std::string org(32, '\0');
    for (char& c : org) c = static_cast<char>(rng_());
    p->set_org_key(org);
    std::string enc(32, '\0');
    for (char& c : enc) c = static_cast<char>(rng_());
    p->set_encryption_key(enc);
    p->set_role(::healthchain::v1::ORG_ROLE_HOSPITAL);
    p->set_name("Hospital " + std::to_string(++count_));
    return ledger::SignTx(b, *signer_);
  }

  static std::string IdOf(const std::string& tx) { return HexEncode(ledger::TxIdOf(AsBytes(tx))); }

 private:
  std::string chain_id_;
  crypto::Ed25519PublicKey key_{};
  std::unique_ptr<crypto::Signer> signer_;
  std::mt19937_64 rng_{std::random_device{}()};
  uint64_t count_ = 0;
};

// POST /v1/tx with the raw bytes.
inline HttpResult SubmitTx(uint16_t api_port, const std::string& tx, bool wait_commit,
                           Ms timeout = Ms(35'000)) {
  return Http(api_port, "POST", wait_commit ? "/v1/tx?wait=commit" : "/v1/tx", tx,
              "application/x-protobuf", timeout);
}

}  // namespace hc::integration
