#include "consensus/signing.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/hash.h"

namespace hc::consensus {
namespace {

constexpr std::string_view kChain = "hc-test";

Hash32 Filled(uint8_t b) {
  Hash32 h;
  h.fill(b);
  return h;
}

PublicKey KeyFor(uint32_t i) {
  PublicKey k{};
  k[0] = static_cast<uint8_t>(i + 1);
  k[31] = 0x5a;
  return k;
}

TEST(SigningBytesTest, VoteLayoutIsWireW5) {
  const Bytes b = VoteSignedBytes(kChain, ViewNumber(0x0102), SeqNumber(0x0a0b0c), Filled(0xee));
  std::string expected_hex = "07" + HexEncode(AsBytes(kChain)) + "0000000000000102" +
                             "00000000000a0b0c" + std::string(64, 'e');
  EXPECT_EQ(HexEncode(b), expected_hex);
}

TEST(SigningBytesTest, CheckpointLayoutIsWireW5) {
  const Bytes b =
      CheckpointSignedBytes(kChain, SeqNumber(5), Filled(0x11), Filled(0x22), Filled(0x33));
  std::string expected_hex = "07" + HexEncode(AsBytes(kChain)) + "0000000000000005" +
                             std::string(64, '1') + std::string(64, '2') + std::string(64, '3');
  EXPECT_EQ(HexEncode(b), expected_hex);
}

TEST(SigningBytesTest, ViewChangeAndNewViewLayouts) {
  const Bytes vc = ViewChangeSignedBytes(kChain, ViewNumber(3), SeqNumber(16), Filled(0x44));
  EXPECT_EQ(HexEncode(vc), "07" + HexEncode(AsBytes(kChain)) + "0000000000000003" +
                               "0000000000000010" + std::string(64, '4'));
  const Bytes nv = NewViewSignedBytes(kChain, ViewNumber(9), Filled(0x55));
  EXPECT_EQ(HexEncode(nv),
            "07" + HexEncode(AsBytes(kChain)) + "0000000000000009" + std::string(64, '5'));
}

TEST(SigningBytesTest, PreparedSetDigestIsOverSeqViewHash) {
  PreparedCertificate c;
  c.pre_prepare.view = ViewNumber(2);
  c.pre_prepare.seq = SeqNumber(7);
  c.pre_prepare.block_hash = Filled(0x66);
  std::vector<PreparedCertificate> set = {c};
  Bytes expected;
  for (uint8_t b : {0, 0, 0, 1}) expected.push_back(b);
  for (int i = 0; i < 7; ++i) expected.push_back(0);
  expected.push_back(7);
  for (int i = 0; i < 7; ++i) expected.push_back(0);
  expected.push_back(2);
  for (int i = 0; i < 32; ++i) expected.push_back(0x66);
  EXPECT_EQ(PreparedSetDigest(set), crypto::Sha256(expected));
  // The prepares and the block are not part of it: they are self-certifying.
  set[0].prepares.push_back(Prepare{});
  set[0].pre_prepare.block.txs.Mutable().push_back(ToBytes("tx"));
  EXPECT_EQ(PreparedSetDigest(set), crypto::Sha256(expected));
  EXPECT_NE(PreparedSetDigest({}), PreparedSetDigest(set));
}

TEST(SigningBytesTest, ChainIdBounds) {
  EXPECT_FALSE(IsValidChainId(""));
  EXPECT_TRUE(IsValidChainId(std::string(64, 'c')));
  EXPECT_FALSE(IsValidChainId(std::string(65, 'c')));
}

TEST(SigningBytesTest, BlockHashIsDomainHashOfHeader) {
  const Bytes header = ToBytes("header bytes");
  EXPECT_EQ(BlockHash(header), crypto::Sha256(ToBytes("hc/block/v1header bytes")));
}

class SignVerifyTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    for (uint32_t i = 0; i < 4; ++i) {
      if (GetParam()) {
        auto kp = crypto::GenerateEd25519();
        keys_.push_back(kp.public_key);
        signers_.push_back(crypto::MakeEd25519Signer(std::move(kp.secret_key)));
      } else {
        keys_.push_back(KeyFor(i));
        signers_.push_back(crypto::MakeFakeSigner(KeyFor(i)));
      }
    }
    verifier_ = GetParam() ? crypto::MakeEd25519Verifier() : crypto::MakeFakeVerifier();
  }

