// R26: a ledger catching up by state transfer commits a block without checking its txs'
// signatures when a later certified header attests the log the block yields; it checks every
// signature whenever the attestation does not check out or the log differs.
#include <gtest/gtest.h>

#include <atomic>

#include "ledger_test_util.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

// The fake verifier, counting the tx signatures it is asked about.
class CountingVerifier final : public crypto::Verifier {
 public:
  bool Verify(const crypto::Ed25519PublicKey& key, std::string_view domain, ByteView message,
              ByteView signature) const override {
    ++calls;
    return inner_->Verify(key, domain, message, signature);
  }
  mutable std::atomic<int> calls{0};

 private:
  std::unique_ptr<crypto::Verifier> inner_ = crypto::MakeFakeVerifier();
};

struct Certified {
  pb::Block block;
  pb::CommitCertificate certificate;
};

class AttestedTest : public ::testing::Test {
 protected:
  AttestedTest() {
    source_ = Open(source_store_);
    follower_ = Open(follower_store_);
  }

  std::unique_ptr<Ledger> Open(MemKvStore& store) {
    auto l = Ledger::Open(std::make_unique<BorrowedStore>(store), TestGenesis(), *verifier_);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? std::move(l).value() : nullptr;
  }

  // Commits `txs` on the source ledger, whose next header will attest the log after it.
  void Produce(std::vector<std::string> txs) {
    pb::Block block = NextBlock(*source_, std::move(txs));
    pb::CommitCertificate cert = Certify(block);
    ASSERT_TRUE(source_->Commit(block, cert).ok());
    chain_.push_back({std::move(block), std::move(cert)});
  }

  // A tx whose signature does not check (R4).
  std::string BrokenSignature(const std::string& tx) {
    pb::SignedTx st;
    EXPECT_TRUE(st.ParseFromString(tx));
    std::string sig = st.signature();
    sig[5] ^= 0x01;
    st.set_signature(sig);
    return st.SerializeAsString();
  }

  // The follower commits chain_[i] with chain_[i + 1] as its attestation (none for the last).
  Result<CommittedBlock> Follow(size_t i) {
    const Certified& c = chain_[i];
    if (i + 1 == chain_.size()) return follower_->Commit(c.block, c.certificate, &tx_checks_);
    const Certified& next = chain_[i + 1];
    return follower_->CommitAttested(
        c.block, c.certificate, Attestation{next.block.header(), &next.certificate}, &tx_checks_);
  }

  // The follower commits chain_[from, to) as one run attested by chain_[to]'s header (which
  // claims the log after chain_[to - 1]), or by `attesting` when given.
  Ledger::CommittedRun FollowRun(size_t from, size_t to, const Certified* attesting = nullptr) {
    std::vector<Ledger::RunBlock> run;
    for (size_t i = from; i < to; ++i) {
      Result<Ledger::RunBlock> b = follower_->RunBlockOf(chain_[i].block, chain_[i].certificate);
      EXPECT_TRUE(b.ok()) << b.status().ToString();
      if (b.ok()) run.push_back(std::move(b).value());
    }
    const Certified& a = attesting ? *attesting : chain_[to];
    return follower_->CommitAttestedRun(run, Attestation{a.block.header(), &a.certificate},
                                        tx_checks_);
  }

  void ExpectSameLedgers() {
    EXPECT_EQ(follower_->height(), source_->height());
    EXPECT_EQ(follower_->tip_hash(), source_->tip_hash());
    EXPECT_EQ(follower_->log_root(), source_->log_root());
    EXPECT_EQ(StateDigest(follower_store_), StateDigest(source_store_));
  }

  std::unique_ptr<crypto::Verifier> verifier_ = crypto::MakeFakeVerifier();
  MemKvStore source_store_;
  MemKvStore follower_store_;
  std::unique_ptr<Ledger> source_;
  std::unique_ptr<Ledger> follower_;
  std::vector<Certified> chain_;
  CountingVerifier tx_checks_;
  TxFactory f;
};

