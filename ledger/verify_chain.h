// Offline audit of a node's whole database (`hcctl verify-chain`): every block is re-checked and
// re-executed on a scratch ledger started from the genesis file, and everything the node stored is
// compared byte for byte with what the replay produces.
//
// Checked per height: the stored block and certificate exist and parse; the block extends the
// chain (R23: hash chain, txs_root, timestamps, the header's log claim) and its certificate holds
// 2f+1 valid COMMIT signatures of the genesis validators; re-execution gives the same receipts
// and the same log size and root. At the end: the stored tip, and every column family the ledger
// writes (blocks, certs, tx_index, entries, log_nodes, state, index), equal the replay's, in the
// stored state's format.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"
#include "crypto/signer.h"
#include "ledger/genesis.h"
#include "ledger/kv.h"

namespace hc::ledger {

struct ChainReport {
  uint64_t height = 0;
  uint64_t txs = 0;
  uint64_t log_size = 0;
  Hash32 tip_hash{};
  Hash32 log_root{};
  std::map<int, uint64_t> receipts_by_status;  // TxStatus -> count
  // The stored state's format (keys::kStateFormat). A store of an older format, which no current
  // node has opened, is compared with the replay written back in that format
  // (OlderStateFormatWrites).
  int state_format = 0;
  // Empty when the chain verified; otherwise the first fault found, e.g.
  // "height 17: receipt 3 differs: stored OK (R15), re-executed DENIED (R15)".
  std::string fault;
  uint64_t fault_height = 0;
};

// Verifies `stored` against `genesis`, re-executing on `scratch` (an empty store: memory for small
// chains, a temporary RocksDB for large ones). `progress`, if set, is called after each height.
// Returns an error only when a store cannot be read at all; a chain that does not check out is a
// report with `fault` set.
Result<ChainReport> VerifyChain(const KvReader& stored, const Genesis& genesis,
                                const crypto::Verifier& verifier, std::unique_ptr<KvStore> scratch,
                                const std::function<void(uint64_t height)>& progress = nullptr);

}  // namespace hc::ledger
