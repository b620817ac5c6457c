// The genesis file: what a chain starts from (docs/spec/ledger-rules.md R24).
//
//   {
//     "version": 1,
//     "chain_id": "healthchain-local-4",
//     "genesis_time_ms": 1767225600000,
//     "validators": [
//       {"id": "v0", "ed25519_key": "<base64 32>", "tls_key_pin": "<base64 32>",
//        "address": "127.0.0.1:7000"}, ...],
//     "commissions": [
//       {"name": "Provincial Health Commission", "ed25519_key": "<base64 32>",
//        "x25519_key": "<base64 32>", "fhir_organization": ""}, ...],
//     "consensus": {"batch_txs_max": 1000, "batch_bytes_max": 1048576, "batch_delay_ms": 5,
//                   "window": 16, "checkpoint_interval": 128, "view_change_timeout_ms": 2000},
//     "txs": {"max_age_ms": 900000, "max_future_ms": 300000}
//   }
//
// "txs" is optional: without it txs have no lifetime (R5 then checks replays against the whole tx
// index, as the chains made before it do).
//
// Loading validates every field and rejects a malformed file with InvalidArgument naming the
// field at fault ("validators[2].tls_key_pin: ..."). Unknown fields are rejected too, so a typo
// does not silently fall back to a default.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/ed25519.h"
#include "ledger/kv.h"

namespace hc::ledger {

inline constexpr std::string_view kGenesisDomain = "hc/genesis/v1";

struct GenesisValidator {
  std::string id;                  // operator's label, 1..64 printable ASCII, unique
  crypto::Ed25519PublicKey key{};  // consensus key; its index in the list is its ReplicaId
  Hash32 tls_key_pin{};            // SHA-256 of the TLS certificate's SubjectPublicKeyInfo
  std::string address;             // host:port
};

struct GenesisCommission {
  std::string name;
  crypto::Ed25519PublicKey key{};
  std::array<uint8_t, 32> encryption_key{};  // X25519
  std::string fhir_organization;
};

struct ConsensusParams {
  uint32_t batch_txs_max = 1000;
  uint32_t batch_bytes_max = 1024 * 1024;
  uint32_t batch_delay_ms = 5;
  // The PBFT window: a multiple of checkpoint_interval, at least two intervals, at most 256
  // (consensus::Config::Validate; checked when the genesis is parsed).
  uint32_t window = 64;
  uint32_t checkpoint_interval = 16;
  uint32_t view_change_timeout_ms = 2000;
};

// R5: a tx is valid only in a block whose time t has created_ms in [t - max_age_ms,
// t + max_future_ms]. max_age_ms == 0: no lifetime (every created_ms is valid).
struct TxLifetime {
  int64_t max_age_ms = 0;
  int64_t max_future_ms = 0;

  bool enabled() const { return max_age_ms > 0; }
  bool Allows(int64_t created_ms, int64_t block_time_ms) const {
    return !enabled() || (created_ms >= block_time_ms - max_age_ms &&
                          created_ms <= block_time_ms + max_future_ms);
  }
  // The earliest block time at which a tx valid at `block_time_ms` can have been valid before.
  int64_t Horizon(int64_t block_time_ms) const {
    return block_time_ms - max_age_ms - max_future_ms;
  }
};
// What `hcctl network new` writes into a new chain's genesis: a tx signed more than 15 minutes
// before its block, or more than 5 minutes after it by the signer's clock, is refused.
inline constexpr TxLifetime kDefaultTxLifetime{15 * 60'000, 5 * 60'000};

struct Genesis {
  std::string chain_id;
  int64_t genesis_time_ms = 0;
  std::vector<GenesisValidator> validators;  // n = 3f+1 >= 4 is not required (n >= 1), but
                                             // f = (n-1)/3 is what the network tolerates
  std::vector<GenesisCommission> commissions;
  ConsensusParams consensus;
  TxLifetime txs;  // absent from the file: no lifetime

  // 2f+1 with f = (n-1)/3: the commit-certificate quorum.
  size_t Quorum() const { return 2 * ((validators.size() - 1) / 3) + 1; }
};

// Parses and validates genesis JSON (never throws; Boost.JSON's error_code parse).
Result<Genesis> ParseGenesis(std::string_view json);
// Reads and parses a genesis file (at most kGenesisFileMaxBytes).
Result<Genesis> LoadGenesisFile(const std::string& path);
// Serialises a Genesis as JSON that ParseGenesis accepts (hcctl and tests generate networks).
std::string GenesisToJson(const Genesis& genesis);

// The genesis hash: SHA-256("hc/genesis/v1" || canonical bytes), where the canonical bytes are a
// fixed binary layout of the parsed fields (R24), so reformatting the JSON does not change it.
// It is block 1's prev_block_hash and the handshake's genesis_hash.
Hash32 GenesisHash(const Genesis& genesis);

// The state writes that found the chain: each commission as an active org at height 0 (R24), and
// the state family's format (keys::kStateFormat).
KvBatch GenesisStateWrites(const Genesis& genesis);

}  // namespace hc::ledger
