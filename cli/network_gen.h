// Network generation: keys, TLS certificates, genesis and one configuration per node, ready to
// start on one machine (`hcctl network new`, scripts/up.sh and the integration tests).
//
// Layout of `out_dir` (relative paths inside node.toml resolve against the node's directory, so
// the whole directory can be moved):
//
//   genesis.json                   the chain's genesis (public keys, TLS pins, addresses)
//   commission-<k>.key.json        commission identities (0600): they sign RegisterOrg & co.
//   validator-<i>/identity.key.json  consensus identity (0600); its public key is in genesis
//   validator-<i>/tls.key.pem      TLS key (0600); its pin is in genesis
//   validator-<i>/tls.crt.pem      self-signed TLS certificate (0644)
//   validator-<i>/node.toml        data_dir = "data", genesis = "../genesis.json"
//   observer-<j>/...               the same files; observer id 1000 + j
//
// Validator i listens on host:(base_p2p_port + i) for peers and host:(base_api_port + i) for
// the API; observer j on base_p2p_port + validators + j and base_api_port + validators + j.
// Validators' configurations list every observer (id and TLS pin) so they accept its connection;
// observers learn the validators' addresses and pins from genesis.
//
// Thread-safe (no shared state); the caller must not run two generations into one directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "ledger/genesis.h"

namespace hc::cli {

inline constexpr uint32_t kNetworkValidatorsMax = 64;
inline constexpr uint32_t kNetworkObserversMax = 64;
inline constexpr uint32_t kNetworkCommissionsMax = 16;
inline constexpr uint32_t kObserverIdBase = 1000;

struct NetworkSpec {
  std::string chain_id = "healthchain-local";
  uint32_t validators = 4;
  uint32_t observers = 0;
  uint32_t commissions = 1;
  std::string host = "127.0.0.1";
  // Tests pick free port ranges through these two.
  uint16_t base_p2p_port = 7000;
  uint16_t base_api_port = 8000;
  ledger::ConsensusParams consensus;
  // R5's tx lifetime; max_age_ms 0 writes none (replays are then checked against the whole index).
  ledger::TxLifetime txs = ledger::kDefaultTxLifetime;
  int64_t genesis_time_ms = 0;  // 0: now
  std::string log_level = "info";
  // Replace an existing network in out_dir: the node directories (data included), genesis.json
  // and the commission key files are deleted first. Other files in out_dir are left alone.
  bool overwrite = false;
};

struct GeneratedNode {
  std::string name;  // "validator-0", "observer-0"
  bool validator = true;
  uint32_t id = 0;          // replica index, or observer id
  std::string dir;          // out_dir/name
  std::string config_path;  // dir/node.toml
  std::string p2p_address;  // host:port
  std::string api_address;  // host:port
  std::string identity_id;  // hex identity id of its consensus key
};

struct GeneratedNetwork {
  std::string genesis_path;
  std::vector<std::string> commission_key_paths;
  std::vector<GeneratedNode> nodes;  // validators first, then observers
};

// Generates a network into `out_dir` (created when missing). Returns:
//   kInvalidArgument when the spec is unusable (no validators, too many nodes, a port range that
//     overflows 65535 or overlaps between p2p and API, a bad chain id), naming the field;
//   kAlreadyExists when out_dir already holds a network (genesis.json or a node directory) and
//     spec.overwrite is false; nothing is written then;
//   kIoError when a file cannot be written, naming it.
// On success fills *result when it is not null.
Status GenerateNetwork(const NetworkSpec& spec, const std::string& out_dir,
                       GeneratedNetwork* result = nullptr);

}  // namespace hc::cli
