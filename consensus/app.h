// The App: how block contents reach the replica. The replica orders opaque blocks; everything that
// needs to read a header (protobuf) or a tx lives behind this small interface, implemented by the
// node (mempool + ledger) and by the simulator's fake.
//
// Threading: called only from the thread that drives the replica, synchronously from within
// Replica's entry points. Implementations must be deterministic for the simulator.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <unordered_set>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/status.h"
#include "consensus/messages.h"

namespace hc::consensus {

struct Hash32Hasher {
  size_t operator()(const Hash32& h) const noexcept {
    size_t v;
    std::memcpy(&v, h.data(), sizeof(v));
    return v;
  }
};
using TxIdSet = std::unordered_set<TxId, Hash32Hasher>;

// The consensus-relevant fields of a BlockHeader (proto/healthchain/v1/block.proto).
struct HeaderInfo {
  Height height;
  Hash32 prev_block_hash{};
  int64_t timestamp_ms = 0;
  ViewNumber view;
  ReplicaId proposer;
  uint32_t tx_count = 0;
  // The entry log after executing blocks 1..exec_height (exec_height < height).
  Height exec_height;
  uint64_t log_size = 0;
  Hash32 log_root{};
};

// The state after executing block `height` (height 0 = genesis: empty log).
struct ExecSummary {
  Height height;
  Hash32 block_hash{};
  int64_t timestamp_ms = 0;  // the block's timestamp
  uint64_t log_size = 0;
  Hash32 log_root{};
  Hash32 state_digest{};
};

// What the primary asks the App to build (R3).
struct ProposalRequest {
  Height height;
  Hash32 prev_block_hash{};
  int64_t timestamp_ms = 0;
  ViewNumber view;
  ReplicaId proposer;
  ExecSummary exec;      // the header certifies (exec.height, exec.log_size, exec.log_root)
  uint32_t max_txs = 0;  // 0: an empty block
  uint64_t max_bytes = 0;
  const TxIdSet* exclude = nullptr;  // txs already in a block in flight; never null
};

class App {
 public:
  virtual ~App() = default;

  // Builds the block for `request`: a header carrying exactly the request's fields, and up to
  // max_txs txs totalling at most max_bytes from the mempool, oldest first, none in *exclude and
  // none already committed. May return fewer txs (or none) than asked.
  virtual Block BuildBlock(const ProposalRequest& request) = 0;

  // Decodes the consensus-relevant header fields. InvalidArgument if `header` is not a well-formed
  // BlockHeader of this chain (wrong chain id, bad field sizes).
  virtual Result<HeaderInfo> DecodeHeader(ByteView header) const = 0;

  // Checks a block's body against its header: tx_count and txs_root match the txs, and every tx is
  // well-formed (decodes, size bounds). Full tx validation belongs to the mempool and the ledger.
  // Returns the txs' ids (TxIds), which the check computes anyway.
  virtual Result<std::vector<TxId>> CheckBlockBody(const Block& block,
                                                   const HeaderInfo& header) const = 0;

  // The tx ids of block.txs, in order. Only called on blocks that passed CheckBlockBody or that
  // the App built.
  virtual std::vector<TxId> TxIds(const Block& block) const = 0;

  // The summary after executing block `height`, if this node has executed it (height 0 is always
  // known). The ledger keeps one per height.
  virtual std::optional<ExecSummary> ExecutedSummary(Height height) const = 0;
};

}  // namespace hc::consensus
