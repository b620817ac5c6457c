#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>
#include <unordered_map>

#include "common/assert.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/thread_name.h"
#include "consensus/limits.h"
#include "consensus/signing.h"
#include "crypto/keyfile.h"
#include "crypto/tls.h"
#include "healthchain/v1/block.pb.h"
#include "ledger/rocks_store.h"
#include "ledger/state_machine.h"
#include "ledger/tx.h"
#include "node/attested_runs.h"
#include "node/backup.h"
#include "node/limits.h"
#include "node/node_impl.h"

namespace hc::node {
namespace {

namespace pb = ::healthchain::v1;

std::string AsStr(ByteView b) { return std::string(AsStringView(b)); }
std::string Short(const Hash32& h) { return HexEncode(ByteView(h.data(), 4)); }

pb::Block ToPbBlock(const consensus::Block& in) {
  pb::Block out;
  out.set_header(AsStr(in.header));
  for (const Bytes& tx : in.txs) out.add_txs(AsStr(tx));
  return out;
}

// The erase_record txs of a block, by index in the block: their erasure commits if the receipt
// says OK (CommittedErasures).
using ErasureCandidates = std::vector<std::pair<size_t, std::string>>;

ErasureCandidates ErasuresOf(const ledger::ExecutableBlock& block) {
  ErasureCandidates out;
  for (size_t i = 0; i < block.txs.size(); ++i) {
    const auto& decoded = block.txs[i].decoded;
    if (decoded && decoded->body.has_erase_record()) {
      out.emplace_back(i, decoded->body.erase_record().record_id());
    }
  }
  return out;
}

std::vector<std::string> CommittedErasures(ErasureCandidates candidates,
                                           const ledger::CommittedBlock& committed) {
  std::vector<std::string> out;
  const auto& receipts = committed.execution.receipts;
  for (auto& [index, id] : candidates) {
    if (index < receipts.size() && receipts[index].status() == pb::TX_STATUS_OK) {
      out.push_back(std::move(id));
    }
  }
  return out;
}

pb::CommitCertificate ToPbCert(const consensus::CommitCertificate& in) {
  pb::CommitCertificate out;
  out.set_height(in.height.value());
  out.set_view(in.view.value());
  out.set_block_hash(AsStr(in.block_hash));
  for (const auto& s : in.signatures) {
    auto* sig = out.add_signatures();
    sig->set_replica(s.replica.value());
    sig->set_signature(AsStr(s.signature));
  }
  return out;
}

// "2027-03-01T12:00:00Z".
std::string UtcTime(int64_t unix_s) { return FormatUtc(unix_s * 1000, "%Y-%m-%dT%H:%M:%SZ"); }

// The height whose log a block header claims (its exec_height: ledger-rules.md R23, R26), or
// nothing for bytes that do not parse.
std::optional<uint64_t> ExecHeightOf(std::string_view header_bytes) {
  pb::BlockHeader header;
  if (!header.ParseFromArray(header_bytes.data(), static_cast<int>(header_bytes.size()))) {
    return std::nullopt;
  }
  return header.exec_height();
}

// R26 for the blocks a batch of actions commits (a state transfer commits many at once): the run
// of blocks a later block of the same batch attests (node/attested_runs.h), by the position among
// the batch's commits of the run's first block.
struct PlannedRun {
  size_t end = 0;  // the position after the run's last block
  AttestingBlock attestation;
};

std::map<size_t, PlannedRun> RunsAmong(const consensus::Actions& actions) {
  std::vector<const consensus::CertifiedBlock*> commits;
  for (const consensus::Action& action : actions) {
    if (const auto* c = std::get_if<consensus::CommitAction>(&action)) commits.push_back(&c->block);
  }
  std::map<size_t, PlannedRun> out;
  if (commits.size() < 2) return out;  // the usual case, live: one block attests none of its own
  std::vector<uint64_t> heights;
  std::map<uint64_t, size_t> claims;  // e -> the first committed block claiming the log after e
  heights.reserve(commits.size());
  for (size_t k = 0; k < commits.size(); ++k) {
    heights.push_back(commits[k]->certificate.height.value());
    if (const std::optional<uint64_t> exec = ExecHeightOf(AsStr(commits[k]->block.header))) {
      claims.emplace(*exec, k);
    }
  }
  for (const auto& [first, run] : AttestedRunsIn(heights, claims)) {
    const consensus::CertifiedBlock& attester = *commits[run.attester];
    out.emplace(first, PlannedRun{run.end, AttestingBlock{std::string(AsStr(attester.block.header)),
                                                          ToPbCert(attester.certificate)}});
  }
  return out;
}

}  // namespace

// ---- NodeMetrics ----

NodeMetrics::NodeMetrics(api::MetricsRegistry& r)
    : registry(r),
      height(r.GetGauge("hc_node_height", "Height of the last block executed into the ledger")),
      view(r.GetGauge("hc_node_view", "The replica's current PBFT view")),
      view_active(r.GetGauge("hc_node_view_active",
                             "1 when the view is installed, 0 during a "
                             "view change")),
      committed_height(r.GetGauge("hc_node_committed_height", "The replica's committed height")),
      mempool_txs(r.GetGauge("hc_node_mempool_txs", "Transactions in the mempool")),
      mempool_bytes(r.GetGauge("hc_node_mempool_bytes", "Bytes of transactions in the mempool")),
      recent_tx_ids(
          r.GetGauge("hc_node_recent_tx_ids",
                     "Tx ids of the blocks since the replay horizon held in memory (R5)")),
      peers_up(r.GetGauge("hc_node_peers_up", "Peers with an authenticated connection")),
      blocks_committed(
          r.GetCounter("hc_node_blocks_committed_total", "Blocks executed into the ledger")),
      txs_committed(
          r.GetCounter("hc_node_txs_committed_total", "Transactions executed into the ledger")),
      state_transfer_blocks(r.GetCounter("hc_node_state_transfer_blocks_total",
                                         "Blocks an observer applied from state transfer")),
      state_transfer_attested_blocks(r.GetCounter(
          "hc_node_state_transfer_attested_blocks_total",
          "Blocks committed without checking their txs' signatures, their log attested by a later "
          "certified block that came with them (catch-up; ledger-rules.md R26)")),
      state_transfer_attested_txs(
          r.GetCounter("hc_node_state_transfer_attested_txs_total",
                       "Txs of the blocks in hc_node_state_transfer_attested_blocks_total")),
      state_transfer_attest_fallbacks(r.GetCounter(
          "hc_node_state_transfer_attest_fallbacks_total",
          "Attested blocks that did not yield the attested log without signature checks and were "
          "executed again with every signature checked")),
      commit_latency(r.GetHistogram("hc_node_commit_latency_seconds",
                                    "Admission of a client tx to the execution of its block",
                                    api::LatencyBucketsSeconds())),
      block_execute(r.GetHistogram("hc_node_block_execute_seconds",
                                   "Time to execute and commit one block to the ledger",
                                   api::LatencyBucketsSeconds())),
      persist_writes(
          r.GetCounter("hc_node_persist_writes_total", "Synced writes of consensus state")),
      persist_records(
          r.GetCounter("hc_node_persist_records_total", "Consensus records made durable")),
      backup_last_height(
          r.GetGauge("hc_node_backup_last_height", "Ledger height of the last good backup")),
      backup_last_timestamp(
          r.GetGauge("hc_node_backup_last_timestamp_seconds", "Unix time of the last good backup")),
      backup_last_bytes(r.GetGauge("hc_node_backup_last_bytes", "Size of the last good backup")),
      db_table_bytes(
          r.GetGauge("hc_node_db_table_bytes", "Bytes of the database's table (SST) files")),
      db_log_bytes(r.GetGauge("hc_node_db_log_bytes",
                              "Bytes of the database's write-ahead log (bounded by "
                              "storage.wal_mb)")) {}

api::Counter& NodeMetrics::Backups(std::string_view result) {
  return registry.GetCounter("hc_node_backups_total", "Online backups written (SIGUSR1)",
                             {{"result", std::string(result)}});
}

api::Gauge& NodeMetrics::ApiTlsCertExpiry() {
  return registry.GetGauge(
      "hc_node_api_tls_cert_expiry_timestamp_seconds",
      "Unix time at which the client API's TLS certificate expires (notAfter)");
}

api::Counter& NodeMetrics::ApiTlsReloads(std::string_view result) {
  return registry.GetCounter("hc_node_api_tls_reloads_total",
                             "Reloads of the client API's TLS certificate and key (SIGHUP)",
                             {{"result", std::string(result)}});
}

api::Counter& NodeMetrics::Admission(std::string_view result) {
  return registry.GetCounter("hc_node_mempool_admissions_total",
                             "Mempool admission outcomes (API and relayed txs)",
                             {{"result", std::string(result)}});
}

api::Counter& NodeMetrics::FrameDropped(std::string_view reason) {
  return registry.GetCounter("hc_node_frames_dropped_total",
                             "Peer frames the node dropped after the transport delivered them",
                             {{"reason", std::string(reason)}});
}

api::Gauge& NodeMetrics::PeerUp(uint32_t peer) {
  return registry.GetGauge("hc_node_peer_up", "1 while the peer is connected",
                           {{"peer", std::to_string(peer)}});
}

void NodeMetrics::AddDelta(const std::string& name, uint64_t value, api::Counter& counter) {
  uint64_t& prev = last[name];
  if (value > prev) counter.Inc(value - prev);
  prev = value;
}

// ---- Setup ----

NodeImpl::~NodeImpl() { Stop(); }

int64_t NodeImpl::NowMs() {
  // The replica requires a clock that never goes backwards; the wall clock can (NTP steps).
  SystemClock clock;
  last_now_ms_ = std::max(last_now_ms_, clock.NowMs());
  return last_now_ms_;
}

void NodeImpl::Fatal(const std::string& what) {
  if (!failed_.exchange(true)) {
    spdlog::critical("fatal: {}; the node stops applying consensus actions and must be restarted",
                     what);
  }
}

Status NodeImpl::Init() {
  const NodeConfig& c = config_;
  validator_ = c.mode == NodeMode::kValidator;

  // Genesis.
  auto genesis = ledger::LoadGenesisFile(c.genesis_path);
  if (!genesis.ok()) return genesis.status().WithContext(c.genesis_path);
  genesis_ = std::move(genesis).value();
  genesis_hash_ = ledger::GenesisHash(genesis_);
  n_ = static_cast<uint32_t>(genesis_.validators.size());

  // Identity: a validator's consensus key is its identity key, and must be the one genesis lists.
  auto identity = crypto::LoadIdentity(c.identity_key_path);
  if (!identity.ok()) return identity.status();
  if (validator_) {
    if (!c.replica || *c.replica >= n_) {
      return InvalidArgument(c.config_path + ": node.replica: not an index of the " +
                             std::to_string(n_) + " genesis validators");
    }
    self_id_ = *c.replica;
    if (identity->signing.public_key != genesis_.validators[self_id_].key) {
      return FailedPrecondition(c.identity_key_path + ": its Ed25519 key is not genesis " +
                                "validators[" + std::to_string(self_id_) + "].ed25519_key");
    }
  } else {
    if (!c.observer_id) return InvalidArgument(c.config_path + ": node.observer_id: missing");
    self_id_ = *c.observer_id;
    if (self_id_ < n_) {
      return InvalidArgument(c.config_path + ": node.observer_id: collides with a validator index");
    }
  }
  signer_ = crypto::MakeEd25519Signer(std::move(identity->signing.secret_key));
  verifier_ = crypto::MakeEd25519Verifier();

  // The API's TLS certificate and key, checked before anything is opened: a bad file refuses the
  // start, naming the file.
  if (c.api_tls) {
    auto tls = crypto::MakeApiServerTlsContext(c.api_tls->cert_chain_path, c.api_tls->key_path);
    if (!tls.ok()) return tls.status().WithContext(c.config_path + ": [api.tls]");
    auto cert = crypto::ApiTlsCertificateOf(tls->get());
    if (!cert.ok()) return cert.status().WithContext(c.config_path + ": [api.tls]");
    api_tls_context_ = std::shared_ptr<SSL_CTX>(std::move(tls).value());
    api_tls_cert_ = std::move(cert).value();
  }

  // Consensus configuration from genesis (identical on every validator).
  consensus::Config& cc = consensus_config_;
  cc.chain_id = genesis_.chain_id;
  for (const auto& v : genesis_.validators) cc.validators.push_back(v.key);
  cc.self = ReplicaId(validator_ ? self_id_ : 0);
  cc.genesis.hash = genesis_hash_;
  cc.genesis.timestamp_ms = genesis_.genesis_time_ms;
  cc.batch_txs_max = genesis_.consensus.batch_txs_max;
  cc.batch_bytes_max = genesis_.consensus.batch_bytes_max;
  cc.batch_delay_ms = genesis_.consensus.batch_delay_ms;
  cc.window = genesis_.consensus.window;
  cc.checkpoint_interval = genesis_.consensus.checkpoint_interval;
  cc.view_change_timeout_ms = genesis_.consensus.view_change_timeout_ms;
  cc.view_change_timeout_max_ms = std::max<int64_t>(16'000, 8 * cc.view_change_timeout_ms);
  cc.exec_lag_max = std::max<uint32_t>(cc.window, 1);
  if (Status s = cc.Validate(); !s.ok()) {
    return InvalidArgument(c.genesis_path + ": consensus parameters: " + s.message());
  }

  // The frame cap must hold the largest consensus message (node/limits.h).
  uint64_t frame = c.limits.peer_frame_bytes_max;
  frame = std::max<uint64_t>(frame, consensus::MaxViewChangeWireBytes(cc));
  frame = std::max<uint64_t>(frame, consensus::MaxNewViewWireBytes(cc));
  // A StateResponse carries blocks up to half the cap; one maximal block must fit.
  frame = std::max<uint64_t>(frame, 2 * (uint64_t{cc.batch_bytes_max} + 16ull * cc.batch_txs_max +
                                         consensus::kMaxHeaderBytes + 4096));
  if (frame > kFrameBytesMaxLimit) {
    return InvalidArgument(c.genesis_path + ": consensus parameters need frames of " +
                           std::to_string(frame) + " bytes, above the limit of " +
                           std::to_string(kFrameBytesMaxLimit) + " (lower window or batch sizes)");
  }
  frame_bytes_max_ = static_cast<uint32_t>(frame);

  // Database and ledger.
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  if (ec) return IoError(c.data_dir + ": " + ec.message());
  ledger::RocksOptions rocks_options;
  rocks_options.block_cache_bytes = static_cast<size_t>(c.storage.cache_mb) << 20;
  rocks_options.max_wal_bytes = static_cast<uint64_t>(c.storage.wal_mb) << 20;
  rocks_options.zstd_bottom = c.storage.zstd_bottom;
  rocks_options.low_priority_compaction = c.storage.low_priority_compaction;
  auto store = ledger::RocksKvStore::Open(c.data_dir + "/db", rocks_options);
  if (!store.ok()) return store.status();
  store_ = store.value().get();
  rocks_ = store.value().get();
  const auto open_start = std::chrono::steady_clock::now();
  auto ledger = ledger::Ledger::Open(std::move(store).value(), genesis_, *verifier_);
  if (!ledger.ok()) return ledger.status().WithContext(c.data_dir + "/db");
  ledger_ = std::move(ledger).value();
  if (const auto& up = ledger_->state_upgrade(); up.has_value()) {
    spdlog::info(
        "ledger state upgraded from format {} to {}: {} consent pairs built, {} consent index "
        "keys removed",
        up->from_format, ledger::keys::kStateFormatCurrent, up->consent_pairs_built,
        up->index_keys_removed);
  }
  if (const ledger::RecentTxIds* recent = ledger_->recent_tx_ids(); recent != nullptr) {
    spdlog::info(
        "ledger opened at height {} in {} ms; replay check (R5) holds the ids of {} txs "
        "of the last {} blocks",
        ledger_->height(),
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              open_start)
            .count(),
        recent->size(), recent->blocks());
  }
  ledger_height_ = ledger_->height();
  ledger_view_ = std::make_shared<LedgerViewImpl>(ledger_, ledger_mu_, *store_, genesis_);
  request_auth_ =
      std::make_shared<api::RequestAuthenticator>(*verifier_, [] { return SystemClock().NowMs(); });

  metrics_ = std::make_shared<api::MetricsRegistry>();
  m_ = std::make_unique<NodeMetrics>(*metrics_);
  m_->height.Set(static_cast<double>(ledger_->height()));
  if (api_tls_context_ != nullptr) {
    // Both series exist from the start, so that a rate or an increase over them is defined.
    m_->ApiTlsReloads("ok");
    m_->ApiTlsReloads("failed");
    ReportApiTlsCertificate(api_tls_cert_, "loaded");
  }

  // Mempool.
  MempoolOptions mo;
  mo.chain_id = genesis_.chain_id;
  mo.txs_max = c.limits.mempool_txs_max;
  mo.bytes_max = c.limits.mempool_bytes_max;
  mo.self = self_id_;
  mo.lifetime = genesis_.txs;
  recent_tx_ids_ = ledger_->recent_tx_ids();
  mempool_ = std::make_unique<Mempool>(
      mo, *verifier_,
      [this, recent = recent_tx_ids_, lifetime = genesis_.txs](const TxId& id, int64_t now_ms) {
        // R5: a tx fresh at `now_ms` (admission refuses the others after decoding) can
        // only be in blocks since the horizon; when the ledger holds their ids in memory and
        // none is this one, the tx index need not be read.
        if (recent != nullptr &&
            recent->RulesOut(ledger::RecentTxIds::KeyOf(id), lifetime.Horizon(now_ms))) {
          return false;
        }
        std::string where;
        return store_->Get(ledger::Cf::kTxIndex, AsStringView(id), &where).ok();
      });

  // Peers.
  for (uint32_t i = 0; i < n_; ++i) {
    if (validator_ && i == self_id_) continue;
    peers_[i] = PeerInfo{genesis_.validators[i].id, true};
  }
  if (validator_) {
    for (const ObserverPeer& o : c.observers) {
      peers_[o.id] = PeerInfo{o.name.empty() ? "observer-" + std::to_string(o.id) : o.name, false};
    }
  }

  // Transport: validators dial each other; observers dial validators; validators accept
  // observers (dial-in only, no broadcasts).
  TransportConfig tc;
  tc.self_id = self_id_;
  if (c.p2p_listen.port != 0) tc.listen_address = c.p2p_listen.ToString();
  tc.tls_cert_path = c.tls_cert_path;
  tc.tls_key_path = c.tls_key_path;
  for (uint32_t i = 0; i < n_; ++i) {
    PeerEndpoint p;
    p.id = i;
    p.address = (validator_ && i == self_id_) ? "" : genesis_.validators[i].address;
    p.pin = genesis_.validators[i].tls_key_pin;
    p.receives_broadcast = true;
    tc.peers.push_back(std::move(p));
  }
  if (validator_) {
    for (const ObserverPeer& o : c.observers) {
      PeerEndpoint p;
      p.id = o.id;
      if (o.tls_pin.size() != 32) {
        return InvalidArgument(c.config_path + ": p2p.observers: tls_pin must be 32 bytes");
      }
      p.pin = ToHash32(o.tls_pin);
      p.receives_broadcast = false;
      tc.peers.push_back(std::move(p));
    }
  }
  tc.frame_bytes_max = frame_bytes_max_;
  tc.queue_bytes_max = std::max<size_t>(kDefaultPeerQueueBytesMax, 2ull * frame_bytes_max_);
  TransportCallbacks cb;
  cb.on_frame = [this](uint32_t peer, Bytes payload) { OnFrame(peer, std::move(payload)); };
  cb.on_peer_state = [this](uint32_t peer, bool up) { OnPeerState(peer, up); };
  auto transport = PeerTransport::Create(p2p_io_, std::move(tc), std::move(cb));
  if (!transport.ok()) return transport.status().WithContext(c.config_path);
  transport_ = std::move(transport).value();

  // Replica: rebuilt from the consensus column family and the ledger's last executed block.
  if (validator_) {
    auto durable = LoadDurableState(*store_);
    if (!durable.ok()) return durable.status().WithContext(c.data_dir + "/db");
    consensus_store_ = std::make_unique<ConsensusStore>(*store_, durable.value());
    auto tip = LedgerSummaryAt(*ledger_, ledger_->height());
    if (!tip.ok()) return tip.status().WithContext(c.data_dir + "/db");
    executed_height_ = ledger_->height();
    summaries_[executed_height_] = tip.value();
    app_ = std::make_unique<NodeApp>(genesis_.chain_id, *mempool_,
                                     [this](Height h) { return SummaryAt(h); });
    replica_ =
        std::make_unique<consensus::Replica>(consensus_config_, *signer_, *verifier_, *app_,
                                             std::move(durable).value(), tip.value(), NowMs());
    spdlog::info(
        "replica {} of {} resumes at view {} (in view change: {}), stable seq {}, ledger "
        "height {}",
        self_id_, n_, consensus_store_->state().view.value(),
        consensus_store_->state().in_view_change, consensus_store_->state().stable_seq.value(),
        ledger_->height());
    PublishSnapshot();
  } else {
    spdlog::info("observer {} follows {} validators from ledger height {}", self_id_, n_,
                 ledger_->height());
  }
  return Status::Ok();
}

Status NodeImpl::Start() {
  HC_ASSERT(!started_.exchange(true));
  // API first: a port conflict is found before any thread runs.
  http_ = std::make_unique<api::HttpServer>(
      api_io_,
      api::ServerOptions{config_.api_listen.host, config_.api_listen.port,
                         [&] {
                           api::ServerLimits l;
                           l.body_bytes_max = config_.limits.api_body_bytes_max;
                           l.connections_max = config_.limits.api_connections_max;
                           return l;
                         }(),
                         "healthchain", api_tls_context_},
      BuildRouter(), metrics_);
  HC_RETURN_IF_ERROR(http_->Start());
  HC_RETURN_IF_ERROR(transport_->Start());

  admission_ = std::make_unique<AdmissionPool>(
      *mempool_, std::clamp<uint32_t>(config_.limits.verify_threads, 1, kVerifyThreadsMax),
      [this](std::vector<AdmittedTx>& batch) { OnAdmittedBatch(batch); });
  // Catching up, the executing thread waits on these workers; there is nothing else to run then,
  // so they are as many as the cores.
  preverify_ = std::make_unique<PreVerifyPool>(
      *mempool_, std::clamp<uint32_t>(std::max<uint32_t>(config_.limits.verify_threads,
                                                         std::thread::hardware_concurrency()),
                                      1, kVerifyThreadsMax));
  serve_thread_ = std::thread([this] {
    SetThreadName("hc-state-serve");
    ServeLoop();
  });
  if (validator_) {
    executor_thread_ = std::thread([this] {
      SetThreadName("hc-executor");
      ExecutorLoop();
    });
    driver_thread_ = std::thread([this] {
      SetThreadName("hc-driver");
      DriverLoop();
    });
  } else {
    follower_thread_ = std::thread([this] {
      SetThreadName("hc-follower");
      FollowerLoop();
    });
  }
  p2p_thread_ = std::thread([this] {
    SetThreadName("hc-p2p");
    auto guard = boost::asio::make_work_guard(p2p_io_);
    p2p_io_.run();
  });
  api_thread_ = std::thread([this] {
    SetThreadName("hc-api");
    auto guard = boost::asio::make_work_guard(api_io_);
    api_io_.run();
  });
  spdlog::info("started: p2p {} (port {}), api {} (port {}, {})", config_.p2p_listen.ToString(),
               transport_->listen_port(), config_.api_listen.ToString(), http_->port(),
               api_tls_context_ != nullptr ? "https" : "http");
  return Status::Ok();
}

void NodeImpl::Stop() {
  if (stopped_.exchange(true)) return;
  if (started_) spdlog::info("stopping");
  stopping_ = true;
  // 1. No new client requests.
  if (http_) http_->Stop();
  // 2. No new txs.
  if (admission_) admission_->Stop();
  if (preverify_) preverify_->Stop();
  // 3. The driver stops applying actions (nothing more is persisted or sent).
  driver_q_.Close();
  if (driver_thread_.joinable()) driver_thread_.join();
  follow_q_.Close();
  if (follower_thread_.joinable()) follower_thread_.join();
  // 4. The executor finishes the blocks already committed by consensus, then stops.
  exec_q_.Close();
  if (executor_thread_.joinable()) executor_thread_.join();
  serve_q_.Close();
  if (serve_thread_.joinable()) serve_thread_.join();
  // 5. Peers.
  if (transport_) transport_->Stop();
  p2p_io_.stop();
  if (p2p_thread_.joinable()) p2p_thread_.join();
  // 6. Waiters hold Responders bound to the API's io_context.
  DropAllWaiters();
  api_io_.stop();
  if (api_thread_.joinable()) api_thread_.join();
  http_.reset();
  transport_.reset();
  // 7. The database.
  replica_.reset();
  {
    std::unique_lock lock(ledger_mu_);
    ledger_.reset();
  }
  if (started_) spdlog::info("stopped; database closed");
}

// ---- Peers ----

void NodeImpl::CountFrameDrop(std::string_view reason) { m_->FrameDropped(reason).Inc(); }

void NodeImpl::OnPeerState(uint32_t peer, bool up) {
  std::string name;
  {
    std::lock_guard lock(peers_mu_);
    auto it = peers_.find(peer);
    if (it != peers_.end()) {
      name = it->second.name;
      if (!up) it->second.hello_ok = false;
    }
  }
  m_->PeerUp(peer).Set(up ? 1 : 0);
  m_->peers_up.Add(up ? 1 : -1);
  spdlog::info("peer {} ({}) {}", peer, name, up ? "up" : "down");
  if (up) SendHello(peer);
}

void NodeImpl::SendHello(uint32_t peer) {
  HelloMsg h;
  h.chain_id = genesis_.chain_id;
  h.genesis_hash = genesis_hash_;
  h.replica = validator_ ? self_id_ : kObserverReplica;
  h.protocol_version = kProtocolVersion;
  h.committed_height = ledger_height_.load();
  transport_->Send(peer, std::make_shared<const Bytes>(EncodePeerMessage(h)), true);
}

void NodeImpl::HandleHello(uint32_t peer, const HelloMsg& hello) {
  std::string problem;
  if (hello.chain_id != genesis_.chain_id) {
    problem = "chain id \"" + hello.chain_id + "\"";
  } else if (hello.genesis_hash != genesis_hash_) {
    problem = "genesis " + HexEncode(hello.genesis_hash);
  } else if (hello.protocol_version != kProtocolVersion) {
    problem = "protocol version " + std::to_string(hello.protocol_version);
  } else if (peer < n_ && hello.replica != peer) {
    problem = "replica " + std::to_string(hello.replica) + " on validator " + std::to_string(peer) +
              "'s certificate";
  }
  bool log_refusal = false;
  bool wake_follower = false;
  {
    std::lock_guard lock(peers_mu_);
    PeerInfo& info = peers_[peer];
    if (!problem.empty()) {
      log_refusal = !info.refused;
      info.refused = true;
      info.hello_ok = false;
    } else {
      info.refused = false;
      info.hello_ok = true;
      info.height = std::max(info.height, hello.committed_height);
      wake_follower = !validator_ && hello.committed_height > ledger_height_.load();
    }
  }
  if (!problem.empty()) {
    CountFrameDrop("bad_hello");
    if (log_refusal) {
      spdlog::warn(
          "refusing peer {}: it is on another network ({}; ours: chain \"{}\", genesis "
          "{}); disconnecting, and its frames are ignored until it says a valid Hello",
          peer, problem, genesis_.chain_id, HexEncode(genesis_hash_));
    }
    transport_->Disconnect(peer, "Hello from another network: " + problem);
    return;
  }
  if (wake_follower) {
    FollowerEvent ev;
    ev.peer = peer;
    ev.response.peer_height = Height(hello.committed_height);
    follow_q_.TryPush(std::move(ev));
  }
}

void NodeImpl::OnFrame(uint32_t peer, Bytes payload) {
  auto decoded = DecodePeerMessage(payload);
  if (!decoded.ok()) {
    // wire.md W6: an undecodable frame closes the connection (the peer reconnects with backoff).
    CountFrameDrop("undecodable");
    spdlog::debug("peer {}: dropped an undecodable frame of {} bytes: {}", peer, payload.size(),
                  decoded.status().message());
    transport_->Disconnect(peer, "undecodable frame: " + decoded.status().message());
    return;
  }
  PeerMessage& msg = decoded.value();
  if (const auto* hello = std::get_if<HelloMsg>(&msg)) {
    HandleHello(peer, *hello);
    return;
  }
  {
    std::lock_guard lock(peers_mu_);
    auto it = peers_.find(peer);
    if (it != peers_.end() && it->second.refused) {
      CountFrameDrop("refused_peer");
      return;
    }
  }
  if (auto* relay = std::get_if<TxRelayMsg>(&msg)) {
    // Only validators relay (R16 counts relayers among validators).
    if (!validator_ || peer >= n_) {
      CountFrameDrop("relay_from_non_validator");
      return;
    }
    for (Bytes& tx : relay->txs) {
      if (!admission_ || !admission_->Submit(AdmissionJob{std::move(tx), peer, nullptr})) {
        m_->Admission("queue_full").Inc();
      }
    }
    return;
  }
  auto& cmsg = std::get<consensus::Message>(msg);
  if (auto* req = std::get_if<consensus::StateRequest>(&cmsg)) {
    if (!serve_q_.TryPush(ServeRequest{peer, *req})) CountFrameDrop("serve_queue_full");
    return;
  }
  if (!validator_) {
    if (auto* resp = std::get_if<consensus::StateResponse>(&cmsg)) {
      if (!follow_q_.TryPush(FollowerEvent{peer, std::move(*resp)})) {
        CountFrameDrop("follower_queue_full");
      }
    } else {
      CountFrameDrop("consensus_to_observer");
    }
    return;
  }
  if (peer >= n_) {
    CountFrameDrop("consensus_from_non_validator");
    return;
  }
  if (!driver_q_.TryPush(EvPeerMessage{peer, std::move(cmsg)})) CountFrameDrop("driver_queue_full");
}

void NodeImpl::OnAdmittedBatch(std::vector<AdmittedTx>& batch) {
  TxRelayMsg relay;
  size_t relay_bytes = 0;
  auto flush_relay = [&] {
    if (relay.txs.empty()) return;
    transport_->Broadcast(std::make_shared<const Bytes>(EncodePeerMessage(relay)), false);
    relay.txs.clear();
    relay_bytes = 0;
  };
  for (AdmittedTx& a : batch) {
    if (validator_) {
      // Reports must reach the replica; the driver queue is large, and a full one means the
      // node is far behind anyway (the tx is still proposed from the mempool).
      if (!driver_q_.TryPush(EvTx{a.tx_id, a.size_bytes, a.relayer})) {
        CountFrameDrop("driver_queue_full");
      }
    }
    // Relay this node's own client txs to every other validator (R16), batched (non-essential:
    // a dropped relay costs only censorship-detection coverage).
    if (validator_ && a.newly_admitted && a.relayer == self_id_) {
      if (relay_bytes + a.tx.size() > frame_bytes_max_ / 2) flush_relay();
      relay_bytes += a.tx.size() + 8;
      relay.txs.push_back(std::move(a.tx));
    }
  }
  flush_relay();
}

// ---- Driver ----

std::optional<consensus::ExecSummary> NodeImpl::SummaryAt(Height height) {
  if (height.value() > executed_height_) return std::nullopt;
  auto it = summaries_.find(height.value());
  if (it != summaries_.end()) return it->second;
  std::shared_lock lock(ledger_mu_);
  auto s = LedgerSummaryAt(*ledger_, height.value());
  if (!s.ok()) {
    spdlog::error("reading the summary of block {}: {}", height.value(), s.status().ToString());
    return std::nullopt;
  }
  return s.value();
}

void NodeImpl::PublishSnapshot() {
  ConsensusSnapshot s;
  s.view = replica_->view().value();
  s.primary = replica_->PrimaryOf(replica_->view()).value();
  s.view_active = replica_->view_active();
  s.committed_height = replica_->committed_height().value();
  s.executed_height = replica_->executed_height().value();
  s.state_transfer = replica_->state_transfer_active();
  s.low_watermark = replica_->low_watermark().value();
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = s;
}

void NodeImpl::Apply(consensus::Actions actions) {
  std::map<size_t, PlannedRun> runs = RunsAmong(actions);
  size_t commit_pos = 0;       // the position of the next CommitAction among the batch's commits
  std::optional<ExecJob> job;  // the blocks committed so far for the executor's next job
  size_t job_end = 0;          // the position after the job's last block
  std::vector<consensus::PersistRecord> persists;
  auto flush = [&]() -> bool {
    if (persists.empty()) return true;
    Status s = consensus_store_->Persist(persists);
    m_->persist_writes.Inc();
    m_->persist_records.Inc(persists.size());
    persists.clear();
    if (!s.ok()) {
      Fatal("persisting consensus state: " + s.ToString());
      return false;
    }
    return true;
  };
  for (consensus::Action& action : actions) {
    if (failed_) return;
    if (auto* p = std::get_if<consensus::PersistAction>(&action)) {
      persists.push_back(std::move(p->record));
      if (persists.size() >= kPersistBatchMax && !flush()) return;
      continue;
    }
    // R20a: everything persisted so far is durable before the next action starts.
    if (!flush()) return;
    std::visit(
        [&](auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, consensus::SendAction>) {
            transport_->Send(a.to.value(),
                             std::make_shared<const Bytes>(EncodeConsensusMessage(a.message)),
                             true);
          } else if constexpr (std::is_same_v<T, consensus::BroadcastAction>) {
            transport_->Broadcast(std::make_shared<const Bytes>(EncodeConsensusMessage(a.message)),
                                  true);
          } else if constexpr (std::is_same_v<T, consensus::CommitAction>) {
            // The replica forgot these txs as it committed; hide them from proposals and from
            // late relays until the executor removes them (pbft.md, notes for the node).
            mempool_->MarkCommitted(a.tx_ids);
            const uint64_t h = a.block.certificate.height.value();
            const size_t pos = commit_pos++;
            if (auto run = runs.find(pos); run != runs.end()) {
              job.emplace(ExecJob{{}, std::move(run->second.attestation)});
              job_end = run->second.end;
            } else if (!job) {
              job.emplace();
              job_end = pos + 1;
              if (replica_->state_transfer_active()) {
                // Fetched by state transfer and not attested: none of its txs was admitted here,
                // so check their signatures ahead of the executor.
                preverify_->Submit(a.block.block.txs);
              }
            }
            for (const TxId& id : a.tx_ids) committed_unexecuted_[id] = h;
            committed_unexecuted_by_height_[h] = std::move(a.tx_ids);
            job->blocks.push_back(std::move(a.block));
            if (pos + 1 < job_end) return;  // a run goes to the executor whole
            // The executor always drains; waiting here is back-pressure, never a deadlock (the
            // executor's reports use the much larger driver queue).
            bool warned = false;
            while (!exec_q_.PushFor(std::move(*job), std::chrono::milliseconds(200))) {
              if (exec_q_.closed() || stopping_) return;
              if (!warned) spdlog::warn("executor queue full; the driver waits");
              warned = true;
            }
            job.reset();
          } else if constexpr (std::is_same_v<T, consensus::FetchBlocksAction>) {
            consensus::StateRequest req;
            req.from_height = a.from_height;
            req.to_height = a.to_height;
            req.replica = ReplicaId(self_id_);
            // Probes while idle are routine (R19); a real catch-up is logged when it starts.
            spdlog::log(
                replica_->state_transfer_active() ? spdlog::level::info : spdlog::level::debug,
                "state transfer: asking peer {} for blocks {}..{} (view {}, committed {})",
                a.peer.value(), a.from_height.value(), a.to_height.value(),
                replica_->view().value(), replica_->committed_height().value());
            transport_->Send(a.peer.value(),
                             std::make_shared<const Bytes>(EncodeConsensusMessage(req)), false);
          } else if constexpr (std::is_same_v<T, consensus::SetTimerAction>) {
            deadline_ms_ = a.deadline_ms;
          }
        },
        action);
  }
  flush();
}

