// A tiny big-endian byte writer for the fixed-layout signing bytes (docs/spec/wire.md W5) and the
// persistence records. Internal to consensus/.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

#include "common/bytes.h"

namespace hc::consensus {

class ByteWriter {
 public:
  explicit ByteWriter(size_t reserve = 0) { out_.reserve(reserve); }

  void U8(uint8_t v) { out_.push_back(v); }
  void U32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<uint8_t>(v >> shift));
  }
  void U64(uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<uint8_t>(v >> shift));
  }
  void Raw(ByteView b) {
    // resize + memcpy rather than insert: GCC 12 at -O3 warns (stringop-overflow) on the latter.
    if (b.empty()) return;
    const size_t at = out_.size();
    out_.resize(at + b.size());
    std::memcpy(out_.data() + at, b.data(), b.size());
  }

  const Bytes& bytes() const { return out_; }
  Bytes Take() { return std::move(out_); }

 private:
  Bytes out_;
};

}  // namespace hc::consensus
