#include "consensus/replica.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <type_traits>

#include "common/assert.h"
#include "consensus/oset.h"
#include "consensus/quorum.h"
#include "consensus/signing.h"

namespace hc::consensus {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

Block StripTxs(const Block& b) { return Block{b.header, {}}; }

// The view of a buffered normal-case message (only PRE-PREPARE / PREPARE / COMMIT are buffered).
ViewNumber NormalCaseView(const Message& m) {
  if (const auto* pp = std::get_if<PrePrepare>(&m)) return pp->view;
  if (const auto* p = std::get_if<Prepare>(&m)) return p->view;
  if (const auto* c = std::get_if<Commit>(&m)) return c->view;
  return ViewNumber(0);
}

}  // namespace

// ============================================================================================
// Construction and recovery (R21)
// ============================================================================================

Replica::Replica(Config config, const crypto::Signer& signer, const crypto::Verifier& verifier,
                 App& app, DurableState durable, const ExecSummary& executed, int64_t now_ms)
    : config_(std::move(config)),
      signer_(signer),
      verifier_(verifier),
      app_(app),
      pacemaker_(config_.view_change_timeout_ms, config_.view_change_timeout_max_ms),
      now_ms_(now_ms) {
  const Status valid = config_.Validate();
  HC_ASSERT_MSG(valid.ok(), valid.ToString());
  HC_ASSERT(signer_.public_key() == KeyOf(config_.self));
  const uint32_t n = config_.n();
  view_changes_.resize(n);
  max_view_claimed_.resize(n);
  last_new_view_sent_ms_.assign(n, INT64_MIN / 2);
  checkpoints_.resize(n);
  executed_ = executed;
  committed_ = ChainTip{executed.height, executed.block_hash, executed.timestamp_ms, 0};
  if (executed.height == Height(0)) {
    committed_.hash = config_.genesis.hash;
    committed_.timestamp_ms = config_.genesis.timestamp_ms;
  }
  last_commit_ms_ = now_ms;
  st_peer_cursor_ = config_.self.value();
  Recover(std::move(durable));
}

void Replica::Recover(DurableState durable) {
  // R21: resume exactly where the durable state says. View and view-change state first.
  view_ = durable.view;
  view_active_ = !durable.in_view_change;
  // A NEW-VIEW of the stored view is persisted only once it is accepted (or, by its primary,
  // built), before the view is marked active: a crash in between still means the view was
  // installed.
  if (durable.new_view && durable.new_view->view == view_) view_active_ = true;
  low_ = durable.stable_seq;
  stable_proof_ = durable.stable_proof;
  next_seq_ = SeqNumber(std::max(low_.value(), committed_.height.value()) + 1);
  if (durable.new_view && durable.new_view->view == view_ && view_active_) {
    installed_new_view_ = durable.new_view;
  }
  // Slots: own votes of view_ pin the digest this replica may vote for at (view_, seq).
  for (auto& [seq, ds] : durable.slots) {
    if (!InWindow(seq)) continue;
    Slot& slot = GetSlot(seq);
    slot.prepared_cert = ds.prepared;
    if (ds.own_pre_prepare && ds.own_pre_prepare->view == view_ && view_active_) {
      // The digest is pinned whatever happens; the proposal itself is re-sent only if it still
      // reads back (the node checks its store on open; the replica never asserts on disk input).
      slot.voted_digest = ds.own_pre_prepare->block_hash;
      next_seq_ = std::max(next_seq_, seq.Next());
      if (Result<HeaderInfo> h = app_.DecodeHeader(ds.own_pre_prepare->block.header); h.ok()) {
        slot.pre_prepare = ds.own_pre_prepare;
        slot.header = *h;
      }
    }
    if (ds.own_prepare && ds.own_prepare->view == view_) {
      slot.voted_digest = ds.own_prepare->block_hash;
      slot.own_prepare = ds.own_prepare;
      if (view_active_) slot.prepares[config_.self.value()] = *ds.own_prepare;
    }
    if (ds.own_commit && ds.own_commit->view == view_ && view_active_) {
      slot.own_commit = ds.own_commit;
      slot.commit_sent = true;
      slot.commits[config_.self.value()] = *ds.own_commit;
    }
    if (ds.prepared && ds.prepared->pre_prepare.view == view_ && view_active_ &&
        (!slot.voted_digest || *slot.voted_digest == ds.prepared->pre_prepare.block_hash)) {
      Result<HeaderInfo> h = app_.DecodeHeader(ds.prepared->pre_prepare.block.header);
      if (h.ok()) {
        slot.pre_prepare = ds.prepared->pre_prepare;
        slot.header = *h;
        for (const Prepare& p : ds.prepared->prepares) slot.prepares[p.replica.value()] = p;
        slot.prepared = true;
      }
    }
  }
  // The O set of the installed NEW-VIEW is validated and signed by the primary: restore it.
  if (installed_new_view_) {
    for (const PrePrepare& pp : installed_new_view_->pre_prepares) {
      if (!InWindow(pp.seq)) continue;
      Slot& slot = GetSlot(pp.seq);
      if (slot.pre_prepare) continue;
      if (slot.voted_digest && *slot.voted_digest != pp.block_hash) continue;
      Result<HeaderInfo> h = app_.DecodeHeader(pp.block.header);
      if (!h.ok()) continue;
      slot.pre_prepare = pp;
      slot.header = *h;
      if (IsPrimary()) {
        slot.voted_digest = pp.block_hash;
        next_seq_ = std::max(next_seq_, pp.seq.Next());
      }
    }
  }
  for (auto& [seq, slot] : slots_) {
    if (seq.value() <= committed_.height.value()) slot.committed = true;
    if (slot.pre_prepare) slot.tx_ids = app_.TxIds(slot.pre_prepare->block);
  }
  if (!view_active_) {
    if (durable.own_view_change && durable.own_view_change->new_view == view_) {
      view_changes_[config_.self.value()] = durable.own_view_change;
    }
    pacemaker_.Restart(now_ms_);
  }
  RecomputeInFlight();  // txs in restored proposals are not proposed again
  if (low_ > SeqNumber(committed_.height.value())) st_target_ = Height(low_.value());
  // Re-announce own votes / VIEW-CHANGE right away (first tick).
  retransmit_deadline_ms_ = now_ms_;
}

void Replica::Resume() {
  // R21, continued: what recovery could not do without emitting actions.
  const uint64_t interval = config_.checkpoint_interval;
  const SeqNumber c((executed_.height.value() / interval) * interval);
  if (c > low_) {
    if (std::optional<ExecSummary> s = app_.ExecutedSummary(Height(c.value()))) SendCheckpoint(*s);
  }
  if (!view_active_) {
    // Crashed between persisting the view and persisting our VIEW-CHANGE: nothing was sent yet, so
    // building it now signs nothing conflicting.
    if (!view_changes_[config_.self.value()]) StartViewChange(view_);
  } else {
    for (auto& [seq, slot] : slots_) {
      if (slot.pre_prepare && !slot.committed && !slot.own_prepare && !IsPrimary()) {
        SendPrepare(slot);
      }
      CheckPrepared(slot);
    }
    TrySendCommits();
    TryCommit();
  }
  if (st_target_ > committed_.height) RequestBlocks(st_target_);
}

// ============================================================================================
// Entry points
// ============================================================================================

void Replica::Begin(Actions& out) {
  HC_ASSERT(out_ == nullptr);  // entry points do not nest
  out_ = &out;
  committed_in_step_ = false;
  if (resume_pending_) {
    resume_pending_ = false;
    Resume();
  }
}

Actions Replica::Finish(bool tick) {
  UpdateTimers(tick);
  Actions out = std::move(*out_);
  out_ = nullptr;
  return out;
}

Actions Replica::OnMessage(ReplicaId from, const Message& msg) {
  Actions out;
  Begin(out);
  ++metrics_.messages_received;
  Dispatch(from, msg);
  return Finish();
}