void NodeImpl::HandleEvent(DriverEvent& ev) {
  if (auto* m = std::get_if<EvPeerMessage>(&ev)) {
    Apply(replica_->OnMessage(ReplicaId(m->from), m->msg));
  } else if (auto* t = std::get_if<EvTx>(&ev)) {
    // Admitted before its block committed, reported after: the replica must not hear of a
    // committed tx (Replica::OnTx), so check again on this thread, where commits are marked.
    if (committed_unexecuted_.contains(t->id)) {
      mempool_->MarkCommitted({t->id});
      return;
    }
    if (!mempool_->Proposable(t->id)) return;
    Apply(replica_->OnTx(t->id, t->size, ReplicaId(t->relayer)));
  } else if (auto* e = std::get_if<EvExecuted>(&ev)) {
    const uint64_t h = e->summary.height.value();
    executed_height_ = std::max(executed_height_, h);
    summaries_[h] = e->summary;
    while (summaries_.size() > kSummaryCacheMax) summaries_.erase(summaries_.begin());
    while (!committed_unexecuted_by_height_.empty() &&
           committed_unexecuted_by_height_.begin()->first <= h) {
      for (const TxId& id : committed_unexecuted_by_height_.begin()->second) {
        auto it = committed_unexecuted_.find(id);
        if (it != committed_unexecuted_.end() &&
            it->second <= committed_unexecuted_by_height_.begin()->first) {
          committed_unexecuted_.erase(it);
        }
      }
      committed_unexecuted_by_height_.erase(committed_unexecuted_by_height_.begin());
    }
    Apply(replica_->OnBlockExecuted(e->summary));
  }
}

