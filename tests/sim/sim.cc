#include "tests/sim/sim.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <type_traits>

#include "common/encoding.h"
#include "consensus/signing.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"

namespace hc::sim {

using consensus::Actions;
using consensus::CertifiedBlock;
using consensus::Checkpoint;
using consensus::Commit;
using consensus::NewView;
using consensus::Prepare;
using consensus::PrePrepare;
using consensus::StateRequest;
using consensus::StateResponse;
using consensus::ViewChange;

namespace {

constexpr int64_t kStartMs = 1'000'000;  // simulated epoch: keeps skewed clocks positive

std::string Short(const Hash32& h) { return HexEncode(ByteView(h.data(), 4)); }

}  // namespace

std::string_view ByzantineName(Byzantine b) {
  switch (b) {
    case Byzantine::kNone:
      return "correct";
    case Byzantine::kSilent:
      return "silent";
    case Byzantine::kEquivocate:
      return "equivocate";
    case Byzantine::kDoubleVote:
      return "double-vote";
    case Byzantine::kGarbage:
      return "garbage";
    case Byzantine::kBadNewView:
      return "bad-new-view";
  }
  return "?";
}

consensus::Config SimOptions::DefaultConfig() {
  consensus::Config c;
  c.chain_id = "hc-sim";
  c.genesis.hash = crypto::Sha256(AsBytes("hc-sim-genesis"));
  c.genesis.timestamp_ms = kStartMs;
  c.batch_txs_max = 8;
  c.batch_bytes_max = 1 << 20;
  c.batch_delay_ms = 5;
  c.window = 16;
  c.checkpoint_interval = 4;
  c.exec_lag_max = 16;
  c.view_change_timeout_ms = 300;
  c.view_change_timeout_max_ms = 2400;
  c.censorship_timeout_ms = 1500;
  c.retransmit_interval_ms = 200;
  c.state_transfer_timeout_ms = 300;
  c.timestamp_drift_ms = 30'000;
  c.empty_block_delay_ms = 200;
  c.status_interval_ms = 1000;
  return c;
}

// ============================================================================================
// Set-up
// ============================================================================================

Simulation::Simulation(SimOptions options) : options_(std::move(options)), rng_(options_.seed) {
  const uint32_t n = options_.n;
  config_template_ = options_.config;
  config_template_.validators.clear();
  verifier_ = options_.real_sigs ? crypto::MakeEd25519Verifier() : crypto::MakeFakeVerifier();
  for (uint32_t i = 0; i < n; ++i) {
    nodes_.emplace_back(config_template_.genesis);
    Node& node = nodes_.back();
    node.id = i;
    // Keys derive from the seed, so a replay signs exactly the same bytes.
    const std::string key_seed =
        "hc-sim-key/" + std::to_string(options_.seed) + "/" + std::to_string(i);
    const Hash32 seed32 = crypto::Sha256(AsBytes(key_seed));
    if (options_.real_sigs) {
      auto kp = crypto::Ed25519FromSeed(seed32);
      HC_ASSERT(kp.ok());
      config_template_.validators.push_back(kp->public_key);
      node.signer = crypto::MakeEd25519Signer(std::move(kp->secret_key));
    } else {
      consensus::PublicKey pk;
      std::copy(seed32.begin(), seed32.end(), pk.begin());
      config_template_.validators.push_back(pk);
      node.signer = crypto::MakeFakeSigner(pk);
    }
  }
  clock_skew_ms_.resize(n);
  extra_delay_ms_.assign(n, 0);
  partition_group_.assign(n, -1);
  for (uint32_t i = 0; i < n; ++i) {
    clock_skew_ms_[i] =
        static_cast<int64_t>(Rand(2 * options_.clock_skew_max_ms + 1)) - options_.clock_skew_max_ms;
  }
  now_ms_ = kStartMs;
  for (uint32_t i = 0; i < n; ++i) Restart(i);
}

Simulation::~Simulation() = default;

void Simulation::Trace(const std::string& line) const {
  if (options_.trace) std::cerr << "[" << (now_ms_ - kStartMs) << "ms] " << line << "\n";
}

void Simulation::TraceSend(uint32_t node, const Message& msg) const {
  std::string d;
  if (const auto* pp = std::get_if<PrePrepare>(&msg)) {
    d = "PRE-PREPARE v=" + std::to_string(pp->view.value()) +
        " s=" + std::to_string(pp->seq.value()) + " " + Short(pp->block_hash);
  } else if (const auto* vc = std::get_if<ViewChange>(&msg)) {
    d = "VIEW-CHANGE to v=" + std::to_string(vc->new_view.value()) +
        " stable=" + std::to_string(vc->stable_seq.value()) +
        " certs=" + std::to_string(vc->prepared.size());
  } else if (const auto* nv = std::get_if<NewView>(&msg)) {
    d = "NEW-VIEW v=" + std::to_string(nv->view.value()) + " O={";
    for (const PrePrepare& x : nv->pre_prepares) {
      d += std::to_string(x.seq.value()) + ":" + Short(x.block_hash) + " ";
    }
    d += "}";
  } else {
    return;
  }
  Trace("node " + std::to_string(node) + " broadcasts " + d);
}

void Simulation::Violation(std::string what) {
  Trace("VIOLATION " + what);
  if (violations_.size() < 20) violations_.push_back(std::move(what));
}

// ============================================================================================
// Events
// ============================================================================================

void Simulation::Schedule(Event e) {
  e.seq = event_seq_++;
  queue_.push(std::move(e));
}

void Simulation::At(int64_t t_ms, std::function<void()> fn) {
  Event e;
  e.t = std::max(t_ms, now_ms_);
  e.kind = Event::Kind::kCall;
  e.fn = std::move(fn);
  Schedule(std::move(e));
}

void Simulation::RunUntil(int64_t t_ms) {
  RunUntil([] { return false; }, t_ms);
}

bool Simulation::RunUntil(const std::function<bool()>& done, int64_t deadline_ms) {
  while (!queue_.empty() && queue_.top().t <= deadline_ms) {
    if (done()) return true;
    Event e = queue_.top();
    queue_.pop();
    now_ms_ = std::max(now_ms_, e.t);
    ++stats_.events;
    RunEvent(e);
  }
  now_ms_ = std::max(now_ms_, deadline_ms);
  return done();
}

void Simulation::RunEvent(const Event& e) {
  switch (e.kind) {
    case Event::Kind::kCall:
      e.fn();
      return;
    case Event::Kind::kTick: {
      Node& node = nodes_[e.to];
      if (node.replica && e.gen == node.timer_gen) Tick(e.to);
      return;
    }
    case Event::Kind::kDeliver:
      Deliver(e.from, e.to, e.msg);
      return;
    case Event::Kind::kRelay:
      if (!up(e.to) || !Connected(e.from, e.to)) return;
      Admit(e.to, e.tx_id, e.tx, e.from);
      return;
  }
}

void Simulation::Tick(uint32_t node) {
  Node& n = nodes_[node];
  n.last_tick_ms = now_ms_;
  Process(node, n.replica->OnTick(NodeTime(node)));
}

void Simulation::TickIfStale(uint32_t node) {
  if (nodes_[node].replica && now_ms_ - nodes_[node].last_tick_ms >= 5) Tick(node);
}

// ============================================================================================
// The driver: apply a replica's actions in order (actions.h)
// ============================================================================================

void Simulation::Process(uint32_t node, Actions actions, bool top_level) {
  Node& n = nodes_[node];
  size_t limit = actions.size();
  bool crash_after = false;
  if (top_level && n.crash_during_next_step && !actions.empty()) {
    n.crash_during_next_step = false;
    limit = Rand(actions.size());  // a strict prefix: the crash hits before action `limit`
    crash_after = true;
  }
  for (size_t i = 0; i < limit; ++i) {
    if (!n.replica) return;
    consensus::Action& a = actions[i];
    if (auto* p = std::get_if<consensus::PersistAction>(&a)) {
      consensus::ApplyRecord(n.store, p->record);
    } else if (auto* s = std::get_if<consensus::SendAction>(&a)) {
      Transmit(node, s->to.value(), std::make_shared<const Message>(std::move(s->message)));
    } else if (auto* b = std::get_if<consensus::BroadcastAction>(&a)) {
      if (const auto* pp = std::get_if<consensus::PrePrepare>(&b->message); pp && IsCorrect(node)) {
        CheckProposalIsFresh(node, *pp);
      }
      auto msg = std::make_shared<const Message>(std::move(b->message));
      if (options_.trace) TraceSend(node, *msg);
      for (uint32_t to = 0; to < options_.n; ++to) {
        if (to != node) Transmit(node, to, msg);
      }
    } else if (auto* c = std::get_if<consensus::CommitAction>(&a)) {
      DoCommit(node, c->block, c->tx_ids);
    } else if (auto* fb = std::get_if<consensus::FetchBlocksAction>(&a)) {
      auto msg = std::make_shared<const Message>(
          StateRequest{fb->from_height, fb->to_height, ReplicaId(node)});
      Transmit(node, fb->peer.value(), msg);
    } else if (auto* t = std::get_if<consensus::SetTimerAction>(&a)) {
      Event e;
      e.kind = Event::Kind::kTick;
      e.to = node;
      e.gen = ++n.timer_gen;
      e.t = std::max(now_ms_, t->deadline_ms - clock_skew_ms_[node]);
      Schedule(std::move(e));
    }
  }
  if (crash_after) {
    Trace("node " + std::to_string(node) + " crashed mid-step after " + std::to_string(limit) +
          "/" + std::to_string(actions.size()) + " actions");
    Crash(node);
    return;
  }
  // Execution reports go back only once the whole vector is applied, as the node's executor
  // thread would post them (never re-enter the replica in the middle of its own actions).
  if (top_level) {
    while (n.replica && !n.executed_unreported.empty()) {
      const ExecSummary s = n.executed_unreported.front();
      n.executed_unreported.erase(n.executed_unreported.begin());
      Process(node, n.replica->OnBlockExecuted(s), /*top_level=*/false);
    }
  }
}

void Simulation::CheckProposalIsFresh(uint32_t node, const consensus::PrePrepare& pp) {
  // Checker: a correct primary never proposes a tx it has itself committed (pbft.md R3: the
  // CommitAction hides a block's txs before the next proposal). A primary that has not yet
  // learned of a commit may repeat a tx; the ledger then records a replay (R5).
  const Node& n = nodes_[node];
  // Only its own fresh proposals: a NEW-VIEW re-proposes blocks of earlier views as they were.
  Result<HeaderInfo> header = n.app->DecodeHeader(pp.block.header);
  if (!header.ok() || header->proposer.value() != node || header->view != pp.view) return;
  // At the moment it proposes, not when it re-sends the proposal later.
  if (!proposals_checked_.emplace(node, pp.view.value(), pp.seq.value()).second) return;
  for (const TxId& id : n.app->TxIds(pp.block)) {
    auto it = n.ledger.tx_height.find(id);
    if (it != n.ledger.tx_height.end()) {
      Violation("repeat: correct primary " + std::to_string(node) + " proposed tx " + Short(id) +
                " at seq " + std::to_string(pp.seq.value()) + ", which it committed at height " +
                std::to_string(it->second));
    }
  }
}

void Simulation::DoCommit(uint32_t node, const CertifiedBlock& block,
                          const std::vector<TxId>& tx_ids) {
  Node& n = nodes_[node];
  const Height h = block.certificate.height;
  const bool correct = n.byzantine == Byzantine::kNone;
  // Checker: certificates. Every committed block carries 2f+1 valid COMMITs of one view.
  if (correct) {
    const Status st = consensus::CheckCertifiedBlock(block, h, config_template_.chain_id,
                                                     config_template_.validators, f(), *verifier_);
    if (!st.ok()) {
      Violation("certificate: node " + std::to_string(node) + " height " +
                std::to_string(h.value()) + ": " + st.ToString());
    }
  }
  if (h != n.ledger.height().Next()) {
    Violation("order: node " + std::to_string(node) + " committed height " +
              std::to_string(h.value()) + " after " + std::to_string(n.ledger.height().value()));
    return;
  }
  Result<HeaderInfo> header = n.app->DecodeHeader(block.block.header);
  if (!header.ok()) {
    Violation("node " + std::to_string(node) + " committed an undecodable header");
    return;
  }
  if (header->prev_block_hash != n.ledger.tip().block_hash) {
    Violation("chain: node " + std::to_string(node) + " height " + std::to_string(h.value()) +
              " does not link to its parent");
  }
  // Checker: agreement. No two correct replicas commit different blocks at one height.
  if (correct) {
    auto [it, inserted] = committed_hash_.emplace(h.value(), block.certificate.block_hash);
    if (!inserted && it->second != block.certificate.block_hash) {
      Violation("agreement: node " + std::to_string(node) + " committed " +
                Short(block.certificate.block_hash) + " at height " + std::to_string(h.value()) +
                ", another correct replica committed " + Short(it->second));
    }
  }
  const std::vector<TxId> ids = n.app->TxIds(block.block);
  if (tx_ids != ids) {
    Violation("node " + std::to_string(node) + "'s CommitAction at height " +
              std::to_string(h.value()) + " names other tx ids than its block's txs");
  }
  // Checker: validity. Every committed tx was submitted by a client.
  for (const TxId& id : ids) {
    if (!submitted_.contains(id)) {
      Violation("validity: node " + std::to_string(node) + " committed unsubmitted tx " +
                Short(id));
    }
  }
  for (const TxId& id : ids) {
    if (submitted_.contains(id) && !n.ledger.tx_height.contains(id)) ++n.submitted_committed;
    if (correct) committed_anywhere_.insert(id);
    n.mempool.Remove(id);
  }
  const ExecSummary summary = n.ledger.Execute(block, *header, ids);
  stats_.max_height = std::max(stats_.max_height, summary.height.value());
  Trace("node " + std::to_string(node) + " commit h=" + std::to_string(h.value()) +
        " v=" + std::to_string(block.certificate.view.value()) + " " +
        Short(block.certificate.block_hash) + " txs=" + std::to_string(ids.size()));
  n.executed_unreported.push_back(summary);
}

// ============================================================================================
// Network
// ============================================================================================

bool Simulation::Connected(uint32_t a, uint32_t b) const {
  if (!partitioned_) return true;
  return partition_group_[a] >= 0 && partition_group_[a] == partition_group_[b];
}

void Simulation::CheckVote(uint32_t node, const Message& msg) {
  // Checker: a correct replica never signs two digests for one (view, seq), restarts included.
  const Node& n = nodes_[node];
  if (n.byzantine != Byzantine::kNone || n.amnesiac) return;
  auto check = [&](const char* kind, ViewNumber v, SeqNumber s, const Hash32& d) {
    std::string key =
        std::to_string(node) + kind + std::to_string(v.value()) + "/" + std::to_string(s.value());
    auto [it, inserted] = votes_.emplace(std::move(key), d);
    if (!inserted && it->second != d) {
      Violation(std::string("equivocation: correct node ") + std::to_string(node) + " signed two " +
                kind + " digests for view " + std::to_string(v.value()) + " seq " +
                std::to_string(s.value()));
    }
  };
  if (const auto* pp = std::get_if<PrePrepare>(&msg)) {
    check("pp", pp->view, pp->seq, pp->block_hash);
  } else if (const auto* p = std::get_if<Prepare>(&msg)) {
    check("p", p->view, p->seq, p->block_hash);
  } else if (const auto* c = std::get_if<Commit>(&msg)) {
    check("c", c->view, c->seq, c->block_hash);
  } else if (const auto* nv = std::get_if<NewView>(&msg)) {
    for (const PrePrepare& x : nv->pre_prepares) check("pp", x.view, x.seq, x.block_hash);
  }
}

void Simulation::Transmit(uint32_t from, uint32_t to, std::shared_ptr<const Message> msg) {
  if (observer_) observer_(from, *msg);
  CheckVote(from, *msg);
  if (nodes_[from].byzantine != Byzantine::kNone) {
    for (const auto& m : Mutate(from, to, msg)) Enqueue(from, to, m);
    return;
  }
  Enqueue(from, to, msg);
}

void Simulation::Enqueue(uint32_t from, uint32_t to, const std::shared_ptr<const Message>& msg) {
  ++stats_.messages;
  stats_.bytes += consensus::ApproxWireSize(*msg);
  if (!Connected(from, to)) return;
  if (filter_ && filter_(from, to, *msg)) return;
  const NetworkFaults& nf = options_.faults;
  if (nf.drop > 0 && RandUnit() < nf.drop) return;
  const int copies = (nf.duplicate > 0 && RandUnit() < nf.duplicate) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    int64_t delay =
        nf.delay_min_ms + static_cast<int64_t>(Rand(static_cast<uint64_t>(
                              std::max<int64_t>(1, nf.delay_max_ms - nf.delay_min_ms + 1))));
    if (nf.reorder > 0 && RandUnit() < nf.reorder) {
      delay += static_cast<int64_t>(Rand(static_cast<uint64_t>(nf.reorder_extra_ms) + 1));
    }
    delay += extra_delay_ms_[from] + extra_delay_ms_[to];
    Event e;
    e.t = now_ms_ + delay;
    e.kind = Event::Kind::kDeliver;
    e.from = from;
    e.to = to;
    e.msg = msg;
    Schedule(std::move(e));
  }
}

