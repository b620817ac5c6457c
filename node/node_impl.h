// NodeImpl: the internals of node/node.h, shared by node.cc (threads, consensus, ledger) and
// node_api.cc (the HTTP routes). Not a public header: only node/ includes it.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "api/auth.h"
#include "api/exchange.h"
#include "api/metrics.h"
#include "api/server.h"
#include "common/bounded_queue.h"
#include "consensus/replica.h"
#include "crypto/signer.h"
#include "crypto/tls.h"
#include "ledger/genesis.h"
#include "ledger/ledger.h"
#include "ledger/rocks_store.h"
#include "node/config.h"
#include "node/ledger_view_impl.h"
#include "node/mempool.h"
#include "node/node_app.h"
#include "node/persist.h"
#include "node/transport.h"
#include "node/wire_codec.h"

namespace hc::node {

// ---- Events ----

struct EvPeerMessage {
  uint32_t from = 0;
  consensus::Message msg;
};
struct EvTx {
  TxId id{};
  uint32_t size = 0;
  uint32_t relayer = 0;
};
struct EvExecuted {
  consensus::ExecSummary summary;
};
using DriverEvent = std::variant<EvPeerMessage, EvTx, EvExecuted>;

// A later committed block's header and certificate, which attest an earlier block's log
// (ledger-rules.md R26).
struct AttestingBlock {
  std::string header;
  ::healthchain::v1::CommitCertificate certificate;
};

// Committed blocks for the executor, in height order: one block, or — when the replica committed a
// run of blocks together with a later block whose header claims the log after the run's last one
// (state transfer) — the whole run with that block, which attests it: the run executes without
// checking its txs' signatures and is written in one batch (ledger-rules.md R26).
struct ExecJob {
  std::vector<consensus::CertifiedBlock> blocks;
  std::optional<AttestingBlock> attestation;  // set only for a run
};

struct ServeRequest {
  uint32_t peer = 0;
  consensus::StateRequest request;
};

// Observers: a StateResponse, or (no blocks) a peer's claimed height from its Hello.
struct FollowerEvent {
  uint32_t peer = 0;
  consensus::StateResponse response;
};

// What a commit waiter learns when its tx executes, built once per block from what the executor
// already holds (no ledger reads, no proofs: GET /v1/tx/{id} serves the inclusion proof).
struct CommitNotice {
  uint64_t height = 0;
  uint32_t index = 0;  // in the block
  const Hash32* block_hash = nullptr;
  const ::healthchain::v1::Receipt* receipt = nullptr;
  const boost::json::object* certificate = nullptr;  // the block's certificate as JSON
};

// How a commit wait ends.
enum class WaitEnd {
  kCommitted,  // the tx executed; the notice says where
  kCancelled,  // its submission was refused (the submitter answers)
  kExpired,    // kWaitCommitMs passed
  kStopping,   // the node is shutting down
};

// Shared by the API routes (node_api.cc).
std::string_view TxStatusName(::healthchain::v1::TxStatus status);
// A Content-Type's media type without parameters, lower case.
std::string MediaType(std::string_view content_type);

struct CommitWaiter {
  uint64_t token = 0;
  int64_t deadline_ms = 0;
  // Called exactly once, never under the waiters lock; `notice` is set only for kCommitted.
  std::function<void(WaitEnd end, const CommitNotice* notice)> done;
};

// What the driver publishes for the status page (validators).
struct ConsensusSnapshot {
  uint64_t view = 0;
  uint32_t primary = 0;
  bool view_active = true;
  uint64_t committed_height = 0;
  uint64_t executed_height = 0;
  bool state_transfer = false;
  uint64_t low_watermark = 0;
};

struct PeerInfo {
  std::string name;
  bool validator = false;
  bool hello_ok = false;
  bool refused = false;  // its Hello named another chain or genesis: its frames are ignored
  uint64_t height = 0;   // committed height from its Hello or StateResponse
};

// The node's own metrics (the replica's and the transport's counters are copied in by
// RefreshMetrics; the HTTP server adds its own).
struct NodeMetrics {
  explicit NodeMetrics(api::MetricsRegistry& r);
  api::MetricsRegistry& registry;
  api::Gauge& height;
  api::Gauge& view;
  api::Gauge& view_active;
  api::Gauge& committed_height;
  api::Gauge& mempool_txs;
  api::Gauge& mempool_bytes;
  api::Gauge& recent_tx_ids;
  api::Gauge& peers_up;
  api::Counter& blocks_committed;
  api::Counter& txs_committed;
  api::Counter& state_transfer_blocks;
  api::Counter& state_transfer_attested_blocks;
  api::Counter& state_transfer_attested_txs;
  api::Counter& state_transfer_attest_fallbacks;
  api::Histogram& commit_latency;
  api::Histogram& block_execute;
  api::Counter& persist_writes;
  api::Counter& persist_records;
  api::Gauge& backup_last_height;
  api::Gauge& backup_last_timestamp;
  api::Gauge& backup_last_bytes;
  api::Gauge& db_table_bytes;
  api::Gauge& db_log_bytes;
  api::Counter& Backups(std::string_view result);
  // [api.tls] only (a plain-HTTP node exports neither, so no expiry alert fires on it).
  api::Gauge& ApiTlsCertExpiry();
  api::Counter& ApiTlsReloads(std::string_view result);
  api::Counter& Admission(std::string_view result);
  api::Counter& FrameDropped(std::string_view reason);
  api::Gauge& PeerUp(uint32_t peer);
  // Last values copied from the replica and the transport (driver / refresher only).
  std::map<std::string, uint64_t> last;
  // Adds the growth of `value` since the last call for `name` to `counter`.
  void AddDelta(const std::string& name, uint64_t value, api::Counter& counter);
};

class NodeImpl {
 public:
  explicit NodeImpl(NodeConfig config) : config_(std::move(config)) {}
  ~NodeImpl();