void Replica::Dispatch(ReplicaId from, const Message& msg) {
  // R1: the transport authenticated `from`; it must be another validator.
  if (!IsPeer(from)) {
    Drop(DropReason::kUnknownSender);
    return;
  }
  std::visit(Overloaded{
                 [&](const PrePrepare& m) { HandlePrePrepare(from, m); },
                 [&](const Prepare& m) { HandlePrepare(from, m); },
                 [&](const Commit& m) { HandleCommit(from, m); },
                 [&](const Checkpoint& m) { HandleCheckpoint(from, m); },
                 [&](const ViewChange& m) { HandleViewChange(from, m); },
                 [&](const NewView& m) { HandleNewView(from, m); },
                 // R17: StateRequests are served by the node's ledger, never by the replica.
                 [&](const StateRequest&) { Drop(DropReason::kUnexpected); },
                 [&](const StateResponse& m) { HandleStateResponse(from, m); },
             },
             msg);
}

Actions Replica::OnTx(const TxId& id, uint32_t size_bytes, ReplicaId relayer) {
  Actions out;
  Begin(out);
  if (!IsMember(relayer)) {
    Drop(DropReason::kUnknownSender);
    return Finish();
  }
  auto it = txs_.find(id);
  if (it == txs_.end()) {
    if (txs_.size() >= kMaxTrackedTxs) {
      ++metrics_.tx_tracking_full;
      return Finish();
    }
    it = txs_.emplace(id, TrackedTx{}).first;
    it->second.size = size_bytes;
    if (in_flight_.contains(id)) {
      it->second.in_flight = true;
    } else {
      if (unproposed_count_ == 0) unproposed_since_ms_ = now_ms_;
      ++unproposed_count_;
      unproposed_bytes_ += size_bytes;
    }
  }
  TrackedTx& tx = it->second;
  tx.relayers |= uint64_t{1} << relayer.value();
  // R16: a tx that f+1 replicas relayed is known to at least one correct replica besides a
  // possibly faulty one; from now on the primary has censorship_timeout_ms to get it committed.
  if (!tx.quorum_relayed && static_cast<uint32_t>(std::popcount(tx.relayers)) >= config_.f() + 1) {
    tx.quorum_relayed = true;
    tx.censor_deadline_ms = now_ms_ + config_.censorship_timeout_ms;
    censor_queue_.emplace_back(tx.censor_deadline_ms, id);
  }
  MaybePropose();
  return Finish();
}

Actions Replica::OnTick(int64_t now_ms) {
  Actions out;
  Begin(out);
  now_ms_ = std::max(now_ms_, now_ms);
  // R20: the pacemaker's timer. In an active view it runs only while work is pending.
  if (pacemaker_.Expired(now_ms_)) {
    if (view_active_) {
      pacemaker_.OnTimeout();
      StartViewChange(view_.Next());
    } else {
      // Escalate to the next view only if a quorum really tried this one and its primary failed
      // us; a replica that started a view change alone (partitioned) waits for the others instead
      // of running ahead of them (R11).
      uint32_t at_or_above = 0;
      for (const auto& vc : view_changes_) {
        if (vc && vc->new_view >= view_) ++at_or_above;
      }
      if (at_or_above >= config_.quorum()) {
        pacemaker_.OnTimeout();
        StartViewChange(view_.Next());
      } else {
        pacemaker_.Restart(now_ms_);
      }
    }
  }
  if (view_active_) CheckCensorship();
  if (st_in_flight_ && now_ms_ >= st_deadline_ms_) {
    // R18: no answer in time: ask the next peer.
    st_in_flight_ = false;
    if (st_target_ > committed_.height) RequestBlocks(st_target_);
  }
  if (retransmit_deadline_ms_ && now_ms_ >= *retransmit_deadline_ms_) {
    retransmit_deadline_ms_.reset();
    Retransmit();
  }
  if (status_deadline_ms_ && now_ms_ >= *status_deadline_ms_) {
    status_deadline_ms_.reset();
    if (!Stuck()) SendStatus();
  }
  MaybePropose();
  return Finish(/*tick=*/true);
}

Actions Replica::OnBlockExecuted(const ExecSummary& summary) {
  Actions out;
  Begin(out);
  if (summary.height > executed_.height) {
    executed_ = summary;
    // R9: a checkpoint every checkpoint_interval blocks, over the executed state.
    if (summary.height.value() % config_.checkpoint_interval == 0 &&
        SeqNumber(summary.height.value()) > low_) {
      SendCheckpoint(summary);
    }
    RetryPendingPrePrepares();
    MaybePropose();
  }
  return Finish();
}

// ============================================================================================
// Output helpers
// ============================================================================================

void Replica::Broadcast(Message msg) {
  ++metrics_.broadcasts;
  Emit(BroadcastAction{std::move(msg)});
}

void Replica::Send(ReplicaId to, Message msg) {
  ++metrics_.sends;
  Emit(SendAction{to, std::move(msg)});
}

Replica::Slot& Replica::GetSlot(SeqNumber seq) {
  HC_ASSERT(InWindow(seq));
  auto [it, inserted] = slots_.try_emplace(seq);
  if (inserted) {
    it->second.seq = seq;
    it->second.committed = seq <= SeqNumber(committed_.height.value());
  }
  return it->second;
}

Replica::Slot* Replica::FindSlot(SeqNumber seq) {
  auto it = slots_.find(seq);
  return it == slots_.end() ? nullptr : &it->second;
}

DropReason Replica::CheckBlockLimits(const Block& block) const {
  if (block.header.size() > kMaxHeaderBytes) return DropReason::kTooLarge;
  if (block.txs.size() > config_.batch_txs_max) return DropReason::kTooLarge;
  uint64_t bytes = 0;
  for (const Bytes& tx : block.txs) {
    if (tx.size() > kMaxTxBytes) return DropReason::kTooLarge;
    bytes += tx.size();
  }
  if (bytes > config_.batch_bytes_max) return DropReason::kTooLarge;
  return DropReason::kCount;
}

// ============================================================================================
// Normal case
// ============================================================================================

std::optional<Replica::ParentInfo> Replica::ParentOf(SeqNumber seq) const {
  const Height parent(seq.value() - 1);
  if (parent == Height(0)) return ParentInfo{config_.genesis.hash, config_.genesis.timestamp_ms};
  if (parent <= committed_.height) {
    if (parent == committed_.height) return ParentInfo{committed_.hash, committed_.timestamp_ms};
    auto it = committed_log_.find(parent);
    if (it != committed_log_.end()) return ParentInfo{it->second.hash, it->second.timestamp_ms};
    if (std::optional<ExecSummary> s = app_.ExecutedSummary(parent)) {
      return ParentInfo{s->block_hash, s->timestamp_ms};
    }
    return std::nullopt;
  }
  auto it = slots_.find(SeqNumber(parent.value()));
  if (it != slots_.end() && it->second.pre_prepare) {
    return ParentInfo{it->second.pre_prepare->block_hash, it->second.header.timestamp_ms};
  }
  return std::nullopt;
}

void Replica::HandlePrePrepare(ReplicaId from, const PrePrepare& pp) {
  // R4: only the primary of the message's view proposes.
  if (from != PrimaryOf(pp.view)) return Drop(DropReason::kNotPrimary);
  if (pp.view < view_) return Drop(DropReason::kStaleView);
  if (const DropReason r = CheckBlockLimits(pp.block); r != DropReason::kCount) return Drop(r);
  if (pp.view == view_ && !view_active_) {
    if (future_messages_.size() >= kMaxFutureViewMessages) return Drop(DropReason::kBufferFull);
    future_messages_.emplace_back(from, pp);
    return;
  }
  if (BlockHash(pp.block.header) != pp.block_hash) return Drop(DropReason::kBadDigest);
  if (!Verified(VerifyPrePrepare(verifier_, config_.chain_id, KeyOf(from), pp))) {
    return Drop(DropReason::kBadSignature);
  }
  if (pp.view > view_) {
    NoteView(from, pp.view);
    return Drop(DropReason::kFutureView);
  }
  if (!InWindow(pp.seq)) return Drop(DropReason::kOutsideWindow);
  if (pp.seq <= SeqNumber(committed_.height.value())) return Drop(DropReason::kAlreadyCommitted);
  Slot& slot = GetSlot(pp.seq);
  // R4: at most one digest per (view, seq) — the first accepted, or the one we voted for before a
  // restart.
  if (slot.pre_prepare) {
    return Drop(slot.pre_prepare->block_hash == pp.block_hash ? DropReason::kDuplicate
                                                              : DropReason::kConflictingPrePrepare);
  }
  if (slot.voted_digest && *slot.voted_digest != pp.block_hash) {
    return Drop(DropReason::kConflictingPrePrepare);
  }
  if (TryAcceptPrePrepare(pp) == Accept::kAccepted) {
    ++metrics_.messages_accepted;
    RetryPendingPrePrepares();
  }
}

