// The simulator's App: a deterministic stand-in for the node's mempool and ledger.
//
// Blocks are lists of fake txs ('T' ‖ u64 number ‖ padding); a header is a fixed-layout byte string
// with the fields of proto BlockHeader (no protobuf: tests/sim links only consensus). "Executing"
// a block appends its tx ids to a hash-chained log, which stands in for the RFC 9162 log root.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "consensus/app.h"
#include "consensus/limits.h"
#include "consensus/messages.h"

namespace hc::sim {

using consensus::Block;
using consensus::CertifiedBlock;
using consensus::ExecSummary;
using consensus::HeaderInfo;
using consensus::TxId;

// A fake tx of `size` bytes (>= 16) carrying `number`.
Bytes MakeFakeTx(uint64_t number, uint32_t size);
TxId FakeTxId(ByteView tx);
bool FakeTxWellFormed(ByteView tx);

Bytes EncodeFakeHeader(std::string_view chain_id, const HeaderInfo& h, const Hash32& txs_root);
Hash32 FakeTxsRoot(const std::vector<TxId>& ids);

// Durable per-node ledger: survives crashes, lost only on an empty-disk restart.
struct SimLedger {
  std::vector<CertifiedBlock> blocks;  // blocks[h-1] is height h
  std::vector<ExecSummary> summaries;  // summaries[h], [0] = genesis
  std::unordered_map<TxId, uint64_t, consensus::Hash32Hasher> tx_height;

  explicit SimLedger(const consensus::Genesis& genesis);
  Height height() const { return Height(blocks.size()); }
  const ExecSummary& tip() const { return summaries.back(); }
  // Appends the block (caller has checked height and linkage) and returns its summary.
  const ExecSummary& Execute(const CertifiedBlock& block, const HeaderInfo& header,
                             const std::vector<TxId>& ids);
};

// Volatile per-node mempool (lost on crash): txs in admission order.
struct SimMempool {
  std::map<uint64_t, TxId> order;
  std::unordered_map<TxId, std::pair<uint64_t, Bytes>, consensus::Hash32Hasher> txs;
  uint64_t next = 0;

  bool Contains(const TxId& id) const { return txs.contains(id); }
  void Add(const TxId& id, Bytes tx);
  void Remove(const TxId& id);
};

class FakeApp final : public consensus::App {
 public:
  FakeApp(std::string chain_id, SimLedger* ledger, SimMempool* mempool)
      : chain_id_(std::move(chain_id)), ledger_(ledger), mempool_(mempool) {}

  Block BuildBlock(const consensus::ProposalRequest& request) override;
  Result<HeaderInfo> DecodeHeader(ByteView header) const override;
  Result<std::vector<TxId>> CheckBlockBody(const Block& block,
                                           const HeaderInfo& header) const override;
  std::vector<TxId> TxIds(const Block& block) const override;
  std::optional<ExecSummary> ExecutedSummary(Height height) const override;

  const std::string& chain_id() const { return chain_id_; }

 private:
  std::string chain_id_;
  SimLedger* ledger_;
  SimMempool* mempool_;
};

}  // namespace hc::sim
