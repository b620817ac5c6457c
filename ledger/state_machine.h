// The health-data state machine: what a committed block means (docs/spec/ledger-rules.md).
//
// Execute(block, state) is deterministic and pure: it reads the state through a KvReader, never a
// clock or the disk directly (time is the block's timestamp), and returns every receipt, every log
// entry and the exact list of state writes. The same block on the same state gives byte-identical
// results on every replica and on every store (RocksDB or in-memory). Applying the writes is the
// caller's job (ledger/ledger.h commits them with the block in one batch).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/signer.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/genesis.h"
#include "ledger/kv.h"
#include "ledger/recent_tx_ids.h"
#include "ledger/tx.h"

namespace hc::ledger {

// One tx of a block after the boundary checks of R1..R4: `decoded` is set when they passed,
// otherwise `decode_status` says which failed (the tx is then INVALID and reaches no state).
struct BlockTx {
  std::string bytes;  // the SignedTx bytes as committed
  Hash32 tx_id{};
  std::optional<DecodedTx> decoded;
  Status decode_status;
};

// What Execute needs of a block: its height, its time (the header's timestamp, the state
// machine's only "now") and its txs in order.
struct ExecutableBlock {
  uint64_t height = 0;
  int64_t timestamp_ms = 0;
  std::vector<BlockTx> txs;
};

// Decodes and checks every tx of a block (R1..R4). The node calls this with a verifier that hits
// its mempool's cache, so each signature is checked once per node.
ExecutableBlock PrepareBlock(uint64_t height, int64_t timestamp_ms,
                             const std::vector<std::string>& txs, std::string_view chain_id,
                             const crypto::Verifier& verifier);
// The same, moving the tx bytes into the result instead of copying them.
ExecutableBlock PrepareBlock(uint64_t height, int64_t timestamp_ms, std::vector<std::string>&& txs,
                             std::string_view chain_id, const crypto::Verifier& verifier);

struct ExecutionResult {
  uint64_t first_entry = 0;                          // log index of the block's first entry
  std::vector<::healthchain::v1::Receipt> receipts;  // one per tx, in block order (R22)
  std::vector<std::string> receipt_bytes;            // their serialisation, as stored
  std::vector<Hash32> leaf_hashes;                   // LeafHash of each LogEntry (R22)
  // The state, index and tx_index writes, sorted by (column family, key); applying them to the
  // state Execute read gives the state after the block.
  KvBatch writes;
  size_t state_writes =
      0;  // writes.writes.size(), kept when the ledger moves `writes` to its store
};

// What R5 needs besides the state: the chain's tx lifetime (genesis "txs") and, when it has one,
// the ids that recent blocks indexed, so that a fresh tx's replay check need not read the tx
// index. Without `recent` every replay check reads it; the receipts are the same either way.
struct ReplayContext {
  TxLifetime lifetime;
  const RecentTxIds* recent = nullptr;
};

// Executes `block` on `state`. Fails only when the state cannot be read or a stored record does
// not parse (Corruption/IoError): a node must then stop, not guess. Every rule outcome, rejections
// included, is a receipt, not an error. `recent`, when given, must hold every block of `state`
// since the replay horizon that it covers (RecentTxIds): the ledger's committed blocks and those
// staged before this one.
Result<ExecutionResult> Execute(const ExecutableBlock& block, const KvReader& state,
                                const ReplayContext& replay = {});

// SHA-256 fingerprint of a claim (R19): "hc/claim-fp/v1" || patient key || provider key ||
// len8 service_date || u32 item count || (len8 code)* over the item codes sorted bytewise ||
// len8 invoice_number. Lengths make the concatenation unambiguous.
Hash32 ClaimFingerprint(const ::healthchain::v1::SubmitClaim& claim, ByteView provider_key);

// Result of evaluating one consent for an access (R15).
struct ConsentDecision {
  bool granted = false;
  ::healthchain::v1::DenyReason deny_reason = ::healthchain::v1::DENY_REASON_UNSPECIFIED;
  int checks_passed = 0;  // how far the evaluation got: 0 revoked .. 4 granted
};

// Whether record categories are sensitive (R15): covered only when listed by category or id.
bool IsSensitiveCategory(::healthchain::v1::RecordCategory category);

// A KvReader that layers uncommitted writes over a base reader: Execute's working state, exposed
// for tests and for callers that execute several blocks before committing.
class StateOverlay final : public KvReader {
 public:
  explicit StateOverlay(const KvReader& base) : base_(base) {}

  Status Get(Cf cf, std::string_view key, std::string* value) const override;
  Status Scan(Cf cf, std::string_view start, std::string_view end,
              const KvScanFn& fn) const override;
  // Answered from the base alone: execution never needs it, so it must not be called once the
  // overlay holds writes to `cf` (asserted).
  Status SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                        std::string* value) const override;

  // Reads `keys` of `cf` from the base in one GetMany and remembers the answers (misses too), so
  // that later Gets of them are answered here. Keys already written or read are skipped.
  Status Prefetch(Cf cf, const std::vector<std::string_view>& keys) const;
  // Records `key` of `cf` as absent from the base without reading it (the caller knows; the tx
  // index's R5 misses that RecentTxIds rules out). The overlay's own writes still win.
  void AssumeAbsent(Cf cf, std::string_view key) const;

  void Put(Cf cf, std::string key, std::string value);
  void Delete(Cf cf, std::string key);
  // The writes so far, sorted by (column family, key); the overlay is left empty.
  KvBatch TakeWrites();

 private:
  const KvReader& base_;
  // Keyed by one byte of column family followed by the key, so the map orders as Writes() must.
  std::map<std::string, std::optional<std::string>, std::less<>> writes_;
  // Point reads of the base, kept for the overlay's life (one block): a block's txs read the same
  // signers, records and consents again and again. nullopt records a miss.
  mutable std::unordered_map<std::string, std::optional<std::string>> read_cache_;
  mutable std::string key_buf_;  // Get's composed key, reused
};

}  // namespace hc::ledger