Replica::Accept Replica::TryAcceptPrePrepare(const PrePrepare& pp) {
  // R5: a backup checks the proposal's content before it prepares.
  Result<HeaderInfo> decoded = app_.DecodeHeader(pp.block.header);
  if (!decoded.ok()) {
    Drop(DropReason::kMalformed);
    return Accept::kDropped;
  }
  const HeaderInfo& h = *decoded;
  if (h.height != Height(pp.seq.value()) || h.view != pp.view || h.proposer != PrimaryOf(pp.view)) {
    Drop(DropReason::kMalformed);
    return Accept::kDropped;
  }
  if (h.exec_height >= h.height ||
      h.exec_height.value() + config_.exec_lag_max < h.height.value()) {
    Drop(DropReason::kBadExecState);
    return Accept::kDropped;
  }
  const std::optional<ParentInfo> parent = ParentOf(pp.seq);
  if (!parent || h.exec_height > executed_.height) {
    // The parent is not known yet, or our executor has not reached exec_height: wait (bounded:
    // one per seq in the window, current view only).
    if (!pending_pre_prepares_.contains(pp.seq)) {
      pending_pre_prepares_.emplace(pp.seq, pp);
      ++metrics_.pre_prepares_buffered;
    }
    return Accept::kBuffered;
  }
  if (h.prev_block_hash != parent->hash) {
    Drop(DropReason::kBadParent);
    return Accept::kDropped;
  }
  if (h.timestamp_ms < parent->timestamp_ms ||
      h.timestamp_ms > now_ms_ + config_.timestamp_drift_ms ||
      h.timestamp_ms < now_ms_ - config_.timestamp_drift_ms) {
    Drop(DropReason::kBadTimestamp);
    return Accept::kDropped;
  }
  const std::optional<ExecSummary> exec = app_.ExecutedSummary(h.exec_height);
  if (!exec || exec->log_size != h.log_size || exec->log_root != h.log_root) {
    Drop(DropReason::kBadExecState);
    return Accept::kDropped;
  }
  Result<std::vector<TxId>> ids = app_.CheckBlockBody(pp.block, h);
  if (!ids.ok()) {
    Drop(DropReason::kBadTxs);
    return Accept::kDropped;
  }
  AcceptPrePrepare(GetSlot(pp.seq), pp, h, std::move(ids).value());
  return Accept::kAccepted;
}

void Replica::AcceptPrePrepare(Slot& slot, const PrePrepare& pp, const HeaderInfo& header) {
  AcceptPrePrepare(slot, pp, header, app_.TxIds(pp.block));
}

void Replica::AcceptPrePrepare(Slot& slot, const PrePrepare& pp, const HeaderInfo& header,
                               std::vector<TxId> tx_ids) {
  HC_ASSERT(!slot.pre_prepare);
  HC_ASSERT(!slot.voted_digest || *slot.voted_digest == pp.block_hash);
  slot.pre_prepare = pp;
  slot.header = header;
  slot.tx_ids = std::move(tx_ids);
  pending_pre_prepares_.erase(pp.seq);
  if (!slot.committed) SetInFlight(slot.tx_ids, true);
  if (PrimaryOf(view_) == config_.self) {
    slot.voted_digest = pp.block_hash;
  } else {
    SendPrepare(slot);
  }
  CheckPrepared(slot);
}

void Replica::RetryPendingPrePrepares() {
  if (!view_active_) return;
  for (auto it = pending_pre_prepares_.begin(); it != pending_pre_prepares_.end();) {
    const SeqNumber seq = it->first;
    Slot* slot = InWindow(seq) ? FindSlot(seq) : nullptr;
    if (!InWindow(seq) || seq <= SeqNumber(committed_.height.value()) || it->second.view != view_ ||
        (slot && slot->pre_prepare) ||
        (slot && slot->voted_digest && *slot->voted_digest != it->second.block_hash)) {
      it = pending_pre_prepares_.erase(it);
      continue;
    }
    const PrePrepare pp = it->second;
    pending_pre_prepares_.erase(it);
    if (TryAcceptPrePrepare(pp) == Accept::kAccepted) ++metrics_.messages_accepted;
    it = pending_pre_prepares_.upper_bound(seq);
  }
}

void Replica::SendPrepare(Slot& slot) {
  const PrePrepare& pp = *slot.pre_prepare;
  // R21: never two digests for one (view, seq), not even across a restart.
  HC_ASSERT(!slot.voted_digest || *slot.voted_digest == pp.block_hash);
  if (slot.own_prepare && slot.own_prepare->view == view_) {
    Broadcast(*slot.own_prepare);  // restored after a restart: the same vote again
    return;
  }
  Prepare p{view_, pp.seq, pp.block_hash, config_.self, {}};
  SignPrepare(signer_, config_.chain_id, p);
  ++metrics_.signatures_created;
  slot.voted_digest = pp.block_hash;
  slot.own_prepare = p;
  slot.prepares[config_.self.value()] = p;
  Persist(OwnPrepareRecord{p});  // R21: durable before it leaves
  Broadcast(p);
}

void Replica::HandlePrepare(ReplicaId from, const Prepare& p) {
  if (p.replica != from) return Drop(DropReason::kSenderMismatch);
  if (p.view < view_) return Drop(DropReason::kStaleView);
  if (from == PrimaryOf(p.view)) return Drop(DropReason::kNotPrimary);
  if (p.view == view_ && !view_active_) {
    if (future_messages_.size() >= kMaxFutureViewMessages) return Drop(DropReason::kBufferFull);
    future_messages_.emplace_back(from, p);
    return;
  }
  if (!Verified(VerifyPrepare(verifier_, config_.chain_id, KeyOf(from), p))) {
    return Drop(DropReason::kBadSignature);
  }
  if (p.view > view_) {
    NoteView(from, p.view);
    return Drop(DropReason::kFutureView);
  }
  if (!InWindow(p.seq)) return Drop(DropReason::kOutsideWindow);
  // Votes for a sequence number we have committed are still kept: after a view change we vote on
  // the re-proposed blocks too, so that replicas that had not committed them can (R15).
  Slot& slot = GetSlot(p.seq);
  auto [it, inserted] = slot.prepares.try_emplace(from.value(), p);
  if (!inserted) {
    return Drop(it->second.block_hash == p.block_hash ? DropReason::kDuplicate
                                                      : DropReason::kConflictingVote);
  }
  ++metrics_.messages_accepted;
  CheckPrepared(slot);
}

void Replica::CheckPrepared(Slot& slot) {
  // R6: prepared = the PRE-PREPARE plus 2f matching PREPAREs from distinct backups.
  if (!slot.pre_prepare || slot.prepared) return;
  const Hash32& digest = slot.pre_prepare->block_hash;
  const ReplicaId primary = PrimaryOf(view_);
  SignerSet signers;
  std::vector<Prepare> matching;
  for (const auto& [id, p] : slot.prepares) {
    if (p.block_hash != digest || ReplicaId(id) == primary) continue;
    if (signers.Add(ReplicaId(id))) matching.push_back(p);
  }
  if (signers.Count() < 2 * config_.f()) return;
  slot.prepared = true;
  matching.resize(size_t{2} * config_.f());  // ordered by replica id (std::map): deterministic
  PreparedCertificate cert{*slot.pre_prepare, std::move(matching)};
  Persist(PreparedRecord{cert});  // R21: before the COMMIT that depends on it
  slot.prepared_cert = std::move(cert);
  TrySendCommits();
  TryCommit();
}

void Replica::TrySendCommits() {
  // R7: COMMIT for seq only once COMMIT for seq-1 was sent in this view, or seq-1 is committed or
  // stable. This keeps every committed block's ancestors prepared at f+1 correct replicas, which
  // is what makes the O set a hash chain (oset.h, R14).
  if (!view_active_) return;
  for (auto& [seq, slot] : slots_) {
    if (slot.commit_sent || (slot.committed && !slot.prepared)) continue;
    const SeqNumber prev(seq.value() - 1);
    bool order_ok = prev <= low_ || prev <= SeqNumber(committed_.height.value());
    if (!order_ok) {
      auto it = slots_.find(prev);
      order_ok = it != slots_.end() && it->second.commit_sent;
    }
    if (!order_ok) return;
    if (!slot.prepared) return;
    if (slot.own_commit && slot.own_commit->view == view_) {
      Broadcast(*slot.own_commit);
    } else {
      Commit c{view_, seq, slot.pre_prepare->block_hash, config_.self, {}};
      SignCommit(signer_, config_.chain_id, c);
      ++metrics_.signatures_created;
      slot.own_commit = c;
      slot.commits[config_.self.value()] = c;
      Persist(OwnCommitRecord{c});
      Broadcast(c);
    }
    slot.commit_sent = true;
  }
}

