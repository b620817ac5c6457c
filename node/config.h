// The node's configuration: one TOML file per node (docs/operations.md shows a full example).
//
// Relative paths in the file are resolved against the file's own directory, so a network
// directory can be moved as a whole. Loading validates everything it can without touching the
// network: a bad file is refused at start with the file, the key and the reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace hc::node {

struct HostPort {
  std::string host;  // an IP literal or a name; tests and local networks use 127.0.0.1
  uint16_t port = 0;
  std::string ToString() const;
};

// Parses "host:port" or "[v6]:port".
Result<HostPort> ParseHostPort(std::string_view text);

enum class NodeMode { kValidator, kObserver };

// An observer allowed to dial in to this validator (observers are not in genesis).
struct ObserverPeer {
  uint32_t id = 0;  // ≥ 1000, distinct from validator indices
  Bytes tls_pin;    // SHA-256 of the observer's TLS SubjectPublicKeyInfo
  std::string name;
};

// The client API's TLS ([api.tls]; docs/operations.md): when set, the API listener speaks only
// HTTPS and WSS with this certificate chain and key (crypto::MakeApiServerTlsContext loads them
// when the node starts, and again from the same paths on SIGHUP: Node::ReloadApiTls).
struct ApiTlsConfig {
  std::string cert_chain_path;  // PEM: the server certificate, then its intermediates
  std::string key_path;         // PEM private key of the server certificate (0600)
};

// Online backups ([backup]; docs/operations.md "Backups"): SIGUSR1 makes the node write a
// checkpoint of its database under `dir` and keep the newest `keep` of them.
struct BackupConfig {
  std::string dir;  // empty: <data_dir>/backups
  uint32_t keep = 3;
};

// The database's memory and log sizing ([storage]; docs/operations.md "Storage").
struct StorageConfig {
  uint32_t cache_mb = 256;   // block cache shared by every column family
  uint32_t wal_mb = 256;     // write-ahead log kept before the memtables it covers are flushed
  bool zstd_bottom = false;  // bottom_compression = "zstd": less disk, more compaction CPU
  // compaction_priority = "low" (nice 19, the default) or "normal" (ledger::RocksOptions).
  bool low_priority_compaction = true;
};

struct NodeLimits {
  uint64_t mempool_txs_max = 200'000;
  uint64_t mempool_bytes_max = 256ull << 20;
  uint32_t api_connections_max = 1024;
  uint32_t api_body_bytes_max = 8u << 20;
  uint32_t peer_frame_bytes_max = 16u << 20;
  uint32_t verify_threads = 1;  // mempool signature-check workers
};

struct NodeConfig {
  std::string config_path;  // the file this came from (for messages)
  std::string name;         // e.g. "validator-0"; appears in every log line
  NodeMode mode = NodeMode::kValidator;
  std::optional<uint32_t> replica;      // validators: index in the genesis validator list
  std::optional<uint32_t> observer_id;  // observers: the id validators know them by
  std::string data_dir;
  std::string genesis_path;
  std::string log_level = "info";

  std::string identity_key_path;  // Ed25519 + X25519 identity (crypto/keyfile.h)
  std::string tls_cert_path;
  std::string tls_key_path;

  HostPort p2p_listen;
  HostPort api_listen;
  std::optional<ApiTlsConfig> api_tls;  // absent: the API serves plain HTTP and WebSocket
  // Observers: the validators to follow, by address (their pins come from genesis).
  std::vector<ObserverPeer> observers;

  BackupConfig backup;
  StorageConfig storage;
  NodeLimits limits;

  // Where backups go: backup.dir, or <data_dir>/backups.
  std::string BackupDir() const { return backup.dir.empty() ? data_dir + "/backups" : backup.dir; }
};

// Reads and validates a node configuration. Errors name the file and the key:
// "node.toml: [p2p] listen: expected host:port, got \"7000\"".
Result<NodeConfig> LoadNodeConfig(const std::string& path);

// Serialises a configuration as TOML (used by `hcctl network new`); paths are written as given.
std::string EncodeNodeConfig(const NodeConfig& config);

}  // namespace hc::node
