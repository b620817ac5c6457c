// The consensus column family: every PersistRecord kind round-trips, and the DurableState rebuilt
// from the store equals the in-memory fold (consensus::ApplyRecord) of the records persisted,
// including ApplyRecord's overwrite rules and the garbage collection of a stable checkpoint.
#include "node/persist.h"

#include <gtest/gtest.h>

#include <random>

#include "ledger/mem_store.h"

namespace hc::node {
namespace {

using namespace consensus;  // NOLINT(google-build-using-namespace): test brevity

class RecordGen {
 public:
  explicit RecordGen(uint64_t seed) : rng_(seed) {}

  Hash32 H() {
    Hash32 h;
    for (auto& b : h) b = static_cast<uint8_t>(rng_());
    return h;
  }
  Signature S() {
    Signature s;
    for (auto& b : s) b = static_cast<uint8_t>(rng_());
    return s;
  }
  uint64_t U(uint64_t max) { return rng_() % (max + 1); }

  Block B() {
    Block b;
    b.header = Bytes(10 + U(50), static_cast<uint8_t>(U(255)));
    for (uint64_t i = 0, n = U(3); i < n; ++i) b.txs.Mutable().push_back(Bytes(1 + U(40), 7));
    return b;
  }
  PrePrepare PP(uint64_t view, uint64_t seq) {
    return PrePrepare{ViewNumber(view), SeqNumber(seq), H(), B(), S()};
  }
  Prepare P(uint64_t view, uint64_t seq) {
    return Prepare{ViewNumber(view), SeqNumber(seq), H(), ReplicaId(U(3)), S()};
  }
  Commit C(uint64_t view, uint64_t seq) {
    return Commit{ViewNumber(view), SeqNumber(seq), H(), ReplicaId(U(3)), S()};
  }
  Checkpoint CP(uint64_t seq) {
    return Checkpoint{SeqNumber(seq), H(), H(), H(), ReplicaId(U(3)), S()};
  }
  PreparedCertificate Cert(uint64_t view, uint64_t seq) {
    PreparedCertificate c;
    c.pre_prepare = PP(view, seq);
    for (int i = 0; i < 2; ++i) c.prepares.push_back(P(view, seq));
    return c;
  }
  ViewChange VC(uint64_t view) {
    ViewChange vc;
    vc.new_view = ViewNumber(view);
    vc.stable_seq = SeqNumber(U(20));
    vc.checkpoint_proof = {CP(vc.stable_seq.value())};
    vc.prepared = {Cert(view - 1, vc.stable_seq.value() + 1)};
    vc.replica = ReplicaId(U(3));
    vc.signature = S();
    return vc;
  }
  NewView NV(uint64_t view) {
    NewView nv;
    nv.view = ViewNumber(view);
    nv.view_changes = {VC(view), VC(view)};
    nv.pre_prepares = {PP(view, 3)};
    nv.replica = ReplicaId(U(3));
    nv.signature = S();
    return nv;
  }

  PersistRecord Any() {
    const uint64_t view = U(5);
    const uint64_t seq = 1 + U(40);
    switch (U(7)) {
      case 0:
        return ViewRecord{ViewNumber(view), U(1) == 1};
      case 1:
        return OwnPrePrepareRecord{PP(view, seq)};
      case 2:
        return OwnPrepareRecord{P(view, seq)};
      case 3:
        return OwnCommitRecord{C(view, seq)};
      case 4:
        return PreparedRecord{Cert(view, seq)};
      case 5:
        return StableCheckpointRecord{SeqNumber(U(30)), {CP(seq), CP(seq), CP(seq)}};
      case 6:
        return OwnViewChangeRecord{VC(1 + view)};
      default:
        return NewViewRecord{NV(1 + view)};
    }
  }

 private:
  std::mt19937_64 rng_;
};

TEST(PersistTest, EmptyStoreIsTheDefaultState) {
  ledger::MemKvStore store;
  auto s = LoadDurableState(store);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s.value(), DurableState{});
}

TEST(PersistTest, EveryRecordKindRoundTrips) {
  RecordGen g(1);
  const std::vector<PersistRecord> records = {
      ViewRecord{ViewNumber(3), true},
      OwnPrePrepareRecord{g.PP(3, 5)},
      OwnPrepareRecord{g.P(3, 6)},
      OwnCommitRecord{g.C(3, 6)},
      PreparedRecord{g.Cert(3, 7)},
      StableCheckpointRecord{SeqNumber(4), {g.CP(4), g.CP(4), g.CP(4)}},
      OwnViewChangeRecord{g.VC(3)},
      NewViewRecord{g.NV(3)},
  };
  DurableState folded;
  for (const PersistRecord& r : records) ApplyRecord(folded, r);
  ledger::MemKvStore store;
  ConsensusStore cs(store, DurableState{});
  ASSERT_TRUE(cs.Persist(records).ok());
  EXPECT_EQ(cs.state(), folded);
  auto loaded = LoadDurableState(store);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded.value(), folded);
}