void Replica::HandleCommit(ReplicaId from, const Commit& c) {
  if (c.replica != from) return Drop(DropReason::kSenderMismatch);
  if (c.view < view_) return Drop(DropReason::kStaleView);
  if (c.view == view_ && !view_active_) {
    if (future_messages_.size() >= kMaxFutureViewMessages) return Drop(DropReason::kBufferFull);
    future_messages_.emplace_back(from, c);
    return;
  }
  if (!Verified(VerifyCommit(verifier_, config_.chain_id, KeyOf(from), c))) {
    return Drop(DropReason::kBadSignature);
  }
  if (c.view > view_) {
    NoteView(from, c.view);
    return Drop(DropReason::kFutureView);
  }
  if (!InWindow(c.seq)) return Drop(DropReason::kOutsideWindow);
  Slot& slot = GetSlot(c.seq);
  auto [it, inserted] = slot.commits.try_emplace(from.value(), c);
  if (!inserted) {
    return Drop(it->second.block_hash == c.block_hash ? DropReason::kDuplicate
                                                      : DropReason::kConflictingVote);
  }
  ++metrics_.messages_accepted;
  TryCommit();
}

void Replica::TryCommit() {
  // R8: committed = the block plus 2f+1 matching COMMITs of one view from distinct replicas; the
  // signatures are the commit certificate. Blocks are handed to the executor strictly in order.
  while (view_active_) {
    const SeqNumber seq(committed_.height.value() + 1);
    Slot* slot = InWindow(seq) ? FindSlot(seq) : nullptr;
    if (slot == nullptr || !slot->pre_prepare || slot->committed) return;
    const Hash32& digest = slot->pre_prepare->block_hash;
    SignerSet signers;
    std::vector<CommitSignature> sigs;
    for (const auto& [id, c] : slot->commits) {
      if (c.block_hash != digest) continue;
      if (signers.Add(ReplicaId(id))) sigs.push_back({ReplicaId(id), c.signature});
    }
    if (signers.Count() < config_.quorum()) return;
    if (slot->header.prev_block_hash != committed_.hash) {
      // Only possible with more than f faulty replicas; refuse to extend a broken chain.
      Drop(DropReason::kBadParent);
      return;
    }
    sigs.resize(config_.quorum());
    CertifiedBlock cb{slot->pre_prepare->block,
                      CommitCertificate{Height(seq.value()), view_, digest, std::move(sigs)}};
    const HeaderInfo header = slot->header;
    const std::vector<TxId> tx_ids = slot->tx_ids;
    CommitBlock(std::move(cb), header, tx_ids);
  }
}

void Replica::CommitBlock(CertifiedBlock block, const HeaderInfo& header,
                          const std::vector<TxId>& txs) {
  const Height height = block.certificate.height;
  HC_ASSERT_EQ(height, committed_.height.Next());
  const Hash32 hash = block.certificate.block_hash;
  Emit(CommitAction{std::move(block), txs});
  committed_ = ChainTip{height, hash, header.timestamp_ms, header.tx_count};
  committed_in_step_ = true;
  committed_log_[height] = committed_;
  while (committed_log_.size() > 2 * static_cast<size_t>(config_.window)) {
    committed_log_.erase(committed_log_.begin());
  }
  if (Slot* slot =
          InWindow(SeqNumber(height.value())) ? FindSlot(SeqNumber(height.value())) : nullptr) {
    slot->committed = true;
  }
  TrackTxsCommitted(txs);
  ++metrics_.blocks_committed;
  metrics_.txs_committed += txs.size();
  last_commit_ms_ = now_ms_;
  // R20: progress resets the backoff and restarts the timer.
  pacemaker_.OnProgress(now_ms_);
  if (retransmit_deadline_ms_) retransmit_deadline_ms_ = now_ms_ + config_.retransmit_interval_ms;
  if (next_seq_ <= SeqNumber(height.value())) next_seq_ = SeqNumber(height.value() + 1);
}

bool Replica::PartialBatchHeld() const {
  // R3: proposals in flight = sequence numbers proposed (or re-proposed in a NEW-VIEW) that this
  // replica has not yet executed; OnBlockExecuted releases the held batch.
  const uint64_t proposed = next_seq_.value() - 1;
  return config_.partial_batch_pipeline > 0 &&
         proposed >= executed_.height.value() + config_.partial_batch_pipeline;
}

bool Replica::EmptyBlockDue() const {
  // R3: an idle chain closes the gap between the last block and the log it certifies with one
  // empty block (DESIGN.md §2).
  return config_.empty_block_delay_ms > 0 && unproposed_count_ == 0 &&
         next_seq_ == SeqNumber(committed_.height.value() + 1) && committed_.tx_count > 0 &&
         executed_.height == committed_.height &&
         now_ms_ >= last_commit_ms_ + config_.empty_block_delay_ms;
}

void Replica::MaybePropose() {
  // R3: the primary proposes within the window, in sequence order, when a batch is full or its
  // oldest tx has waited batch_delay_ms.
  if (!view_active_ || !IsPrimary()) return;
  // The txs of a block committed in this step are still in the node's mempool until it applies
  // the CommitAction (which hides them): propose in a later step, never from a stale mempool.
  if (committed_in_step_) return;
  while (true) {
    const SeqNumber seq = next_seq_;
    if (!InWindow(seq)) return;
    if (executed_.height.value() + config_.exec_lag_max < seq.value()) return;
    const bool batch_full =
        unproposed_count_ >= config_.batch_txs_max || unproposed_bytes_ >= config_.batch_bytes_max;
    const bool batch_ready =
        batch_full || (unproposed_count_ > 0 && !PartialBatchHeld() &&
                       now_ms_ >= unproposed_since_ms_ + config_.batch_delay_ms);
    const bool empty_due = !batch_ready && EmptyBlockDue();
    if (!batch_ready && !empty_due) return;
    const std::optional<ParentInfo> parent = ParentOf(seq);
    if (!parent) return;
    if (Slot* s = FindSlot(seq); s != nullptr && (s->pre_prepare || s->voted_digest)) {
      next_seq_ = seq.Next();  // already proposed in this view (restored after a restart)
      continue;
    }
    ProposalRequest req;
    req.height = Height(seq.value());
    req.prev_block_hash = parent->hash;
    req.timestamp_ms = std::max(now_ms_, parent->timestamp_ms);
    req.view = view_;
    req.proposer = config_.self;
    req.exec = executed_;
    req.max_txs = batch_ready ? config_.batch_txs_max : 0;
    req.max_bytes = batch_ready ? config_.batch_bytes_max : 0;
    req.exclude = &in_flight_;
    Block block = app_.BuildBlock(req);
    if (batch_ready && block.txs.empty()) {
      // The mempool had nothing we track as unproposed (e.g. txs it already dropped): do not spin
      // proposing empty blocks; look again after another batch delay.
      unproposed_since_ms_ = now_ms_;
      return;
    }
    Result<HeaderInfo> header = app_.DecodeHeader(block.header);
    HC_ASSERT_MSG(header.ok(), "the App built a header it cannot decode");
    PrePrepare pp{view_, seq, BlockHash(block.header), std::move(block), {}};
    SignPrePrepare(signer_, config_.chain_id, pp);
    ++metrics_.signatures_created;
    ++metrics_.blocks_proposed;
    Persist(OwnPrePrepareRecord{pp});  // R21: a restarted primary re-sends this, never another
    Broadcast(pp);
    next_seq_ = seq.Next();
    AcceptPrePrepare(GetSlot(seq), pp, *header);
    if (unproposed_count_ > 0) unproposed_since_ms_ = now_ms_;
  }
}

// ============================================================================================
// Checkpoints and garbage collection
// ============================================================================================

