// Signed read requests: the server's check and the client's signing (api/auth.h).
#include "api/auth.h"

#include <charconv>
#include <utility>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "ledger/codec.h"
#include "ledger_state.pb.h"

namespace hc::api {
namespace {

namespace pb = ::healthchain::v1;
namespace lpb = ::healthchain::ledger::v1;

// Remembered signatures at most: with the skew window of 5 min this allows ~330 signed requests a
// second sustained. Past it, requests are refused (503) rather than the replay check weakened.
constexpr size_t kReplayCacheMax = 100'000;
// The header values are short; anything longer is malformed before it is decoded.
constexpr size_t kHeaderValueMax = 128;

Result<int64_t> ParseTimestamp(std::string_view s) {
  int64_t v = 0;
  if (s.empty() || s.size() > 19 || s.front() == '-' || s.front() == '+') {
    return Unauthenticated(std::string(kHeaderTimestamp) + ": expected Unix milliseconds");
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return Unauthenticated(std::string(kHeaderTimestamp) + ": expected Unix milliseconds");
  }
  return v;
}

// The caller's role from the committed state: an active (not suspended) org, or an enrolled
// patient. A key that is both (it cannot be by the ledger rules) resolves as the org.
Result<CallerRole> ResolveRole(const ledger::Ledger& ledger, const crypto::Ed25519PublicKey& key) {
  const std::string_view k(reinterpret_cast<const char*>(key.data()), key.size());
  std::string value;
  Status s = ledger.reader().Get(ledger::Cf::kState, ledger::keys::Org(k), &value);
  if (s.ok()) {
    lpb::OrgState org;
    if (!org.ParseFromString(value)) return Internal("stored org does not parse");
    if (org.suspended()) return Unauthenticated("the org " + org.name() + " is suspended");
    switch (org.role()) {
      case pb::ORG_ROLE_COMMISSION:
        return CallerRole::kCommission;
      case pb::ORG_ROLE_HOSPITAL:
        return CallerRole::kHospital;
      case pb::ORG_ROLE_INSURER:
        return CallerRole::kInsurer;
      default:
        return Unauthenticated("the org " + org.name() + " has no role");
    }
  }
  if (s.code() != StatusCode::kNotFound) return s;
  s = ledger.reader().Get(ledger::Cf::kState, ledger::keys::Patient(k), &value);
  if (s.ok()) return CallerRole::kPatient;
  if (s.code() != StatusCode::kNotFound) return s;
  return Unauthenticated("unknown identity " + HexEncode(key) +
                         ": neither a registered org nor an enrolled patient");
}

}  // namespace

Bytes RequestSigningBytes(std::string_view method, std::string_view target, int64_t timestamp_ms,
                          ByteView body) {
  std::string out;
  out.reserve(method.size() + target.size() + 96);
  out.append(method);
  out.push_back('\n');
  out.append(target);
  out.push_back('\n');
  out.append(std::to_string(timestamp_ms));
  out.push_back('\n');
  out.append(HexEncode(crypto::Sha256(body)));
  return ToBytes(out);
}

SignedRequestHeaders SignRequest(const crypto::Signer& signer, std::string_view method,
                                 std::string_view target, int64_t timestamp_ms, ByteView body) {
  const Bytes message = RequestSigningBytes(method, target, timestamp_ms, body);
  const crypto::Ed25519Signature sig = signer.Sign(kAuthDomain, message);
  SignedRequestHeaders h;
  h.key = Base64Encode(signer.public_key());
  h.timestamp = std::to_string(timestamp_ms);
  h.signature = Base64Encode(sig);
  return h;
}

RequestAuthenticator::RequestAuthenticator(const crypto::Verifier& verifier,
                                           std::function<int64_t()> now_ms)
    : verifier_(verifier), now_ms_(std::move(now_ms)) {}

Result<Caller> RequestAuthenticator::Authenticate(const Request& request, const LedgerView& view) {
  const std::string_view key_b64 = request.Header(kHeaderKey);
  const std::string_view ts_text = request.Header(kHeaderTimestamp);
  const std::string_view sig_b64 = request.Header(kHeaderSignature);
  if (key_b64.empty() || ts_text.empty() || sig_b64.empty()) {
    return Unauthenticated("this request must be signed: send the " + std::string(kHeaderKey) +
                           ", " + std::string(kHeaderTimestamp) + " and " +
                           std::string(kHeaderSignature) + " headers");
  }
  if (key_b64.size() > kHeaderValueMax || sig_b64.size() > kHeaderValueMax) {
    return Unauthenticated("a signature header is too long");
  }
  auto key_bytes = Base64DecodeSized(key_b64, crypto::kEd25519PublicKeySize, kHeaderKey);
  if (!key_bytes.ok()) return Unauthenticated(key_bytes.status().message());
  auto sig_bytes = Base64DecodeSized(sig_b64, crypto::kEd25519SignatureSize, kHeaderSignature);
  if (!sig_bytes.ok()) return Unauthenticated(sig_bytes.status().message());
  HC_ASSIGN_OR_RETURN(const int64_t ts, ParseTimestamp(ts_text));

  const int64_t now = now_ms_();
  if (ts < now - kAuthSkewMs) {
    return Unauthenticated("stale request: its timestamp is " + std::to_string(now - ts) +
                           " ms old (at most " + std::to_string(kAuthSkewMs) + ")");
  }
  if (ts > now + kAuthSkewMs) {
    return Unauthenticated("request from the future: its timestamp is " + std::to_string(ts - now) +
                           " ms ahead (at most " + std::to_string(kAuthSkewMs) + ")");
  }

  Caller caller;
  std::copy(key_bytes->begin(), key_bytes->end(), caller.key.begin());
  const std::string method(http::to_string(request.method()));
  const Bytes message = RequestSigningBytes(method, request.target(), ts, AsBytes(request.body()));
  if (!verifier_.Verify(caller.key, kAuthDomain, message, sig_bytes.value())) {
    return Unauthenticated("bad signature: it does not verify for " + method + " " +
                           std::string(request.target()) + " at " + std::string(ts_text) +
                           " under " + std::string(kHeaderKey));
  }

  // Read leaves `role` as is when the ledger is closed (the node is stopping).
  Result<CallerRole> role = Unavailable("the node is shutting down");
  view.Read([&](const ledger::Ledger& ledger) { role = ResolveRole(ledger, caller.key); });
  if (!role.ok()) return role.status();
  caller.role = role.value();

  // Replay: a valid signature is accepted once. Entries older than the window can no longer pass
  // the timestamp check, so they are pruned first.
  {
    std::lock_guard lock(mu_);
    while (!seen_by_time_.empty() && seen_by_time_.begin()->first < now - kAuthSkewMs) {
      seen_.erase(seen_by_time_.begin()->second);
      seen_by_time_.erase(seen_by_time_.begin());
    }
    std::string sig(AsStringView(sig_bytes.value()));
    if (seen_.contains(sig)) {
      return Unauthenticated("replayed request: this signature was already used");
    }
    if (seen_.size() >= kReplayCacheMax) {
      return Unavailable("too many signed requests in the replay window; retry later");
    }
    seen_by_time_.emplace(ts, sig);
    seen_.emplace(std::move(sig), ts);
  }
  return caller;
}

}  // namespace hc::api