void Simulation::Inject(uint32_t from, uint32_t to, Message msg) {
  Event e;
  e.t = now_ms_ + 1;
  e.kind = Event::Kind::kDeliver;
  e.from = from;
  e.to = to;
  e.msg = std::make_shared<const Message>(std::move(msg));
  Schedule(std::move(e));
}

void Simulation::Deliver(uint32_t from, uint32_t to, const std::shared_ptr<const Message>& msg) {
  Node& n = nodes_[to];
  if (!n.replica || !Connected(from, to)) return;
  if (const auto* req = std::get_if<StateRequest>(msg.get())) {
    ServeStateRequest(to, from, *req);
    return;
  }
  TickIfStale(to);
  if (!n.replica) return;
  Process(to, n.replica->OnMessage(ReplicaId(from), *msg));
}

void Simulation::ServeStateRequest(uint32_t server, uint32_t client, const StateRequest& req) {
  // The node's ledger answers StateRequests (the replica never does).
  const Node& s = nodes_[server];
  StateResponse resp;
  resp.peer_height = s.ledger.height();
  if (req.from_height > Height(0) && req.to_height >= req.from_height &&
      req.to_height.value() - req.from_height.value() < consensus::kMaxFetchBlocks) {
    for (uint64_t h = req.from_height.value();
         h <= req.to_height.value() && h <= s.ledger.height().value(); ++h) {
      resp.blocks.push_back(s.ledger.blocks[h - 1]);
    }
  }
  Transmit(server, client, std::make_shared<const Message>(std::move(resp)));
}