void Replica::SendCheckpoint(const ExecSummary& summary) {
  Checkpoint cp{SeqNumber(summary.height.value()),
                summary.block_hash,
                summary.log_root,
                summary.state_digest,
                config_.self,
                {}};
  SignCheckpoint(signer_, config_.chain_id, cp);
  ++metrics_.signatures_created;
  StoreCheckpoint(cp);
  Broadcast(cp);
  CheckStable(cp.seq);
}

void Replica::StoreCheckpoint(const Checkpoint& cp) {
  std::vector<Checkpoint>& ring = checkpoints_[cp.replica.value()];
  for (Checkpoint& existing : ring) {
    if (existing.seq == cp.seq) return;
  }
  ring.push_back(cp);
  std::sort(ring.begin(), ring.end(),
            [](const Checkpoint& a, const Checkpoint& b) { return a.seq > b.seq; });
  if (ring.size() > kCheckpointsKeptPerReplica) ring.resize(kCheckpointsKeptPerReplica);
}

void Replica::HandleCheckpoint(ReplicaId from, const Checkpoint& cp) {
  if (cp.replica != from) return Drop(DropReason::kSenderMismatch);
  if (cp.seq == SeqNumber(0) || cp.seq.value() % config_.checkpoint_interval != 0) {
    return Drop(DropReason::kMalformed);
  }
  if (cp.seq <= low_) return Drop(DropReason::kOutsideWindow);
  for (const Checkpoint& existing : checkpoints_[from.value()]) {
    if (existing.seq == cp.seq) {
      return Drop(existing == cp ? DropReason::kDuplicate : DropReason::kConflictingVote);
    }
  }
  if (!Verified(VerifyCheckpoint(verifier_, config_.chain_id, KeyOf(from), cp))) {
    return Drop(DropReason::kBadSignature);
  }
  ++metrics_.messages_accepted;
  StoreCheckpoint(cp);
  CheckStable(cp.seq);
  CheckStateTransferTrigger();
}

void Replica::CheckStable(SeqNumber seq) {
  // R10: a checkpoint with 2f+1 matching signed digests is stable.
  if (seq <= low_) return;
  std::vector<const Checkpoint*> at_seq;
  for (const auto& ring : checkpoints_) {
    for (const Checkpoint& cp : ring) {
      if (cp.seq == seq) at_seq.push_back(&cp);
    }
  }
  for (const Checkpoint* candidate : at_seq) {
    std::vector<Checkpoint> proof;
    for (const Checkpoint* cp : at_seq) {
      if (cp->block_hash == candidate->block_hash && cp->log_root == candidate->log_root &&
          cp->state_digest == candidate->state_digest) {
        proof.push_back(*cp);
      }
    }
    if (proof.size() >= config_.quorum()) {
      std::sort(proof.begin(), proof.end(),
                [](const Checkpoint& a, const Checkpoint& b) { return a.replica < b.replica; });
      proof.resize(config_.quorum());
      AdvanceStable(seq, proof);
      return;
    }
  }
}

void Replica::AdvanceStable(SeqNumber seq, const std::vector<Checkpoint>& proof) {
  if (seq <= low_) return;
  // R10: persist, move the low watermark, and garbage-collect the log below it.
  Persist(StableCheckpointRecord{seq, proof});
  low_ = seq;
  stable_proof_ = proof;
  ++metrics_.checkpoints_stable;
  slots_.erase(slots_.begin(), slots_.upper_bound(seq));
  pending_pre_prepares_.erase(pending_pre_prepares_.begin(),
                              pending_pre_prepares_.upper_bound(seq));
  for (auto& ring : checkpoints_) {
    std::erase_if(ring, [&](const Checkpoint& cp) { return cp.seq < seq; });
  }
  if (next_seq_ <= seq) next_seq_ = seq.Next();
  // R17: stable beyond what we have committed: the blocks are only available certified now.
  if (SeqNumber(committed_.height.value()) < seq) StartStateTransfer(Height(seq.value()));
  TrySendCommits();
  RetryPendingPrePrepares();
  TryCommit();
}

DropReason Replica::CheckCheckpointProof(SeqNumber seq, const std::vector<Checkpoint>& proof) {
  if (seq == SeqNumber(0)) return proof.empty() ? DropReason::kCount : DropReason::kMalformed;
  if (seq.value() % config_.checkpoint_interval != 0) return DropReason::kMalformed;
  if (proof.size() > config_.n()) return DropReason::kTooLarge;
  if (proof.empty()) return DropReason::kBadCheckpointProof;
  SignerSet signers;
  const Checkpoint& first = proof.front();
  for (const Checkpoint& cp : proof) {
    if (!IsMember(cp.replica) || cp.seq != seq || cp.block_hash != first.block_hash ||
        cp.log_root != first.log_root || cp.state_digest != first.state_digest ||
        !signers.Add(cp.replica)) {
      return DropReason::kBadCheckpointProof;
    }
    if (!Verified(VerifyCheckpoint(verifier_, config_.chain_id, KeyOf(cp.replica), cp))) {
      return DropReason::kBadCheckpointProof;
    }
  }
  return signers.Count() >= config_.quorum() ? DropReason::kCount : DropReason::kBadCheckpointProof;
}

// ============================================================================================
// View change
// ============================================================================================

std::optional<Hash32> Replica::ParentHashOfCert(const PreparedCertificate& cert) const {
  Result<HeaderInfo> h = app_.DecodeHeader(cert.pre_prepare.block.header);
  if (!h.ok()) return std::nullopt;
  return h->prev_block_hash;
}

DropReason Replica::CheckPreparedCertificate(const PreparedCertificate& cert, bool body_required) {
  // R13: a PRE-PREPARE signed by its view's primary and 2f PREPAREs of distinct other replicas
  // for the same (view, seq, digest).
  const PrePrepare& pp = cert.pre_prepare;
  const ReplicaId primary = PrimaryOf(pp.view);
  if (cert.prepares.size() > config_.n()) return DropReason::kTooLarge;
  if (CheckBlockLimits(pp.block) != DropReason::kCount) return DropReason::kTooLarge;
  if (BlockHash(pp.block.header) != pp.block_hash) return DropReason::kBadPreparedCertificate;
  Result<HeaderInfo> h = app_.DecodeHeader(pp.block.header);
  if (!h.ok() || h->height != Height(pp.seq.value())) return DropReason::kBadPreparedCertificate;
  if (body_required && !app_.CheckBlockBody(pp.block, *h).ok()) return DropReason::kBadTxs;
  if (!Verified(VerifyPrePrepare(verifier_, config_.chain_id, KeyOf(primary), pp))) {
    return DropReason::kBadPreparedCertificate;
  }
  SignerSet signers;
  for (const Prepare& p : cert.prepares) {
    if (!IsMember(p.replica) || p.replica == primary || p.view != pp.view || p.seq != pp.seq ||
        p.block_hash != pp.block_hash || !signers.Add(p.replica)) {
      return DropReason::kBadPreparedCertificate;
    }
    if (!Verified(VerifyPrepare(verifier_, config_.chain_id, KeyOf(p.replica), p))) {
      return DropReason::kBadPreparedCertificate;
    }
  }
  return signers.Count() >= 2 * config_.f() ? DropReason::kCount
                                            : DropReason::kBadPreparedCertificate;
}

DropReason Replica::CheckViewChange(const ViewChange& vc, bool bodies_required) {
  if (!IsMember(vc.replica)) return DropReason::kUnknownSender;
  if (vc.prepared.size() > config_.window || vc.checkpoint_proof.size() > config_.n()) {
    return DropReason::kTooLarge;
  }
  if (!Verified(VerifyViewChange(verifier_, config_.chain_id, KeyOf(vc.replica), vc))) {
    return DropReason::kBadSignature;
  }
  if (const DropReason r = CheckCheckpointProof(vc.stable_seq, vc.checkpoint_proof);
      r != DropReason::kCount) {
    return r;
  }
  SeqNumber prev = vc.stable_seq;
  for (const PreparedCertificate& cert : vc.prepared) {
    const PrePrepare& pp = cert.pre_prepare;
    if (pp.seq <= prev || pp.seq.value() > vc.stable_seq.value() + config_.window ||
        pp.view >= vc.new_view) {
      return DropReason::kMalformed;
    }
    prev = pp.seq;
    if (const DropReason r = CheckPreparedCertificate(cert, bodies_required);
        r != DropReason::kCount) {
      return r;
    }
  }
  return DropReason::kCount;
}