void NodeImpl::DriverLoop() {
  uint64_t view = replica_->view().value();
  bool view_active = replica_->view_active();
  bool state_transfer = replica_->state_transfer_active();
  Apply(replica_->OnTick(NowMs()));
  int64_t last_tick = NowMs();
  int64_t last_publish = 0;
  while (!failed_ && !stopping_) {
    int64_t now = NowMs();
    int64_t wait = kDriverIdleWakeMs;
    if (deadline_ms_) wait = std::clamp<int64_t>(*deadline_ms_ - now, 0, kDriverIdleWakeMs);
    auto ev = driver_q_.PopFor(std::chrono::milliseconds(wait));
    if (!ev && driver_q_.closed()) break;
    size_t handled = 0;
    while (ev && !failed_) {
      HandleEvent(*ev);
      if (++handled >= kDriverBatchMax) break;
      ev = driver_q_.TryPop();
    }
    now = NowMs();
    if ((deadline_ms_ && now >= *deadline_ms_) || now - last_tick >= kDriverIdleWakeMs) {
      if (deadline_ms_ && now >= *deadline_ms_) deadline_ms_.reset();
      Apply(replica_->OnTick(now));
      last_tick = now;
    }
    // One line per event that matters (view changes, state transfer).
    if (replica_->view().value() != view || replica_->view_active() != view_active) {
      const uint64_t v = replica_->view().value();
      if (!replica_->view_active()) {
        spdlog::warn("view change: entering view {} (primary {}), committed seq {}", v,
                     replica_->PrimaryOf(replica_->view()).value(),
                     replica_->committed_height().value());
      } else {
        spdlog::info("view {} installed: primary {}, committed seq {}", v,
                     replica_->PrimaryOf(replica_->view()).value(),
                     replica_->committed_height().value());
      }
      view = v;
      view_active = replica_->view_active();
    }
    if (replica_->state_transfer_active() != state_transfer) {
      state_transfer = replica_->state_transfer_active();
      spdlog::info("state transfer {} (view {}, committed seq {}, executed {})",
                   state_transfer ? "started" : "finished", replica_->view().value(),
                   replica_->committed_height().value(), replica_->executed_height().value());
    }
    if (now - last_publish >= 100) {
      PublishSnapshot();
      RefreshMetrics();
      last_publish = now;
    }
  }
  PublishSnapshot();
}

