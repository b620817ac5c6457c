// The pure parts: the O set, signer sets, the pacemaker, the durable-state fold, the config.
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <map>
#include <vector>

#include "consensus/durable.h"
#include "consensus/limits.h"
#include "consensus/oset.h"
#include "consensus/pacemaker.h"
#include "consensus/quorum.h"
#include "tests/consensus/harness.h"

namespace hc::consensus {
namespace {

Hash32 H(uint8_t b) {
  Hash32 h{};
  h[0] = b;
  h[31] = 0xaa;
  return h;
}

// ---- BlockTxs ----

TEST(BlockTxsTest, CopiesShareTheTxsAndMutableUnsharesThem) {
  Block a{Bytes{1}, {Bytes{1, 2}, Bytes{3}}};
  Block b = a;
  ASSERT_EQ(a.txs.shared(), b.txs.shared());  // no tx bytes were copied
  EXPECT_EQ(a, b);
  b.txs.Mutable().push_back(Bytes{4});
  EXPECT_NE(a.txs.shared(), b.txs.shared());
  EXPECT_EQ(a.txs.size(), 2u);  // the other copy is untouched
  EXPECT_EQ(b.txs.size(), 3u);
  EXPECT_NE(a, b);
  // Equality is by content, not by sharing.
  Block c{Bytes{1}, {Bytes{1, 2}, Bytes{3}}};
  EXPECT_EQ(a, c);
  EXPECT_TRUE(BlockTxs().empty());
  EXPECT_EQ(BlockTxs(), BlockTxs(std::vector<Bytes>{}));
}

// Synthetic certificates: the O-set computation only reads (view, seq, hash) and the parent.
class OSetTest : public ::testing::Test {
 protected:
  const Hash32 genesis_ = H(0);
  std::map<Hash32, Hash32> parent_;            // block hash -> prev hash
  std::list<std::vector<ViewChange>> inputs_;  // every Compute's inputs; see Compute