void Replica::HandleViewChange(ReplicaId from, const ViewChange& vc) {
  // R13. VIEW-CHANGEs may be relayed (R19), so the signer is vc.replica, not necessarily `from`.
  if (!IsMember(vc.replica)) return Drop(DropReason::kUnknownSender);
  if (vc.replica == config_.self) return Drop(DropReason::kDuplicate);
  if (vc.new_view < view_ || (vc.new_view == view_ && view_active_)) {
    // The sender is still trying to enter a view we are past: hand it our NEW-VIEW (R19).
    if (from == vc.replica) SendNewViewTo(from);
    return Drop(DropReason::kStaleView);
  }
  const std::optional<ViewChange>& stored = view_changes_[vc.replica.value()];
  if (stored && stored->new_view >= vc.new_view) return Drop(DropReason::kDuplicate);
  if (const DropReason r = CheckViewChange(vc, /*bodies_required=*/true); r != DropReason::kCount) {
    return Drop(r);
  }
  ++metrics_.messages_accepted;
  view_changes_[vc.replica.value()] = vc;
  NoteView(vc.replica, vc.new_view);
  MaybeSendNewView();
}

void Replica::NoteView(ReplicaId replica, ViewNumber view) {
  if (view <= max_view_claimed_[replica.value()]) return;
  max_view_claimed_[replica.value()] = view;
  MaybeJoinViewChange();
}

void Replica::MaybeJoinViewChange() {
  // R11: f+1 replicas (so at least one correct) are in, or moving to, a view above ours: follow
  // them to the highest such view. This is PBFT's rule for VIEW-CHANGEs, extended to any
  // authenticated message so a replica that missed a NEW-VIEW (partition, restart) catches up.
  if (config_.n() < 2) return;
  std::vector<ViewNumber> views;
  for (uint32_t i = 0; i < config_.n(); ++i) {
    if (ReplicaId(i) != config_.self) views.push_back(max_view_claimed_[i]);
  }
  const uint32_t k = config_.f() + 1;
  if (views.size() < k) return;
  std::nth_element(views.begin(), views.begin() + (k - 1), views.end(), std::greater<>());
  const ViewNumber target = views[k - 1];
  if (target > view_) StartViewChange(target);
}

void Replica::StartViewChange(ViewNumber target) {
  // R12: stop participating in the old view, persist the view change, then announce it with the
  // stable checkpoint and every prepared certificate above it.
  HC_ASSERT(target > view_ || (target == view_ && !view_active_));
  view_ = target;
  view_active_ = false;
  installed_new_view_.reset();
  ++metrics_.view_changes_started;
  ViewChange vc;
  vc.new_view = target;
  vc.stable_seq = low_;
  vc.checkpoint_proof = stable_proof_;
  for (auto& [seq, slot] : slots_) {
    if (slot.prepared_cert) vc.prepared.push_back(*slot.prepared_cert);
    slot.ResetForNewView();
  }
  vc.replica = config_.self;
  SignViewChange(signer_, config_.chain_id, vc);
  ++metrics_.signatures_created;
  pending_pre_prepares_.clear();
  std::erase_if(future_messages_, [&](const auto& e) { return NormalCaseView(e.second) != view_; });
  RecomputeInFlight();
  Persist(ViewRecord{view_, true});
  Persist(OwnViewChangeRecord{vc});
  Broadcast(vc);
  view_changes_[config_.self.value()] = std::move(vc);
  max_view_claimed_[config_.self.value()] = view_;
  pacemaker_.Restart(now_ms_);
  retransmit_deadline_ms_ = now_ms_ + config_.retransmit_interval_ms;
  MaybeSendNewView();
}

void Replica::MaybeSendNewView() {
  // R14: the new primary, once it holds 2f+1 VIEW-CHANGEs for its view, computes the O set and
  // re-proposes it.
  if (view_active_ || PrimaryOf(view_) != config_.self) return;
  std::vector<const ViewChange*> chosen;
  if (view_changes_[config_.self.value()] &&
      view_changes_[config_.self.value()]->new_view == view_) {
    chosen.push_back(&*view_changes_[config_.self.value()]);
  }
  for (uint32_t i = 0; i < config_.n() && chosen.size() < config_.quorum(); ++i) {
    if (ReplicaId(i) == config_.self) continue;
    if (view_changes_[i] && view_changes_[i]->new_view == view_) {
      chosen.push_back(&*view_changes_[i]);
    }
  }
  if (chosen.size() < config_.quorum()) return;
  const NewViewSet o =
      ComputeNewViewSet(chosen, config_.genesis.hash,
                        [this](const PreparedCertificate& c) { return ParentHashOfCert(c); });
  NewView nv;
  nv.view = view_;
  nv.replica = config_.self;
  for (const ViewChange* vc : chosen) {
    ViewChange stripped = *vc;
    for (PreparedCertificate& c : stripped.prepared) {
      c.pre_prepare.block = StripTxs(c.pre_prepare.block);
    }
    nv.view_changes.push_back(std::move(stripped));
  }
  for (const PreparedCertificate* cert : o.entries) {
    PrePrepare pp{
        view_, cert->pre_prepare.seq, cert->pre_prepare.block_hash, cert->pre_prepare.block, {}};
    SignPrePrepare(signer_, config_.chain_id, pp);
    ++metrics_.signatures_created;
    nv.pre_prepares.push_back(std::move(pp));
  }
  SignNewView(signer_, config_.chain_id, nv);
  ++metrics_.signatures_created;
  // R21: the primary's O set is durable before it is sent. A stored NEW-VIEW of the stored view
  // means "installed" (see Recover), so the ViewRecord may follow it.
  Persist(NewViewRecord{nv});
  Persist(ViewRecord{view_, false});
  Broadcast(nv);
  InstallNewView(nv);
}

void Replica::HandleNewView(ReplicaId from, const NewView& nv) {
  // R15: a backup accepts a NEW-VIEW only if it recomputes the same O set from the same
  // VIEW-CHANGEs.
  if (nv.replica != from) return Drop(DropReason::kSenderMismatch);
  if (from != PrimaryOf(nv.view)) return Drop(DropReason::kNotPrimary);
  if (nv.view < view_ || (nv.view == view_ && view_active_)) {
    return Drop(nv.view == view_ ? DropReason::kDuplicate : DropReason::kStaleView);
  }
  if (nv.view_changes.size() > config_.n() || nv.pre_prepares.size() > config_.window) {
    return Drop(DropReason::kTooLarge);
  }
  if (!Verified(VerifyNewView(verifier_, config_.chain_id, KeyOf(from), nv))) {
    return Drop(DropReason::kBadSignature);
  }
  SignerSet signers;
  std::vector<const ViewChange*> vcs;
  for (const ViewChange& vc : nv.view_changes) {
    if (!IsMember(vc.replica) || vc.new_view != nv.view || !signers.Add(vc.replica)) {
      return Drop(DropReason::kBadNewView);
    }
    if (CheckViewChange(vc, /*bodies_required=*/false) != DropReason::kCount) {
      return Drop(DropReason::kBadNewView);
    }
    vcs.push_back(&vc);
  }
  if (signers.Count() < config_.quorum()) return Drop(DropReason::kBadNewView);
  const NewViewSet o =
      ComputeNewViewSet(vcs, config_.genesis.hash,
                        [this](const PreparedCertificate& c) { return ParentHashOfCert(c); });
  if (o.entries.size() != nv.pre_prepares.size()) return Drop(DropReason::kBadNewView);
  for (size_t i = 0; i < o.entries.size(); ++i) {
    const PrePrepare& pp = nv.pre_prepares[i];
    const PrePrepare& want = o.entries[i]->pre_prepare;
    if (pp.view != nv.view || pp.seq != want.seq || pp.block_hash != want.block_hash) {
      return Drop(DropReason::kBadNewView);
    }
    if (CheckBlockLimits(pp.block) != DropReason::kCount) return Drop(DropReason::kTooLarge);
    if (BlockHash(pp.block.header) != pp.block_hash) return Drop(DropReason::kBadDigest);
    Result<HeaderInfo> h = app_.DecodeHeader(pp.block.header);
    if (!h.ok() || !app_.CheckBlockBody(pp.block, *h).ok()) return Drop(DropReason::kBadTxs);
    if (!Verified(VerifyPrePrepare(verifier_, config_.chain_id, KeyOf(from), pp))) {
      return Drop(DropReason::kBadSignature);
    }
  }
  ++metrics_.messages_accepted;
  NoteView(from, nv.view);
  if (nv.view < view_ || (nv.view == view_ && view_active_)) return;  // NoteView moved us on
  Persist(NewViewRecord{nv});
  Persist(ViewRecord{nv.view, false});
  InstallNewView(nv);
}