void NodeImpl::RefreshMetrics() {
  std::lock_guard lock(refresh_mu_);
  NodeMetrics& m = *m_;
  m.mempool_txs.Set(static_cast<double>(mempool_->size()));
  m.mempool_bytes.Set(static_cast<double>(mempool_->bytes()));
  if (recent_tx_ids_ != nullptr) m.recent_tx_ids.Set(static_cast<double>(recent_tx_ids_->size()));
  m.height.Set(static_cast<double>(ledger_height_.load()));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  if (now - last_disk_refresh_ms_ >= kDiskMetricsRefreshMs) {
    last_disk_refresh_ms_ = now;
    if (Result<ledger::RocksKvStore::DiskUsage> disk = rocks_->DiskBytes(); disk.ok()) {
      m.db_table_bytes.Set(static_cast<double>(disk->table_bytes));
      m.db_log_bytes.Set(static_cast<double>(disk->log_bytes));
    }
  }
  if (replica_) {
    // Driver thread only (the replica is not thread-safe).
    const consensus::Metrics& rm = replica_->metrics();
    m.view.Set(static_cast<double>(replica_->view().value()));
    m.view_active.Set(replica_->view_active() ? 1 : 0);
    m.committed_height.Set(static_cast<double>(replica_->committed_height().value()));
    for (size_t i = 0; i < consensus::kDropReasonCount; ++i) {
      const std::string reason(consensus::DropReasonName(static_cast<consensus::DropReason>(i)));
      m.AddDelta("drop/" + reason, rm.dropped[i],
                 m.registry.GetCounter("hc_consensus_dropped_total",
                                       "Consensus messages the replica dropped, by reason",
                                       {{"reason", reason}}));
    }
    const std::pair<const char*, uint64_t> counters[] = {
        {"messages_received", rm.messages_received},
        {"messages_accepted", rm.messages_accepted},
        {"signatures_created", rm.signatures_created},
        {"signatures_verified", rm.signatures_verified},
        {"blocks_proposed", rm.blocks_proposed},
        {"blocks_committed", rm.blocks_committed},
        {"view_changes_started", rm.view_changes_started},
        {"new_views_installed", rm.new_views_installed},
        {"checkpoints_stable", rm.checkpoints_stable},
        {"state_transfer_requests", rm.state_transfer_requests},
        {"state_transfer_blocks", rm.state_transfer_blocks},
        {"retransmissions", rm.retransmissions},
        {"censorship_view_changes", rm.censorship_view_changes},
    };
    for (const auto& [name, value] : counters) {
      m.AddDelta(std::string("replica/") + name, value,
                 m.registry.GetCounter(std::string("hc_consensus_") + name + "_total",
                                       "Replica counter (consensus/metrics.h)"));
    }
  }
  // Client tx signatures: each should be checked with Ed25519 once per node (at admission, or
  // at execution for a tx this node had not admitted before its block), never twice.
  const VerifiedTxCache& vc = mempool_->verified_cache();
  const std::pair<const char*, uint64_t> tx_sig_checks[] = {
      {"admission", vc.admission_checks()},
      {"block", vc.misses()},
  };
  for (const auto& [path, value] : tx_sig_checks) {
    m.AddDelta(std::string("txsig/") + path, value,
               m.registry.GetCounter("hc_node_tx_signature_checks_total",
                                     "Ed25519 checks of client tx signatures, by where",
                                     {{"path", path}}));
  }
  m.AddDelta("txsig/cache_hits", vc.hits(),
             m.registry.GetCounter("hc_node_tx_signature_cache_hits_total",
                                   "Block txs whose signature had been checked at admission"));
  const TransportStats& ts = transport_->stats();
  const std::pair<const char*, const std::atomic<uint64_t>*> drops[] = {
      {"queue_full", &ts.dropped_queue_full},
      {"queue_full_essential", &ts.dropped_queue_full_essential},
      {"send_invalid", &ts.dropped_send_invalid},
      {"unknown_peer", &ts.dropped_unknown_peer},
      {"stopped", &ts.dropped_stopped},
      {"disconnect", &ts.dropped_disconnect},
      {"stale", &ts.dropped_stale},
  };
  for (const auto& [reason, value] : drops) {
    m.AddDelta(std::string("tdrop/") + reason, value->load(),
               m.registry.GetCounter("hc_transport_dropped_total",
                                     "Frames the transport did not deliver, by reason",
                                     {{"reason", reason}}));
  }
  const std::pair<const char*, const std::atomic<uint64_t>*> refused[] = {
      {"oversize_frame", &ts.closed_oversize_frame},
      {"zero_length_frame", &ts.closed_zero_length_frame},
      {"refused_frame", &ts.closed_by_request},
      {"unknown_peer_cert", &ts.refused_unknown_peer_cert},
      {"wrong_peer_cert", &ts.refused_wrong_peer_cert},
      {"pending_limit", &ts.refused_pending_limit},
      {"handshake_failed", &ts.handshake_failed},
      {"handshake_timeout", &ts.handshake_timeout},
  };
  for (const auto& [reason, value] : refused) {
    m.AddDelta(std::string("tclosed/") + reason, value->load(),
               m.registry.GetCounter("hc_transport_connections_refused_total",
                                     "Connections closed or refused for what the peer did",
                                     {{"reason", reason}}));
  }
  const std::pair<const char*, const std::atomic<uint64_t>*> flow[] = {
      {"frames_sent", &ts.frames_sent},
      {"bytes_sent", &ts.bytes_sent},
      {"frames_received", &ts.frames_received},
      {"bytes_received", &ts.bytes_received},
      {"writes", &ts.writes},
      {"disconnects", &ts.disconnects},
  };
  for (const auto& [name, value] : flow) {
    m.AddDelta(std::string("tflow/") + name, value->load(),
               m.registry.GetCounter(std::string("hc_transport_") + name + "_total",
                                     "Transport counter (node/transport.h)"));
  }
}

