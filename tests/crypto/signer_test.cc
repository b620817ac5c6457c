#include "crypto/signer.h"

#include <gtest/gtest.h>

#include <string>

namespace hc::crypto {
namespace {

constexpr std::string_view kTxDomain = "hc/tx/v1";
constexpr std::string_view kPrepareDomain = "hc/pbft/v1/prepare";

Ed25519SecretKey CopySecret(const Ed25519SecretKey& sk) {
  auto kp = Ed25519FromSeed(sk.seed());
  HC_ASSERT(kp.ok());
  return std::move(kp->secret_key);
}

TEST(Ed25519SignerTest, RoundTrip) {
  const Ed25519KeyPair kp = GenerateEd25519();
  auto signer = MakeEd25519Signer(CopySecret(kp.secret_key));
  auto verifier = MakeEd25519Verifier();
  EXPECT_EQ(signer->public_key(), kp.public_key);
  const Bytes body = ToBytes("tx body bytes");
  const Ed25519Signature sig = signer->Sign(kTxDomain, body);
  EXPECT_TRUE(verifier->Verify(kp.public_key, kTxDomain, body, sig));
  EXPECT_FALSE(verifier->Verify(kp.public_key, kTxDomain, ToBytes("tx body bytez"), sig));
  EXPECT_FALSE(verifier->Verify(GenerateEd25519().public_key, kTxDomain, body, sig));
}

TEST(Ed25519SignerTest, SignsDomainThenMessage) {
  // The wire format (DESIGN.md §1) is a plain Ed25519 signature over "hc/tx/v1" || body, which
  // other implementations must be able to check without our Verifier.
  const Ed25519KeyPair kp = GenerateEd25519();
  auto signer = MakeEd25519Signer(CopySecret(kp.secret_key));
  const Ed25519Signature sig = signer->Sign(kTxDomain, ToBytes("body"));
  EXPECT_TRUE(Ed25519Verify(kp.public_key, ToBytes("hc/tx/v1body"), sig));
  // Ed25519 is deterministic: the same input gives the same signature.
  EXPECT_EQ(sig, Ed25519Sign(kp.secret_key, ToBytes("hc/tx/v1body")));
}

TEST(Ed25519SignerTest, DomainSeparation) {
  const Ed25519KeyPair kp = GenerateEd25519();
  auto signer = MakeEd25519Signer(CopySecret(kp.secret_key));
  auto verifier = MakeEd25519Verifier();
  const Bytes msg = ToBytes("view=3 seq=17 digest=...");
  const Ed25519Signature sig = signer->Sign(kTxDomain, msg);
  EXPECT_TRUE(verifier->Verify(kp.public_key, kTxDomain, msg, sig));
  EXPECT_FALSE(verifier->Verify(kp.public_key, kPrepareDomain, msg, sig));
  EXPECT_FALSE(verifier->Verify(kp.public_key, "", msg, sig));
}

TEST(Ed25519SignerTest, LargeMessages) {
  // Above the signer's scratch-buffer size, a separate buffer is used; the result is the same.
  const Ed25519KeyPair kp = GenerateEd25519();
  auto signer = MakeEd25519Signer(CopySecret(kp.secret_key));
  auto verifier = MakeEd25519Verifier();
  const Bytes big(size_t{200} * 1024, 0x42);
  const Ed25519Signature sig = signer->Sign(kTxDomain, big);
  EXPECT_TRUE(verifier->Verify(kp.public_key, kTxDomain, big, sig));
  // And a small message after a large one still works (the scratch buffer is not stale).
  const Ed25519Signature small = signer->Sign(kTxDomain, ToBytes("x"));
  EXPECT_TRUE(verifier->Verify(kp.public_key, kTxDomain, ToBytes("x"), small));
  EXPECT_FALSE(verifier->Verify(kp.public_key, kTxDomain, ToBytes("x"), sig));
}

TEST(FakeSignerTest, DeterministicAndChecksEverything) {
  Ed25519PublicKey id{};
  id[0] = 7;
  auto signer = MakeFakeSigner(id);
  auto verifier = MakeFakeVerifier();
  EXPECT_EQ(signer->public_key(), id);
  const Bytes msg = ToBytes("block 12");
  const Ed25519Signature a = signer->Sign(kPrepareDomain, msg);
  EXPECT_EQ(a, signer->Sign(kPrepareDomain, msg));
  EXPECT_EQ(a, MakeFakeSigner(id)->Sign(kPrepareDomain, msg));  // across instances too
  EXPECT_TRUE(verifier->Verify(id, kPrepareDomain, msg, a));

  EXPECT_NE(a, signer->Sign(kPrepareDomain, ToBytes("block 13")));
  EXPECT_FALSE(verifier->Verify(id, kPrepareDomain, ToBytes("block 13"), a));
  EXPECT_FALSE(verifier->Verify(id, kTxDomain, msg, a));  // domain separation
  Ed25519PublicKey other = id;
  other[31] ^= 1;
  EXPECT_FALSE(verifier->Verify(other, kPrepareDomain, msg, a));
  EXPECT_NE(a, MakeFakeSigner(other)->Sign(kPrepareDomain, msg));
  for (size_t bit = 0; bit < a.size() * 8; ++bit) {
    Ed25519Signature bad = a;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(verifier->Verify(id, kPrepareDomain, msg, bad)) << bit;
  }
  EXPECT_FALSE(verifier->Verify(id, kPrepareDomain, msg, ByteView(a).first(63)));
  EXPECT_FALSE(verifier->Verify(id, kPrepareDomain, msg, {}));
}

TEST(FakeSignerTest, FakeAndRealNeverCrossVerify) {
  const Ed25519KeyPair kp = GenerateEd25519();
  auto real_signer = MakeEd25519Signer(CopySecret(kp.secret_key));
  auto fake_signer = MakeFakeSigner(kp.public_key);
  auto real_verifier = MakeEd25519Verifier();
  auto fake_verifier = MakeFakeVerifier();
  for (int i = 0; i < 200; ++i) {
    const Bytes msg = ToBytes("message " + std::to_string(i));
    const Ed25519Signature real = real_signer->Sign(kTxDomain, msg);
    const Ed25519Signature fake = fake_signer->Sign(kTxDomain, msg);
    ASSERT_TRUE(real_verifier->Verify(kp.public_key, kTxDomain, msg, real));
    ASSERT_TRUE(fake_verifier->Verify(kp.public_key, kTxDomain, msg, fake));
    EXPECT_FALSE(real_verifier->Verify(kp.public_key, kTxDomain, msg, fake)) << i;
    EXPECT_FALSE(fake_verifier->Verify(kp.public_key, kTxDomain, msg, real)) << i;
    // The structural reason (see signer.cc): a fake signature's S is >= 2^255, far above the group
    // order, which every RFC 8032 verifier rejects; every real one has S < L < 2^253.
    EXPECT_GE(fake[63], 0x10);
    EXPECT_LT(real[63], 0x10);
  }
}

TEST(FakeSignerTest, RealSignatureWithMarkerBytesPatchedInStillFails) {
  // Even a real signature doctored to carry the fake's marker is no fake signature.
  const Ed25519KeyPair kp = GenerateEd25519();
  auto real_signer = MakeEd25519Signer(CopySecret(kp.secret_key));
  const Bytes msg = ToBytes("m");
  Ed25519Signature doctored = real_signer->Sign(kTxDomain, msg);
  const Ed25519Signature fake = MakeFakeSigner(kp.public_key)->Sign(kTxDomain, msg);
  std::copy(fake.begin() + 56, fake.end(), doctored.begin() + 56);
  EXPECT_FALSE(MakeFakeVerifier()->Verify(kp.public_key, kTxDomain, msg, doctored));
  EXPECT_FALSE(MakeEd25519Verifier()->Verify(kp.public_key, kTxDomain, msg, doctored));
}

}  // namespace
}  // namespace hc::crypto
