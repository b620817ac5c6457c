// Strong integer types for the protocol's numbers, so a view can never be passed as a height.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace hc {

// A typed wrapper over an unsigned integer. Ordered and hashable; arithmetic is explicit
// (Next(), value()) so that mixing kinds of numbers needs a visible conversion.
template <typename Tag, typename Rep = uint64_t>
class StrongId {
 public:
  using rep_type = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : v_(v) {}

  constexpr Rep value() const { return v_; }
  constexpr StrongId Next() const { return StrongId(v_ + 1); }
  constexpr StrongId Prev() const { return StrongId(v_ - 1); }

  constexpr auto operator<=>(const StrongId&) const = default;

  friend std::ostream& operator<<(std::ostream& os, const StrongId& id) { return os << id.v_; }

 private:
  Rep v_ = 0;
};

struct ViewNumberTag {};
struct SeqNumberTag {};
struct ReplicaIdTag {};
struct HeightTag {};

using ViewNumber = StrongId<ViewNumberTag>;  // PBFT view; primary = view mod n
using SeqNumber = StrongId<SeqNumberTag>;    // PBFT sequence number; equals the block height
using ReplicaId = StrongId<ReplicaIdTag, uint32_t>;  // index into the genesis validator list
using Height = StrongId<HeightTag>;  // block height; genesis is 0, the first block is 1

}  // namespace hc

template <typename Tag, typename Rep>
struct std::hash<hc::StrongId<Tag, Rep>> {
  size_t operator()(const hc::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>{}(id.value());
  }
};