  CommitCertificate MakeCert(std::vector<uint32_t> signers, ViewNumber view, Height height,
                             const Hash32& digest) {
    CommitCertificate cert;
    cert.height = height;
    cert.view = view;
    cert.block_hash = digest;
    for (uint32_t i : signers) {
      Commit c{view, SeqNumber(height.value()), digest, ReplicaId(i), {}};
      SignCommit(*signers_[i], kChain, c);
      cert.signatures.push_back({ReplicaId(i), c.signature});
    }
    return cert;
  }

  std::vector<PublicKey> keys_;
  std::vector<std::unique_ptr<crypto::Signer>> signers_;
  std::unique_ptr<crypto::Verifier> verifier_;
};

TEST_P(SignVerifyTest, DomainsDoNotCross) {
  Prepare p{ViewNumber(1), SeqNumber(2), Filled(3), ReplicaId(1), {}};
  SignPrepare(*signers_[1], kChain, p);
  EXPECT_TRUE(VerifyPrepare(*verifier_, kChain, keys_[1], p));
  // The same fields as a COMMIT or PRE-PREPARE do not verify: the domain tag differs.
  Commit c{p.view, p.seq, p.block_hash, p.replica, p.signature};
  EXPECT_FALSE(VerifyCommit(*verifier_, kChain, keys_[1], c));
  PrePrepare pp{p.view, p.seq, p.block_hash, {}, p.signature};
  EXPECT_FALSE(VerifyPrePrepare(*verifier_, kChain, keys_[1], pp));
  // Another chain, another view, another key: no.
  EXPECT_FALSE(VerifyPrepare(*verifier_, "other-chain", keys_[1], p));
  Prepare p2 = p;
  p2.view = ViewNumber(2);
  EXPECT_FALSE(VerifyPrepare(*verifier_, kChain, keys_[1], p2));
  EXPECT_FALSE(VerifyPrepare(*verifier_, kChain, keys_[2], p));
  EXPECT_FALSE(VerifyPrepare(*verifier_, "", keys_[1], p));
}

TEST_P(SignVerifyTest, CheckpointViewChangeNewViewRoundTrip) {
  Checkpoint cp{SeqNumber(16), Filled(1), Filled(2), Filled(3), ReplicaId(0), {}};
  SignCheckpoint(*signers_[0], kChain, cp);
  EXPECT_TRUE(VerifyCheckpoint(*verifier_, kChain, keys_[0], cp));
  cp.state_digest[0] ^= 1;
  EXPECT_FALSE(VerifyCheckpoint(*verifier_, kChain, keys_[0], cp));

  ViewChange vc;
  vc.new_view = ViewNumber(1);
  vc.replica = ReplicaId(2);
  PreparedCertificate pc;
  pc.pre_prepare = PrePrepare{ViewNumber(0), SeqNumber(1), Filled(9), {}, {}};
  vc.prepared.push_back(pc);
  SignViewChange(*signers_[2], kChain, vc);
  EXPECT_TRUE(VerifyViewChange(*verifier_, kChain, keys_[2], vc));
  ViewChange stripped = vc;
  stripped.prepared.clear();  // a relayer dropping a prepared certificate is caught
  EXPECT_FALSE(VerifyViewChange(*verifier_, kChain, keys_[2], stripped));

  NewView nv;
  nv.view = ViewNumber(1);
  nv.replica = ReplicaId(1);
  nv.view_changes.push_back(vc);
  nv.pre_prepares.push_back(pc.pre_prepare);
  SignNewView(*signers_[1], kChain, nv);
  EXPECT_TRUE(VerifyNewView(*verifier_, kChain, keys_[1], nv));
  NewView tampered = nv;
  tampered.pre_prepares[0].block_hash[0] ^= 1;
  EXPECT_FALSE(VerifyNewView(*verifier_, kChain, keys_[1], tampered));
}