// ---- Executor ----

void NodeImpl::ExecutorLoop() {
  int64_t last_sweep = 0;
  while (true) {
    auto block = exec_q_.PopFor(std::chrono::milliseconds(200));
    if (!block && exec_q_.closed()) break;
    if (block && !failed_) ExecuteCertified(std::move(*block));
    const int64_t now = SystemClock().NowMs();
    if (now - last_sweep >= 200) {
      SweepWaiters();
      last_sweep = now;
    }
  }
}

void NodeImpl::ExecuteCertified(ExecJob job) {
  const auto t0 = std::chrono::steady_clock::now();
  // One per block of the job, in height order; the ledger reads their headers and certificates,
  // and each block's `prepare` fills its ids and erasures.
  struct Item {
    const consensus::CertifiedBlock* cb = nullptr;
    std::string header_bytes;
    pb::BlockHeader header;
    pb::CommitCertificate cert;
    std::vector<TxId> ids;
    ErasureCandidates erasures;
  };
  std::vector<Item> items(job.blocks.size());
  for (size_t i = 0; i < items.size(); ++i) {
    Item& it = items[i];
    it.cb = &job.blocks[i];
    it.header_bytes = AsStr(it.cb->block.header);
    it.cert = ToPbCert(it.cb->certificate);
    if (!it.header.ParseFromString(it.header_bytes)) {
      Fatal("the replica committed a block whose header does not parse");
      return;
    }
  }
  // Blocks already in the ledger (a restart raced the replica's resumption) are reported as they
  // are; the rest still extend the tip, and a run's attestation still claims the log after its
  // last.
  std::vector<consensus::ExecSummary> stored;
  {
    std::shared_lock lock(ledger_mu_);
    while (stored.size() < items.size() &&
           items[stored.size()].header.height() <= ledger_->height()) {
      const uint64_t height = items[stored.size()].header.height();
      auto s = LedgerSummaryAt(*ledger_, height);
      if (!s.ok()) {
        Fatal("reading block " + std::to_string(height) + ": " + s.status().ToString());
        return;
      }
      stored.push_back(s.value());
    }
  }
  for (const consensus::ExecSummary& summary : stored) ReportExecuted(summary);
  const size_t first = stored.size();
  if (first == items.size()) return;

  auto prepare_of = [this](Item& it) {
    return [this, &it](const crypto::Verifier& verifier) {
      // The one copy of the tx bytes the ledger needs; the replica's goes to the subscribers.
      std::vector<std::string> txs;
      txs.reserve(it.cb->block.txs.size());
      for (const Bytes& tx : it.cb->block.txs) txs.emplace_back(AsStr(tx));
      ledger::ExecutableBlock prepared =
          ledger::PrepareBlock(it.header.height(), it.header.timestamp_ms(), std::move(txs),
                               genesis_.chain_id, verifier);
      it.ids.clear();
      it.ids.reserve(prepared.txs.size());
      for (const ledger::BlockTx& t : prepared.txs) it.ids.push_back(t.tx_id);
      it.erasures = ErasuresOf(prepared);
      return prepared;
    };
  };
  ledger::Ledger::CommittedRun committed;
  {
    std::unique_lock lock(ledger_mu_);
    if (job.attestation) {
      std::vector<ledger::Ledger::RunBlock> run;
      run.reserve(items.size() - first);
      for (size_t i = first; i < items.size(); ++i) {
        run.push_back({items[i].header_bytes, &items[i].cert, prepare_of(items[i])});
      }
      committed = ledger_->CommitAttestedRun(
          run, ledger::Attestation{job.attestation->header, &job.attestation->certificate},
          mempool_->block_verifier());
    } else {
      HC_ASSERT(items.size() == first + 1);  // a job without an attestation is one block (Apply)
      Item& it = items[first];
      Result<ledger::CommittedBlock> one =
          ledger_->Commit(it.header_bytes, it.cert, prepare_of(it)(mempool_->block_verifier()));
      if (one.ok()) {
        committed.blocks.push_back(std::move(one).value());
      } else {
        committed.status = one.status();
      }
    }
  }
  // A run is executed and written at once: each of its blocks is counted an equal share of it.
  const double seconds_per_block =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
      static_cast<double>(std::max<size_t>(committed.blocks.size(), 1));
  for (size_t k = 0; k < committed.blocks.size(); ++k) {
    Item& it = items[first + k];
    const ledger::CommittedBlock& c = committed.blocks[k];
    const uint64_t height = it.header.height();
    CountAttested(job.attestation.has_value(), c, height);
    ledger_height_ = height;
    PublishCommitted(it.cb->block.txs, it.header.timestamp_ms(), c,
                     CommittedErasures(std::move(it.erasures), c));
    ReportExecuted(
        MakeExecSummary(height, c.block_hash, it.header.timestamp_ms(), c.log_size, c.log_root));
    m_->block_execute.Observe(seconds_per_block);
    spdlog::debug("executed block {} ({} txs) {}", height, it.ids.size(), Short(c.block_hash));
    AfterCommit(it.ids, c, it.cert, true);
  }
  if (!committed.status.ok()) {
    const uint64_t height = items[first + committed.blocks.size()].header.height();
    Fatal("the ledger refused certified block " + std::to_string(height) + ": " +
          committed.status.ToString());
  }
}

