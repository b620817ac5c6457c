// Ed25519 keys, signing and verification (libsodium; RFC 8032 "pure" Ed25519).
#pragma once

#include <array>
#include <cstdint>

#include "common/bytes.h"
#include "common/status.h"

namespace hc::crypto {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519SecretKeySize = 64;  // libsodium's seed || public key
inline constexpr size_t kEd25519SignatureSize = 64;

using Ed25519PublicKey = std::array<uint8_t, kEd25519PublicKeySize>;
using Ed25519Signature = std::array<uint8_t, kEd25519SignatureSize>;

// The secret half. Wiped (sodium_memzero) on destruction; not copyable, only movable.
class Ed25519SecretKey {
 public:
  Ed25519SecretKey();
  ~Ed25519SecretKey();
  Ed25519SecretKey(const Ed25519SecretKey&) = delete;
  Ed25519SecretKey& operator=(const Ed25519SecretKey&) = delete;
  Ed25519SecretKey(Ed25519SecretKey&& other) noexcept;
  Ed25519SecretKey& operator=(Ed25519SecretKey&& other) noexcept;

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  // The 32-byte RFC 8032 seed (the first half).
  ByteView seed() const { return ByteView(bytes_.data(), kEd25519SeedSize); }

 private:
  std::array<uint8_t, kEd25519SecretKeySize> bytes_;
};

struct Ed25519KeyPair {
  Ed25519PublicKey public_key;
  Ed25519SecretKey secret_key;
};

// A fresh key pair from the OS random source.
Ed25519KeyPair GenerateEd25519();
// The key pair of a 32-byte RFC 8032 seed.
Result<Ed25519KeyPair> Ed25519FromSeed(ByteView seed);

Ed25519Signature Ed25519Sign(const Ed25519SecretKey& sk, ByteView message);
// True iff `signature` is a valid signature of `message` under `public_key` (libsodium's strict
// verification: non-canonical encodings and small-order keys are rejected).
bool Ed25519Verify(const Ed25519PublicKey& public_key, ByteView message, ByteView signature);

namespace internal {

// Initialises libsodium once per process (thread-safe, idempotent). Aborts if libsodium cannot
// start, since no key can be made or checked without it. Every crypto/ entry point that calls
// libsodium calls this first, so no caller has to remember sodium_init: before it, libsodium 1.0.18
// runs its portable code paths and an unseeded random source.
void EnsureSodiumInit();

}  // namespace internal

}  // namespace hc::crypto
