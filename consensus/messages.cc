#include "consensus/messages.h"

#include <type_traits>

namespace hc::consensus {
namespace {

// Generous per-field overhead of the protobuf encoding: a tag byte plus a varint length/value.
constexpr size_t kFieldOverhead = 11;
constexpr size_t kHashField = 32 + 2;
constexpr size_t kSigField = 64 + 2;

size_t Size(const CommitCertificate& c) {
  return 3 * kFieldOverhead + kHashField + c.signatures.size() * (kSigField + 2 * kFieldOverhead);
}

size_t Size(const PrePrepare& m) {
  return 2 * kFieldOverhead + kHashField + kSigField + kFieldOverhead + ApproxWireSize(m.block);
}

size_t Size(const Checkpoint&) { return 2 * kFieldOverhead + 3 * kHashField + kSigField; }

size_t Size(const ViewChange& m) {
  size_t s = 3 * kFieldOverhead + kSigField + m.checkpoint_proof.size() * (kFieldOverhead + 180);
  for (const PreparedCertificate& c : m.prepared) {
    s += 2 * kFieldOverhead + Size(c.pre_prepare) + c.prepares.size() * (kFieldOverhead + 120);
  }
  return s;
}

}  // namespace

size_t ApproxWireSize(const Block& block) {
  size_t s = kFieldOverhead + block.header.size();
  for (const Bytes& tx : block.txs) s += kFieldOverhead + tx.size();
  return s;
}

std::string_view MessageTypeName(const Message& msg) {
  return std::visit(
      [](const auto& m) -> std::string_view {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, PrePrepare>) return "PrePrepare";
        if constexpr (std::is_same_v<T, Prepare>) return "Prepare";
        if constexpr (std::is_same_v<T, Commit>) return "Commit";
        if constexpr (std::is_same_v<T, Checkpoint>) return "Checkpoint";
        if constexpr (std::is_same_v<T, ViewChange>) return "ViewChange";
        if constexpr (std::is_same_v<T, NewView>) return "NewView";
        if constexpr (std::is_same_v<T, StateRequest>) return "StateRequest";
        if constexpr (std::is_same_v<T, StateResponse>) return "StateResponse";
      },
      msg);
}

size_t ApproxWireSize(const Message& msg) {
  return std::visit(
      [](const auto& m) -> size_t {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Prepare> || std::is_same_v<T, Commit>) {
          return 3 * kFieldOverhead + kHashField + kSigField;
        } else if constexpr (std::is_same_v<T, PrePrepare> || std::is_same_v<T, Checkpoint> ||
                             std::is_same_v<T, ViewChange>) {
          return Size(m);
        } else if constexpr (std::is_same_v<T, NewView>) {
          size_t s = 2 * kFieldOverhead + kSigField;
          for (const ViewChange& vc : m.view_changes) s += kFieldOverhead + Size(vc);
          for (const PrePrepare& pp : m.pre_prepares) s += kFieldOverhead + Size(pp);
          return s;
        } else if constexpr (std::is_same_v<T, StateRequest>) {
          return 3 * kFieldOverhead;
        } else {
          size_t s = kFieldOverhead;
          for (const CertifiedBlock& b : m.blocks) {
            s += 2 * kFieldOverhead + ApproxWireSize(b.block) + Size(b.certificate);
          }
          return s;
        }
      },
      msg);
}

}  // namespace hc::consensus