void NodeImpl::ReportExecuted(const consensus::ExecSummary& summary) {
  // R20b: never dropped; wait for room.
  while (!driver_q_.PushFor(EvExecuted{summary}, std::chrono::milliseconds(200))) {
    if (driver_q_.closed()) break;
  }
}

void NodeImpl::CountAttested(bool had_attestation, const ledger::CommittedBlock& committed,
                             uint64_t height) {
  if (committed.signatures_attested) {
    m_->state_transfer_attested_blocks.Inc();
    m_->state_transfer_attested_txs.Inc(committed.execution.receipts.size());
  } else if (had_attestation) {
    // The attesting certificate did not check out, or the block's log without signature checks
    // differs from the attested one: with honest validators, only when a tx's signature fails.
    m_->state_transfer_attest_fallbacks.Inc();
    spdlog::warn(
        "state transfer: block {} was not attested by the later block fetched with it (its "
        "certificate, or the log without signature checks, differs); checked all {} signatures",
        height, committed.execution.receipts.size());
  }
}

void NodeImpl::AfterCommit(const std::vector<TxId>& ids, const ledger::CommittedBlock& committed,
                           const pb::CommitCertificate& certificate, bool own_mempool) {
  m_->blocks_committed.Inc();
  m_->txs_committed.Inc(ids.size());
  m_->height.Set(static_cast<double>(ledger_height_.load()));
  if (own_mempool) {
    std::vector<int64_t> admitted_ms;
    mempool_->RemoveCommitted(ids, &admitted_ms);
    const int64_t now = SystemClock().NowMs();
    for (int64_t t : admitted_ms) m_->commit_latency.Observe(static_cast<double>(now - t) / 1000.0);
  } else {
    mempool_->LedgerAdvanced();
  }
  NotifyWaiters(ids, committed, certificate);
}

