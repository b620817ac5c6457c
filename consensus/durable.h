// DurableState: what a replica finds after a restart, i.e. the fold of every PersistRecord it
// emitted (actions.h). The simulator keeps exactly this; the node stores each record under a key
// ("view", "vc", "nv", "stable", ("slot", seq, kind)) with the same overwrite rules, and rebuilds a
// DurableState with ApplyRecord on open.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "common/ids.h"
#include "consensus/actions.h"
#include "consensus/messages.h"

namespace hc::consensus {

struct DurableSlot {
  // Own votes of the highest view this replica voted in at this sequence number.
  std::optional<PrePrepare> own_pre_prepare;
  std::optional<Prepare> own_prepare;
  std::optional<Commit> own_commit;
  // Highest-view prepared certificate, with the block.
  std::optional<PreparedCertificate> prepared;

  friend bool operator==(const DurableSlot&, const DurableSlot&) = default;
};

struct DurableState {
  ViewNumber view;
  bool in_view_change = false;
  std::optional<ViewChange> own_view_change;
  std::optional<NewView> new_view;
  SeqNumber stable_seq;
  std::vector<Checkpoint> stable_proof;
  std::map<SeqNumber, DurableSlot> slots;  // only seq > stable_seq

  friend bool operator==(const DurableState&, const DurableState&) = default;
};

// Folds one record into `state`:
//  - ViewRecord replaces view / in_view_change (views never decrease: an older one is ignored);
//  - own votes and prepared certificates replace the slot's entry unless it is of a higher view;
//  - StableCheckpointRecord (if newer) replaces the checkpoint and deletes slots at or below it;
//  - OwnViewChangeRecord / NewViewRecord replace theirs unless of a lower view.
void ApplyRecord(DurableState& state, const PersistRecord& record);

}  // namespace hc::consensus