  Status Init();
  Status Start();
  void Stop();
  Status Backup();
  Status ReloadApiTls();
  // Logs the API's certificate (subject, issuer, serial, expiry; a warning when it expires within
  // kApiTlsExpiryWarningDays, an error when it has expired) and sets the expiry gauge.
  void ReportApiTlsCertificate(const crypto::ApiTlsCertificateInfo& cert, std::string_view when);

  // ---- Configuration and identity ----
  NodeConfig config_;
  ledger::Genesis genesis_;
  Hash32 genesis_hash_{};
  bool validator_ = true;
  uint32_t self_id_ = 0;  // replica index, or observer id
  uint32_t n_ = 0;        // validators
  consensus::Config consensus_config_;
  std::unique_ptr<crypto::Signer> signer_;
  std::unique_ptr<crypto::Verifier> verifier_;
  uint32_t frame_bytes_max_ = 0;

  // ---- Ledger (owned; its store is thread-safe, the Ledger object is not) ----
  ledger::KvStore* store_ = nullptr;
  ledger::RocksKvStore* rocks_ = nullptr;  // the same store, for checkpoints (Backup)
  std::mutex backup_mu_;                   // one backup at a time
  std::unique_ptr<ledger::Ledger> ledger_;
  mutable std::shared_mutex ledger_mu_;  // exclusive: Commit; shared: reads
  std::atomic<uint64_t> ledger_height_{0};
  // The ledger's RecentTxIds (thread-safe; null without a tx lifetime), for the metrics.
  const ledger::RecentTxIds* recent_tx_ids_ = nullptr;
  // The exchange API's view of the ledger (api/ledger_view.h) and its request authenticator.
  std::shared_ptr<LedgerViewImpl> ledger_view_;
  std::shared_ptr<api::RequestAuthenticator> request_auth_;

  // ---- Mempool ----
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<AdmissionPool> admission_;
  std::unique_ptr<PreVerifyPool> preverify_;  // catch-up: signature checks ahead of execution

  // ---- Metrics ----
  std::shared_ptr<api::MetricsRegistry> metrics_;
  std::unique_ptr<NodeMetrics> m_;
  std::mutex refresh_mu_;
  int64_t last_refresh_ms_ = 0;
  int64_t last_disk_refresh_ms_ = 0;  // steady ms of the last hc_node_db_*_bytes (refresh_mu_)

  // ---- Transport ----
  boost::asio::io_context p2p_io_;
  std::unique_ptr<PeerTransport> transport_;
  std::thread p2p_thread_;
  mutable std::mutex peers_mu_;
  std::map<uint32_t, PeerInfo> peers_;

  // ---- Driver (validators) ----
  BoundedQueue<DriverEvent> driver_q_{kDriverQueueCapacity};
  std::unique_ptr<NodeApp> app_;
  std::unique_ptr<consensus::Replica> replica_;
  std::unique_ptr<ConsensusStore> consensus_store_;
  std::thread driver_thread_;
  std::optional<int64_t> deadline_ms_;
  int64_t last_now_ms_ = 0;
  std::map<uint64_t, consensus::ExecSummary> summaries_;  // driver only
  uint64_t executed_height_ = 0;                          // driver only
  // Txs of blocks the replica committed that have not executed yet, by height (driver only): a
  // relay of one of them admitted meanwhile must not reach the replica, which forgot it.
  std::unordered_map<TxId, uint64_t, consensus::Hash32Hasher> committed_unexecuted_;
  std::map<uint64_t, std::vector<TxId>> committed_unexecuted_by_height_;
  mutable std::mutex snapshot_mu_;
  ConsensusSnapshot snapshot_;

