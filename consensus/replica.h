// consensus::Replica: the PBFT replica (Castro & Liskov, BFT-PK with signatures) as a sans-IO state
// machine (DESIGN.md §3, docs/spec/pbft.md). It owns no socket, thread, clock, random source or
// store: the driver (node/ or the simulator) feeds it messages, txs, ticks and execution reports,
// and applies the actions it returns, in order (actions.h states the persist-before-send contract).
//
// Threading: not thread-safe. One thread owns a Replica and calls every method (STYLE.md, "one
// owner per piece of state"); App callbacks happen synchronously on that thread.
//
// Failure model: every input from a peer is validated at the boundary (R1) and an invalid one is
// dropped and counted in metrics(); nothing a peer sends can make the replica abort. HC_ASSERTs
// guard only this class's own invariants.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "consensus/actions.h"
#include "consensus/app.h"
#include "consensus/durable.h"
#include "consensus/limits.h"
#include "consensus/messages.h"
#include "consensus/metrics.h"
#include "consensus/pacemaker.h"
#include "crypto/signer.h"

namespace hc::consensus {

class Replica {
 public:
  // `config` must pass Config::Validate() (asserted). `signer` must hold validators[self]'s key.
  // `signer`, `verifier` and `app` must outlive the replica. `durable` is what the store holds
  // (default-constructed on first start or after losing the disk); `executed` is the summary of the
  // ledger's last executed block (height 0 for a fresh ledger). `now_ms` is the driver's clock.
  Replica(Config config, const crypto::Signer& signer, const crypto::Verifier& verifier, App& app,
          DurableState durable, const ExecSummary& executed, int64_t now_ms);

  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // A message from peer `from` (authenticated by the transport). Invalid messages are dropped and
  // counted; the returned actions are empty then.
  Actions OnMessage(ReplicaId from, const Message& msg);

  // The node's mempool admitted tx `id` of `size_bytes`, first heard from `relayer` (self for a
  // client submission, else the validator that relayed it). Call once per (id, relayer); the
  // replica counts distinct relayers for censorship detection (R16). Never call it for a tx that
  // is already committed.
  Actions OnTx(const TxId& id, uint32_t size_bytes, ReplicaId relayer);

  // The driver's clock advanced to `now_ms` (never backwards). Fires due timers. Call at least at
  // every SetTimerAction deadline; calling more often is harmless.
  Actions OnTick(int64_t now_ms);

  // The executor finished the block of a CommitAction (in height order).
  Actions OnBlockExecuted(const ExecSummary& summary);

  // ---- Observers (for the node's status page, metrics, tests and the simulator's checkers). ----
  const Config& config() const { return config_; }
  ReplicaId self() const { return config_.self; }
  ViewNumber view() const { return view_; }
  // False while a view change to view() is in progress (VIEW-CHANGE sent, NEW-VIEW not installed).
  bool view_active() const { return view_active_; }
  // R2: the primary of view v is validator v mod n.
  ReplicaId PrimaryOf(ViewNumber view) const {
    return ReplicaId(static_cast<uint32_t>(view.value() % config_.n()));
  }
  bool IsPrimary() const { return PrimaryOf(view_) == config_.self; }
  SeqNumber low_watermark() const { return low_; }
  SeqNumber high_watermark() const { return SeqNumber(low_.value() + config_.window); }
  Height committed_height() const { return committed_.height; }
  Height executed_height() const { return executed_.height; }
  bool state_transfer_active() const { return st_target_ > committed_.height; }
  size_t tracked_txs() const { return txs_.size(); }
  std::optional<int64_t> next_deadline() const { return last_deadline_; }
  const Metrics& metrics() const { return metrics_; }

 private:
  // One sequence number in the window. The normal-case fields belong to view_ and are reset when
  // the view changes; prepared_cert and committed survive view changes.
  struct Slot {
    SeqNumber seq;
    std::optional<PrePrepare> pre_prepare;  // accepted in view_, full block
    HeaderInfo header;                      // decoded pre_prepare header
    std::vector<TxId> tx_ids;
    std::map<uint32_t, Prepare> prepares;  // first vote per replica (R6)
    std::map<uint32_t, Commit> commits;
    std::optional<Hash32> voted_digest;  // own PRE-PREPARE/PREPARE digest in view_ (R21)
    std::optional<Prepare> own_prepare;
    std::optional<Commit> own_commit;
    bool prepared = false;
    bool commit_sent = false;
    bool committed = false;
    std::optional<PreparedCertificate> prepared_cert;  // highest view, full block