void Replica::InstallNewView(const NewView& nv) {
  view_ = nv.view;
  view_active_ = true;
  installed_new_view_ = nv;
  max_view_claimed_[config_.self.value()] = view_;
  ++metrics_.new_views_installed;
  for (auto& [seq, slot] : slots_) slot.ResetForNewView();
  pending_pre_prepares_.clear();
  // Adopt the O set's stable checkpoint if it is newer than ours.
  {
    std::vector<const ViewChange*> vcs;
    for (const ViewChange& vc : nv.view_changes) vcs.push_back(&vc);
    SeqNumber best;
    const ViewChange* source = nullptr;
    for (const ViewChange* vc : vcs) {
      if (vc->stable_seq > best) {
        best = vc->stable_seq;
        source = vc;
      }
    }
    if (source != nullptr && best > low_) AdvanceStable(best, source->checkpoint_proof);
  }
  SeqNumber last = low_;
  for (const PrePrepare& pp : nv.pre_prepares) {
    if (!InWindow(pp.seq)) continue;
    Result<HeaderInfo> h = app_.DecodeHeader(pp.block.header);
    HC_ASSERT(h.ok());  // checked by HandleNewView / built by us from checked certificates
    Slot& slot = GetSlot(pp.seq);
    AcceptPrePrepare(slot, pp, *h);
    last = std::max(last, pp.seq);
  }
  next_seq_ = SeqNumber(std::max({last.value(), low_.value(), committed_.height.value()}) + 1);
  RecomputeInFlight();
  ResetCensorshipDeadlines();
  pacemaker_.Disarm();
  TrySendCommits();
  TryCommit();
  // Messages of this view that arrived before its NEW-VIEW.
  std::vector<std::pair<ReplicaId, Message>> buffered = std::move(future_messages_);
  future_messages_.clear();
  for (const auto& [from, msg] : buffered) Dispatch(from, msg);
  MaybePropose();
}

void Replica::SendNewViewTo(ReplicaId peer) {
  if (!view_active_ || !installed_new_view_ || installed_new_view_->view != view_) return;
  int64_t& last = last_new_view_sent_ms_[peer.value()];
  if (now_ms_ < last + config_.retransmit_interval_ms) return;
  last = now_ms_;
  Send(peer, *installed_new_view_);
}

void Replica::RecomputeInFlight() {
  in_flight_.clear();
  if (view_active_) {
    for (const auto& [seq, slot] : slots_) {
      if (slot.pre_prepare && !slot.committed) {
        in_flight_.insert(slot.tx_ids.begin(), slot.tx_ids.end());
      }
    }
  }
  unproposed_count_ = 0;
  unproposed_bytes_ = 0;
  for (auto& [id, tx] : txs_) {
    tx.in_flight = in_flight_.contains(id);
    if (!tx.in_flight) {
      ++unproposed_count_;
      unproposed_bytes_ += tx.size;
    }
  }
  unproposed_since_ms_ = now_ms_;
}

void Replica::ResetCensorshipDeadlines() {
  // A new primary gets a full censorship_timeout_ms for every tx (R16).
  censor_queue_.clear();
  for (auto& [id, tx] : txs_) {
    if (!tx.quorum_relayed) continue;
    tx.censor_deadline_ms = now_ms_ + config_.censorship_timeout_ms;
    censor_queue_.emplace_back(tx.censor_deadline_ms, id);
  }
}

std::optional<int64_t> Replica::NextCensorshipDeadline() {
  // Entries of committed txs, superseded deadlines and txs now in a proposal are dropped; a tx
  // that leaves its proposal (view change) is queued again by ResetCensorshipDeadlines.
  while (!censor_queue_.empty()) {
    const auto& [deadline, id] = censor_queue_.front();
    auto it = txs_.find(id);
    if (it == txs_.end() || it->second.censor_deadline_ms != deadline || it->second.in_flight) {
      censor_queue_.pop_front();
      continue;
    }
    return deadline;
  }
  return std::nullopt;
}

void Replica::CheckCensorship() {
  // R16: a tx relayed by f+1 replicas that is still not proposed when its deadline passes means
  // the primary is censoring it: change view.
  const std::optional<int64_t> deadline = NextCensorshipDeadline();
  if (!deadline || *deadline > now_ms_) return;
  ++metrics_.censorship_view_changes;
  pacemaker_.OnTimeout();
  StartViewChange(view_.Next());
}

// ============================================================================================
// State transfer
// ============================================================================================

void Replica::StartStateTransfer(Height target) {
  if (target <= committed_.height) return;
  st_target_ = std::max(st_target_, target);
  if (!st_in_flight_) RequestBlocks(st_target_);
}

void Replica::RequestBlocks(Height to) {
  // R18: ask the next peer in turn; any peer can serve, every block is checked by its certificate.
  const uint32_t n = config_.n();
  if (n < 2) return;
  st_peer_cursor_ = (st_peer_cursor_ + 1) % n;
  if (st_peer_cursor_ == config_.self.value()) st_peer_cursor_ = (st_peer_cursor_ + 1) % n;
  st_peer_ = ReplicaId(st_peer_cursor_);
  const Height from = committed_.height.Next();
  const Height last(std::min(to.value(), from.value() + kMaxFetchBlocks - 1));
  st_requested_to_ = last;
  st_in_flight_ = true;
  st_deadline_ms_ = now_ms_ + config_.state_transfer_timeout_ms;
  ++metrics_.state_transfer_requests;
  Emit(FetchBlocksAction{st_peer_, from, last});
}

void Replica::HandleStateResponse(ReplicaId from, const StateResponse& resp) {
  // R17: certified blocks, from any peer (requested, or sent to help us). Verified one by one,
  // buffered (bounded), applied strictly in height order.
  if (resp.blocks.size() > kMaxFetchBlocks) return Drop(DropReason::kTooLarge);
  const Height before = committed_.height;
  Height highest_verified;
  for (const CertifiedBlock& b : resp.blocks) {
    const Height h = b.certificate.height;
    if (h <= committed_.height || st_buffer_.contains(h)) continue;
    if (h.value() > committed_.height.value() + kMaxStateTransferBuffer) {
      Drop(DropReason::kOutsideWindow);
      continue;
    }
    if (CheckBlockLimits(b.block) != DropReason::kCount) {
      Drop(DropReason::kTooLarge);
      continue;
    }
    metrics_.signatures_verified += b.certificate.signatures.size();
    if (!CheckCertifiedBlock(b, h, config_.chain_id, config_.validators, config_.f(), verifier_)
             .ok()) {
      Drop(DropReason::kBadCommitCertificate);
      continue;
    }
    Result<HeaderInfo> header = app_.DecodeHeader(b.block.header);
    if (!header.ok() || header->height != h) {
      Drop(DropReason::kMalformed);
      continue;
    }
    if (!app_.CheckBlockBody(b.block, *header).ok()) {
      Drop(DropReason::kBadTxs);
      continue;
    }
    st_buffer_.emplace(h, BufferedBlock{b, *header});
    highest_verified = std::max(highest_verified, h);
  }
  if (highest_verified > Height(0)) ++metrics_.messages_accepted;
  ApplyBufferedBlocks();
  const bool progress = committed_.height > before;
  // A certified block proves the chain reaches its height (R17: "a certificate beyond the
  // window"); the peer's claimed height is believed only as far as it has shown blocks.
  if (highest_verified > committed_.height) st_target_ = std::max(st_target_, highest_verified);
  if (progress && resp.blocks.size() >= 1 && resp.peer_height > committed_.height &&
      st_requested_to_ <= committed_.height) {
    st_target_ =
        std::max(st_target_, Height(std::min(resp.peer_height.value(),
                                             committed_.height.value() + kMaxStateTransferBuffer)));
  }
  if (st_in_flight_ && from == st_peer_) {
    st_in_flight_ = false;
    if (st_target_ > committed_.height) {
      // Keep going; stay with a peer that helped, move on from one that did not.
      if (progress) st_peer_cursor_ = (st_peer_cursor_ + config_.n() - 1) % config_.n();
      RequestBlocks(st_target_);
    }
  }
}

