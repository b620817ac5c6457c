// Persistence of the replica's durable state (consensus/durable.h) in the `consensus` column
// family of the node's RocksDB (DESIGN.md §4, docs/spec/pbft.md R21).
//
// Keys (values are wire-codec protobuf bytes, node/wire_codec.h, so nothing new needs a schema):
//   "view"                         u64be view ‖ u8 in_view_change
//   "vc"                           own VIEW-CHANGE (PeerFrame.view_change)
//   "nv"                           the installed NEW-VIEW (PeerFrame.new_view)
//   "stable"                       a ViewChange frame carrying only stable_seq and checkpoint_proof
//   "slot" ‖ u64be seq ‖ u8 kind   own PRE-PREPARE / PREPARE / COMMIT (their frames), or the
//                                  prepared certificate (a ViewChange frame with exactly one
//                                  prepared entry)
//
// ConsensusStore keeps an in-memory fold of every record it persisted (the same ApplyRecord the
// simulator uses) and writes, for each record, the folded value of the keys the record touched:
// the store therefore always equals the fold, including ApplyRecord's overwrite rules (an older
// view never replaces a newer one; a stable checkpoint deletes the slots at or below it, in the
// same batch). LoadDurableState reads it back.
//
// Thread-safety: a ConsensusStore is used by the driver thread only. The KvStore it writes to is
// thread-safe (RocksKvStore), so the executor can commit blocks to the same database meanwhile.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "consensus/actions.h"
#include "consensus/durable.h"
#include "ledger/kv.h"

namespace hc::node {

// Reads every record of the consensus column family and folds it. Corruption names the key when
// a value does not decode.
Result<consensus::DurableState> LoadDurableState(const ledger::KvReader& store);

class ConsensusStore {
 public:
  // `initial` must be what LoadDurableState returned for `store`. `store` must outlive this.
  ConsensusStore(ledger::KvStore& store, consensus::DurableState initial);

  // Makes `records` durable, in order, in one synced write. On failure nothing of the batch may
  // be assumed written; the in-memory fold has advanced anyway, so the caller must stop (a node
  // that cannot persist its votes must not send them).
  Status Persist(const std::vector<consensus::PersistRecord>& records);

  // The fold of everything persisted so far.
  const consensus::DurableState& state() const { return state_; }
  uint64_t writes() const { return writes_; }
  uint64_t records() const { return records_; }

 private:
  ledger::KvStore& store_;
  consensus::DurableState state_;
  uint64_t writes_ = 0;
  uint64_t records_ = 0;
};

}  // namespace hc::node