TEST_F(AttestedTest, AttestedBlocksSkipSignaturesAndABadSignatureIsStillFound) {
  Produce({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
           f.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER), f.RegisterPolicy("gov", "bppc-1"),
           f.Enroll("h1", "alice")});
  Produce({f.Anchor("h1", "r1", "alice"), f.Anchor("h1", "r2", "alice")});
  // The validators executed this block with a tx whose signature fails: INVALID (R4), no state.
  const std::string forged = BrokenSignature(f.Access("i1", "r1"));
  Produce({f.Access("h1", "r1"), forged, f.BreakGlass("h1", "r2")});
  Produce({f.Access("i1", "r2"), "garbage"});
  Produce({f.Enroll("bob", "bob")});

  const std::vector<bool> attested = {true, true, false, true, false};
  const std::vector<int> checked = {0, 0, 3, 0, 1};  // "garbage" never reaches R4
  for (size_t i = 0; i < chain_.size(); ++i) {
    const int before = tx_checks_.calls;
    Result<CommittedBlock> r = Follow(i);
    ASSERT_TRUE(r.ok()) << "block " << i + 1 << ": " << r.status().ToString();
    EXPECT_EQ(r->signatures_attested, attested[i]) << "block " << i + 1;
    EXPECT_EQ(tx_checks_.calls - before, checked[i]) << "block " << i + 1;
    EXPECT_EQ(r->log_root, source_->LogClaimAt(i + 1)->log_root);
    if (i == 2) {
      ASSERT_EQ(r->execution.receipts.size(), 3u);
      EXPECT_EQ(r->execution.receipts[1].status(), pb::TX_STATUS_INVALID);
      EXPECT_EQ(r->execution.receipts[1].rule(), "R4");
    }
  }
  ExpectSameLedgers();
}

TEST_F(AttestedTest, AttestationsThatDoNotCheckOutAreIgnored) {
  Produce({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL), f.Enroll("h1", "alice")});
  Produce({f.Anchor("h1", "r1", "alice")});
  Produce({});
  const Certified& block1 = chain_[0];
  const Certified& block2 = chain_[1];
  const Certified& block3 = chain_[2];

  // Signed by a key that is not a genesis validator.
  auto stranger = crypto::MakeFakeSigner(KeyOf("stranger"));
  pb::CommitCertificate forged = MakeCertificate(kChainId, block2.block, 0, {{0, stranger.get()}});
  Result<LogClaim> claim = follower_->AttestedLog(1, Attestation{block2.block.header(), &forged});
  ASSERT_FALSE(claim.ok());
  EXPECT_NE(claim.status().message().find("R26: the attesting certificate"), std::string::npos)
      << claim.status().ToString();
  // Block 3 claims the log after block 2, not after block 1.
  claim = follower_->AttestedLog(1, Attestation{block3.block.header(), &block3.certificate});
  ASSERT_FALSE(claim.ok());
  EXPECT_NE(claim.status().message().find("not after 1"), std::string::npos);
  // Garbage, a missing certificate, and a header that is not later than the block.
  EXPECT_FALSE(follower_->AttestedLog(1, Attestation{"\xff\xff", &block2.certificate}).ok());
  EXPECT_FALSE(follower_->AttestedLog(1, Attestation{block2.block.header(), nullptr}).ok());
  EXPECT_FALSE(
      follower_->AttestedLog(2, Attestation{block2.block.header(), &block2.certificate}).ok());
  // The genuine one.
  claim = follower_->AttestedLog(1, Attestation{block2.block.header(), &block2.certificate});
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  EXPECT_EQ(claim->log_root, source_->LogClaimAt(1)->log_root);

  // Committing with an attestation that does not check out checks every signature.
  Result<CommittedBlock> r = follower_->CommitAttested(
      block1.block, block1.certificate, Attestation{block2.block.header(), &forged}, &tx_checks_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->signatures_attested);
  EXPECT_EQ(tx_checks_.calls, 2);
  // And a block that does not check out is refused whatever attests it.
  pb::CommitCertificate bad_cert = block2.certificate;
  bad_cert.mutable_signatures(0)->set_signature(std::string(64, 'x'));
  r = follower_->CommitAttested(
      block2.block, bad_cert, Attestation{block3.block.header(), &block3.certificate}, &tx_checks_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(follower_->height(), 1u);
}

