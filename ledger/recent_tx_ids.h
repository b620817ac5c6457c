// RecentTxIds: the ids of the txs that recent blocks entered in the tx index, held in memory so
// that the replay check of a fresh tx (docs/spec/ledger-rules.md R5) needs no read of the tx index.
//
// When the genesis sets a tx lifetime, a tx is only valid in a block whose time t satisfies
// created_ms >= t - max_age_ms and created_ms <= t + max_future_ms. An earlier occurrence of the
// same tx was valid at its own block's time t', so t' >= created_ms - max_future_ms >=
// t - max_age_ms - max_future_ms (the horizon): only blocks since the horizon can hold it. This
// set holds every block committed since the ledger opened, until it falls behind the horizon of
// the newest block; for a tx id it answers "no held block indexed it" exactly, or "maybe" (the
// caller then reads the tx index). Covers(since) says whether every block from `since` on is
// held. The ledger loads the blocks since the horizon when it opens (Ledger::Open), up to a
// bound; blocks before those it loaded are not held, and their ids are read from the tx index.
//
// Keys are the first 8 bytes of the id (uniform: SHA-256), so "maybe" is exact but for
// collisions (about one in 2^64 / the set's size); a hit is always confirmed by a read.
//
// Thread-safety: thread-safe. One thread adds and drops blocks (the ledger's committer); any
// number of threads ask (the node's admission).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "common/bytes.h"

namespace hc::ledger {

class RecentTxIds {
 public:
  // `open_height`/`open_time_ms`: the ledger's tip when it opened (blocks up to it are not held).
  RecentTxIds(uint64_t open_height, int64_t open_time_ms);

  static uint64_t KeyOf(ByteView tx_id);

  // True when every block whose timestamp is >= since_ms is held (or there is none).
  bool Covers(int64_t since_ms) const;
  // False only when no held block indexed an id with this key.
  bool MayContain(uint64_t key) const;
  // Covers(since_ms) && !MayContain(key) under one lock: the id was in no block since `since_ms`.
  bool RulesOut(uint64_t key, int64_t since_ms) const;

  // Adds block `height` (above every held one) and the keys of the ids it indexed, then drops the
  // held blocks whose timestamp is below `horizon_ms` (they can hold no fresh tx any more).
  void AddBlock(uint64_t height, int64_t timestamp_ms, std::vector<uint64_t> keys,
                int64_t horizon_ms);
  // Drops the held blocks above `height` (a run of blocks whose write failed).
  void DropAbove(uint64_t height);

  size_t size() const;    // keys held
  size_t blocks() const;  // blocks held

 private:
  struct Block {
    uint64_t height = 0;
    int64_t timestamp_ms = 0;
    std::vector<uint64_t> keys;
  };
  bool CoversLocked(int64_t since_ms) const;
  bool FindLocked(uint64_t key) const;
  size_t SlotOf(uint64_t key) const;
  void InsertLocked(uint64_t key);
  void EraseLocked(uint64_t key);
  void GrowLocked();

  mutable std::mutex mu_;
  // Blocks at or before the open, or dropped by the horizon, are not held: a block with a
  // timestamp up to not_held_until_ms_ may be missing. INT64_MIN when nothing is missing.
  int64_t not_held_until_ms_;
  std::deque<Block> held_;
  // Open addressing with linear probing over the keys of all held blocks (a multiset: two ids
  // may share a key). 0 marks an empty slot; key 0 is stored as 1 (a false "maybe" at worst).
  std::vector<uint64_t> slots_;
  size_t count_ = 0;
  uint64_t seed_;  // per process: ids chosen to crowd one run of slots hash apart
};

}  // namespace hc::ledger
