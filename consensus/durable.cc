#include "consensus/durable.h"

#include <type_traits>

namespace hc::consensus {
namespace {

template <typename T>
void KeepHigherView(std::optional<T>& slot_entry, const T& msg, ViewNumber view_of_new,
                    ViewNumber (*view_of)(const T&)) {
  if (!slot_entry || view_of(*slot_entry) <= view_of_new) slot_entry = msg;
}

ViewNumber ViewOfPrePrepare(const PrePrepare& m) { return m.view; }
ViewNumber ViewOfPrepare(const Prepare& m) { return m.view; }
ViewNumber ViewOfCommit(const Commit& m) { return m.view; }
ViewNumber ViewOfCert(const PreparedCertificate& c) { return c.pre_prepare.view; }

}  // namespace

void ApplyRecord(DurableState& state, const PersistRecord& record) {
  std::visit(
      [&state](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, ViewRecord>) {
          if (r.view >= state.view) {
            state.view = r.view;
            state.in_view_change = r.in_view_change;
          }
        } else if constexpr (std::is_same_v<T, OwnPrePrepareRecord>) {
          if (r.msg.seq <= state.stable_seq) return;
          KeepHigherView(state.slots[r.msg.seq].own_pre_prepare, r.msg, r.msg.view,
                         &ViewOfPrePrepare);
        } else if constexpr (std::is_same_v<T, OwnPrepareRecord>) {
          if (r.msg.seq <= state.stable_seq) return;
          KeepHigherView(state.slots[r.msg.seq].own_prepare, r.msg, r.msg.view, &ViewOfPrepare);
        } else if constexpr (std::is_same_v<T, OwnCommitRecord>) {
          if (r.msg.seq <= state.stable_seq) return;
          KeepHigherView(state.slots[r.msg.seq].own_commit, r.msg, r.msg.view, &ViewOfCommit);
        } else if constexpr (std::is_same_v<T, PreparedRecord>) {
          const SeqNumber seq = r.cert.pre_prepare.seq;
          if (seq <= state.stable_seq) return;
          KeepHigherView(state.slots[seq].prepared, r.cert, r.cert.pre_prepare.view, &ViewOfCert);
        } else if constexpr (std::is_same_v<T, StableCheckpointRecord>) {
          if (r.seq < state.stable_seq) return;
          state.stable_seq = r.seq;
          state.stable_proof = r.proof;
          state.slots.erase(state.slots.begin(), state.slots.upper_bound(r.seq));
        } else if constexpr (std::is_same_v<T, OwnViewChangeRecord>) {
          if (!state.own_view_change || state.own_view_change->new_view <= r.msg.new_view) {
            state.own_view_change = r.msg;
          }
        } else if constexpr (std::is_same_v<T, NewViewRecord>) {
          if (!state.new_view || state.new_view->view <= r.msg.view) state.new_view = r.msg;
        }
      },
      record);
}

}  // namespace hc::consensus