// ============================================================================================
// Byzantine behaviour
// ============================================================================================

std::vector<std::shared_ptr<const Message>> Simulation::Mutate(
    uint32_t from, uint32_t to, const std::shared_ptr<const Message>& msg) {
  Node& n = nodes_[from];
  const std::string& chain = config_template_.chain_id;
  switch (n.byzantine) {
    case Byzantine::kNone:
      return {msg};
    case Byzantine::kSilent:
      return {};
    case Byzantine::kEquivocate: {
      // Half of the backups get a different block for the same (view, seq): same txs, the
      // timestamp moved by one millisecond, properly signed.
      const auto* pp = std::get_if<PrePrepare>(msg.get());
      if (pp == nullptr || to % 2 == 0) return {msg};
      Result<HeaderInfo> h = n.app->DecodeHeader(pp->block.header);
      if (!h.ok()) return {msg};
      HeaderInfo h2 = *h;
      h2.timestamp_ms += 1;
      PrePrepare alt = *pp;
      alt.block.header = EncodeFakeHeader(chain, h2, FakeTxsRoot(n.app->TxIds(pp->block)));
      alt.block_hash = consensus::BlockHash(alt.block.header);
      consensus::SignPrePrepare(*n.signer, chain, alt);
      return {std::make_shared<const Message>(std::move(alt))};
    }
    case Byzantine::kDoubleVote: {
      // Odd-numbered replicas get a vote for another digest first, then the real one.
      if (to % 2 == 0) return {msg};
      if (const auto* p = std::get_if<Prepare>(msg.get())) {
        Prepare alt = *p;
        alt.block_hash = crypto::Sha256(p->block_hash);
        consensus::SignPrepare(*n.signer, chain, alt);
        return {std::make_shared<const Message>(alt), msg};  // two votes, one signer
      }
      if (const auto* c = std::get_if<Commit>(msg.get())) {
        Commit alt = *c;
        alt.block_hash = crypto::Sha256(c->block_hash);
        consensus::SignCommit(*n.signer, chain, alt);
        return {std::make_shared<const Message>(alt), msg};
      }
      return {msg};
    }
    case Byzantine::kBadNewView: {
      // Backups must recompute the O set and refuse this one (R15).
      const auto* nv = std::get_if<NewView>(msg.get());
      if (nv == nullptr) return {msg};
      NewView bad = *nv;
      if (!bad.pre_prepares.empty() && Rand(2) == 0) {
        bad.pre_prepares.pop_back();  // "forgets" a prepared block
      } else {
        // Re-proposes an empty block where the O set has something, or beyond it.
        const SeqNumber seq =
            bad.pre_prepares.empty() ? SeqNumber(1) : bad.pre_prepares.back().seq.Next();
        HeaderInfo h;
        h.height = Height(seq.value());
        h.view = bad.view;
        h.proposer = ReplicaId(from);
        h.timestamp_ms = NodeTime(from);
        PrePrepare pp{bad.view, seq, {}, {}, {}};
        pp.block.header = EncodeFakeHeader(chain, h, FakeTxsRoot({}));
        pp.block_hash = consensus::BlockHash(pp.block.header);
        consensus::SignPrePrepare(*n.signer, chain, pp);
        bad.pre_prepares.push_back(std::move(pp));
      }
      consensus::SignNewView(*n.signer, chain, bad);
      return {std::make_shared<const Message>(std::move(bad))};
    }
    case Byzantine::kGarbage: {
      std::vector<std::shared_ptr<const Message>> out;
      if (RandUnit() < 0.3) out.push_back(std::make_shared<const Message>(RandomGarbage(from)));
      if (RandUnit() < 0.5) {
        Message m = *msg;
        std::visit(
            [&](auto& x) {
              using T = std::decay_t<decltype(x)>;
              if constexpr (requires { x.signature; }) x.signature[Rand(64)] ^= 0x40;
              if constexpr (std::is_same_v<T, StateResponse>) {
                for (CertifiedBlock& b : x.blocks) {
                  if (!b.certificate.signatures.empty()) b.certificate.signatures.pop_back();
                }
              }
            },
            m);
        out.push_back(std::make_shared<const Message>(std::move(m)));
      } else {
        out.push_back(msg);
      }
      return out;
    }
  }
  return {msg};
}

