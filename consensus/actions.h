// What the replica asks its driver (the node, or the simulator) to do.
//
// THE ORDER OF ACTIONS IS THE CONTRACT. The driver applies a returned vector front to back, and a
// PersistAction must be durable (synced) before any later action of the same vector is started:
// that is how "persist before you speak" (STYLE.md, pbft.md R21) is kept. A driver may batch the
// persists of one vector into one synced write as long as it finishes it before the first send
// that follows it. A crash in the middle of a vector is fine: the replica only ever needs a
// prefix to be applied.
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "common/ids.h"
#include "consensus/messages.h"

namespace hc::consensus {

// ---- Persistence records (the consensus column family). See durable.h for their semantics. ----

// The view the replica is in; `in_view_change` means it has sent VIEW-CHANGE for `view` and not
// yet installed its NEW-VIEW.
struct ViewRecord {
  ViewNumber view;
  bool in_view_change = false;
};
// Own votes: after a restart the replica re-sends these and never signs another digest for the
// same (view, seq) (R21).
struct OwnPrePrepareRecord {
  PrePrepare msg;  // with the full block, so a restarted primary re-sends the same proposal
};
struct OwnPrepareRecord {
  Prepare msg;
};
struct OwnCommitRecord {
  Commit msg;
};
// The highest-view prepared certificate of a sequence number, with the full block (R6): it goes
// into this replica's VIEW-CHANGE messages.
struct PreparedRecord {
  PreparedCertificate cert;
};
// A stable checkpoint and its 2f+1 proof. Every slot record at or below `seq` may be deleted.
struct StableCheckpointRecord {
  SeqNumber seq;
  std::vector<Checkpoint> proof;
};
// Own VIEW-CHANGE, persisted before it is sent; re-sent after a restart (PBFT-PITFALLS.md,
// Concord-BFT #639).
struct OwnViewChangeRecord {
  ViewChange msg;
};
// The NEW-VIEW of the view the replica installed (its own as primary, or the one it accepted);
// sent to replicas that are still trying to enter an older view.
struct NewViewRecord {
  NewView msg;
};

using PersistRecord =
    std::variant<ViewRecord, OwnPrePrepareRecord, OwnPrepareRecord, OwnCommitRecord, PreparedRecord,
                 StableCheckpointRecord, OwnViewChangeRecord, NewViewRecord>;

// ---- Actions ----

struct SendAction {
  ReplicaId to;
  Message message;
};
// To every other replica.
struct BroadcastAction {
  Message message;
};
// Make `record` durable before starting the next action.
struct PersistAction {
  PersistRecord record;
};
// Execute this committed block (strictly the next height; the certificate is the ledger's proof)
// and report back with Replica::OnBlockExecuted, once the whole action vector has been applied
// (an executor thread posting back does this naturally; a driver must never call the replica
// while it is still applying the replica's previous actions).
struct CommitAction {
  CertifiedBlock block;
  std::vector<TxId> tx_ids;  // App::TxIds(block.block), which the replica already computed
};
// Ask `peer` for certified blocks [from_height, to_height] (a StateRequest served by the peer's
// ledger); its StateResponse comes back through Replica::OnMessage.
struct FetchBlocksAction {
  ReplicaId peer;
  Height from_height;
  Height to_height;
};
// Call OnTick no later than deadline_ms (the latest SetTimerAction wins; extra ticks are harmless).
struct SetTimerAction {
  int64_t deadline_ms = 0;
};

using Action = std::variant<SendAction, BroadcastAction, PersistAction, CommitAction,
                            FetchBlocksAction, SetTimerAction>;
using Actions = std::vector<Action>;

}  // namespace hc::consensus
