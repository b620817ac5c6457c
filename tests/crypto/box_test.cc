#include "crypto/box.h"

#include <gtest/gtest.h>

#include <string>

namespace hc::crypto {
namespace {

Bytes FlipBit(ByteView in, size_t bit) {
  Bytes out(in.begin(), in.end());
  out[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return out;
}

TEST(AeadTest, RoundTrip) {
  const DataKey key = DataKey::Generate();
  const Bytes plaintext = ToBytes("discharge summary: patient stable");
  const Sealed sealed = Encrypt(key, plaintext);
  EXPECT_EQ(sealed.ciphertext.size(), plaintext.size() + kAeadTagSize);
  auto opened = Decrypt(key, sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, plaintext);
}

TEST(AeadTest, EmptyPlaintextRoundTrips) {
  const DataKey key = DataKey::Generate();
  const Sealed sealed = Encrypt(key, {});
  EXPECT_EQ(sealed.ciphertext.size(), kAeadTagSize);
  auto opened = Decrypt(key, sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->empty());
}

TEST(AeadTest, FreshNonceEachTime) {
  const DataKey key = DataKey::Generate();
  const Bytes plaintext = ToBytes("same");
  const Sealed a = Encrypt(key, plaintext);
  const Sealed b = Encrypt(key, plaintext);
  EXPECT_NE(a.nonce, b.nonce);
  EXPECT_NE(a.ciphertext, b.ciphertext);
}

TEST(AeadTest, EncodeDecodeRoundTrip) {
  const DataKey key = DataKey::Generate();
  const Bytes ad = ToBytes("record-42");
  const Sealed sealed = Encrypt(key, ToBytes("payload"), ad);
  const Bytes wire = sealed.Encode();
  EXPECT_EQ(wire.size(), kAeadNonceSize + sealed.ciphertext.size());
  auto decoded = Sealed::Decode(wire);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->nonce, sealed.nonce);
  EXPECT_EQ(decoded->ciphertext, sealed.ciphertext);
  auto opened = Decrypt(key, *decoded, ad);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, ToBytes("payload"));
}

// Every single-bit change anywhere in the encoded blob (nonce, ciphertext body, tag) is caught.
TEST(AeadTest, EveryBitFlipOfNonceCiphertextOrTagFails) {
  const DataKey key = DataKey::Generate();
  const Bytes ad = ToBytes("record-7");
  const Sealed sealed = Encrypt(key, ToBytes("a short clinical note, 40 bytes long...."), ad);
  const Bytes wire = sealed.Encode();
  ASSERT_EQ(wire.size(), kAeadNonceSize + 40 + kAeadTagSize);
  for (size_t bit = 0; bit < wire.size() * 8; ++bit) {
    auto decoded = Sealed::Decode(FlipBit(wire, bit));
    ASSERT_TRUE(decoded.ok());
    auto opened = Decrypt(key, *decoded, ad);
    ASSERT_FALSE(opened.ok()) << "bit " << bit << " of " << wire.size() * 8 << " went unnoticed";
    EXPECT_EQ(opened.status().code(), StatusCode::kUnauthenticated);
  }
}

TEST(AeadTest, WrongKeyFails) {
  const DataKey key = DataKey::Generate();
  const DataKey other = DataKey::Generate();
  const Sealed sealed = Encrypt(key, ToBytes("secret"));
  auto opened = Decrypt(other, sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnauthenticated);
  // A key one bit away fails as well.
  auto near = DataKey::FromBytes(FlipBit(key.bytes(), 0));
  ASSERT_TRUE(near.ok());
  EXPECT_FALSE(Decrypt(*near, sealed).ok());
}

TEST(AeadTest, AssociatedDataMismatchFails) {
  const DataKey key = DataKey::Generate();
  const Sealed sealed = Encrypt(key, ToBytes("lab result"), ToBytes("record-1"));
  EXPECT_TRUE(Decrypt(key, sealed, ToBytes("record-1")).ok());
  EXPECT_EQ(Decrypt(key, sealed, ToBytes("record-2")).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(Decrypt(key, sealed).status().code(), StatusCode::kUnauthenticated);
  const Sealed no_ad = Encrypt(key, ToBytes("lab result"));
  EXPECT_FALSE(Decrypt(key, no_ad, ToBytes("record-1")).ok());
}

TEST(AeadTest, TruncatedInputIsInvalidNotFatal) {
  const DataKey key = DataKey::Generate();
  const Bytes wire = Encrypt(key, ToBytes("x")).Encode();
  for (size_t n = 0; n < kAeadNonceSize + kAeadTagSize; ++n) {
    auto decoded = Sealed::Decode(ByteView(wire).first(n));
    ASSERT_FALSE(decoded.ok()) << n;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  }
  // Long enough to decode, but with the last byte cut: the tag no longer matches.
  auto decoded = Sealed::Decode(ByteView(wire).first(wire.size() - 1));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(Decrypt(key, *decoded).status().code(), StatusCode::kUnauthenticated);
  // A hand-built Sealed with a too-short ciphertext is refused, not read out of bounds.
  Sealed tiny;
  tiny.ciphertext = Bytes(kAeadTagSize - 1, 0);
  EXPECT_EQ(Decrypt(key, tiny).status().code(), StatusCode::kInvalidArgument);
}

TEST(AeadTest, EncryptWithFreshKey) {
  const Bytes plaintext(4096, 0x5a);
  EncryptedPayload a = EncryptWithFreshKey(plaintext, ToBytes("ad"));
  EncryptedPayload b = EncryptWithFreshKey(plaintext, ToBytes("ad"));
  EXPECT_FALSE(ConstantTimeEqual(a.key.bytes(), b.key.bytes()));
  auto opened = Decrypt(a.key, a.sealed, ToBytes("ad"));
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, plaintext);
  EXPECT_FALSE(Decrypt(b.key, a.sealed, ToBytes("ad")).ok());
}

TEST(DataKeyTest, FromBytesChecksSizeAndMoveWipes) {
  EXPECT_EQ(DataKey::FromBytes(Bytes(31, 1)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DataKey::FromBytes(Bytes(33, 1)).status().code(), StatusCode::kInvalidArgument);
  DataKey key = DataKey::Generate();
  const Bytes copy(key.bytes().begin(), key.bytes().end());
  DataKey moved = std::move(key);
  EXPECT_EQ(Bytes(moved.bytes().begin(), moved.bytes().end()), copy);
  for (uint8_t b : key.bytes()) ASSERT_EQ(b, 0);  // NOLINT(bugprone-use-after-move): on purpose
}

TEST(SealedBoxTest, WrapUnwrapRoundTrip) {
  const X25519KeyPair patient = GenerateX25519();
  const DataKey key = DataKey::Generate();
  auto wrapped = WrapDataKey(key, patient.public_key);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  EXPECT_EQ(wrapped->size(), kWrappedKeySize);
  auto unwrapped = UnwrapDataKey(*wrapped, patient);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(ConstantTimeEqual(unwrapped->bytes(), key.bytes()));
  // Wrapping is randomised (ephemeral sender key): two wraps of one key differ.
  auto again = WrapDataKey(key, patient.public_key);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*wrapped, *again);
}

TEST(SealedBoxTest, WrongRecipientFails) {
  const X25519KeyPair patient = GenerateX25519();
  const X25519KeyPair insurer = GenerateX25519();
  const DataKey key = DataKey::Generate();
  auto wrapped = WrapDataKey(key, patient.public_key);
  ASSERT_TRUE(wrapped.ok());
  auto unwrapped = UnwrapDataKey(*wrapped, insurer);
  ASSERT_FALSE(unwrapped.ok());
  EXPECT_EQ(unwrapped.status().code(), StatusCode::kUnauthenticated);
}

TEST(SealedBoxTest, TruncatedOrAlteredInputFails) {
  const X25519KeyPair patient = GenerateX25519();
  const DataKey key = DataKey::Generate();
  const Bytes wrapped = *WrapDataKey(key, patient.public_key);
  for (size_t n = 0; n < wrapped.size(); ++n) {
    auto r = UnwrapDataKey(ByteView(wrapped).first(n), patient);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  Bytes longer = wrapped;
  longer.push_back(0);
  EXPECT_EQ(UnwrapDataKey(longer, patient).status().code(), StatusCode::kInvalidArgument);
  for (size_t bit = 0; bit < wrapped.size() * 8; ++bit) {
    auto r = UnwrapDataKey(FlipBit(wrapped, bit), patient);
    ASSERT_FALSE(r.ok()) << "bit " << bit;
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  }
}

TEST(SealedBoxTest, LowOrderRecipientIsRefused) {
  const DataKey key = DataKey::Generate();
  X25519PublicKey zero{};  // u = 0, a point of order 2: every shared secret with it is all zero
  auto r = WrapDataKey(key, zero);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(X25519Test, FromSecretDerivesTheSamePublicKey) {
  const X25519KeyPair kp = GenerateX25519();
  auto again = X25519FromSecret(kp.secret_key.bytes());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key, kp.public_key);
  EXPECT_EQ(X25519FromSecret(Bytes(31, 1)).status().code(), StatusCode::kInvalidArgument);
}

TEST(X25519Test, Rfc7748PublicKeyDerivation) {
  // RFC 7748 §6.1: Alice's private key and public key.
  const Bytes alice_secret = {0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1,
                              0x72, 0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0,
                              0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
  const X25519PublicKey alice_public = {0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54,
                                        0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
                                        0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4,
                                        0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
  auto kp = X25519FromSecret(alice_secret);
  ASSERT_TRUE(kp.ok());
  EXPECT_EQ(kp->public_key, alice_public);
}

TEST(ConstantTimeEqualTest, Basics) {
  EXPECT_TRUE(ConstantTimeEqual({}, {}));
  EXPECT_TRUE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abc")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abd")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), AsBytes("ab")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), {}));
}

}  // namespace
}  // namespace hc::crypto