Message Simulation::RandomGarbage(uint32_t from) {
  Message m = RandomGarbageUnsigned(from);
  if (Rand(2) == 0) {
    // Validly signed nonsense: it must be caught by the checks after the signature.
    const crypto::Signer& signer = *nodes_[from].signer;
    const std::string& chain = config_template_.chain_id;
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, PrePrepare>) consensus::SignPrePrepare(signer, chain, x);
          if constexpr (std::is_same_v<T, Prepare>) consensus::SignPrepare(signer, chain, x);
          if constexpr (std::is_same_v<T, Commit>) consensus::SignCommit(signer, chain, x);
          if constexpr (std::is_same_v<T, Checkpoint>) consensus::SignCheckpoint(signer, chain, x);
          if constexpr (std::is_same_v<T, ViewChange>) consensus::SignViewChange(signer, chain, x);
          if constexpr (std::is_same_v<T, NewView>) consensus::SignNewView(signer, chain, x);
        },
        m);
  }
  return m;
}

Message Simulation::RandomGarbageUnsigned(uint32_t from) {
  const ReplicaId me(from);
  Hash32 h;
  for (auto& b : h) b = static_cast<uint8_t>(Rand(256));
  consensus::Signature sig;
  for (auto& b : sig) b = static_cast<uint8_t>(Rand(256));
  const ViewNumber v(Rand(4) == 0 ? Rand(1ull << 40) : Rand(8));
  const SeqNumber s(Rand(4) == 0 ? Rand(1ull << 40) : Rand(64));
  const ReplicaId who(Rand(4) == 0 ? static_cast<uint32_t>(Rand(1000)) : from);
  switch (Rand(8)) {
    case 0: {
      PrePrepare pp{v, s, h, {}, sig};
      pp.block.header = Bytes(Rand(2000), 0x5a);
      for (uint64_t i = 0, k = Rand(20); i < k; ++i)
        pp.block.txs.Mutable().push_back(Bytes(Rand(300), 1));
      return pp;
    }
    case 1:
      return Prepare{v, s, h, who, sig};
    case 2:
      return Commit{v, s, h, who, sig};
    case 3:
      return Checkpoint{s, h, h, h, who, sig};
    case 4: {
      ViewChange vc{v, s, {}, {}, who, sig};
      for (uint64_t i = 0, k = Rand(5); i < k; ++i) {
        vc.checkpoint_proof.push_back(Checkpoint{s, h, h, h, ReplicaId(i), sig});
      }
      for (uint64_t i = 0, k = Rand(3); i < k; ++i) {
        consensus::PreparedCertificate pc;
        pc.pre_prepare = PrePrepare{v, SeqNumber(s.value() + i), h, {}, sig};
        pc.prepares.push_back(Prepare{v, s, h, me, sig});
        vc.prepared.push_back(pc);
      }
      return vc;
    }
    case 5: {
      // A view this replica is primary of, so the NEW-VIEW checks past the sender are reached.
      const ViewNumber pv(v.value() * options_.n + from);
      NewView nv{pv, {}, {}, me, sig};
      nv.view_changes.push_back(ViewChange{pv, SeqNumber(0), {}, {}, me, sig});
      nv.pre_prepares.push_back(PrePrepare{pv, s, h, {}, sig});
      return nv;
    }
    case 6: {
      StateResponse r;
      r.peer_height = Height(Rand(1000));
      CertifiedBlock b;
      b.block.header = Bytes(Rand(100), 7);
      b.certificate = consensus::CommitCertificate{Height(Rand(40) + 1), v, h, {{me, sig}}};
      r.blocks.push_back(b);
      return r;
    }
    default:
      return StateRequest{Height(Rand(100)), Height(Rand(100000)), me};
  }
}

