// Node: the composition root of the `healthchain` daemon (DESIGN.md §3, §6). It wires the PBFT
// replica, the ledger, the TLS peer transport, the mempool and the HTTP API together.
//
// Threads (STYLE.md: one owner per piece of state; IO threads only enqueue into bounded queues):
//   p2p IO       runs the PeerTransport; decodes frames and routes them: consensus messages to
//                the driver queue, TxRelay to the admission pool, StateRequest to the state
//                server, StateResponse to the driver (validator) or the follower (observer).
//   verify ×k    the mempool's admission workers (signature checks); report admitted txs to the
//                driver and relay this node's own in batched TxRelay frames.
//   driver       validators: the only owner of the Replica and the NodeApp. Consumes the driver
//                queue, ticks the replica, applies its actions in order (persist → one synced
//                write before the next send; send/broadcast; commit → executor queue; fetch →
//                StateRequest; timer → next wake-up).
//   executor     validators: commits certified blocks to the ledger in height order (exclusive
//                lock), reports the summary back to the driver, removes the txs from the mempool
//                and answers `?wait=commit` waiters.
//   state server answers peers' StateRequests from the ledger (shared lock).
//   follower     observers: asks validators for blocks above the tip, commits them (the ledger
//                verifies every certificate).
//   api IO       the HTTP server; handlers read the ledger under the shared lock and never block.
//   main         waits for signals: stops the node, or runs Backup (SIGUSR1) or ReloadApiTls
//                (SIGHUP) on its own thread.
//
// Lifecycle: Create (everything that can be refused at start: config, genesis, keys, the
// database), Start (sockets and threads), Stop (graceful: API, admission, driver, executor
// drained, transport, database closed). Stop is idempotent and called by the destructor.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/status.h"
#include "node/config.h"

namespace hc::node {

class NodeImpl;

class Node {
 public:
  // Loads the genesis file, the identity key and the TLS identity named by `config`, checks them
  // against each other (a validator's identity key must be genesis validators[replica].key),
  // opens the database under config.data_dir (refusing corruption with the ledger's message) and
  // rebuilds the replica's durable state. Errors name the file or key at fault; main turns every
  // one of them into exit code 2.
  static Result<std::unique_ptr<Node>> Create(const NodeConfig& config);
  ~Node();

  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Binds the p2p and API listeners and starts every thread. IoError when a port cannot be bound.
  Status Start();
  // Graceful shutdown; idempotent.
  void Stop();

  // True once a component hit an unrecoverable error (the disk refused a write, the ledger
  // refused a certified block): the node has stopped applying consensus actions and must be
  // stopped and restarted by its operator. main polls it while waiting for signals.
  bool failed() const;
  // Writes an online backup of the database under config.BackupDir() and keeps the newest
  // config.backup.keep (node/backup.h); logs and counts the outcome. The node keeps serving and
  // committing meanwhile. One at a time; main calls it on SIGUSR1.
  Status Backup();
  // Re-reads the client API's certificate chain and key ([api.tls], the same files) with every
  // check of the start; on success the API serves every connection accepted from then on with the
  // new certificate (open connections keep theirs), logs it and sets its expiry metric. On failure
  // the node logs the error, naming the file, and keeps serving the previous certificate. Counted
  // in hc_node_api_tls_reloads_total{result}. Returns the failure (the message names the file), or
  // FailedPrecondition when the API has no [api.tls] (logged: nothing to reload) or has not
  // started. Call after Start, from one thread at a time; main calls it on SIGHUP.
  Status ReloadApiTls();
  // The bound ports, after Start (0 before).
  uint16_t api_port() const;
  uint16_t p2p_port() const;

 private:
  explicit Node(std::unique_ptr<NodeImpl> impl);
  std::unique_ptr<NodeImpl> impl_;
};

}  // namespace hc::node