void NodeImpl::PublishCommitted(const consensus::BlockTxs& txs, int64_t timestamp_ms,
                                const ledger::CommittedBlock& committed,
                                std::optional<std::vector<std::string>> erased_records) {
  if (!ledger_view_ || !ledger_view_->has_subscribers()) return;
  api::CommittedBlockEvent ev;
  ev.height = committed.height;
  ev.block_hash = committed.block_hash;
  ev.timestamp_ms = timestamp_ms;
  ev.first_entry = committed.execution.first_entry;
  if (auto shared = txs.shared()) ev.txs = std::move(shared);
  ev.receipts = committed.execution.receipt_bytes;
  ev.erased_records =
      erased_records ? std::move(*erased_records) : api::ParseErasedRecords(*ev.txs, ev.receipts);
  ledger_view_->Publish(ev);
}

// ---- State server ----

void NodeImpl::ServeLoop() {
  while (true) {
    auto req = serve_q_.PopFor(std::chrono::milliseconds(500));
    if (!req) {
      if (serve_q_.closed()) break;
      continue;
    }
    ServeStateRequest(*req);
  }
}

void NodeImpl::ServeStateRequest(const ServeRequest& r) {
  consensus::StateResponse resp;
  const uint64_t budget = frame_bytes_max_ / 2;
  uint64_t used = 0;
  {
    std::shared_lock lock(ledger_mu_);
    if (!ledger_) return;
    const uint64_t tip = ledger_->height();
    resp.peer_height = Height(tip);
    const uint64_t from = std::max<uint64_t>(1, r.request.from_height.value());
    uint64_t to = std::min<uint64_t>(r.request.to_height.value(), tip);
    to = std::min<uint64_t>(to, from + kStateServeBlocksMax - 1);
    for (uint64_t h = from; h <= to; ++h) {
      auto block = ledger_->BlockAt(h);
      auto cert = ledger_->CertificateAt(h);
      if (!block.ok() || !cert.ok()) {
        spdlog::error("state server: reading block {}: {}", h,
                      (block.ok() ? cert.status() : block.status()).ToString());
        break;
      }
      const std::string block_bytes = block->SerializeAsString();
      const std::string cert_bytes = cert->SerializeAsString();
      const uint64_t size = block_bytes.size() + cert_bytes.size() + 16;
      if (!resp.blocks.empty() && used + size > budget) break;
      auto cb = DecodeCertifiedBlock(AsBytes(block_bytes), AsBytes(cert_bytes));
      if (!cb.ok()) {
        spdlog::error("state server: block {}: {}", h, cb.status().ToString());
        break;
      }
      resp.blocks.push_back(std::move(cb).value());
      used += size;
    }
  }
  if (!resp.blocks.empty()) {
    spdlog::info("state transfer: serving blocks {}..{} to peer {}",
                 resp.blocks.front().certificate.height.value(),
                 resp.blocks.back().certificate.height.value(), r.peer);
  }
  transport_->Send(r.peer, std::make_shared<const Bytes>(EncodeConsensusMessage(resp)), false);
}

// ---- Follower (observers) ----

void NodeImpl::FollowerLoop() {
  constexpr int64_t kNone = -1;
  int64_t outstanding = kNone;  // the validator asked last, until it answers
  int64_t asked_ms = 0;
  uint32_t cursor = 0;
  auto ask = [&](uint32_t peer, uint64_t from, int64_t now) {
    consensus::StateRequest req;
    req.from_height = Height(from);
    req.to_height = Height(from + kStateServeBlocksMax - 1);
    req.replica = ReplicaId(self_id_);
    transport_->Send(peer, std::make_shared<const Bytes>(EncodeConsensusMessage(req)), false);
    outstanding = peer;
    cursor = peer;
    asked_ms = now;
  };
  while (true) {
    auto ev = follow_q_.PopFor(std::chrono::milliseconds(kObserverPollMs));
    if ((!ev && follow_q_.closed()) || stopping_) break;
    const int64_t now = NowMs();
    bool ask_now = false;
    if (ev) {
      const consensus::StateResponse& resp = ev->response;
      {
        std::lock_guard lock(peers_mu_);
        PeerInfo& info = peers_[ev->peer];
        info.height = std::max(info.height, resp.peer_height.value());
      }
      if (outstanding == static_cast<int64_t>(ev->peer)) outstanding = kNone;
      // Catching up: ask for the range after this one before applying it, so that the peer
      // reads and sends it while this node executes.
      const uint64_t last = resp.blocks.empty() ? 0 : resp.blocks.back().certificate.height.value();
      if (outstanding == kNone && last > ledger_height_.load() && resp.peer_height.value() > last) {
        ask(ev->peer, last + 1, now);
      }
      const size_t applied = ApplyFetched(ev->peer, resp);
      if (resp.peer_height.value() > ledger_height_.load()) ask_now = true;
      if (applied > 0) cursor = ev->peer;  // it helped: ask it again
    }
    if (outstanding != kNone && now - asked_ms < kObserverRequestTimeoutMs) continue;
    if (!ask_now && now - asked_ms < kObserverPollMs) continue;
    if (outstanding != kNone) {
      cursor = static_cast<uint32_t>((outstanding + 1) % n_);  // it did not answer: next one
    }
    if (now - last_refresh_ms_ >= 500) {
      RefreshMetrics();
      last_refresh_ms_ = now;
    }
    // The next validator that is up, starting at `cursor`.
    const std::vector<PeerStatus> statuses = transport_->PeerStatuses();
    int64_t peer = kNone;
    for (uint32_t k = 0; k < n_ && peer == kNone; ++k) {
      const uint32_t cand = (cursor + k) % n_;
      for (const PeerStatus& st : statuses) {
        if (st.id == cand && st.up) peer = cand;
      }
    }
    if (peer == kNone) continue;
    ask(static_cast<uint32_t>(peer), ledger_height_.load() + 1, now);
  }
}