// ============================================================================================
// Clients and mempools
// ============================================================================================

TxId Simulation::SubmitTx(uint32_t node, uint32_t size) {
  if (size == 0) size = 60 + static_cast<uint32_t>(Rand(300));
  auto tx = std::make_shared<const Bytes>(MakeFakeTx(next_tx_number_++, size));
  const TxId id = FakeTxId(*tx);
  submitted_.emplace(id, tx);
  Trace("client submits tx " + Short(id) + " to node " + std::to_string(node));
  Admit(node, id, tx, node);
  At(now_ms_ + options_.client_retry_ms, [this, id] { ClientRetry(id); });
  return id;
}

void Simulation::SubmitTxsSpread(uint32_t count, int64_t from_ms, int64_t to_ms) {
  for (uint32_t i = 0; i < count; ++i) {
    const int64_t t =
        from_ms +
        static_cast<int64_t>(Rand(static_cast<uint64_t>(std::max<int64_t>(1, to_ms - from_ms))));
    const uint32_t node = static_cast<uint32_t>(Rand(options_.n));
    At(t, [this, node] { SubmitTx(node); });
  }
}

void Simulation::ClientRetry(const TxId& id) {
  if (committed_anywhere_.contains(id)) return;
  const uint32_t node = static_cast<uint32_t>(Rand(options_.n));
  Admit(node, id, submitted_.at(id), node);
  At(now_ms_ + options_.client_retry_ms, [this, id] { ClientRetry(id); });
}

