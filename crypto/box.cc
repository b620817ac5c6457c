#include "crypto/box.h"

#include <sodium.h>

#include <string>

#include "common/assert.h"
#include "crypto/ed25519.h"  // internal::EnsureSodiumInit

namespace hc::crypto {

static_assert(kX25519PublicKeySize == crypto_box_PUBLICKEYBYTES);
static_assert(kX25519SecretKeySize == crypto_box_SECRETKEYBYTES);
static_assert(kX25519SecretKeySize == crypto_scalarmult_BYTES);
static_assert(kDataKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kAeadTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kSealedBoxOverhead == crypto_box_SEALBYTES);

// ---- X25519SecretKey ----

X25519SecretKey::X25519SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

X25519SecretKey::~X25519SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

X25519SecretKey::X25519SecretKey(X25519SecretKey&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

X25519SecretKey& X25519SecretKey::operator=(X25519SecretKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

X25519KeyPair GenerateX25519() {
  internal::EnsureSodiumInit();
  X25519KeyPair kp;
  HC_ASSERT_EQ(crypto_box_keypair(kp.public_key.data(), kp.secret_key.data()), 0);
  return kp;
}

Result<X25519KeyPair> X25519FromSecret(ByteView secret) {
  internal::EnsureSodiumInit();
  if (secret.size() != kX25519SecretKeySize) {
    return InvalidArgument("x25519 secret key: expected " + std::to_string(kX25519SecretKeySize) +
                           " bytes, got " + std::to_string(secret.size()));
  }
  X25519KeyPair kp;
  std::memcpy(kp.secret_key.data(), secret.data(), kX25519SecretKeySize);
  // crypto_box_keypair derives the public key the same way, so keys made either way agree.
  if (crypto_scalarmult_base(kp.public_key.data(), kp.secret_key.data()) != 0) {
    return InvalidArgument("x25519 secret key: derives an invalid public key");
  }
  return kp;
}

// ---- DataKey ----

DataKey::DataKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

DataKey::~DataKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

DataKey::DataKey(DataKey&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

DataKey& DataKey::operator=(DataKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

DataKey DataKey::Generate() {
  internal::EnsureSodiumInit();
  DataKey key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  return key;
}

Result<DataKey> DataKey::FromBytes(ByteView key) {
  if (key.size() != kDataKeySize) {
    return InvalidArgument("data key: expected " + std::to_string(kDataKeySize) + " bytes, got " +
                           std::to_string(key.size()));
  }
  DataKey out;
  std::memcpy(out.data(), key.data(), kDataKeySize);
  return out;
}

// ---- AEAD ----

Bytes Sealed::Encode() const {
  Bytes out(nonce.size() + ciphertext.size());
  std::memcpy(out.data(), nonce.data(), nonce.size());
  if (!ciphertext.empty())
    std::memcpy(out.data() + nonce.size(), ciphertext.data(), ciphertext.size());
  return out;
}

Result<Sealed> Sealed::Decode(ByteView bytes) {
  if (bytes.size() < kAeadNonceSize + kAeadTagSize) {
    return InvalidArgument("sealed payload: " + std::to_string(bytes.size()) +
                           " bytes is shorter than a nonce and a tag (" +
                           std::to_string(kAeadNonceSize + kAeadTagSize) + ")");
  }
  Sealed s;
  std::memcpy(s.nonce.data(), bytes.data(), kAeadNonceSize);
  s.ciphertext.assign(bytes.begin() + kAeadNonceSize, bytes.end());
  return s;
}

Sealed Encrypt(const DataKey& key, ByteView plaintext, ByteView associated_data) {
  internal::EnsureSodiumInit();
  Sealed s;
  randombytes_buf(s.nonce.data(), s.nonce.size());
  s.ciphertext.resize(plaintext.size() + kAeadTagSize);
  unsigned long long ciphertext_len = 0;
  // Fails only for plaintexts beyond MESSAGEBYTES_MAX (~256 GiB), which no caller can hold.
  HC_ASSERT_EQ(
      crypto_aead_xchacha20poly1305_ietf_encrypt(
          s.ciphertext.data(), &ciphertext_len, plaintext.data(), plaintext.size(),
          associated_data.data(), associated_data.size(), nullptr, s.nonce.data(), key.data()),
      0);
  HC_ASSERT_EQ(ciphertext_len, s.ciphertext.size());
  return s;
}

Result<Bytes> Decrypt(const DataKey& key, const Sealed& sealed, ByteView associated_data) {
  internal::EnsureSodiumInit();
  if (sealed.ciphertext.size() < kAeadTagSize) {
    return InvalidArgument("sealed payload: ciphertext of " +
                           std::to_string(sealed.ciphertext.size()) +
                           " bytes is shorter than the tag");
  }
  Bytes plaintext(sealed.ciphertext.size() - kAeadTagSize);
  unsigned long long plaintext_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plaintext.data(), &plaintext_len, nullptr,
                                                 sealed.ciphertext.data(), sealed.ciphertext.size(),
                                                 associated_data.data(), associated_data.size(),
                                                 sealed.nonce.data(), key.data()) != 0) {
    return Unauthenticated(
        "sealed payload: authentication failed (wrong key, associated data, or altered bytes)");
  }
  HC_ASSERT_EQ(plaintext_len, plaintext.size());
  return plaintext;
}

EncryptedPayload EncryptWithFreshKey(ByteView plaintext, ByteView associated_data) {
  EncryptedPayload out{DataKey::Generate(), {}};
  out.sealed = Encrypt(out.key, plaintext, associated_data);
  return out;
}

// ---- Key wrapping ----

Result<Bytes> WrapDataKey(const DataKey& key, const X25519PublicKey& recipient) {
  internal::EnsureSodiumInit();
  Bytes wrapped(kWrappedKeySize);
  if (crypto_box_seal(wrapped.data(), key.data(), kDataKeySize, recipient.data()) != 0) {
    return InvalidArgument("x25519 recipient public key: unusable (low-order point)");
  }
  return wrapped;
}

Result<DataKey> UnwrapDataKey(ByteView wrapped, const X25519KeyPair& recipient) {
  internal::EnsureSodiumInit();
  if (wrapped.size() != kWrappedKeySize) {
    return InvalidArgument("wrapped data key: expected " + std::to_string(kWrappedKeySize) +
                           " bytes, got " + std::to_string(wrapped.size()));
  }
  DataKey key;
  if (crypto_box_seal_open(key.data(), wrapped.data(), wrapped.size(), recipient.public_key.data(),
                           recipient.secret_key.data()) != 0) {
    return Unauthenticated(
        "wrapped data key: cannot be opened with this key (wrapped for someone else or altered)");
  }
  return key;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  internal::EnsureSodiumInit();
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace hc::crypto
