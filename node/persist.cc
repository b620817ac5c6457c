#include "node/persist.h"

#include <map>
#include <utility>

#include "common/encoding.h"
#include "node/wire_codec.h"

namespace hc::node {
namespace {

using consensus::DurableSlot;
using consensus::DurableState;
using consensus::PersistRecord;
using ledger::Cf;

constexpr std::string_view kViewKey = "view";
constexpr std::string_view kViewChangeKey = "vc";
constexpr std::string_view kNewViewKey = "nv";
constexpr std::string_view kStableKey = "stable";
constexpr std::string_view kSlotPrefix = "slot";

enum SlotKind : uint8_t { kPrePrepare = 1, kPrepare = 2, kCommit = 3, kPrepared = 4 };

void PutU64(std::string& out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
}
uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string SlotKey(SeqNumber seq, SlotKind kind) {
  std::string k(kSlotPrefix);
  PutU64(k, seq.value());
  k.push_back(static_cast<char>(kind));
  return k;
}

std::string Encode(const consensus::Message& msg) { return ToString(EncodeConsensusMessage(msg)); }

// The PreparedCertificate and the stable checkpoint have no frame of their own; they travel inside
// a ViewChange frame (the codec's structural checks apply to them unchanged).
std::string EncodePrepared(const consensus::PreparedCertificate& cert) {
  consensus::ViewChange vc;
  vc.prepared.push_back(cert);
  return Encode(vc);
}
std::string EncodeStable(SeqNumber seq, const std::vector<consensus::Checkpoint>& proof) {
  consensus::ViewChange vc;
  vc.stable_seq = seq;
  vc.checkpoint_proof = proof;
  return Encode(vc);
}

template <typename T>
Result<T> DecodeAs(std::string_view key, std::string_view value) {
  auto decoded = DecodePeerMessage(AsBytes(value));
  if (!decoded.ok()) {
    return Corruption("consensus store: key " + HexEncode(AsBytes(key)) + ": " +
                      decoded.status().message());
  }
  const auto* msg = std::get_if<consensus::Message>(&decoded.value());
  const T* typed = msg ? std::get_if<T>(msg) : nullptr;
  if (typed == nullptr) {
    return Corruption("consensus store: key " + HexEncode(AsBytes(key)) + ": unexpected message");
  }
  return *typed;
}

Result<PersistRecord> DecodeRecord(std::string_view key, std::string_view value) {
  if (key == kViewKey) {
    if (value.size() != 9) return Corruption("consensus store: key view: bad length");
    return PersistRecord(consensus::ViewRecord{ViewNumber(GetU64(value)), value[8] != 0});
  }
  if (key == kViewChangeKey) {
    HC_ASSIGN_OR_RETURN(auto vc, DecodeAs<consensus::ViewChange>(key, value));
    return PersistRecord(consensus::OwnViewChangeRecord{std::move(vc)});
  }
  if (key == kNewViewKey) {
    HC_ASSIGN_OR_RETURN(auto nv, DecodeAs<consensus::NewView>(key, value));
    return PersistRecord(consensus::NewViewRecord{std::move(nv)});
  }
  if (key == kStableKey) {
    HC_ASSIGN_OR_RETURN(auto vc, DecodeAs<consensus::ViewChange>(key, value));
    return PersistRecord(
        consensus::StableCheckpointRecord{vc.stable_seq, std::move(vc.checkpoint_proof)});
  }
  if (key.size() == kSlotPrefix.size() + 9 && key.starts_with(kSlotPrefix)) {
    switch (static_cast<uint8_t>(key.back())) {
      case kPrePrepare: {
        HC_ASSIGN_OR_RETURN(auto m, DecodeAs<consensus::PrePrepare>(key, value));
        return PersistRecord(consensus::OwnPrePrepareRecord{std::move(m)});
      }
      case kPrepare: {
        HC_ASSIGN_OR_RETURN(auto m, DecodeAs<consensus::Prepare>(key, value));
        return PersistRecord(consensus::OwnPrepareRecord{std::move(m)});
      }
      case kCommit: {
        HC_ASSIGN_OR_RETURN(auto m, DecodeAs<consensus::Commit>(key, value));
        return PersistRecord(consensus::OwnCommitRecord{std::move(m)});
      }
      case kPrepared: {
        HC_ASSIGN_OR_RETURN(auto vc, DecodeAs<consensus::ViewChange>(key, value));
        if (vc.prepared.size() != 1) {
          return Corruption("consensus store: key " + HexEncode(AsBytes(key)) +
                            ": expected one prepared certificate");
        }
        return PersistRecord(consensus::PreparedRecord{std::move(vc.prepared[0])});
      }
      default:
        break;
    }
  }
  return Corruption("consensus store: unknown key " + HexEncode(AsBytes(key)));
}

// Which of a slot's records a batch of PersistRecords changed (bit 1 << SlotKind).
using SlotKinds = uint8_t;
constexpr SlotKinds kAllKinds =
    (1 << kPrePrepare) | (1 << kPrepare) | (1 << kCommit) | (1 << kPrepared);

// Writes the folded value of each changed kind of the slot at `seq` (or deletes it when the slot
// is gone). The others already hold their folded value: a record changes its own kind only
// (consensus::ApplyRecord), so a COMMIT does not write the slot's prepared block again.
void WriteSlot(ledger::KvBatch& batch, SeqNumber seq, const DurableSlot* slot, SlotKinds kinds) {
  // `value` is called only for a changed kind: an unchanged pre-prepare or prepared certificate
  // (each with the whole block) is not even encoded.
  auto put_or_delete = [&](SlotKind kind, const auto& value) {
    if ((kinds & (1 << kind)) == 0) return;
    std::optional<std::string> v = slot ? value(*slot) : std::nullopt;
    if (v) {
      batch.Put(Cf::kConsensus, SlotKey(seq, kind), std::move(*v));
    } else {
      batch.Delete(Cf::kConsensus, SlotKey(seq, kind));
    }
  };
  auto enc = [](const auto& opt) -> std::optional<std::string> {
    if (!opt) return std::nullopt;
    return Encode(*opt);
  };
  put_or_delete(kPrePrepare, [&](const DurableSlot& d) { return enc(d.own_pre_prepare); });
  put_or_delete(kPrepare, [&](const DurableSlot& d) { return enc(d.own_prepare); });
  put_or_delete(kCommit, [&](const DurableSlot& d) { return enc(d.own_commit); });
  put_or_delete(kPrepared, [](const DurableSlot& d) -> std::optional<std::string> {
    if (!d.prepared) return std::nullopt;
    return EncodePrepared(*d.prepared);
  });
}

}  // namespace

Result<DurableState> LoadDurableState(const ledger::KvReader& store) {
  DurableState state;
  Status failed;
  // Apply the stable checkpoint first so that folding order cannot matter.
  std::string stable;
  Status s = store.Get(Cf::kConsensus, kStableKey, &stable);
  if (s.ok()) {
    HC_ASSIGN_OR_RETURN(PersistRecord r, DecodeRecord(kStableKey, stable));
    consensus::ApplyRecord(state, r);
  } else if (s.code() != StatusCode::kNotFound) {
    return s;
  }
  HC_RETURN_IF_ERROR(
      store.Scan(Cf::kConsensus, "", "", [&](std::string_view k, std::string_view v) {
        if (k == kStableKey) return true;
        auto r = DecodeRecord(k, v);
        if (!r.ok()) {
          failed = r.status();
          return false;
        }
        consensus::ApplyRecord(state, r.value());
        return true;
      }));
  HC_RETURN_IF_ERROR(failed);
  return state;
}

ConsensusStore::ConsensusStore(ledger::KvStore& store, DurableState initial)
    : store_(store), state_(std::move(initial)) {}

Status ConsensusStore::Persist(const std::vector<PersistRecord>& records) {
  if (records.empty()) return Status::Ok();
  // Fold first, remembering which keys changed; then write their folded values once each.
  bool view = false, vc = false, nv = false, stable = false;
  std::map<SeqNumber, SlotKinds> slots;
  for (const PersistRecord& record : records) {
    std::visit(
        [&](const auto& r) {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, consensus::ViewRecord>) {
            view = true;
          } else if constexpr (std::is_same_v<T, consensus::OwnViewChangeRecord>) {
            vc = true;
          } else if constexpr (std::is_same_v<T, consensus::NewViewRecord>) {
            nv = true;
          } else if constexpr (std::is_same_v<T, consensus::StableCheckpointRecord>) {
            stable = true;
            for (auto it = state_.slots.begin(); it != state_.slots.end() && it->first <= r.seq;
                 ++it) {
              slots[it->first] |= kAllKinds;
            }
          } else if constexpr (std::is_same_v<T, consensus::PreparedRecord>) {
            slots[r.cert.pre_prepare.seq] |= 1 << kPrepared;
          } else if constexpr (std::is_same_v<T, consensus::OwnPrePrepareRecord>) {
            slots[r.msg.seq] |= 1 << kPrePrepare;
          } else if constexpr (std::is_same_v<T, consensus::OwnPrepareRecord>) {
            slots[r.msg.seq] |= 1 << kPrepare;
          } else {
            static_assert(std::is_same_v<T, consensus::OwnCommitRecord>);
            slots[r.msg.seq] |= 1 << kCommit;
          }
        },
        record);
    consensus::ApplyRecord(state_, record);
  }
  ledger::KvBatch batch;
  if (view) {
    std::string v;
    PutU64(v, state_.view.value());
    v.push_back(state_.in_view_change ? 1 : 0);
    batch.Put(Cf::kConsensus, std::string(kViewKey), std::move(v));
  }
  if (vc && state_.own_view_change) {
    batch.Put(Cf::kConsensus, std::string(kViewChangeKey), Encode(*state_.own_view_change));
  }
  if (nv && state_.new_view) {
    batch.Put(Cf::kConsensus, std::string(kNewViewKey), Encode(*state_.new_view));
  }
  if (stable) {
    batch.Put(Cf::kConsensus, std::string(kStableKey),
              EncodeStable(state_.stable_seq, state_.stable_proof));
  }
  for (const auto& [seq, kinds] : slots) {
    auto it = state_.slots.find(seq);
    WriteSlot(batch, seq, it == state_.slots.end() ? nullptr : &it->second, kinds);
  }
  records_ += records.size();
  ++writes_;
  return store_.Write(batch, /*sync=*/true);
}

}  // namespace hc::node