// A certified header whose log is not what the block yields (validators beyond f, or a bug):
// nothing is taken on trust, the follower checks every signature and commits its own execution.
TEST_F(AttestedTest, AnAttestedLogTheBlockDoesNotYieldMeansCheckingEverySignature) {
  Produce({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL), f.Enroll("h1", "alice")});
  Produce({f.Anchor("h1", "r1", "alice"), f.Anchor("h1", "r2", "alice")});
  pb::BlockHeader lying;
  ASSERT_TRUE(lying.ParseFromString(NextBlock(*source_, {}).header()));
  lying.set_log_root(std::string(32, '\x42'));
  pb::Block attesting;
  attesting.set_header(lying.SerializeAsString());
  const pb::CommitCertificate cert = Certify(attesting);

  ASSERT_TRUE(Follow(0).ok());
  const int before = tx_checks_.calls;
  Result<CommittedBlock> r = follower_->CommitAttested(
      chain_[1].block, chain_[1].certificate, Attestation{attesting.header(), &cert}, &tx_checks_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->signatures_attested);
  EXPECT_EQ(tx_checks_.calls - before, 2);
  ExpectSameLedgers();
}

// One later header attests a whole run of blocks: its log root commits to every entry of the run.
// Heights no header names (a proposer that executed two blocks between proposals) are covered.
TEST_F(AttestedTest, OneHeaderAttestsARunOfBlocks) {
  Produce({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
           f.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER), f.RegisterPolicy("gov", "bppc-1"),
           f.Enroll("h1", "alice")});
  Produce({f.Anchor("h1", "r1", "alice"), f.Anchor("h1", "r2", "alice")});
  Produce({f.Access("h1", "r1"), f.Access("i1", "r2"), "garbage"});
  Produce({f.Enroll("bob", "bob")});

  Ledger::CommittedRun run = FollowRun(0, 3);  // blocks 1..3, attested by block 4's header
  ASSERT_TRUE(run.status.ok()) << run.status.ToString();
  ASSERT_EQ(run.blocks.size(), 3u);
  EXPECT_EQ(tx_checks_.calls, 0);
  for (size_t i = 0; i < run.blocks.size(); ++i) {
    EXPECT_TRUE(run.blocks[i].signatures_attested) << "block " << i + 1;
    EXPECT_EQ(run.blocks[i].height, i + 1);
    EXPECT_EQ(run.blocks[i].log_root, source_->LogClaimAt(i + 1)->log_root);
    EXPECT_EQ(run.blocks[i].execution.receipts.size(), chain_[i].block.txs_size());
  }
  EXPECT_EQ(follower_->height(), 3u);
  // What the run wrote reads back as Commit would have written it: block 4 checks its claim on
  // the log after block 3 against the stored block info, and the stored blocks are the source's.
  ASSERT_TRUE(Follow(3).ok());
  for (uint64_t h = 1; h <= 4; ++h) {
    EXPECT_EQ(follower_->BlockAt(h)->SerializeAsString(), source_->BlockAt(h)->SerializeAsString());
    EXPECT_EQ(follower_->InfoAt(h)->SerializeAsString(), source_->InfoAt(h)->SerializeAsString());
  }
  ExpectSameLedgers();
}