  // ---- Executor (validators) ----
  BoundedQueue<ExecJob> exec_q_{kExecutorQueueCapacity};
  std::thread executor_thread_;

  // ---- State server ----
  BoundedQueue<ServeRequest> serve_q_{kStateServeQueueCapacity};
  std::thread serve_thread_;

  // ---- Follower (observers) ----
  BoundedQueue<FollowerEvent> follow_q_{1024};
  std::thread follower_thread_;

  // ---- API ----
  boost::asio::io_context api_io_;
  std::mutex api_tls_mu_;                       // one reload at a time; guards the two below
  std::shared_ptr<SSL_CTX> api_tls_context_;    // [api.tls]; null: plain HTTP
  crypto::ApiTlsCertificateInfo api_tls_cert_;  // api_tls_context_'s certificate
  std::unique_ptr<api::HttpServer> http_;
  std::thread api_thread_;
  std::mutex waiters_mu_;
  std::unordered_map<TxId, std::vector<CommitWaiter>, consensus::Hash32Hasher> waiters_;
  size_t waiter_count_ = 0;
  uint64_t next_waiter_token_ = 1;

  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> stopping_{false};  // the driver and the follower leave their loops
  std::atomic<bool> failed_{false};

  // ---- node.cc ----
  int64_t NowMs();
  void Fatal(const std::string& what);
  void OnFrame(uint32_t peer, Bytes payload);
  void OnPeerState(uint32_t peer, bool up);
  void HandleHello(uint32_t peer, const HelloMsg& hello);
  void SendHello(uint32_t peer);
  void OnAdmittedBatch(std::vector<AdmittedTx>& batch);
  void CountFrameDrop(std::string_view reason);

  void DriverLoop();
  void HandleEvent(DriverEvent& ev);
  void Apply(consensus::Actions actions);
  std::optional<consensus::ExecSummary> SummaryAt(Height height);
  void PublishSnapshot();
  void RefreshMetrics();

  void ExecutorLoop();
  void ExecuteCertified(ExecJob job);
  // Tells the driver a block is in the ledger (R20b).
  void ReportExecuted(const consensus::ExecSummary& summary);
  // R26 metrics for a block committed with (`had_attestation`) or without a later block attesting
  // its log.
  void CountAttested(bool had_attestation, const ledger::CommittedBlock& committed,
                     uint64_t height);
  // Metrics, the mempool (own_mempool: this driver's blocks) and commit waiters, after a block
  // executed (`ids` in block order).
  void AfterCommit(const std::vector<TxId>& ids, const ledger::CommittedBlock& committed,
                   const ::healthchain::v1::CommitCertificate& certificate, bool own_mempool);
  // Hands a committed block to the exchange API's commit subscribers (the event stream).
  void PublishCommitted(const consensus::BlockTxs& txs, int64_t timestamp_ms,
                        const ledger::CommittedBlock& committed,
                        std::optional<std::vector<std::string>> erased_records);
  // (erased_records: from the executed block's decoded txs; nullopt parses them.)

  void ServeLoop();
  void ServeStateRequest(const ServeRequest& req);

  void FollowerLoop();
  size_t ApplyFetched(uint32_t peer, const consensus::StateResponse& resp);

  // ---- node_api.cc ----
  api::Router BuildRouter();
  // The part of POST /v1/tx and /v1/txs before admission: ?wait=commit, and observers refuse
  // submissions. Returns whether to wait, or nullopt when it has already answered.
  std::optional<bool> SubmissionWait(const api::Request& request, api::Responder& responder) const;
  void HandleSubmitTx(const api::Request& request, api::Responder responder);
  void HandleGetTx(const api::Request& request, api::Responder responder);
  void HandleStatus(const api::Request& request, api::Responder responder);
  // ---- node_api_batch.cc: POST /v1/txs (batch submission) ----
  void AddBatchRoute(api::Router& router);
  void HandleSubmitBatch(const api::Request& request, api::Responder responder);
  // The committed-tx JSON (wait=commit and GET /v1/tx/{id}); NotFound when not committed.
  Result<boost::json::object> CommittedTxJson(const TxId& id) const;
  // Registers `done` for the commit of `id`; 0 when too many are waiting (or the node stopped).
  uint64_t AddWaiter(const TxId& id, std::function<void(WaitEnd, const CommitNotice*)> done);
  // Ends a wait with kCancelled (no-op when it already ended).
  void CancelWaiter(const TxId& id, uint64_t token);
  void NotifyWaiters(const std::vector<TxId>& ids, const ledger::CommittedBlock& committed,
                     const ::healthchain::v1::CommitCertificate& certificate);
  void SweepWaiters();
  void DropAllWaiters();
};

}  // namespace hc::node