void Simulation::Admit(uint32_t node, const TxId& id, const std::shared_ptr<const Bytes>& tx,
                       uint32_t relayer) {
  Node& n = nodes_[node];
  if (!n.replica || n.ledger.tx_height.contains(id)) return;
  const bool fresh = !n.mempool.Contains(id);
  if (fresh) n.mempool.Add(id, *tx);
  TickIfStale(node);
  if (!n.replica) return;
  Process(node, n.replica->OnTx(id, static_cast<uint32_t>(tx->size()), ReplicaId(relayer)));
  // The admitting node relays a client's tx to every validator (DESIGN.md §3, "Clients").
  if (relayer == node && n.byzantine != Byzantine::kSilent) {
    for (uint32_t to = 0; to < options_.n; ++to) {
      if (to == node || !Connected(node, to)) continue;
      if (relay_filter_ && relay_filter_(node, to, id)) continue;
      const NetworkFaults& nf = options_.faults;
      if (nf.drop > 0 && RandUnit() < nf.drop) continue;
      Event e;
      e.t =
          now_ms_ + nf.delay_min_ms +
          static_cast<int64_t>(Rand(static_cast<uint64_t>(std::max<int64_t>(1, nf.delay_max_ms)))) +
          extra_delay_ms_[node] + extra_delay_ms_[to];
      e.kind = Event::Kind::kRelay;
      e.from = node;
      e.to = to;
      e.tx = tx;
      e.tx_id = id;
      Schedule(std::move(e));
    }
  }
}

// ============================================================================================
// Faults
// ============================================================================================

void Simulation::Crash(uint32_t node, bool wipe) {
  Node& n = nodes_[node];
  Trace("node " + std::to_string(node) + (wipe ? " crashes and loses its disk" : " crashes"));
  n.replica.reset();
  n.app.reset();
  n.mempool = SimMempool{};
  n.executed_unreported.clear();
  ++n.timer_gen;
  if (wipe) {
    n.store = consensus::DurableState{};
    n.ledger = SimLedger(config_template_.genesis);
    n.submitted_committed = 0;
    n.amnesiac = true;
  }
}

void Simulation::CrashDuringNextStep(uint32_t node) { nodes_[node].crash_during_next_step = true; }

void Simulation::Restart(uint32_t node) {
  Node& n = nodes_[node];
  if (n.replica) return;
  Trace("node " + std::to_string(node) + " starts (stored view " +
        std::to_string(n.store.view.value()) + ", ledger height " +
        std::to_string(n.ledger.height().value()) + ")");
  consensus::Config config = config_template_;
  config.self = ReplicaId(node);
  n.app = std::make_unique<FakeApp>(config.chain_id, &n.ledger, &n.mempool);
  n.replica = std::make_unique<Replica>(std::move(config), *n.signer, *verifier_, *n.app, n.store,
                                        n.ledger.tip(), NodeTime(node));
  n.crash_during_next_step = false;
  Event e;
  e.t = now_ms_;
  e.kind = Event::Kind::kTick;
  e.to = node;
  e.gen = ++n.timer_gen;
  Schedule(std::move(e));
}

void Simulation::Partition(const std::vector<std::vector<uint32_t>>& groups) {
  partition_group_.assign(options_.n, -1);
  for (size_t g = 0; g < groups.size(); ++g) {
    for (uint32_t node : groups[g]) partition_group_[node] = static_cast<int32_t>(g);
  }
  partitioned_ = true;
  std::string desc;
  for (const auto& g : groups) {
    desc += "{";
    for (uint32_t x : g) desc += std::to_string(x) + " ";
    desc += "}";
  }
  Trace("partition " + desc);
}

void Simulation::Heal() {
  partitioned_ = false;
  partition_group_.assign(options_.n, -1);
  std::fill(extra_delay_ms_.begin(), extra_delay_ms_.end(), 0);
  Trace("network healed");
}

void Simulation::SetByzantine(uint32_t node, Byzantine behaviour) {
  nodes_[node].byzantine = behaviour;
}

// ============================================================================================
// Observers and liveness
// ============================================================================================

bool Simulation::AllCommitted() const {
  for (const Node& n : nodes_) {
    if (n.byzantine != Byzantine::kNone || !n.replica) continue;
    if (n.submitted_committed < submitted_.size()) return false;
  }
  return true;
}

ViewNumber Simulation::MaxView() const {
  ViewNumber v;
  for (const Node& n : nodes_) {
    if (n.byzantine == Byzantine::kNone && n.replica) v = std::max(v, n.replica->view());
  }
  return v;
}

uint64_t Simulation::TotalSignatureOps() const {
  uint64_t s = 0;
  for (const Node& n : nodes_) {
    if (n.replica) {
      s += n.replica->metrics().signatures_created + n.replica->metrics().signatures_verified;
    }
  }
  return s;
}

