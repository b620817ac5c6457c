// Decoding and validating a SignedTx into a typed value (docs/spec/ledger-rules.md R1..R4).
//
// This is the boundary: the state machine accepts only DecodedTx values, so every check of the
// bytes themselves (size, parse, chain id, field bounds, signature) happens here, once.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/ed25519.h"
#include "crypto/signer.h"
#include "healthchain/v1/tx.pb.h"

namespace hc::ledger {

inline constexpr std::string_view kTxSignDomain = "hc/tx/v1";
inline constexpr std::string_view kTxIdDomain = "hc/txid/v1";
inline constexpr std::string_view kIdentityDomain = "hc/id/v1";

// A transaction that passed R1..R4: well-formed, for this chain, within every bound, signed by
// `signer`. `body` is parsed from the exact signed bytes; nothing re-serialises it.
struct DecodedTx {
  Hash32 tx_id{};
  crypto::Ed25519PublicKey signer{};
  ::healthchain::v1::TxBody body;
};

// Decodes and validates `signed_tx` (SignedTx bytes). On failure returns InvalidArgument (R1..R3)
// or Unauthenticated (R4) whose message starts with the rule, e.g. "R2: chain id ...". `verifier`
// may cache results (the node verifies at mempool admission); it must be thread-safe only if the
// caller decodes from several threads.
Result<DecodedTx> DecodeTx(ByteView signed_tx, std::string_view chain_id,
                           const crypto::Verifier& verifier);

// The tx id of SignedTx bytes: SHA-256("hc/txid/v1" || body) when the bytes parse as a SignedTx;
// for bytes that do not parse, SHA-256("hc/txid/v1" || the bytes themselves) so that every tx in a
// block, even garbage, has an id for its receipt and the block's txs_root (R1).
Hash32 TxIdOf(ByteView signed_tx);

// Validates the payload's field bounds only (R3); exposed for tests and clients that build txs.
Status ValidatePayload(const ::healthchain::v1::TxBody& body);

// The rule a rejection Status cites ("R3" for "R3: ..."), or "" when it cites none.
std::string_view RuleOf(const Status& status);

// The printable identity id of a key: hex(SHA-256("hc/id/v1" || key)) (docs/spec/wire.md W7).
std::string IdentityId(ByteView key);

// Builds SignedTx bytes for `body` signed by `signer` (clients, tests and benchmarks).
std::string SignTx(const ::healthchain::v1::TxBody& body, const crypto::Signer& signer);

}  // namespace hc::ledger
