#include "crypto/signer.h"

#include <sodium.h>

#include <cstring>
#include <string_view>
#include <utility>

#include "crypto/hash.h"

namespace hc::crypto {
namespace {

// Pure Ed25519 needs the whole signed message in one buffer. Small messages (txs, votes) go
// through a per-thread scratch buffer so the hot path (one verify per tx at mempool admission)
// does not allocate; large ones (whole blocks) get their own buffer so the scratch stays small.
constexpr size_t kScratchMaxBytes = size_t{64} * 1024;

template <typename Fn>
auto WithSignedBytes(std::string_view domain, ByteView message, Fn&& fn) {
  auto fill = [&](Bytes& buf) {
    buf.resize(domain.size() + message.size());
    if (!domain.empty()) std::memcpy(buf.data(), domain.data(), domain.size());
    if (!message.empty()) std::memcpy(buf.data() + domain.size(), message.data(), message.size());
  };
  if (domain.size() + message.size() > kScratchMaxBytes) {
    Bytes buf;
    fill(buf);
    return fn(ByteView(buf));
  }
  thread_local Bytes scratch;
  fill(scratch);
  return fn(ByteView(scratch));
}

class Ed25519Signer final : public Signer {
 public:
  explicit Ed25519Signer(Ed25519SecretKey secret_key) : secret_key_(std::move(secret_key)) {
    internal::EnsureSodiumInit();
    // libsodium's secret key is seed || public key; the public half is read from it rather than
    // recomputed.
    std::memcpy(public_key_.data(), secret_key_.data() + kEd25519SeedSize, kEd25519PublicKeySize);
  }

  const Ed25519PublicKey& public_key() const override { return public_key_; }

  Ed25519Signature Sign(std::string_view domain, ByteView message) const override {
    return WithSignedBytes(domain, message,
                           [&](ByteView m) { return Ed25519Sign(secret_key_, m); });
  }

 private:
  Ed25519SecretKey secret_key_;
  Ed25519PublicKey public_key_;
};

class Ed25519VerifierImpl final : public Verifier {
 public:
  bool Verify(const Ed25519PublicKey& key, std::string_view domain, ByteView message,
              ByteView signature) const override {
    return WithSignedBytes(domain, message,
                           [&](ByteView m) { return Ed25519Verify(key, m, signature); });
  }
};

// Fake signature layout: H[0..32) || H[0..24) || kFakeMarker, where
// H = SHA-256("hc/fake-sig/v1" || public key || domain || message).
//
// Why the two never cross-verify, by construction rather than by luck:
//  - Bytes 32..63 of an Ed25519 signature are the scalar S, little-endian, and RFC 8032 §5.1.7
//    (and libsodium) reject S >= L, where L < 2^253. The marker puts 0xff in byte 63, so S >= 2^255
//    and the real verifier rejects every fake signature before any curve arithmetic.
//  - Conversely every signature that passes the real verifier has S < L, so byte 63 < 0x10, and the
//    fake verifier rejects it on the marker alone.
// The domain is concatenated exactly as the real signer does, so the fake accepts and rejects the
// same (domain, message) pairs as Ed25519 would.
constexpr std::string_view kFakeDomain = "hc/fake-sig/v1";
constexpr std::array<uint8_t, 8> kFakeMarker = {'h', 'c', 'f', 'a', 'k', 'e', 0xff, 0xff};

Ed25519Signature FakeSignature(const Ed25519PublicKey& key, std::string_view domain,
                               ByteView message) {
  thread_local Sha256Hasher hasher;
  const Hash32 h = hasher.Update(kFakeDomain).Update(key).Update(domain).Update(message).Final();
  Ed25519Signature sig;
  std::memcpy(sig.data(), h.data(), 32);
  std::memcpy(sig.data() + 32, h.data(), 24);
  std::memcpy(sig.data() + 56, kFakeMarker.data(), kFakeMarker.size());
  return sig;
}

class FakeSigner final : public Signer {
 public:
  explicit FakeSigner(const Ed25519PublicKey& identity) : public_key_(identity) {}

  const Ed25519PublicKey& public_key() const override { return public_key_; }

  Ed25519Signature Sign(std::string_view domain, ByteView message) const override {
    return FakeSignature(public_key_, domain, message);
  }

 private:
  Ed25519PublicKey public_key_;
};

class FakeVerifier final : public Verifier {
 public:
  bool Verify(const Ed25519PublicKey& key, std::string_view domain, ByteView message,
              ByteView signature) const override {
    if (signature.size() != kEd25519SignatureSize) return false;
    if (std::memcmp(signature.data() + 56, kFakeMarker.data(), kFakeMarker.size()) != 0) {
      return false;
    }
    const Ed25519Signature expected = FakeSignature(key, domain, message);
    // Not secret (anyone with the public key can compute it), so a plain compare is fine.
    return std::memcmp(expected.data(), signature.data(), expected.size()) == 0;
  }
};

}  // namespace

std::unique_ptr<Signer> MakeEd25519Signer(Ed25519SecretKey secret_key) {
  return std::make_unique<Ed25519Signer>(std::move(secret_key));
}

std::unique_ptr<Verifier> MakeEd25519Verifier() {
  internal::EnsureSodiumInit();
  return std::make_unique<Ed25519VerifierImpl>();
}

std::unique_ptr<Signer> MakeFakeSigner(const Ed25519PublicKey& identity) {
  return std::make_unique<FakeSigner>(identity);
}

std::unique_ptr<Verifier> MakeFakeVerifier() { return std::make_unique<FakeVerifier>(); }

}  // namespace hc::crypto