void Replica::ApplyBufferedBlocks() {
  while (!st_buffer_.empty()) {
    auto it = st_buffer_.begin();
    if (it->first <= committed_.height) {
      st_buffer_.erase(it);
      continue;
    }
    if (it->first != committed_.height.Next()) break;
    BufferedBlock bb = std::move(it->second);
    st_buffer_.erase(it);
    if (bb.header.prev_block_hash != committed_.hash) {
      Drop(DropReason::kBadParent);  // more than f faulty signers; never extend a broken chain
      continue;
    }
    ++metrics_.state_transfer_blocks;
    const std::vector<TxId> txs = app_.TxIds(bb.block.block);
    CommitBlock(std::move(bb.block), bb.header, txs);
  }
  // Slots at or below the new committed height are done; normal processing may continue above.
  TrySendCommits();
  RetryPendingPrePrepares();
  TryCommit();
}

SeqNumber Replica::CheckpointedByFPlusOne() const {
  // The highest seq that f+1 other replicas (at least one correct) have each checkpointed at or
  // beyond: the (f+1)-th highest of their latest checkpoints; 0 when fewer have one.
  std::vector<SeqNumber> latest;
  for (uint32_t i = 0; i < config_.n(); ++i) {
    if (ReplicaId(i) == config_.self || checkpoints_[i].empty()) continue;
    latest.push_back(checkpoints_[i].front().seq);
  }
  const uint32_t k = config_.f() + 1;
  if (latest.size() < k) return SeqNumber(0);
  std::nth_element(latest.begin(), latest.begin() + (k - 1), latest.end(), std::greater<>());
  return latest[k - 1];
}

void Replica::CheckStateTransferTrigger() {
  // R17: f+1 replicas (at least one correct) have checkpointed beyond our window.
  const SeqNumber target = CheckpointedByFPlusOne();
  if (target > high_watermark() && target > SeqNumber(committed_.height.value())) {
    StartStateTransfer(Height(target.value()));
  }
}

// ============================================================================================
// Txs, timers, retransmission
// ============================================================================================

void Replica::SetInFlight(const std::vector<TxId>& txs, bool in_flight) {
  for (const TxId& id : txs) {
    if (in_flight) {
      in_flight_.insert(id);
    } else {
      in_flight_.erase(id);
    }
    auto it = txs_.find(id);
    if (it == txs_.end() || it->second.in_flight == in_flight) continue;
    it->second.in_flight = in_flight;
    if (in_flight) {
      --unproposed_count_;
      unproposed_bytes_ -= it->second.size;
    } else {
      ++unproposed_count_;
      unproposed_bytes_ += it->second.size;
    }
  }
}

void Replica::TrackTxsCommitted(const std::vector<TxId>& txs) {
  for (const TxId& id : txs) {
    in_flight_.erase(id);
    auto it = txs_.find(id);
    if (it == txs_.end()) continue;
    if (!it->second.in_flight) {
      --unproposed_count_;
      unproposed_bytes_ -= it->second.size;
    }
    txs_.erase(it);
  }
}

bool Replica::WorkPending() const {
  // R20: the view-change timer runs only if there is something the primary owes us: a proposal in
  // flight that has not committed, or a tx waiting to be committed (PBFT's request timer).
  if (!txs_.empty()) return true;
  for (const auto& [seq, slot] : slots_) {
    if (slot.pre_prepare && !slot.committed) return true;
  }
  return false;
}

bool Replica::Stuck() const {
  if (!view_active_ || !txs_.empty() || WorkPending() || st_target_ > committed_.height ||
      !pending_pre_prepares_.empty()) {
    return true;
  }
  // Others are voting on sequence numbers we cannot commit: we are behind.
  for (const auto& [seq, slot] : slots_) {
    if (!slot.committed && (!slot.commits.empty() || !slot.prepares.empty())) return true;
  }
  // f+1 replicas (one of them correct) checkpointed past what we committed: we are behind even
  // if the votes we missed are never sent again (R19). Without this, a replica whose window ends
  // at the others' last checkpoint, with fewer than 2f+1 of them announcing it, waited forever.
  return CheckpointedByFPlusOne() > SeqNumber(committed_.height.value());
}

void Replica::SendStatus() {
  // R19: while idle, re-announce our latest checkpoint and our last COMMIT at a slow rate, so a
  // replica that missed the end of the traffic (partitioned, restarted) learns that it is behind
  // even when nothing new happens: the COMMIT makes it probe for blocks, the checkpoints let it
  // reach a stable checkpoint.
  if (!checkpoints_[config_.self.value()].empty()) {
    Broadcast(checkpoints_[config_.self.value()].front());
  }
  if (Slot* slot = InWindow(SeqNumber(committed_.height.value()))
                       ? FindSlot(SeqNumber(committed_.height.value()))
                       : nullptr;
      slot != nullptr && slot->own_commit && slot->own_commit->view == view_) {
    Broadcast(*slot->own_commit);
  }
}

void Replica::Retransmit() {
  // R19: re-send what others may have lost, and probe a peer for blocks we may have missed.
  ++metrics_.retransmissions;
  if (!view_active_) {
    if (const auto& own = view_changes_[config_.self.value()]; own && own->new_view == view_) {
      Broadcast(*own);
    }
    for (uint32_t i = 0; i < config_.n(); ++i) {
      if (ReplicaId(i) != config_.self && view_changes_[i] && view_changes_[i]->new_view == view_) {
        Broadcast(*view_changes_[i]);  // relay: a lossy link to the new primary is bypassed
      }
    }
  } else {
    for (const auto& [seq, slot] : slots_) {
      if (slot.committed) continue;
      if (slot.pre_prepare && IsPrimary()) Broadcast(*slot.pre_prepare);
      if (slot.own_prepare && slot.own_prepare->view == view_) Broadcast(*slot.own_prepare);
      if (slot.own_commit && slot.own_commit->view == view_) Broadcast(*slot.own_commit);
    }
  }
  for (const Checkpoint& cp : checkpoints_[config_.self.value()]) {
    if (cp.seq > low_) Broadcast(cp);
  }
  if (!st_in_flight_) {
    RequestBlocks(std::max(st_target_, Height(committed_.height.value() + kMaxFetchBlocks - 1)));
  }
}

void Replica::UpdateTimers(bool tick) {
  if (view_active_) {
    if (WorkPending()) {
      pacemaker_.ArmIfIdle(now_ms_);
    } else {
      pacemaker_.Disarm();
    }
  }
  if (Stuck()) {
    if (!retransmit_deadline_ms_) {
      retransmit_deadline_ms_ = now_ms_ + config_.retransmit_interval_ms;
    }
    status_deadline_ms_.reset();
  } else {
    retransmit_deadline_ms_.reset();
    if (!status_deadline_ms_ && config_.status_interval_ms > 0) {
      status_deadline_ms_ = now_ms_ + config_.status_interval_ms;
    }
  }
  std::optional<int64_t> next;
  auto consider = [&next](std::optional<int64_t> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  consider(pacemaker_.deadline());
  consider(retransmit_deadline_ms_);
  consider(status_deadline_ms_);
  if (st_in_flight_) consider(st_deadline_ms_);
  if (view_active_) {
    consider(NextCensorshipDeadline());
    if (IsPrimary()) {
      // A held partial batch needs no timer: OnBlockExecuted releases it.
      if (unproposed_count_ > 0 && !PartialBatchHeld()) {
        consider(unproposed_since_ms_ + config_.batch_delay_ms);
      }
      if (config_.empty_block_delay_ms > 0 && committed_.tx_count > 0 && unproposed_count_ == 0) {
        consider(last_commit_ms_ + config_.empty_block_delay_ms);
      }
    }
  }
  if (next && *next <= now_ms_) next = now_ms_ + 1;
  // After a tick the driver's timer is spent: always re-arm it.
  if (next != last_deadline_ || tick) {
    last_deadline_ = next;
    if (next) Emit(SetTimerAction{*next});
  }
}

}  // namespace hc::consensus