    void ResetForNewView() {
      pre_prepare.reset();
      header = HeaderInfo{};
      tx_ids.clear();
      prepares.clear();
      commits.clear();
      voted_digest.reset();
      own_prepare.reset();
      own_commit.reset();
      prepared = false;
      commit_sent = false;
    }
  };
  struct ParentInfo {
    Hash32 hash{};
    int64_t timestamp_ms = 0;
  };
  struct ChainTip {
    Height height;
    Hash32 hash{};
    int64_t timestamp_ms = 0;
    uint32_t tx_count = 0;
  };
  struct TrackedTx {
    uint32_t size = 0;
    uint64_t relayers = 0;  // bitmask of validator indexes
    bool in_flight = false;
    bool quorum_relayed = false;
    int64_t censor_deadline_ms = 0;
  };
  struct BufferedBlock {
    CertifiedBlock block;
    HeaderInfo header;
  };
  enum class Accept { kAccepted, kBuffered, kDropped };

  // ---- Entry-point plumbing ----
  void Begin(Actions& out);
  Actions Finish(bool tick = false);
  void Emit(Action action) { out_->push_back(std::move(action)); }
  void Persist(PersistRecord record) { Emit(PersistAction{std::move(record)}); }
  void Broadcast(Message msg);
  void Send(ReplicaId to, Message msg);
  void Drop(DropReason reason) { ++metrics_.dropped[static_cast<size_t>(reason)]; }
  void Dispatch(ReplicaId from, const Message& msg);

  // ---- Normal case (R3-R8) ----
  void HandlePrePrepare(ReplicaId from, const PrePrepare& pp);
  void HandlePrepare(ReplicaId from, const Prepare& p);
  void HandleCommit(ReplicaId from, const Commit& c);
  Accept TryAcceptPrePrepare(const PrePrepare& pp);
  void AcceptPrePrepare(Slot& slot, const PrePrepare& pp, const HeaderInfo& header);
  // The same with the block's tx ids already computed (by CheckBlockBody).
  void AcceptPrePrepare(Slot& slot, const PrePrepare& pp, const HeaderInfo& header,
                        std::vector<TxId> tx_ids);
  void RetryPendingPrePrepares();
  void SendPrepare(Slot& slot);
  void CheckPrepared(Slot& slot);
  void TrySendCommits();
  void TryCommit();
  void CommitBlock(CertifiedBlock block, const HeaderInfo& header, const std::vector<TxId>& txs);
  void MaybePropose();
  bool PartialBatchHeld() const;
  SeqNumber CheckpointedByFPlusOne() const;
  bool EmptyBlockDue() const;
  std::optional<ParentInfo> ParentOf(SeqNumber seq) const;
  DropReason CheckBlockLimits(const Block& block) const;

  // ---- Checkpoints (R9-R10) ----
  void HandleCheckpoint(ReplicaId from, const Checkpoint& cp);
  void SendCheckpoint(const ExecSummary& summary);
  void StoreCheckpoint(const Checkpoint& cp);
  void CheckStable(SeqNumber seq);
  void AdvanceStable(SeqNumber seq, const std::vector<Checkpoint>& proof);
  DropReason CheckCheckpointProof(SeqNumber seq, const std::vector<Checkpoint>& proof);

  // ---- View change (R11-R16) ----
  void HandleViewChange(ReplicaId from, const ViewChange& vc);
  void HandleNewView(ReplicaId from, const NewView& nv);
  DropReason CheckViewChange(const ViewChange& vc, bool bodies_required);
  DropReason CheckPreparedCertificate(const PreparedCertificate& cert, bool body_required);
  void StartViewChange(ViewNumber target);
  void MaybeSendNewView();
  void InstallNewView(const NewView& nv);
  void NoteView(ReplicaId replica, ViewNumber view);
  void MaybeJoinViewChange();
  void SendNewViewTo(ReplicaId peer);
  void CheckCensorship();
  std::optional<int64_t> NextCensorshipDeadline();
  void ResetCensorshipDeadlines();
  void RecomputeInFlight();