// Random records in random batches, across "restarts" (a new ConsensusStore on the loaded state):
// the store always rebuilds exactly the fold.
TEST(PersistTest, RebuiltStateEqualsTheFold) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RecordGen g(seed);
    ledger::MemKvStore store;
    DurableState folded;
    auto cs = std::make_unique<ConsensusStore>(store, DurableState{});
    for (int batch = 0; batch < 30; ++batch) {
      std::vector<PersistRecord> records;
      for (uint64_t i = 0, n = 1 + g.U(6); i < n; ++i) records.push_back(g.Any());
      for (const PersistRecord& r : records) ApplyRecord(folded, r);
      ASSERT_TRUE(cs->Persist(records).ok());
      auto loaded = LoadDurableState(store);
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
      ASSERT_EQ(loaded.value(), folded) << "seed " << seed << " batch " << batch;
      if (g.U(4) == 0) cs = std::make_unique<ConsensusStore>(store, std::move(loaded).value());
    }
    // Garbage collection: no slot key at or below the stable checkpoint survives.
    size_t slot_keys = 0;
    ASSERT_TRUE(store
                    .ScanPrefix(ledger::Cf::kConsensus, "slot",
                                [&](std::string_view, std::string_view) {
                                  ++slot_keys;
                                  return true;
                                })
                    .ok());
    size_t expected = 0;
    for (const auto& [seq, slot] : folded.slots) {
      expected += slot.own_pre_prepare.has_value() + slot.own_prepare.has_value() +
                  slot.own_commit.has_value() + slot.prepared.has_value();
    }
    EXPECT_EQ(slot_keys, expected) << "seed " << seed;
  }
}

// A store that remembers the keys of the last batch written through it.
class RecordingStore final : public ledger::KvStore {
 public:
  Status Get(ledger::Cf cf, std::string_view key, std::string* value) const override {
    return inner_.Get(cf, key, value);
  }
  Status Scan(ledger::Cf cf, std::string_view start, std::string_view end,
              const ledger::KvScanFn& fn) const override {
    return inner_.Scan(cf, start, end, fn);
  }
  Status SeekAtOrBefore(ledger::Cf cf, std::string_view key, std::string* found_key,
                        std::string* value) const override {
    return inner_.SeekAtOrBefore(cf, key, found_key, value);
  }
  Status Write(const ledger::KvBatch& batch, bool sync) override {
    last_bytes = 0;
    for (const auto& w : batch.writes) last_bytes += w.key.size() + (w.value ? w.value->size() : 0);
    last_keys = batch.writes.size();
    return inner_.Write(batch, sync);
  }
  size_t last_keys = 0;
  size_t last_bytes = 0;

 private:
  ledger::MemKvStore inner_;
};

// A later vote at a sequence number writes that vote only: the slot's prepared certificate (with
// the whole block) is not written again with every COMMIT.
TEST(PersistTest, AVoteWritesOnlyItsOwnRecordOfTheSlot) {
  RecordGen g(7);
  RecordingStore store;
  ConsensusStore cs(store, DurableState{});
  PreparedCertificate cert = g.Cert(0, 5);
  cert.pre_prepare.block.txs.Mutable().assign(50, Bytes(400, 1));  // a block worth noticing
  ASSERT_TRUE(cs.Persist({consensus::OwnPrePrepareRecord{cert.pre_prepare}}).ok());
  ASSERT_TRUE(cs.Persist({consensus::PreparedRecord{cert}}).ok());
  EXPECT_EQ(store.last_keys, 1u);  // the certificate, not the pre-prepare again
  ASSERT_TRUE(cs.Persist({consensus::OwnCommitRecord{g.C(0, 5)}}).ok());
  EXPECT_EQ(store.last_keys, 1u);
  EXPECT_LT(store.last_bytes, 1000u);
  // And the store still rebuilds everything.
  auto loaded = LoadDurableState(store);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->slots.at(SeqNumber(5)), cs.state().slots.at(SeqNumber(5)));
}

TEST(PersistTest, CorruptValueIsRefusedNamingTheKey) {
  ledger::MemKvStore store;
  ledger::KvBatch b;
  b.Put(ledger::Cf::kConsensus, "vc", "\xff\xff garbage");
  ASSERT_TRUE(store.Write(b, true).ok());
  auto loaded = LoadDurableState(store);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(loaded.status().message().find("7663"), std::string::npos)  // hex("vc")
      << loaded.status().message();
}

}  // namespace
}  // namespace hc::node