// A certified block whose header's claim on a stored block is false is refused for that, without
// checking its txs' signatures: no signature decides a claim on a block already committed.
TEST_F(AttestedTest, AFalseClaimOnAStoredBlockIsRefusedWithoutCheckingSignatures) {
  Produce({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL), f.Enroll("h1", "alice")});
  Produce({f.Anchor("h1", "r1", "alice"), f.Anchor("h1", "r2", "alice")});
  Produce({});
  ASSERT_TRUE(Follow(0).ok());
  Certified lying = chain_[1];
  pb::BlockHeader header;
  ASSERT_TRUE(header.ParseFromString(lying.block.header()));
  header.set_log_root(std::string(32, '\x42'));  // the log after block 1
  lying.block.set_header(header.SerializeAsString());
  lying.certificate = Certify(lying.block);

  const int before = tx_checks_.calls;
  Result<CommittedBlock> r = follower_->CommitAttested(
      lying.block, lying.certificate, Attestation{chain_[2].block.header(), &chain_[2].certificate},
      &tx_checks_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("log root after height 1"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(tx_checks_.calls, before);
  EXPECT_EQ(follower_->height(), 1u);
}

// A forged signature anywhere in the run changes the log the run yields: the follower checks
// every signature of the run and commits its own execution, with the validators' R4 receipt.
// Block 2 holds the forged signature; block 3's header claims the log after block 2.
class AttestedRunTest : public AttestedTest {
 protected:
  AttestedRunTest() {
    Produce({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL), f.Enroll("h1", "alice")});
    Produce({f.Anchor("h1", "r1", "alice"), BrokenSignature(f.Anchor("h1", "r2", "alice"))});
    Produce({f.Access("h1", "r1")});
    Produce({});
  }

  void ExpectCheckedRun(const Ledger::CommittedRun& run, size_t blocks, int checks) {
    ASSERT_TRUE(run.status.ok()) << run.status.ToString();
    ASSERT_EQ(run.blocks.size(), blocks);
    EXPECT_EQ(tx_checks_.calls, checks);
    for (const CommittedBlock& b : run.blocks) EXPECT_FALSE(b.signatures_attested);
    EXPECT_EQ(run.blocks[1].execution.receipts[1].rule(), "R4");
    for (size_t i = blocks; i < chain_.size(); ++i) ASSERT_TRUE(Follow(i).ok());
    ExpectSameLedgers();
  }
};

TEST_F(AttestedRunTest, ABadSignatureInTheAttestedBlockMeansCheckingTheRun) {
  ExpectCheckedRun(FollowRun(0, 2), 2, 4);  // block 3's header attests the log after block 2
}

TEST_F(AttestedRunTest, ABadSignatureBeforeAClaimInsideTheRunMeansCheckingTheRun) {
  ExpectCheckedRun(FollowRun(0, 3), 3, 5);  // block 3's own claim fails inside the run
}

// A block of the run that does not check out (here its certificate) is refused without checking
// its signatures; the blocks before it are committed, checked, as no header attests them alone.
TEST_F(AttestedTest, ARunStopsAtABlockThatDoesNotCheckOut) {
  Produce({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL), f.Enroll("h1", "alice")});
  Produce({f.Anchor("h1", "r1", "alice"), f.Anchor("h1", "r2", "alice")});
  Produce({f.Access("h1", "r1")});
  Produce({});
  chain_[1].certificate.mutable_signatures(0)->set_signature(std::string(64, 'x'));

  Ledger::CommittedRun run = FollowRun(0, 3);
  ASSERT_FALSE(run.status.ok());
  EXPECT_EQ(run.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(run.status.message().find("commit certificate"), std::string::npos)
      << run.status.ToString();
  ASSERT_EQ(run.blocks.size(), 1u);
  EXPECT_FALSE(run.blocks[0].signatures_attested);
  EXPECT_EQ(tx_checks_.calls, 2);  // block 1's; none of block 2's
  EXPECT_EQ(follower_->height(), 1u);

  // An attestation of another height than the run's last: every signature is checked.
  Ledger::CommittedRun again = FollowRun(1, 2, &chain_[3]);
  ASSERT_FALSE(again.status.ok());  // block 2's certificate is still bad
  chain_[1] = {chain_[1].block, Certify(chain_[1].block)};
  again = FollowRun(1, 3, &chain_[2]);  // block 3 attests height 2, not 3
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  ASSERT_EQ(again.blocks.size(), 2u);
  EXPECT_FALSE(again.blocks[0].signatures_attested);
  EXPECT_EQ(tx_checks_.calls, 2 + 3);
  ASSERT_TRUE(Follow(3).ok());
  ExpectSameLedgers();
}

}  // namespace
}  // namespace hc::ledger