TEST_P(SignVerifyTest, CommitCertificateNeedsQuorumOfDistinctKnownSigners) {
  const Hash32 d = Filled(7);
  const uint32_t f = 1;
  auto ok = MakeCert({0, 1, 3}, ViewNumber(2), Height(5), d);
  EXPECT_TRUE(VerifyCommitCertificate(ok, kChain, keys_, f, *verifier_));
  EXPECT_TRUE(VerifyCommitCertificate(MakeCert({0, 1, 2, 3}, ViewNumber(2), Height(5), d), kChain,
                                      keys_, f, *verifier_));

  auto too_few = MakeCert({0, 1}, ViewNumber(2), Height(5), d);
  EXPECT_FALSE(VerifyCommitCertificate(too_few, kChain, keys_, f, *verifier_));

  auto dup = ok;  // three signatures but only two signers: counted as signers, not messages
  dup.signatures[2] = dup.signatures[0];
  EXPECT_EQ(CheckCommitCertificate(dup, kChain, keys_, f, *verifier_).code(),
            StatusCode::kInvalidArgument);

  auto unknown = ok;
  unknown.signatures[2].replica = ReplicaId(4);
  EXPECT_FALSE(VerifyCommitCertificate(unknown, kChain, keys_, f, *verifier_));

  // One view: a signature from another view does not verify against the certificate's view.
  auto mixed = ok;
  mixed.signatures[2] = MakeCert({3}, ViewNumber(3), Height(5), d).signatures[0];
  EXPECT_EQ(CheckCommitCertificate(mixed, kChain, keys_, f, *verifier_).code(),
            StatusCode::kUnauthenticated);
  // One digest.
  auto other_digest = ok;
  other_digest.signatures[2] = MakeCert({3}, ViewNumber(2), Height(5), Filled(8)).signatures[0];
  EXPECT_FALSE(VerifyCommitCertificate(other_digest, kChain, keys_, f, *verifier_));
  // Height is bound.
  auto moved = ok;
  moved.height = Height(6);
  EXPECT_FALSE(VerifyCommitCertificate(moved, kChain, keys_, f, *verifier_));
  // Chain is bound.
  EXPECT_FALSE(VerifyCommitCertificate(ok, "other", keys_, f, *verifier_));
  // f too large for the set.
  EXPECT_FALSE(VerifyCommitCertificate(ok, kChain, keys_, 2, *verifier_));
  // More signatures than validators.
  auto many = MakeCert({0, 1, 2, 3}, ViewNumber(2), Height(5), d);
  many.signatures.push_back(many.signatures[0]);
  EXPECT_FALSE(VerifyCommitCertificate(many, kChain, keys_, f, *verifier_));
}

TEST_P(SignVerifyTest, CertifiedBlockBindsHeaderAndHeight) {
  CertifiedBlock b;
  b.block.header = ToBytes("a header");
  b.certificate = MakeCert({0, 1, 2}, ViewNumber(0), Height(1), BlockHash(b.block.header));
  EXPECT_TRUE(CheckCertifiedBlock(b, Height(1), kChain, keys_, 1, *verifier_).ok());
  EXPECT_FALSE(CheckCertifiedBlock(b, Height(2), kChain, keys_, 1, *verifier_).ok());
  b.block.header.push_back('!');
  EXPECT_FALSE(CheckCertifiedBlock(b, Height(1), kChain, keys_, 1, *verifier_).ok());
}

INSTANTIATE_TEST_SUITE_P(FakeAndEd25519, SignVerifyTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Ed25519" : "Fake"; });

}  // namespace
}  // namespace hc::consensus