  // ---- State transfer (R17-R18) ----
  void HandleStateResponse(ReplicaId from, const StateResponse& resp);
  void StartStateTransfer(Height target);
  void RequestBlocks(Height to);
  void ApplyBufferedBlocks();
  void CheckStateTransferTrigger();

  // ---- Txs, timers, retransmission (R16, R19, R20) ----
  void TrackTxsCommitted(const std::vector<TxId>& txs);
  void SetInFlight(const std::vector<TxId>& txs, bool in_flight);
  bool WorkPending() const;
  bool Stuck() const;
  void Retransmit();
  void SendStatus();
  void UpdateTimers(bool tick);

  // ---- Recovery (R21) ----
  void Recover(DurableState durable);
  void Resume();

  // ---- Helpers ----
  bool IsPeer(ReplicaId id) const { return id.value() < config_.n() && id != config_.self; }
  bool IsMember(ReplicaId id) const { return id.value() < config_.n(); }
  bool InWindow(SeqNumber seq) const { return seq > low_ && seq <= high_watermark(); }
  const PublicKey& KeyOf(ReplicaId id) const { return config_.validators[id.value()]; }
  Slot& GetSlot(SeqNumber seq);
  Slot* FindSlot(SeqNumber seq);
  std::optional<Hash32> ParentHashOfCert(const PreparedCertificate& cert) const;
  bool Verified(bool ok) {
    ++metrics_.signatures_verified;
    return ok;
  }

  const Config config_;
  const crypto::Signer& signer_;
  const crypto::Verifier& verifier_;
  App& app_;
  Pacemaker pacemaker_;
  Metrics metrics_;
  Actions* out_ = nullptr;
  bool committed_in_step_ = false;  // MaybePropose waits for the next step (R3)
  int64_t now_ms_;

  // View state.
  ViewNumber view_;
  bool view_active_ = true;
  std::optional<NewView> installed_new_view_;                   // of view_ when active
  std::vector<std::optional<ViewChange>> view_changes_;         // per replica, highest new_view
  std::vector<ViewNumber> max_view_claimed_;                    // per replica, authenticated
  std::vector<std::pair<ReplicaId, Message>> future_messages_;  // for view_ while inactive
  std::vector<int64_t> last_new_view_sent_ms_;                  // per peer, rate limit

  // The log.
  SeqNumber low_;  // last stable checkpoint
  std::vector<Checkpoint> stable_proof_;
  std::map<SeqNumber, Slot> slots_;                       // (low_, low_ + window]
  std::map<SeqNumber, PrePrepare> pending_pre_prepares_;  // waiting for parent or execution
  SeqNumber next_seq_;  // primary: the next sequence number to propose
  ChainTip committed_;
  std::map<Height, ChainTip> committed_log_;  // recent committed blocks (parent lookups)
  ExecSummary executed_;
  int64_t last_commit_ms_ = 0;

  // Checkpoints: per replica, its most recent kCheckpointsKeptPerReplica.
  std::vector<std::vector<Checkpoint>> checkpoints_;

  // Txs.
  std::unordered_map<TxId, TrackedTx, Hash32Hasher> txs_;
  TxIdSet in_flight_;
  uint64_t unproposed_count_ = 0;
  uint64_t unproposed_bytes_ = 0;
  int64_t unproposed_since_ms_ = 0;
  std::deque<std::pair<int64_t, TxId>> censor_queue_;

  // State transfer.
  Height st_target_;
  bool st_in_flight_ = false;
  ReplicaId st_peer_;
  Height st_requested_to_;
  int64_t st_deadline_ms_ = 0;
  uint32_t st_peer_cursor_ = 0;
  std::map<Height, BufferedBlock> st_buffer_;

  // Timers.
  std::optional<int64_t> retransmit_deadline_ms_;
  std::optional<int64_t> status_deadline_ms_;
  std::optional<int64_t> last_deadline_;
  bool resume_pending_ = true;
};

}  // namespace hc::consensus
