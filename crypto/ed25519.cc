#include "crypto/ed25519.h"

#include <sodium.h>

#include <mutex>
#include <string>

#include "common/assert.h"

namespace hc::crypto {

static_assert(kEd25519PublicKeySize == crypto_sign_PUBLICKEYBYTES);
static_assert(kEd25519SeedSize == crypto_sign_SEEDBYTES);
static_assert(kEd25519SecretKeySize == crypto_sign_SECRETKEYBYTES);
static_assert(kEd25519SignatureSize == crypto_sign_BYTES);

namespace internal {

void EnsureSodiumInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    // sodium_init returns 1 when something else (hcctl's main) already initialised it.
    HC_ASSERT_MSG(sodium_init() >= 0, "libsodium failed to initialise");
  });
}

}  // namespace internal

Ed25519SecretKey::Ed25519SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

Ed25519SecretKey::~Ed25519SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

Ed25519SecretKey::Ed25519SecretKey(Ed25519SecretKey&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

Ed25519SecretKey& Ed25519SecretKey::operator=(Ed25519SecretKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

Ed25519KeyPair GenerateEd25519() {
  internal::EnsureSodiumInit();
  Ed25519KeyPair kp;
  HC_ASSERT_EQ(crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data()), 0);
  return kp;
}

Result<Ed25519KeyPair> Ed25519FromSeed(ByteView seed) {
  internal::EnsureSodiumInit();
  if (seed.size() != kEd25519SeedSize) {
    return InvalidArgument("ed25519 seed: expected " + std::to_string(kEd25519SeedSize) +
                           " bytes, got " + std::to_string(seed.size()));
  }
  Ed25519KeyPair kp;
  HC_ASSERT_EQ(crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed.data()),
               0);
  return kp;
}

Ed25519Signature Ed25519Sign(const Ed25519SecretKey& sk, ByteView message) {
  internal::EnsureSodiumInit();
  Ed25519Signature sig;
  HC_ASSERT_EQ(crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), sk.data()),
               0);
  return sig;
}

bool Ed25519Verify(const Ed25519PublicKey& public_key, ByteView message, ByteView signature) {
  internal::EnsureSodiumInit();
  // The size comes from the wire; a wrong one is a bad signature, not a bug.
  if (signature.size() != kEd25519SignatureSize) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     public_key.data()) == 0;
}

}  // namespace hc::crypto
