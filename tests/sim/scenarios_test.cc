// Named scenarios: the classic hard cases of PBFT (PBFT-PITFALLS.md), each built on purpose in the
// simulator and asserting the property it exists for. The simulator's own checkers (agreement,
// validity, certificates, no equivocation by a correct replica) run throughout every scenario.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/signing.h"
#include "tests/sim/sim.h"

namespace hc::sim {
namespace {

using consensus::Checkpoint;
using consensus::Commit;
using consensus::DropReason;
using consensus::NewView;
using consensus::Prepare;
using consensus::PrePrepare;
using consensus::ViewChange;

SimOptions Options(uint32_t n, uint64_t seed = 7, bool real_sigs = false) {
  SimOptions o;
  o.n = n;
  o.seed = seed;
  o.real_sigs = real_sigs;
  o.trace = std::getenv("HC_SIM_TRACE") != nullptr;  // HC_SIM_TRACE=1 prints the event trace
  o.faults.delay_min_ms = 1;
  o.faults.delay_max_ms = 5;
  return o;
}

// Every correct replica that is up has committed every submitted tx, checked by the simulator.
void ExpectLive(Simulation& sim, int64_t bound_ms = 30'000) {
  EXPECT_TRUE(sim.CheckLiveness(bound_ms)) << sim.Describe();
}

void ExpectSafe(const Simulation& sim) {
  for (const std::string& v : sim.violations()) ADD_FAILURE() << v;
  EXPECT_TRUE(sim.ok()) << sim.Describe();
}

// The block hash committed at `height` by node `node`.
Hash32 CommittedAt(const Simulation& sim, uint32_t node, uint64_t height) {
  return sim.ledger(node).blocks.at(height - 1).certificate.block_hash;
}

uint64_t SumDrops(Simulation& sim, DropReason r) {
  uint64_t s = 0;
  for (uint32_t i = 0; i < sim.n(); ++i) {
    if (sim.replica(i) != nullptr) s += sim.replica(i)->metrics().Dropped(r);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Primary crashes after its PRE-PREPARE reached only some backups (f = 1).
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, PrimaryCrashesAfterPrePrepareReachedOnlySomeBackups) {
  Simulation sim(Options(4));
  // The first PRE-PREPARE of replica 0 reaches replica 1 only; then replica 0 crashes.
  bool crashed = false;
  std::optional<Hash32> proposed;
  sim.SetLinkFilter([&](uint32_t from, uint32_t to, const consensus::Message& m) {
    return from == 0 && std::holds_alternative<PrePrepare>(m) && to != 1;
  });
  sim.SetObserver([&](uint32_t from, const consensus::Message& m) {
    if (from == 0 && !crashed && std::holds_alternative<PrePrepare>(m)) {
      crashed = true;
      proposed = std::get<PrePrepare>(m).block_hash;
      sim.At(sim.now(), [&sim] { sim.Crash(0); });
    }
  });
  sim.SubmitTx(1);
  sim.SubmitTx(2);
  sim.RunUntil(sim.now() + 100);
  ASSERT_TRUE(crashed);
  sim.SetLinkFilter(nullptr);
  ExpectLive(sim);
  // The view moved away from the crashed primary and every tx committed without it.
  EXPECT_GE(sim.MaxView(), ViewNumber(1));
  EXPECT_EQ(sim.replica(1)->committed_height(), sim.replica(2)->committed_height());
  // The restarted primary catches up to the same chain.
  sim.Restart(0);
  sim.SubmitTx(3);
  ExpectLive(sim);
  for (uint64_t h = 1; h <= sim.ledger(0).height().value(); ++h) {
    EXPECT_EQ(CommittedAt(sim, 0, h), CommittedAt(sim, 1, h));
  }
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// DESIGN.md §8: after a primary crash, a new view and progress within 2 x the view-change timeout.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, ViewChangeAfterPrimaryCrashCompletesWithinTwoTimeouts) {
  SimOptions o = Options(4);
  Simulation sim(o);
  for (uint32_t i = 0; i < 10; ++i) {
    sim.SubmitTx(1 + i % 3);
    sim.RunUntil(sim.now() + 20);
  }
  sim.RunUntil(sim.now() + 100);
  const Height before = sim.replica(1)->committed_height();
  sim.Crash(0);
  const int64_t crash_ms = sim.now();
  sim.SubmitTx(1);
  sim.SubmitTx(2);
  ASSERT_TRUE(sim.RunUntil([&] { return sim.replica(1)->committed_height() > before; },
                           crash_ms + 2 * o.config.view_change_timeout_ms))
      << sim.Describe();
  EXPECT_GE(sim.replica(1)->view(), ViewNumber(1));
  ExpectLive(sim);
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// View change during a view change: the next primary is down too, so the view change to 1 times
// out and the replicas move on to view 2 (n = 7, f = 2).
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, ViewChangeDuringViewChange) {
  Simulation sim(Options(7));
  sim.SubmitTx(2);
  sim.RunUntil(sim.now() + 200);
  ASSERT_GE(sim.replica(2)->committed_height(), Height(1));
  sim.Crash(0);
  sim.Crash(1);
  sim.SubmitTx(3);
  sim.SubmitTx(4);
  ExpectLive(sim);
  EXPECT_GE(sim.MaxView(), ViewNumber(2));
  for (uint32_t i = 2; i < 7; ++i) {
    EXPECT_TRUE(sim.replica(i)->view_active());
    // At least two view changes: to view 1 (abandoned) and to view 2.
    EXPECT_GE(sim.replica(i)->metrics().view_changes_started, 2u) << "replica " << i;
  }
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// The new primary holds a prepared certificate the others lack: it must re-propose that block,
// and that block is what commits at its height (n = 4; replica 1 is the primary of view 1).
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, NewPrimaryHoldsPreparedCertificateTheOthersLack) {
  Simulation sim(Options(4));
  // In view 0: PREPAREs reach replica 1 only, and no COMMIT is delivered, so only replica 1
  // prepares and nothing commits.
  sim.SetLinkFilter([](uint32_t, uint32_t to, const consensus::Message& m) {
    if (std::holds_alternative<Prepare>(m))
      return std::get<Prepare>(m).view == ViewNumber(0) && to != 1;
    if (std::holds_alternative<Commit>(m)) return std::get<Commit>(m).view == ViewNumber(0);
    return false;
  });
  std::optional<NewView> new_view;
  sim.SetObserver([&](uint32_t from, const consensus::Message& m) {
    if (from == 1 && std::holds_alternative<NewView>(m) && !new_view)
      new_view = std::get<NewView>(m);
  });
  sim.SubmitTx(2);
  sim.RunUntil(sim.now() + 100);
  Replica* r1 = sim.replica(1);
  ASSERT_EQ(r1->committed_height(), Height(0));
  const auto& prepared = sim.store(1).slots;
  ASSERT_TRUE(prepared.contains(SeqNumber(1)) && prepared.at(SeqNumber(1)).prepared)
      << "replica 1 should hold a prepared certificate for seq 1";
  const Hash32 certified = prepared.at(SeqNumber(1)).prepared->pre_prepare.block_hash;
  for (uint32_t i : {0u, 2u, 3u}) {
    const auto& slots = sim.store(i).slots;
    EXPECT_FALSE(slots.contains(SeqNumber(1)) && slots.at(SeqNumber(1)).prepared)
        << "replica " << i << " must not be prepared";
  }
  // The filter stays: it only touches view 0, which never completes.
  sim.Crash(0);
  ExpectLive(sim);
  ASSERT_TRUE(new_view.has_value());
  ASSERT_FALSE(new_view->pre_prepares.empty());
  EXPECT_EQ(new_view->pre_prepares.front().seq, SeqNumber(1));
  EXPECT_EQ(new_view->pre_prepares.front().block_hash, certified);
  for (uint32_t i : {1u, 2u, 3u}) EXPECT_EQ(CommittedAt(sim, i, 1), certified);
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// Restart during a view change (Concord-BFT #639): a replica crashes right after sending its
// VIEW-CHANGE, misses the NEW-VIEW, and must resume its view change from disk and rejoin. With the
// old primary down, progress needs it.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, RestartDuringViewChange) {
  Simulation sim(Options(4));
  sim.SubmitTx(1);
  sim.RunUntil(sim.now() + 100);
  bool crashed = false;
  sim.SetObserver([&](uint32_t from, const consensus::Message& m) {
    if (from == 3 && !crashed && std::holds_alternative<ViewChange>(m)) {
      crashed = true;
      sim.At(sim.now(), [&sim] { sim.Crash(3); });
    }
  });
  sim.Crash(0);
  sim.SubmitTx(2);
  ASSERT_TRUE(sim.RunUntil([&] { return crashed; }, sim.now() + 10'000));
  sim.RunUntil(sim.now() + 50);
  ASSERT_TRUE(sim.store(3).in_view_change);
  ASSERT_TRUE(sim.store(3).own_view_change.has_value());
  const ViewNumber target = sim.store(3).view;
  sim.RunUntil(sim.now() + 2000);
  // Nothing commits without replica 3 (2 of 4 up).
  const Height stuck = sim.replica(1)->committed_height();
  sim.Restart(3);
  ExpectLive(sim);
  EXPECT_TRUE(sim.replica(3)->view_active());
  EXPECT_GE(sim.replica(3)->view(), target);
  EXPECT_GT(sim.replica(1)->committed_height(), stuck);
  ExpectSafe(sim);  // includes: replica 3 never signed conflicting votes across its restart
}

// ---------------------------------------------------------------------------------------------
// A checkpoint arrives after a view change started (Concord-BFT #2707): the view change still
// completes and the late checkpoint still becomes stable.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, CheckpointArrivesAfterViewChangeStarted) {
  SimOptions o = Options(4);
  Simulation sim(o);
  const uint32_t interval = o.config.checkpoint_interval;
  // Replica 3 gets no checkpoint until it has started a view change.
  sim.SetLinkFilter([&sim](uint32_t, uint32_t to, const consensus::Message& m) {
    return to == 3 && std::holds_alternative<Checkpoint>(m) && sim.replica(3) != nullptr &&
           sim.replica(3)->metrics().view_changes_started == 0;
  });
  for (uint32_t i = 0; i < 3 * interval; ++i) {
    sim.SubmitTx(1 + i % 3);
    sim.RunUntil(sim.now() + 20);
  }
  sim.RunUntil(sim.now() + 200);
  ASSERT_GE(sim.replica(1)->low_watermark(), SeqNumber(interval));
  // Replica 3 executed the checkpointed blocks but never saw 2f+1 checkpoints.
  EXPECT_EQ(sim.replica(3)->low_watermark(), SeqNumber(0));
  const SeqNumber low_before = sim.replica(3)->low_watermark();
  sim.Crash(0);
  sim.SubmitTx(2);
  ExpectLive(sim);
  EXPECT_GE(sim.replica(3)->metrics().view_changes_started, 1u);
  EXPECT_TRUE(sim.replica(3)->view_active());
  EXPECT_GT(sim.replica(3)->low_watermark(), low_before);
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// A replica restarts with an empty disk (Besu #8307) and catches up by state transfer, verifying
// every certificate.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, ReplicaRestartsWithEmptyDiskAndCatchesUp) {
  SimOptions o = Options(4);
  Simulation sim(o);
  for (uint32_t i = 0; i < 40; ++i) {
    sim.SubmitTx(i % 3);
    sim.RunUntil(sim.now() + 15);
  }
  sim.RunUntil(sim.now() + 500);
  const Height before = sim.replica(1)->committed_height();
  ASSERT_GT(before.value(), uint64_t{o.config.window});
  sim.Crash(3, /*wipe=*/true);
  EXPECT_EQ(sim.ledger(3).height(), Height(0));
  for (uint32_t i = 0; i < 20; ++i) {
    sim.SubmitTx(i % 3);
    sim.RunUntil(sim.now() + 15);
  }
  sim.Restart(3);
  sim.SubmitTx(1);
  ExpectLive(sim);
  const Height h = sim.replica(1)->committed_height();
  ASSERT_TRUE(sim.RunUntil([&] { return sim.ledger(3).height() >= h; }, sim.now() + 10'000));
  for (uint64_t i = 1; i <= h.value(); ++i)
    EXPECT_EQ(CommittedAt(sim, 3, i), CommittedAt(sim, 1, i));
  EXPECT_GT(sim.replica(3)->metrics().state_transfer_blocks, 0u);
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// A slow replica falls far behind (beyond its window) and catches up by state transfer.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, SlowReplicaFallsFarBehindAndUsesStateTransfer) {
  SimOptions o = Options(4);
  Simulation sim(o);
  sim.Partition({{0, 1, 2}});
  for (uint32_t i = 0; i < 60; ++i) {
    sim.SubmitTx(i % 3);
    sim.RunUntil(sim.now() + 15);
  }
  sim.RunUntil(sim.now() + 300);
  ASSERT_GT(sim.replica(0)->committed_height().value(), 2ull * o.config.window);
  EXPECT_EQ(sim.replica(3)->committed_height(), Height(0));
  sim.Heal();
  sim.SubmitTx(3);
  ExpectLive(sim);
  EXPECT_GT(sim.replica(3)->metrics().state_transfer_blocks, uint64_t{o.config.window});
  // Its window moves once it hears 2f+1 checkpoints again (idle status messages carry them).
  EXPECT_TRUE(sim.RunUntil([&] { return sim.replica(3)->low_watermark() > SeqNumber(0); },
                           sim.now() + 5000));
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// Partitions: one that isolates the primary, and a 2/2 split that leaves no quorum anywhere.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, PartitionIsolatingThePrimaryThenHeal) {
  Simulation sim(Options(4));
  sim.SubmitTx(1);
  sim.RunUntil(sim.now() + 100);
  sim.Partition({{0}, {1, 2, 3}});
  sim.SubmitTx(2);
  sim.SubmitTx(3);
  // The majority side replaces the isolated primary and commits without it.
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        return sim.ledger(2).tx_height.size() == 3 && sim.replica(2)->view() >= ViewNumber(1);
      },
      sim.now() + 10'000));
  sim.Heal();
  sim.SubmitTx(0);
  ExpectLive(sim);
  EXPECT_EQ(sim.replica(0)->view(), sim.replica(2)->view());
  ExpectSafe(sim);
}

TEST(ScenarioTest, TwoTwoSplitMakesNoProgressThenRecovers) {
  Simulation sim(Options(4));
  sim.SubmitTx(1);
  sim.RunUntil(sim.now() + 100);
  sim.Partition({{0, 1}, {2, 3}});
  const Height h = sim.replica(0)->committed_height();
  sim.SubmitTx(0);
  sim.SubmitTx(3);
  sim.RunUntil(sim.now() + 5000);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(sim.replica(i)->committed_height(), h) << i;
  sim.Heal();
  ExpectLive(sim);
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// Byzantine: f Byzantine replicas and the rest correct.
// ---------------------------------------------------------------------------------------------
class ByzantineTest : public ::testing::TestWithParam<Byzantine> {};

TEST_P(ByzantineTest, OneByzantineOfFour) {
  for (uint32_t bad : {0u, 2u}) {  // the primary of view 0, and a backup
    Simulation sim(Options(4, 11 + bad));
    sim.SetByzantine(bad, GetParam());
    for (uint32_t i = 0; i < 30; ++i) {
      sim.SubmitTx(i % 4);
      sim.RunUntil(sim.now() + 20);
    }
    ExpectLive(sim, 60'000);
    ExpectSafe(sim);
  }
}

INSTANTIATE_TEST_SUITE_P(Behaviours, ByzantineTest,
                         ::testing::Values(Byzantine::kSilent, Byzantine::kEquivocate,
                                           Byzantine::kDoubleVote, Byzantine::kGarbage,
                                           Byzantine::kBadNewView),
                         [](const auto& info) {
                           std::string s(ByzantineName(info.param));
                           std::erase(s, '-');
                           return s;
                         });

TEST(ScenarioTest, FByzantinePlusRestCorrect) {
  // n = 7, f = 2: an equivocating primary and a replica sending validly-signed garbage.
  Simulation sim(Options(7));
  sim.SetByzantine(0, Byzantine::kEquivocate);
  sim.SetByzantine(4, Byzantine::kGarbage);
  for (uint32_t i = 0; i < 40; ++i) {
    sim.SubmitTx(i % 7);
    sim.RunUntil(sim.now() + 20);
  }
  ExpectLive(sim, 60'000);
  // The equivocating primary was replaced, its two proposals were noticed, and the garbage dropped.
  EXPECT_GE(sim.MaxView(), ViewNumber(1));
  EXPECT_GT(SumDrops(sim, DropReason::kBadSignature), 0u);
  ExpectSafe(sim);
}

TEST(ScenarioTest, FByzantinePlusRestCorrectWithEd25519) {
  Simulation sim(Options(7, 3, /*real_sigs=*/true));
  sim.SetByzantine(1, Byzantine::kDoubleVote);
  sim.SetByzantine(5, Byzantine::kSilent);
  for (uint32_t i = 0; i < 20; ++i) {
    sim.SubmitTx(i % 7);
    sim.RunUntil(sim.now() + 20);
  }
  ExpectLive(sim, 60'000);
  // The double voter's second vote is refused: one signer, one vote per (view, seq).
  EXPECT_GT(SumDrops(sim, DropReason::kConflictingVote), 0u);
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// A wrong NEW-VIEW is recomputed and refused by the backups; the view moves on.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, WrongNewViewIsRejected) {
  Simulation sim(Options(4));
  sim.SetByzantine(1, Byzantine::kBadNewView);
  // Leave something prepared but uncommitted so the O set is not empty.
  sim.SetLinkFilter([](uint32_t, uint32_t, const consensus::Message& m) {
    return std::holds_alternative<Commit>(m) && std::get<Commit>(m).view == ViewNumber(0);
  });
  sim.SubmitTx(2);
  sim.RunUntil(sim.now() + 100);
  sim.Crash(0);  // view 1's primary is replica 1, whose NEW-VIEW is wrong
  ExpectLive(sim, 60'000);
  EXPECT_GT(SumDrops(sim, DropReason::kBadNewView), 0u);
  EXPECT_GE(sim.MaxView(), ViewNumber(2));
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// Censorship: a primary that never proposes a tx that f+1 replicas relayed is replaced.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, CensoringPrimaryIsReplaced) {
  Simulation sim(Options(4));
  // Keep the other txs flowing so the plain progress timer never fires; the censored tx never
  // reaches the primary (replica 0).
  std::optional<TxId> censored;
  sim.SetRelayFilter([&](uint32_t, uint32_t to, const TxId& id) {
    return to == 0 && censored && id == *censored;
  });
  sim.SubmitTx(1);
  sim.RunUntil(sim.now() + 50);
  censored = FakeTxId(MakeFakeTx(1, 100));  // the next tx number
  const TxId id = sim.SubmitTx(2, 100);
  ASSERT_EQ(id, *censored);
  for (uint32_t i = 0; i < 60; ++i) {
    sim.SubmitTx(1 + i % 3);
    sim.RunUntil(sim.now() + 50);
    if (sim.ledger(1).tx_height.contains(id)) break;
  }
  ExpectLive(sim);
  uint64_t censorship_view_changes = 0;
  for (uint32_t i = 1; i < 4; ++i) {
    censorship_view_changes += sim.replica(i)->metrics().censorship_view_changes;
  }
  EXPECT_GT(censorship_view_changes, 0u);
  EXPECT_GE(sim.MaxView(), ViewNumber(1));
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// Crash in the middle of a step: only a prefix of the actions is applied. Persist-before-send
// means no correct replica ever signs conflicting votes (the simulator checks every vote).
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, CrashesInTheMiddleOfStepsNeverCauseEquivocation) {
  Simulation sim(Options(4, 5));
  for (uint32_t round = 0; round < 30; ++round) {
    const uint32_t victim = round % 4;
    sim.CrashDuringNextStep(victim);
    sim.SubmitTx((victim + 1) % 4);
    sim.RunUntil(sim.now() + 40);
    sim.Restart(victim);
    sim.RunUntil(sim.now() + 40);
  }
  ExpectLive(sim, 60'000);
  ExpectSafe(sim);
}

// ---------------------------------------------------------------------------------------------
// A restarted backup never votes for a second digest at one (view, seq): its PREPARE was durable
// before it left, so after the restart a conflicting PRE-PREPARE (the primary equivocating) is
// refused (PBFT-PITFALLS.md, CometBFT double_sign_check).
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, RestartedBackupNeverVotesForASecondDigest) {
  Simulation sim(Options(4));
  std::optional<PrePrepare> first;
  sim.SetObserver([&](uint32_t from, const consensus::Message& m) {
    if (from == 0 && !first && std::holds_alternative<PrePrepare>(m))
      first = std::get<PrePrepare>(m);
  });
  // No PREPARE reaches anyone: seq 1 stays open in view 0.
  sim.SetLinkFilter([](uint32_t, uint32_t, const consensus::Message& m) {
    return std::holds_alternative<Prepare>(m);
  });
  sim.SubmitTx(1);
  sim.RunUntil(sim.now() + 50);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(sim.store(2).slots.contains(SeqNumber(1)) &&
              sim.store(2).slots.at(SeqNumber(1)).own_prepare.has_value());
  sim.Crash(2);
  sim.Restart(2);
  sim.RunUntil(sim.now() + 5);
  // The primary's key signs a second block for (view 0, seq 1): same txs, another timestamp.
  PrePrepare second = *first;
  FakeApp app(sim.chain_id(), nullptr, nullptr);
  Result<HeaderInfo> h = app.DecodeHeader(second.block.header);
  ASSERT_TRUE(h.ok());
  h->timestamp_ms += 1;
  second.block.header = EncodeFakeHeader(sim.chain_id(), *h, FakeTxsRoot(app.TxIds(second.block)));
  second.block_hash = consensus::BlockHash(second.block.header);
  consensus::SignPrePrepare(sim.signer(0), sim.chain_id(), second);
  const uint64_t before = sim.replica(2)->metrics().Dropped(DropReason::kConflictingPrePrepare);
  sim.Inject(0, 2, second);
  sim.RunUntil(sim.now() + 20);
  EXPECT_EQ(sim.replica(2)->metrics().Dropped(DropReason::kConflictingPrePrepare), before + 1);
  EXPECT_EQ(sim.store(2).slots.at(SeqNumber(1)).own_prepare->block_hash, first->block_hash);
  sim.SetLinkFilter(nullptr);
  ExpectLive(sim);
  ExpectSafe(sim);  // the vote checker saw every PREPARE replica 2 signed, before and after
}

// ---------------------------------------------------------------------------------------------
// The O set prefers the highest-view certificate: a block prepared in view 1 and committed by one
// replica wins over an older certificate for another block at the same height from view 0.
// ---------------------------------------------------------------------------------------------
TEST(ScenarioTest, HighestViewPreparedCertificateWins) {
  Simulation sim(Options(4, 9));
  // View 0 (primary 0): block A at seq 1 prepares only at replica 3; nothing commits in view 0.
  // View 1 (primary 1) forms without replica 3 (partitioned): its O set is empty, so replica 1
  // proposes block B at seq 1. B prepares at 0, 1 and 2, but only replica 2 gets the COMMITs.
  sim.SetLinkFilter([](uint32_t, uint32_t to, const consensus::Message& m) {
    if (const auto* p = std::get_if<Prepare>(&m)) return p->view == ViewNumber(0) && to != 3;
    if (const auto* c = std::get_if<Commit>(&m)) {
      return c->view == ViewNumber(0) || (c->view == ViewNumber(1) && to != 2);
    }
    return false;
  });
  sim.SubmitTx(1);
  sim.RunUntil(sim.now() + 100);
  ASSERT_TRUE(sim.store(3).slots.contains(SeqNumber(1)) &&
              sim.store(3).slots.at(SeqNumber(1)).prepared);
  const Hash32 a = sim.store(3).slots.at(SeqNumber(1)).prepared->pre_prepare.block_hash;
  sim.Partition({{0, 1, 2}, {3}});
  ASSERT_TRUE(sim.RunUntil([&] { return sim.ledger(2).height() >= Height(1); }, sim.now() + 10'000))
      << sim.Describe();
  const Hash32 b = CommittedAt(sim, 2, 1);
  ASSERT_NE(a, b);
  EXPECT_EQ(sim.replica(2)->view(), ViewNumber(1));
  // View 2 (primary 2) forms from replicas 1, 2 and 3: their VIEW-CHANGEs hold A (view 0, from 3)
  // and B (view 1, from 1 and 2). B is committed at replica 2, so B must win. Replica 3 never
  // hears of view 1, so it keeps its certificate for A.
  sim.Crash(0);
  sim.Heal();
  sim.SetLinkFilter([](uint32_t from, uint32_t to, const consensus::Message& m) {
    // Nor may it fetch B by state transfer: then it would simply learn the committed block.
    if (std::holds_alternative<consensus::StateRequest>(m)) return from == 3;
    if (const auto* p = std::get_if<Prepare>(&m)) {
      return (p->view == ViewNumber(0) && to != 3) || (p->view == ViewNumber(1) && to == 3);
    }
    if (const auto* c = std::get_if<Commit>(&m)) {
      return c->view == ViewNumber(0) || (c->view == ViewNumber(1) && to != 2);
    }
    if (const auto* pp = std::get_if<PrePrepare>(&m)) return pp->view == ViewNumber(1) && to == 3;
    if (const auto* nv = std::get_if<NewView>(&m)) return nv->view == ViewNumber(1) && to == 3;
    return false;
  });
  sim.SubmitTx(2);
  ASSERT_TRUE(sim.RunUntil([&] { return sim.ledger(3).height() >= Height(1); }, sim.now() + 30'000))
      << sim.Describe();
  EXPECT_GE(sim.replica(3)->view(), ViewNumber(2));
  EXPECT_EQ(CommittedAt(sim, 3, 1), b);
  ASSERT_TRUE(
      sim.RunUntil([&] { return sim.ledger(1).height() >= Height(1); }, sim.now() + 30'000));
  EXPECT_EQ(CommittedAt(sim, 1, 1), b);
  ExpectSafe(sim);
}

}  // namespace
}  // namespace hc::sim