size_t NodeImpl::ApplyFetched(uint32_t peer, const consensus::StateResponse& resp) {
  const uint64_t tip0 = ledger_height_.load();
  const size_t count = resp.blocks.size();
  std::vector<pb::Block> blocks;
  std::vector<pb::CommitCertificate> certs;
  std::vector<uint64_t> heights;
  blocks.reserve(count);
  certs.reserve(count);
  heights.reserve(count);
  // R26: a block whose header claims the log after height e (its exec_height) attests every
  // block up to e, the log after e committing to all their entries: each run of fetched blocks
  // that ends at such an e executes without checking its txs' signatures.
  std::map<uint64_t, size_t> attester;  // e -> the first fetched block claiming the log after e
  for (const consensus::CertifiedBlock& cb : resp.blocks) {
    blocks.push_back(ToPbBlock(cb.block));
    certs.push_back(ToPbCert(cb.certificate));
    heights.push_back(cb.certificate.height.value());
    if (const std::optional<uint64_t> exec = ExecHeightOf(blocks.back().header())) {
      attester.emplace(*exec, blocks.size() - 1);
    }
  }
  // The other blocks' signatures are the bulk of catch-up: workers check them into the verified
  // cache while this thread executes, once the block's certificate checks out (so that a peer
  // cannot make this node check signatures of txs no quorum certified).
  for (size_t i = 0; i < count; ++i) {
    if (heights[i] <= tip0 || AttestedRunFrom(heights, attester, i)) continue;
    const Hash32 hash = consensus::BlockHash(AsBytes(blocks[i].header()));
    if (ledger::CheckCertificate(certs[i], heights[i], hash, ledger_->genesis(), *verifier_).ok()) {
      preverify_->Submit(resp.blocks[i].block.txs);
    }
  }
  size_t applied = 0;
  uint64_t first = 0;
  size_t i = 0;
  while (i < count) {
    const uint64_t tip = ledger_height_.load();
    if (heights[i] <= tip) {
      ++i;
      continue;
    }
    if (heights[i] != tip + 1) break;  // strictly in height order
    // The run up to the nearest attested height, when the response holds every block of it.
    std::vector<ledger::Ledger::RunBlock> run;
    const std::optional<AttestedRun> plan = AttestedRunFrom(heights, attester, i);
    for (size_t j = i; plan && j < plan->end; ++j) {
      Result<ledger::Ledger::RunBlock> b = ledger_->RunBlockOf(blocks[j], certs[j]);
      if (!b.ok()) {  // committed on its own, and refused there with the reason
        run.clear();
        break;
      }
      run.push_back(std::move(b).value());
    }
    // The ledger checks each header against the chain and each certificate against the genesis
    // validators (2f+1 valid COMMIT signatures), and every tx signature (through the verified
    // cache the pre-verify workers fill) unless a later certified header attests the run's log
    // (R26): no trust in the peer.
    ledger::Ledger::CommittedRun committed;
    {
      std::unique_lock lock(ledger_mu_);
      if (!run.empty()) {
        const size_t a = plan->attester;
        committed = ledger_->CommitAttestedRun(
            run, ledger::Attestation{blocks[a].header(), &certs[a]}, mempool_->block_verifier());
      } else {
        Result<ledger::CommittedBlock> one =
            ledger_->Commit(blocks[i], certs[i], &mempool_->block_verifier());
        if (one.ok()) {
          committed.blocks.push_back(std::move(one).value());
        } else {
          committed.status = one.status();
        }
      }
    }
    for (const ledger::CommittedBlock& c : committed.blocks) {
      const pb::Block& block = blocks[i];
      CountAttested(!run.empty(), c, heights[i]);
      ledger_height_ = heights[i];
      if (applied == 0) first = heights[i];
      ++applied;
      m_->state_transfer_blocks.Inc();
      std::vector<TxId> ids;
      ids.reserve(block.txs_size());
      for (const std::string& tx : block.txs()) ids.push_back(ledger::TxIdOf(AsBytes(tx)));
      pb::BlockHeader header;
      if (header.ParseFromString(block.header())) {
        PublishCommitted(resp.blocks[i].block.txs, header.timestamp_ms(), c, std::nullopt);
      }
      AfterCommit(ids, c, certs[i], false);
      ++i;
    }
    if (!committed.status.ok()) {
      CountFrameDrop("bad_state_block");
      spdlog::warn("state transfer: refused block {} from peer {}: {}", heights[i], peer,
                   committed.status.ToString());
      if (committed.status.code() != StatusCode::kInvalidArgument) {
        Fatal("committing block " + std::to_string(heights[i]) + ": " +
              committed.status.ToString());
      }
      break;
    }
  }
  if (applied > 0) {
    spdlog::info("state transfer: applied blocks {}..{} from peer {} (peer height {})", first,
                 first + applied - 1, peer, resp.peer_height.value());
  }
  return applied;
}

// ---- Backups ----

Status NodeImpl::Backup() {
  std::lock_guard lock(backup_mu_);
  const std::string dir = config_.BackupDir();
  const auto start = std::chrono::steady_clock::now();
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  spdlog::info("backup: writing a checkpoint under {}", dir);
  Result<BackupResult> r =
      WriteBackup(*rocks_, genesis_, *verifier_, dir, config_.backup.keep, now_ms);
  if (!r.ok()) {
    m_->Backups("failed").Inc();
    spdlog::error("backup: failed: {}", r.status().ToString());
    return r.status();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m_->Backups("ok").Inc();
  m_->backup_last_height.Set(static_cast<double>(r->height));
  m_->backup_last_timestamp.Set(static_cast<double>(now_ms) / 1000.0);
  m_->backup_last_bytes.Set(static_cast<double>(r->bytes));
  spdlog::info("backup: wrote {} (height {}, tip {}, {:.1f} MB, {:.2f} s, checked)", r->path,
               r->height, HexEncode(r->tip_hash).substr(0, 16), static_cast<double>(r->bytes) / 1e6,
               secs);
  for (const std::string& old : r->removed) {
    spdlog::info("backup: removed {} (keeping the newest {})", old, config_.backup.keep);
  }
  return Status::Ok();
}

// ---- API TLS ----

Status NodeImpl::ReloadApiTls() {
  if (!config_.api_tls) {
    spdlog::info("api tls: reload asked (SIGHUP), but the API has no [api.tls]: nothing to reload");
    return FailedPrecondition("the API serves plain HTTP (no [api.tls] in " + config_.config_path +
                              ")");
  }
  std::lock_guard lock(api_tls_mu_);
  if (http_ == nullptr) return FailedPrecondition("the API server has not started");
  const ApiTlsConfig& files = *config_.api_tls;
  spdlog::info("api tls: reloading the certificate chain {} and the key {}", files.cert_chain_path,
               files.key_path);
  // Every check of the start (PEM, key mode 0600, the key is the certificate's, ...) applies; the
  // server changes only once the new context is complete, so a bad file never leaves it without
  // a certificate.
  auto tls = crypto::MakeApiServerTlsContext(files.cert_chain_path, files.key_path);
  Status failure = tls.status();
  std::shared_ptr<SSL_CTX> context;
  crypto::ApiTlsCertificateInfo cert;
  if (failure.ok()) {
    auto info = crypto::ApiTlsCertificateOf(tls->get());
    failure = info.status();
    if (failure.ok()) {
      cert = std::move(info).value();
      context = std::shared_ptr<SSL_CTX>(std::move(tls).value());
      failure = http_->SetTlsContext(context);
    }
  }
  if (!failure.ok()) {
    m_->ApiTlsReloads("failed").Inc();
    spdlog::error(
        "api tls: reload failed; still serving the previous certificate {} (serial {}): {}",
        api_tls_cert_.subject, api_tls_cert_.serial_hex, failure.ToString());
    return failure;
  }
  api_tls_context_ = std::move(context);
  api_tls_cert_ = std::move(cert);
  // The gauge before the counter: whoever sees the reload counted sees the new expiry.
  ReportApiTlsCertificate(api_tls_cert_, "reloaded");
  m_->ApiTlsReloads("ok").Inc();
  return Status::Ok();
}

void NodeImpl::ReportApiTlsCertificate(const crypto::ApiTlsCertificateInfo& cert,
                                       std::string_view when) {
  m_->ApiTlsCertExpiry().Set(static_cast<double>(cert.not_after_s));
  const int64_t now_s = SystemClock().NowMs() / 1000;
  const double days_left = static_cast<double>(cert.not_after_s - now_s) / 86'400.0;
  // The node serves an expired or nearly expired certificate all the same: refusing to start or
  // to reload would turn a certificate problem into an outage, and the operator decides.
  if (cert.not_after_s <= now_s) {
    spdlog::error(
        "api tls: {} certificate {} (issuer {}, serial {}) EXPIRED at {} ({:.1f} days ago): "
        "clients will refuse it; replace the files and send SIGHUP",
        when, cert.subject, cert.issuer, cert.serial_hex, UtcTime(cert.not_after_s), -days_left);
  } else if (cert.not_after_s - now_s < kApiTlsExpiryWarningDays * 86'400) {
    spdlog::warn(
        "api tls: {} certificate {} (issuer {}, serial {}) expires at {}, in {:.1f} days: renew "
        "it, replace the files and send SIGHUP",
        when, cert.subject, cert.issuer, cert.serial_hex, UtcTime(cert.not_after_s), days_left);
  } else {
    spdlog::info("api tls: {} certificate {} (issuer {}, serial {}), valid until {} ({:.0f} days)",
                 when, cert.subject, cert.issuer, cert.serial_hex, UtcTime(cert.not_after_s),
                 days_left);
  }
}

// ---- Node ----

Node::Node(std::unique_ptr<NodeImpl> impl) : impl_(std::move(impl)) {}
Node::~Node() { Stop(); }

Result<std::unique_ptr<Node>> Node::Create(const NodeConfig& config) {
  auto impl = std::make_unique<NodeImpl>(config);
  HC_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Status Node::Start() { return impl_->Start(); }
void Node::Stop() { impl_->Stop(); }
bool Node::failed() const { return impl_->failed_.load(); }
Status Node::Backup() { return impl_->Backup(); }
Status Node::ReloadApiTls() { return impl_->ReloadApiTls(); }
uint16_t Node::api_port() const { return impl_->http_ ? impl_->http_->port() : 0; }
uint16_t Node::p2p_port() const { return impl_->transport_ ? impl_->transport_->listen_port() : 0; }

}  // namespace hc::node