consensus::Metrics Simulation::TotalMetrics() const {
  consensus::Metrics t;
  for (const Node& n : nodes_) {
    if (!n.replica) continue;
    const consensus::Metrics& m = n.replica->metrics();
    for (size_t i = 0; i < consensus::kDropReasonCount; ++i) t.dropped[i] += m.dropped[i];
    t.messages_received += m.messages_received;
    t.messages_accepted += m.messages_accepted;
    t.sends += m.sends;
    t.broadcasts += m.broadcasts;
    t.signatures_created += m.signatures_created;
    t.signatures_verified += m.signatures_verified;
    t.blocks_proposed += m.blocks_proposed;
    t.blocks_committed += m.blocks_committed;
    t.txs_committed += m.txs_committed;
    t.view_changes_started += m.view_changes_started;
    t.new_views_installed += m.new_views_installed;
    t.checkpoints_stable += m.checkpoints_stable;
    t.state_transfer_requests += m.state_transfer_requests;
    t.state_transfer_blocks += m.state_transfer_blocks;
    t.retransmissions += m.retransmissions;
    t.censorship_view_changes += m.censorship_view_changes;
    t.tx_tracking_full += m.tx_tracking_full;
    t.pre_prepares_buffered += m.pre_prepares_buffered;
  }
  return t;
}

uint64_t Simulation::TotalCommittedBlocksMax() const { return stats_.max_height; }

std::string Simulation::Describe() const {
  std::ostringstream os;
  for (const Node& n : nodes_) {
    os << "  node " << n.id << " [" << ByzantineName(n.byzantine) << (n.amnesiac ? ",wiped" : "")
       << "] ";
    if (!n.replica) {
      os << "DOWN ledger=" << n.ledger.height().value() << "\n";
      continue;
    }
    const Replica& r = *n.replica;
    const consensus::Metrics& m = r.metrics();
    os << "view=" << r.view().value() << (r.view_active() ? "" : "(vc)")
       << " low=" << r.low_watermark().value() << " committed=" << r.committed_height().value()
       << " ledger=" << n.ledger.height().value() << " txs=" << n.submitted_committed << "/"
       << submitted_.size() << " tracked=" << r.tracked_txs() << " mempool=" << n.mempool.txs.size()
       << " vcs=" << m.view_changes_started << " nvs=" << m.new_views_installed
       << " st_blocks=" << m.state_transfer_blocks << " drops=" << m.TotalDropped();
    os << " [";
    for (size_t i = 0; i < consensus::kDropReasonCount; ++i) {
      if (m.dropped[i] > 0) {
        os << consensus::DropReasonName(static_cast<consensus::DropReason>(i)) << "="
           << m.dropped[i] << " ";
      }
    }
    os << "]\n";
  }
  return os.str();
}

bool Simulation::CheckLiveness(int64_t bound_ms) {
  const int64_t deadline = now_ms_ + bound_ms;
  if (RunUntil([this] { return AllCommitted() || !violations_.empty(); }, deadline)) {
    return violations_.empty();
  }
  uint64_t missing = 0;
  for (const auto& [id, tx] : submitted_) {
    if (!committed_anywhere_.contains(id)) ++missing;
  }
  Violation("liveness: not every submitted tx committed at every correct replica within " +
            std::to_string(bound_ms) + " ms after healing (" + std::to_string(missing) + " of " +
            std::to_string(submitted_.size()) + " committed nowhere)");
  return false;
}

// ============================================================================================
// The randomized sweep
// ============================================================================================

std::string ReplayCommand(uint64_t seed, uint32_t n, bool real_sigs) {
#ifdef HC_SIM_BINARY
  std::string cmd = HC_SIM_BINARY;
#else
  std::string cmd = "hc_sim";
#endif
  cmd += " --seeds 1 --from ";
  cmd += std::to_string(seed);
  cmd += " --n ";
  cmd += std::to_string(n);
  if (real_sigs) cmd += " --real-sigs";
  cmd += " --trace";
  return cmd;
}

