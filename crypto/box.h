// Payload encryption and data-key wrapping (DESIGN.md §5).
//
// A record is encrypted with a fresh random 256-bit DataKey under XChaCha20-Poly1305-IETF with a
// random 192-bit nonce (random nonces are safe at this size: no counter to keep across restarts).
// The DataKey is then wrapped for each reader (the patient, each grantee) with an X25519 sealed box
// (libsodium crypto_box_seal: an ephemeral sender key, so the wrapper is anonymous and cannot
// unwrap what it wrapped). Erasure (crypto-shredding) deletes the ciphertext and every wrapped key.
//
// Every function is thread-safe. Secret material (X25519SecretKey, DataKey) is wiped on destruction
// and can only be moved. Failures on input from outside (a tampered ciphertext, a wrapped key for
// someone else, truncated bytes) are returned as a Status, never a crash:
//   - kInvalidArgument: the bytes cannot be what they claim (too short, wrong size);
//   - kUnauthenticated: the bytes are well-formed but do not authenticate under this key.
#pragma once

#include <array>
#include <cstdint>

#include "common/bytes.h"
#include "common/status.h"

namespace hc::crypto {

inline constexpr size_t kX25519PublicKeySize = 32;
inline constexpr size_t kX25519SecretKeySize = 32;
inline constexpr size_t kDataKeySize = 32;
inline constexpr size_t kAeadNonceSize = 24;
inline constexpr size_t kAeadTagSize = 16;
// crypto_box_seal adds an ephemeral public key (32) and a MAC (16).
inline constexpr size_t kSealedBoxOverhead = 48;
inline constexpr size_t kWrappedKeySize = kDataKeySize + kSealedBoxOverhead;

using X25519PublicKey = std::array<uint8_t, kX25519PublicKeySize>;
using AeadNonce = std::array<uint8_t, kAeadNonceSize>;

// The secret half of an X25519 key pair (the raw scalar, as crypto_box_keypair makes it). Wiped on
// destruction; not copyable, only movable.
class X25519SecretKey {
 public:
  X25519SecretKey();
  ~X25519SecretKey();
  X25519SecretKey(const X25519SecretKey&) = delete;
  X25519SecretKey& operator=(const X25519SecretKey&) = delete;
  X25519SecretKey(X25519SecretKey&& other) noexcept;
  X25519SecretKey& operator=(X25519SecretKey&& other) noexcept;

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  ByteView bytes() const { return ByteView(bytes_.data(), bytes_.size()); }

 private:
  std::array<uint8_t, kX25519SecretKeySize> bytes_;
};

struct X25519KeyPair {
  X25519PublicKey public_key;
  X25519SecretKey secret_key;
};

// A fresh key pair from the OS random source.
X25519KeyPair GenerateX25519();
// The key pair of a 32-byte secret scalar (the public key is derived; key files store the secret).
// kInvalidArgument when the size is wrong.
Result<X25519KeyPair> X25519FromSecret(ByteView secret);

// A 256-bit symmetric key for one payload. Wiped on destruction; not copyable, only movable.
class DataKey {
 public:
  DataKey();  // all zero; use Generate() or FromBytes()
  ~DataKey();
  DataKey(const DataKey&) = delete;
  DataKey& operator=(const DataKey&) = delete;
  DataKey(DataKey&& other) noexcept;
  DataKey& operator=(DataKey&& other) noexcept;

  // A fresh key from the OS random source.
  static DataKey Generate();
  // kInvalidArgument when `key` is not kDataKeySize bytes.
  static Result<DataKey> FromBytes(ByteView key);

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  ByteView bytes() const { return ByteView(bytes_.data(), bytes_.size()); }

 private:
  std::array<uint8_t, kDataKeySize> bytes_;
};

// An encrypted payload: the nonce and the ciphertext with its 16-byte Poly1305 tag at the end.
struct Sealed {
  AeadNonce nonce{};
  Bytes ciphertext;  // plaintext size + kAeadTagSize

  // nonce || ciphertext. This is the blob the payload store holds and the ledger anchors by hash.
  Bytes Encode() const;
  // kInvalidArgument when `bytes` is shorter than a nonce and a tag.
  static Result<Sealed> Decode(ByteView bytes);
};

// Encrypts `plaintext` under `key` with a fresh random nonce. `associated_data` is authenticated
// but not encrypted (e.g. the record id, so a ciphertext cannot be swapped between records); the
// same bytes must be given to Decrypt.
Sealed Encrypt(const DataKey& key, ByteView plaintext, ByteView associated_data = {});

// The plaintext, or kUnauthenticated when the key, nonce, ciphertext, tag or associated data do not
// match what Encrypt used; kInvalidArgument when the ciphertext is shorter than a tag.
Result<Bytes> Decrypt(const DataKey& key, const Sealed& sealed, ByteView associated_data = {});

// A fresh DataKey and the payload encrypted under it: the usual way to encrypt a new record.
struct EncryptedPayload {
  DataKey key;
  Sealed sealed;
};
EncryptedPayload EncryptWithFreshKey(ByteView plaintext, ByteView associated_data = {});

// Wraps `key` for `recipient` (kWrappedKeySize bytes). Anyone can wrap; only the holder of the
// recipient's secret key can unwrap. kInvalidArgument when `recipient` is not a usable X25519 key
// (a low-order point, for which the shared secret would be all zero): recipient keys come from the
// ledger, i.e. from outside, so this is an answer rather than an assertion.
Result<Bytes> WrapDataKey(const DataKey& key, const X25519PublicKey& recipient);

// The wrapped DataKey, or kInvalidArgument when `wrapped` is not kWrappedKeySize bytes, or
// kUnauthenticated when it was not wrapped for `recipient` or was altered.
Result<DataKey> UnwrapDataKey(ByteView wrapped, const X25519KeyPair& recipient);

// Constant-time equality of two byte strings (sodium_memcmp) for comparing secrets or MACs. The
// sizes are not treated as secret: different sizes return false at once.
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace hc::crypto
