// LedgerView: what the exchange routes (api/*_routes.cc) need from the node, and nothing more.
// api/ defines it; node/ implements it over its Ledger, its locks and its payload store
// (DESIGN.md §7: "api defines the interface it calls and node implements it").
//
// Thread-safety: every method may be called from any API thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "ledger/genesis.h"
#include "ledger/kv.h"
#include "ledger/ledger.h"

namespace hc::api {

// One committed block, as the event stream and waiters see it.
struct CommittedBlockEvent {
  uint64_t height = 0;
  Hash32 block_hash{};
  int64_t timestamp_ms = 0;
  uint64_t first_entry = 0;  // log index of the block's first tx
  // SignedTx bytes, in block order; shared with the replica's copy of the block, never changed.
  std::shared_ptr<const std::vector<Bytes>> txs = std::make_shared<const std::vector<Bytes>>();
  std::vector<std::string> receipts;  // serialized healthchain.v1.Receipt, one per tx
  // The record ids whose erasure (erase_record, receipt OK) this block committed, in block order:
  // the payload store deletes their ciphertext (P4) without parsing every tx again.
  std::vector<std::string> erased_records;
};

// The erased_records of a block, found by parsing its txs and receipts: for blocks whose decoded
// txs are not at hand (blocks fetched by state transfer; tests).
std::vector<std::string> ParseErasedRecords(const std::vector<Bytes>& txs,
                                            const std::vector<std::string>& receipts);

class LedgerView {
 public:
  virtual ~LedgerView() = default;

  // Runs `fn` with the ledger under a shared lock (no block commits meanwhile). Keep `fn` short:
  // a commit waits for it.
  virtual void Read(const std::function<void(const ledger::Ledger&)>& fn) const = 0;

  virtual const ledger::Genesis& genesis() const = 0;

  // The node's off-chain payload store (the `payloads` column family; never agreed state).
  // Writes are synced. Safe from any thread.
  virtual ledger::KvStore& payload_store() = 0;

  // Calls `fn` on the executor thread after each block commits, in height order, until the
  // returned handle is destroyed. `fn` must not block (queue and return).
  class Subscription {
   public:
    virtual ~Subscription() = default;
  };
  virtual std::unique_ptr<Subscription> SubscribeCommits(
      std::function<void(const CommittedBlockEvent&)> fn) = 0;
};

}  // namespace hc::api