  PreparedCertificate Cert(uint64_t view, uint64_t seq, const Hash32& hash, const Hash32& prev) {
    parent_[hash] = prev;
    PreparedCertificate c;
    c.pre_prepare.view = ViewNumber(view);
    c.pre_prepare.seq = SeqNumber(seq);
    c.pre_prepare.block_hash = hash;
    return c;
  }
  ViewChange Vc(uint32_t replica, std::vector<PreparedCertificate> certs, uint64_t stable = 0,
                Hash32 stable_hash = {}) {
    ViewChange vc;
    vc.new_view = ViewNumber(9);
    vc.replica = ReplicaId(replica);
    vc.stable_seq = SeqNumber(stable);
    if (stable > 0) vc.checkpoint_proof.push_back(Checkpoint{SeqNumber(stable), stable_hash});
    vc.prepared = std::move(certs);
    return vc;
  }
  // The result points into its inputs (NewViewSet::entries, stable_source), so the inputs are
  // kept here for the whole test: callers pass a temporary list that would otherwise be destroyed
  // at the end of the statement, leaving `o` dangling (found by ASan).
  NewViewSet Compute(std::vector<ViewChange> vcs) {
    const std::vector<ViewChange>& kept = inputs_.emplace_back(std::move(vcs));
    std::vector<const ViewChange*> ptrs;
    for (const ViewChange& vc : kept) ptrs.push_back(&vc);
    return ComputeNewViewSet(ptrs, genesis_, [this](const PreparedCertificate& c) {
      auto it = parent_.find(c.pre_prepare.block_hash);
      return it == parent_.end() ? std::optional<Hash32>() : std::optional<Hash32>(it->second);
    });
  }
  static std::vector<Hash32> Hashes(const NewViewSet& o) {
    std::vector<Hash32> out;
    for (const PreparedCertificate* c : o.entries) out.push_back(c->pre_prepare.block_hash);
    return out;
  }
};

TEST_F(OSetTest, NoCertificatesGivesAnEmptySet) {
  const NewViewSet o = Compute({Vc(0, {}), Vc(1, {}), Vc(2, {})});
  EXPECT_TRUE(o.entries.empty());
  EXPECT_EQ(o.stable_seq, SeqNumber(0));
  EXPECT_EQ(o.stable_block_hash, genesis_);
  EXPECT_EQ(o.max_seq, SeqNumber(0));
}

TEST_F(OSetTest, CarriesEveryPreparedBlockOfALinkedChain) {
  auto c1 = Cert(0, 1, H(1), genesis_);
  auto c2 = Cert(0, 2, H(2), H(1));
  auto c3 = Cert(0, 3, H(3), H(2));
  // Each replica reports only what it prepared: the union is carried.
  const NewViewSet o = Compute({Vc(0, {c1}), Vc(1, {c1, c2}), Vc(2, {c1, c2, c3})});
  EXPECT_EQ(Hashes(o), (std::vector<Hash32>{H(1), H(2), H(3)}));
  EXPECT_EQ(o.stop, NewViewSet::Stop::kNoCertificates);
}

TEST_F(OSetTest, TheHighestViewCertificateWins) {
  auto a = Cert(0, 1, H(1), genesis_);
  auto b = Cert(2, 1, H(2), genesis_);
  auto b2 = Cert(2, 2, H(3), H(2));
  const NewViewSet o = Compute({Vc(0, {a}), Vc(1, {b, b2}), Vc(2, {a})});
  EXPECT_EQ(Hashes(o), (std::vector<Hash32>{H(2), H(3)}));
  // Input order does not matter.
  const NewViewSet o2 = Compute({Vc(2, {a}), Vc(0, {a}), Vc(1, {b, b2})});
  EXPECT_EQ(Hashes(o2), Hashes(o));
}

TEST_F(OSetTest, TiesWithinOneViewGoToTheSmallerDigest) {
  auto x = Cert(1, 1, H(7), genesis_);
  auto y = Cert(1, 1, H(5), genesis_);
  EXPECT_EQ(Hashes(Compute({Vc(0, {x}), Vc(1, {y})})), std::vector<Hash32>{H(5)});
  EXPECT_EQ(Hashes(Compute({Vc(1, {y}), Vc(0, {x})})), std::vector<Hash32>{H(5)});
}

TEST_F(OSetTest, AGapEndsTheSetWherePbftWouldPutNullRequests) {
  auto c1 = Cert(0, 1, H(1), genesis_);
  auto c3 = Cert(0, 3, H(3), H(2));
  const NewViewSet o = Compute({Vc(0, {c1, c3}), Vc(1, {}), Vc(2, {})});
  EXPECT_EQ(Hashes(o), std::vector<Hash32>{H(1)});
  EXPECT_EQ(o.stop, NewViewSet::Stop::kGap);
  EXPECT_EQ(o.max_seq, SeqNumber(3));  // plain PBFT would re-propose seq 3 after a null at 2
}

TEST_F(OSetTest, ABrokenLinkEndsTheSet) {
  auto c1 = Cert(1, 1, H(1), genesis_);
  auto c2 = Cert(0, 2, H(2), H(9));  // its parent is some other block at seq 1
  const NewViewSet o = Compute({Vc(0, {c1}), Vc(1, {c2}), Vc(2, {})});
  EXPECT_EQ(Hashes(o), std::vector<Hash32>{H(1)});
  EXPECT_EQ(o.stop, NewViewSet::Stop::kBrokenLink);
  // A first block that does not link to the stable checkpoint: nothing is carried.
  auto bad = Cert(0, 1, H(4), H(8));
  EXPECT_TRUE(Compute({Vc(0, {bad}), Vc(1, {}), Vc(2, {})}).entries.empty());
}

TEST_F(OSetTest, StartsAboveTheHighestStableCheckpoint) {
  auto c3 = Cert(0, 3, H(3), H(2));
  auto c5 = Cert(0, 5, H(5), H(40));
  auto c6 = Cert(0, 6, H(6), H(5));
  const NewViewSet o = Compute({Vc(0, {c3}), Vc(1, {c5, c6}, 4, H(40)), Vc(2, {})});
  EXPECT_EQ(o.stable_seq, SeqNumber(4));
  EXPECT_EQ(o.stable_block_hash, H(40));
  ASSERT_NE(o.stable_source, nullptr);
  EXPECT_EQ(o.stable_source->replica, ReplicaId(1));
  EXPECT_EQ(Hashes(o), (std::vector<Hash32>{H(5), H(6)}));
}

TEST(SignerSetTest, CountsDistinctSigners) {
  SignerSet s;
  EXPECT_TRUE(s.Add(ReplicaId(3)));
  EXPECT_FALSE(s.Add(ReplicaId(3)));
  EXPECT_TRUE(s.Add(ReplicaId(63)));
  EXPECT_EQ(s.Count(), 2u);
  EXPECT_TRUE(s.Contains(ReplicaId(63)));
  EXPECT_FALSE(s.Contains(ReplicaId(64)));
  EXPECT_FALSE(s.HasQuorum(3));
  EXPECT_TRUE(s.HasQuorum(2));
}

TEST(QuorumMathTest, FaultsAndQuorums) {
  EXPECT_EQ(MaxFaulty(4), 1u);
  EXPECT_EQ(MaxFaulty(6), 1u);
  EXPECT_EQ(MaxFaulty(7), 2u);
  EXPECT_EQ(MaxFaulty(10), 3u);
  EXPECT_EQ(Quorum(MaxFaulty(7)), 5u);
}

TEST(PacemakerTest, BacksOffExponentiallyWithACapAndResetsOnProgress) {
  Pacemaker p(100, 1000);
  EXPECT_FALSE(p.deadline().has_value());
  p.ArmIfIdle(0);
  EXPECT_EQ(p.deadline(), 100);
  p.ArmIfIdle(50);  // already running: unchanged
  EXPECT_EQ(p.deadline(), 100);
  EXPECT_TRUE(p.Expired(100));
  std::vector<int64_t> timeouts;
  for (int i = 0; i < 6; ++i) {
    p.OnTimeout();
    timeouts.push_back(p.TimeoutMs());
  }
  EXPECT_EQ(timeouts, (std::vector<int64_t>{200, 400, 800, 1000, 1000, 1000}));
  p.Restart(5000);
  EXPECT_EQ(p.deadline(), 6000);
  p.OnProgress(5500);  // the first committed block resets the backoff
  EXPECT_EQ(p.TimeoutMs(), 100);
  EXPECT_EQ(p.deadline(), 5600);
  p.Disarm();
  EXPECT_FALSE(p.Expired(1'000'000));
}

TEST(DurableStateTest, KeepsHighestViewVotesAndPrunesBelowTheStableCheckpoint) {
  DurableState s;
  Prepare p0{ViewNumber(0), SeqNumber(5), H(1), ReplicaId(1), {}};
  Prepare p2{ViewNumber(2), SeqNumber(5), H(2), ReplicaId(1), {}};
  ApplyRecord(s, OwnPrepareRecord{p2});
  ApplyRecord(s, OwnPrepareRecord{p0});  // an older view never overwrites
  EXPECT_EQ(s.slots.at(SeqNumber(5)).own_prepare->block_hash, H(2));
  ApplyRecord(s, ViewRecord{ViewNumber(3), true});
  ApplyRecord(s, ViewRecord{ViewNumber(2), false});  // views never go back
  EXPECT_EQ(s.view, ViewNumber(3));
  EXPECT_TRUE(s.in_view_change);
  Commit c{ViewNumber(2), SeqNumber(9), H(3), ReplicaId(1), {}};
  ApplyRecord(s, OwnCommitRecord{c});
  ApplyRecord(s, StableCheckpointRecord{SeqNumber(8), {}});
  EXPECT_FALSE(s.slots.contains(SeqNumber(5)));
  EXPECT_TRUE(s.slots.contains(SeqNumber(9)));
  ApplyRecord(s, OwnPrepareRecord{p0});  // below the stable checkpoint: ignored
  EXPECT_FALSE(s.slots.contains(SeqNumber(5)));
  ApplyRecord(s, StableCheckpointRecord{SeqNumber(4), {}});  // older: ignored
  EXPECT_EQ(s.stable_seq, SeqNumber(8));
}

TEST(ConfigTest, ValidatesTheRelationsBetweenLimits) {
  Config c = testing::TestConfig();
  EXPECT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  auto broken = [&](auto mutate) {
    Config x = c;
    mutate(x);
    return !x.Validate().ok();
  };
  EXPECT_TRUE(broken([](Config& x) { x.chain_id = ""; }));
  EXPECT_TRUE(broken([](Config& x) { x.self = ReplicaId(4); }));
  EXPECT_TRUE(broken([](Config& x) { x.validators.push_back(x.validators[0]); }));
  EXPECT_TRUE(broken([](Config& x) { x.window = 10; }));  // not a multiple of the interval
  EXPECT_TRUE(broken([](Config& x) { x.window = 4; }));   // fewer than two intervals
  EXPECT_TRUE(broken([](Config& x) { x.window = kMaxWindow + 4; }));
  EXPECT_TRUE(broken([](Config& x) { x.batch_txs_max = 0; }));
  EXPECT_TRUE(broken([](Config& x) { x.batch_bytes_max = 1000; }));  // below one maximal tx
  EXPECT_TRUE(broken([](Config& x) { x.view_change_timeout_max_ms = 10; }));
  EXPECT_GT(MaxViewChangeWireBytes(c), uint64_t{c.window} * c.batch_bytes_max);
  EXPECT_GT(MaxNewViewWireBytes(c), uint64_t{c.window} * c.batch_bytes_max);
}

}  // namespace
}  // namespace hc::consensus