SweepResult RunRandomScenario(uint64_t seed, uint32_t n, bool real_sigs, bool trace) {
  // The scenario is drawn from its own PRNG stream so that the simulation's draws do not shift it.
  std::mt19937_64 pick(seed * 0x9E3779B97F4A7C15ull + n);
  auto R = [&pick](uint64_t bound) { return bound == 0 ? 0 : pick() % bound; };
  SimOptions opt;
  opt.n = n;
  opt.seed = seed;
  opt.real_sigs = real_sigs;
  opt.trace = trace;
  NetworkFaults nf;
  const double drops[] = {0, 0, 0.01, 0.05, 0.1};
  nf.drop = drops[R(5)];
  nf.duplicate = R(3) == 0 ? 0.03 : 0;
  const int64_t delays[] = {3, 10, 30};
  nf.delay_max_ms = delays[R(3)];
  nf.reorder = R(2) == 0 ? 0.05 : 0;
  opt.faults = nf;
  // The replica configuration varies too: checkpoint interval, window, batching, timeouts.
  const uint32_t intervals[] = {2, 4, 8};
  opt.config.checkpoint_interval = intervals[R(3)];
  opt.config.window = opt.config.checkpoint_interval * (R(2) == 0 ? 2 : 4);
  opt.config.exec_lag_max = opt.config.window;
  const uint32_t batches[] = {1, 4, 8, 32};
  opt.config.batch_txs_max = batches[R(4)];
  const int64_t batch_delays[] = {0, 5, 20};
  opt.config.batch_delay_ms = batch_delays[R(3)];
  const int64_t vc_timeouts[] = {200, 300, 500};
  opt.config.view_change_timeout_ms = vc_timeouts[R(3)];
  opt.config.view_change_timeout_max_ms = 8 * opt.config.view_change_timeout_ms;
  const uint32_t pipelines[] = {0, 1, 2};
  opt.config.partial_batch_pipeline = pipelines[R(3)];
  Simulation sim(opt);
  const uint32_t f = sim.f();
  std::ostringstream scenario;
  scenario << "n=" << n << " interval=" << opt.config.checkpoint_interval
           << " window=" << opt.config.window << " batch=" << opt.config.batch_txs_max << "/"
           << opt.config.batch_delay_ms << "ms pipeline=" << opt.config.partial_batch_pipeline
           << " vc_timeout=" << opt.config.view_change_timeout_ms << "ms drop=" << nf.drop
           << " dup=" << nf.duplicate << " delay<=" << nf.delay_max_ms << " reorder=" << nf.reorder;

  const int64_t t0 = sim.now();
  const int64_t fault_end = t0 + 3000 + static_cast<int64_t>(R(4000));
  const uint32_t txs = 20 + static_cast<uint32_t>(R(50));
  sim.SubmitTxsSpread(txs, t0, fault_end);
  scenario << " txs=" << txs << " faults_for=" << (fault_end - t0) << "ms";

  // Byzantine replicas and empty-disk restarts share the budget f.
  uint32_t budget = f;
  std::vector<bool> faulty(n, false);
  const uint32_t byz = static_cast<uint32_t>(R(budget + 1));
  for (uint32_t i = 0; i < byz; ++i) {
    uint32_t node;
    do node = static_cast<uint32_t>(R(n));
    while (faulty[node]);
    faulty[node] = true;
    const Byzantine kinds[] = {Byzantine::kSilent, Byzantine::kEquivocate, Byzantine::kDoubleVote,
                               Byzantine::kGarbage, Byzantine::kBadNewView};
    const Byzantine b = kinds[R(5)];
    sim.SetByzantine(node, b);
    scenario << " byz" << node << "=" << ByzantineName(b);
  }
  budget -= byz;
  if (budget > 0 && R(4) == 0) {
    uint32_t node;
    do node = static_cast<uint32_t>(R(n));
    while (faulty[node]);
    faulty[node] = true;
    const int64_t at = t0 + static_cast<int64_t>(R(static_cast<uint64_t>(fault_end - t0)));
    const int64_t down = 200 + static_cast<int64_t>(R(2000));
    sim.At(at, [&sim, node] { sim.Crash(node, /*wipe=*/true); });
    sim.At(at + down, [&sim, node] { sim.Restart(node); });
    scenario << " wipe" << node << "@" << (at - t0);
  }
  const uint32_t events = static_cast<uint32_t>(R(7));
  for (uint32_t e = 0; e < events; ++e) {
    const int64_t at = t0 + static_cast<int64_t>(R(static_cast<uint64_t>(fault_end - t0)));
    const int64_t len = 100 + static_cast<int64_t>(R(2500));
    const uint32_t node = static_cast<uint32_t>(R(n));
    switch (R(6)) {
      case 0:  // crash and restart with the disk
        sim.At(at, [&sim, node] { sim.Crash(node); });
        sim.At(at + len, [&sim, node] { sim.Restart(node); });
        scenario << " crash" << node << "@" << (at - t0) << "+" << len;
        break;
      case 1:  // crash in the middle of a step
        sim.At(at, [&sim, node] { sim.CrashDuringNextStep(node); });
        sim.At(at + len, [&sim, node] { sim.Restart(node); });
        scenario << " midcrash" << node << "@" << (at - t0);
        break;
      case 2:  // isolate the current primary
        sim.At(at, [&sim, n] {
          const uint32_t p = static_cast<uint32_t>(sim.MaxView().value() % n);
          std::vector<uint32_t> rest;
          for (uint32_t i = 0; i < n; ++i) {
            if (i != p) rest.push_back(i);
          }
          sim.Partition({{p}, rest});
        });
        sim.At(at + len, [&sim] { sim.Heal(); });
        scenario << " isolate-primary@" << (at - t0) << "+" << len;
        break;
      case 3: {  // split in two halves (2/2 for n=4): no quorum anywhere
        std::vector<uint32_t> perm(n);
        for (uint32_t i = 0; i < n; ++i) perm[i] = i;
        for (uint32_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[R(i + 1)]);
        std::vector<uint32_t> a(perm.begin(), perm.begin() + n / 2);
        std::vector<uint32_t> b(perm.begin() + n / 2, perm.end());
        sim.At(at, [&sim, a, b] { sim.Partition({a, b}); });
        sim.At(at + len, [&sim] { sim.Heal(); });
        scenario << " split@" << (at - t0) << "+" << len;
        break;
      }
      case 4: {  // a slow replica that falls far behind (beyond its window)
        std::vector<uint32_t> rest;
        for (uint32_t i = 0; i < n; ++i) {
          if (i != node) rest.push_back(i);
        }
        sim.At(at, [&sim, rest] { sim.Partition({rest}); });
        sim.At(at + 2 * len, [&sim] { sim.Heal(); });
        scenario << " lag" << node << "@" << (at - t0) << "+" << 2 * len;
        break;
      }
      default:  // a slow link
        sim.At(at, [&sim, node] { sim.SetExtraDelay(node, 150); });
        sim.At(at + len, [&sim, node] { sim.SetExtraDelay(node, 0); });
        scenario << " slow" << node << "@" << (at - t0) << "+" << len;
        break;
    }
  }
  // The faults stop: heal, restart everything, calm the network. Byzantine replicas keep lying.
  sim.At(fault_end, [&sim, n] {
    sim.Heal();
    sim.SetFaults(NetworkFaults{});
    for (uint32_t i = 0; i < n; ++i) sim.Restart(i);
  });
  sim.RunUntil(fault_end);
  if (sim.ok()) sim.CheckLiveness(60'000);
  SweepResult result;
  result.ok = sim.ok();
  result.violations = sim.violations();
  result.scenario = scenario.str();
  result.state = sim.Describe();
  result.committed_blocks = sim.TotalCommittedBlocksMax();
  result.txs = sim.submitted();
  result.sim_ms = sim.now() - t0;
  result.metrics = sim.TotalMetrics();
  return result;
}

}  // namespace hc::sim
