// Signed read requests (DESIGN.md §6, docs/spec/wire.md W2 domain "hc/api/v1").
//
// Reads that reveal who accessed whose data, and payload downloads, carry three headers:
//   X-HC-Key:        base64 Ed25519 public key of the caller (an org or an enrolled patient)
//   X-HC-Timestamp:  the caller's clock, Unix ms
//   X-HC-Signature:  base64 Ed25519 signature over
//                    "hc/api/v1" || method || "\n" || target || "\n" || timestamp || "\n" ||
//                    hex(SHA-256(body))
// where `target` is the request target exactly as sent (path and query). A request older or newer
// than kAuthSkewMs, or a signature seen before within that window, is refused.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "api/exchange.h"
#include "api/ledger_view.h"
#include "common/bytes.h"
#include "common/status.h"
#include "crypto/ed25519.h"
#include "crypto/signer.h"

namespace hc::api {

inline constexpr int64_t kAuthSkewMs = 5 * 60 * 1000;
inline constexpr std::string_view kAuthDomain = "hc/api/v1";
inline constexpr std::string_view kHeaderKey = "X-HC-Key";
inline constexpr std::string_view kHeaderTimestamp = "X-HC-Timestamp";
inline constexpr std::string_view kHeaderSignature = "X-HC-Signature";

enum class CallerRole { kPatient, kHospital, kInsurer, kCommission };

struct Caller {
  crypto::Ed25519PublicKey key{};
  CallerRole role = CallerRole::kPatient;
};

// The bytes a caller signs (after the domain), for clients and the server alike.
Bytes RequestSigningBytes(std::string_view method, std::string_view target, int64_t timestamp_ms,
                          ByteView body);

// The three header values for a request, for clients (hcctl, tests).
struct SignedRequestHeaders {
  std::string key;
  std::string timestamp;
  std::string signature;
};
SignedRequestHeaders SignRequest(const crypto::Signer& signer, std::string_view method,
                                 std::string_view target, int64_t timestamp_ms, ByteView body);

// Verifies a request's headers and resolves the caller's role from the ledger (an active org, or
// an enrolled patient). Unauthenticated for missing/malformed headers, a bad signature, a stale or
// replayed request or an unknown identity, each with its own message.
class RequestAuthenticator {
 public:
  RequestAuthenticator(const crypto::Verifier& verifier, std::function<int64_t()> now_ms);
  Result<Caller> Authenticate(const Request& request, const LedgerView& view);

 private:
  const crypto::Verifier& verifier_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
  std::multimap<int64_t, std::string> seen_by_time_;  // replay window, pruned as time passes
  std::map<std::string, int64_t> seen_;
};

}  // namespace hc::api
