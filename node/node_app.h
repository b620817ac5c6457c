// NodeApp: the consensus::App of a validator (consensus/app.h): blocks are built from the
// mempool with the ledger's block builder, headers are protobuf BlockHeaders, and execution
// summaries come from the ledger through the driver's cache.
//
// Threading: used by the driver thread only (as the App contract says). It reads the mempool
// (thread-safe) and calls `summary_at`, which the node implements over its summary cache and the
// ledger (shared lock).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "consensus/app.h"
#include "ledger/ledger.h"
#include "node/mempool.h"

namespace hc::node {

// The summary after executing a block with these fields. state_digest: the ledger has no
// Merkle-ized world state yet (DESIGN.md §2, state_root), so the checkpoint digest binds the
// entry log instead: SHA-256("hc/state-digest/v1" ‖ u64be(log_size) ‖ log_root). Every replica
// computes it the same way, which is all checkpoints need.
consensus::ExecSummary MakeExecSummary(uint64_t height, const Hash32& block_hash,
                                       int64_t timestamp_ms, uint64_t log_size,
                                       const Hash32& log_root);

// The summary of block `height` (0 = genesis) as stored by `ledger`. Not thread-safe with
// Ledger::Commit (hold the node's shared lock).
Result<consensus::ExecSummary> LedgerSummaryAt(const ledger::Ledger& ledger, uint64_t height);

class NodeApp final : public consensus::App {
 public:
  using SummaryFn = std::function<std::optional<consensus::ExecSummary>(Height)>;

  // `mempool` must outlive the app.
  NodeApp(std::string chain_id, const Mempool& mempool, SummaryFn summary_at);

  consensus::Block BuildBlock(const consensus::ProposalRequest& request) override;
  Result<consensus::HeaderInfo> DecodeHeader(ByteView header) const override;
  Result<std::vector<consensus::TxId>> CheckBlockBody(
      const consensus::Block& block, const consensus::HeaderInfo& header) const override;
  std::vector<consensus::TxId> TxIds(const consensus::Block& block) const override;
  std::optional<consensus::ExecSummary> ExecutedSummary(Height height) const override;

 private:
  std::string chain_id_;
  const Mempool& mempool_;
  SummaryFn summary_at_;
};

}  // namespace hc::node
