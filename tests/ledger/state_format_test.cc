// The state family's format (keys::kStateFormat): a store written before the consent pairs
// (format 1, no marker) or with the consent index beside them (format 2) is upgraded at the open
// to exactly the state a current ledger would hold, and then executes as one that never was
// older; an upgrade cut short is finished at the next open; a newer format is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "ledger/codec.h"
#include "ledger/mem_store.h"
#include "ledger/queries.h"
#include "ledger_test_util.h"
#include "workload.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

std::unique_ptr<Ledger> OpenOn(MemKvStore& store, const crypto::Verifier& verifier) {
  Result<std::unique_ptr<Ledger>> l =
      Ledger::Open(std::make_unique<BorrowedStore>(store), TestGenesis(), verifier);
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? std::move(l).value() : nullptr;
}

// Takes the store back to an older format (OlderStateFormatWrites). `pairs_kept` keeps that many
// pair records (in key order) with no index keys, as an upgrade from format 1 cut short leaves
// them.
void Downgrade(MemKvStore& store, int format, size_t pairs_kept = 0) {
  Result<KvBatch> older = OlderStateFormatWrites(store, format);
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  size_t seen = 0;
  for (const auto& [k, v] : store.table(Cf::kState)) {
    if (!k.starts_with(keys::kPairConsentsPrefix) || seen++ >= pairs_kept) continue;
    // Kept: drop the writes of this pair (its index keys, and its delete).
    lpb::ConsentIds ids;
    ASSERT_TRUE(ids.ParseFromString(v));
    const std::optional<keys::PairKey> pair = keys::ParsePairConsents(k);
    ASSERT_TRUE(pair.has_value());
    std::erase_if(older->writes, [&](const KvWrite& w) {
      if (w.cf == Cf::kState) return w.key == k;
      for (const std::string& id : ids.consent_ids()) {
        if (w.key == keys::PatientConsent(pair->patient, pair->grantee, id)) return true;
      }
      return false;
    });
  }
  ASSERT_TRUE(store.Write(*older, true).ok());
}

struct Pairs {
  size_t pairs = 0, multi = 0, ids = 0;
};
Pairs CountPairs(const MemKvStore& store) {
  Pairs p;
  for (const auto& [k, v] : store.table(Cf::kState)) {
    if (!k.starts_with(keys::kPairConsentsPrefix)) continue;
    lpb::ConsentIds ids;
    EXPECT_TRUE(ids.ParseFromString(v));
    ++p.pairs;
    p.multi += ids.consent_ids_size() > 1;
    p.ids += static_cast<size_t>(ids.consent_ids_size());
  }
  return p;
}

// Writes n big-endian into the first four bytes of *key (distinct keys that sort by n).
void PutU32At(std::string* key, uint32_t n) {
  for (int i = 0; i < 4; ++i) (*key)[i] = static_cast<char>(n >> (24 - 8 * i));
}

size_t IndexConsentKeys(const MemKvStore& store) {
  size_t n = 0;
  for (const auto& [k, v] : store.table(Cf::kIndex)) n += k.starts_with("c");
  return n;
}

class StateFormatUpgrade : public ::testing::TestWithParam<int> {};

TEST_P(StateFormatUpgrade, IsUpgradedToTheStateACurrentLedgerHolds) {
  const int from = GetParam();
  auto verifier = crypto::MakeFakeVerifier();
  Workload w(23);
  std::vector<std::vector<std::string>> blocks = {w.SetupTxs()};
  for (int i = 0; i < 40; ++i) blocks.push_back(w.NextTxs(120, kT0 + i * 1000));
  MemKvStore upgraded, reference;
  std::unique_ptr<Ledger> a = OpenOn(upgraded, *verifier);
  std::unique_ptr<Ledger> b = OpenOn(reference, *verifier);
  const size_t half = blocks.size() / 2;
  for (size_t i = 0; i < half; ++i) {
    CommitTxs(*a, blocks[i], kT0 + static_cast<int64_t>(i) * 1000);
    CommitTxs(*b, blocks[i], kT0 + static_cast<int64_t>(i) * 1000);
  }
  // The property is exercised: pairs exist, some with more than one consent; and a current
  // ledger keeps no consent index.
  const Pairs pairs = CountPairs(reference);
  EXPECT_GT(pairs.pairs, 20u);
  EXPECT_GT(pairs.multi, 0u);
  EXPECT_EQ(IndexConsentKeys(reference), 0u);

  a.reset();
  Downgrade(upgraded, from);
  ASSERT_EQ(IndexConsentKeys(upgraded), pairs.ids);
  ASSERT_NE(StateDigest(upgraded), StateDigest(reference));
  a = OpenOn(upgraded, *verifier);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(StateDigest(upgraded), StateDigest(reference));
  ASSERT_TRUE(a->state_upgrade().has_value());
  EXPECT_EQ(a->state_upgrade()->from_format, from);
  EXPECT_EQ(a->state_upgrade()->consent_pairs_built, from == 1 ? pairs.pairs : 0u);
  EXPECT_EQ(a->state_upgrade()->index_keys_removed, pairs.ids);
  EXPECT_FALSE(b->state_upgrade().has_value());  // created in the current format

  // The patient-consents query reads the same pages on both.
  for (const auto& [k, v] : reference.table(Cf::kState)) {
    if (!k.starts_with(keys::kPairConsentsPrefix)) continue;
    const ByteView patient = AsBytes(keys::ParsePairConsents(k).value().patient);
    auto pa = ConsentsOfPatient(*a, patient, std::nullopt, 0);
    auto pb = ConsentsOfPatient(*b, patient, std::nullopt, 0);
    ASSERT_TRUE(pa.ok() && pb.ok());
    ASSERT_EQ(pa->consents.size(), pb->consents.size());
    EXPECT_FALSE(pa->consents.empty());
    break;
  }

  // And it goes on executing exactly as the store that never was older.
  for (size_t i = half; i < blocks.size(); ++i) {
    const int64_t t = kT0 + static_cast<int64_t>(i) * 1000;
    CommittedBlock ca = CommitTxs(*a, blocks[i], t);
    CommittedBlock cb = CommitTxs(*b, blocks[i], t);
    ASSERT_EQ(ca.execution.receipt_bytes, cb.execution.receipt_bytes) << "block " << i + 1;
  }
  EXPECT_EQ(StateDigest(upgraded), StateDigest(reference));
  EXPECT_EQ(IndexConsentKeys(upgraded), 0u);
}

INSTANTIATE_TEST_SUITE_P(FromFormat, StateFormatUpgrade, ::testing::Values(1, 2));

TEST(StateFormatTest, AnUpgradeFromFormat1CutShortIsFinishedAtTheNextOpen) {
  auto verifier = crypto::MakeFakeVerifier();
  Workload w(29);
  MemKvStore store, reference;
  std::unique_ptr<Ledger> a = OpenOn(store, *verifier);
  std::unique_ptr<Ledger> b = OpenOn(reference, *verifier);
  for (int i = 0; i < 12; ++i) {
    std::vector<std::string> txs = i == 0 ? w.SetupTxs() : w.NextTxs(120, kT0 + i * 1000);
    CommitTxs(*a, txs, kT0 + i * 1000);
    CommitTxs(*b, txs, kT0 + i * 1000);
  }
  a.reset();
  const Pairs pairs = CountPairs(reference);
  ASSERT_GT(pairs.pairs, 10u);
  // The first runs' batches were written (their pair records, their index keys gone), the
  // marker not.
  Downgrade(store, 1, /*pairs_kept=*/pairs.pairs / 2);
  a = OpenOn(store, *verifier);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(StateDigest(store), StateDigest(reference));
  EXPECT_EQ(a->state_upgrade()->consent_pairs_built, pairs.pairs - pairs.pairs / 2);
}

// More keys than one batch of the upgrade holds (50,000): every run becomes exactly its pair
// record, whichever batch it falls in, and no key is left.
TEST(StateFormatTest, AnUpgradeOfManyKeysGoesInBatchesOfWholePairs) {
  auto verifier = crypto::MakeFakeVerifier();
  MemKvStore store;
  ASSERT_NE(OpenOn(store, *verifier), nullptr);
  Downgrade(store, 1);
  std::map<std::string, std::vector<std::string>> want;  // pair key -> ids, ascending
  KvBatch b;
  size_t keys_written = 0;
  for (uint32_t pair = 0; keys_written < 130'000; ++pair) {
    std::string patient(kKeyBytes, 'p'), grantee(kKeyBytes, 'g');
    PutU32At(&patient, pair / 7);
    PutU32At(&grantee, pair % 7);
    std::vector<std::string>& ids = want[keys::PairConsents(patient, grantee)];
    for (uint32_t i = 0; i < 1 + pair % 5; ++i) {
      ids.push_back("consent-" + std::to_string(pair) + "-" + std::to_string(i));
      b.Put(Cf::kIndex, keys::PatientConsent(patient, grantee, ids.back()), "");
      ++keys_written;
    }
    std::sort(ids.begin(), ids.end());
  }
  ASSERT_TRUE(store.Write(b, true).ok());
  std::unique_ptr<Ledger> l = OpenOn(store, *verifier);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->state_upgrade()->index_keys_removed, keys_written);
  EXPECT_EQ(l->state_upgrade()->consent_pairs_built, want.size());
  EXPECT_EQ(IndexConsentKeys(store), 0u);
  size_t checked = 0;
  for (const auto& [key, ids] : want) {
    std::string v;
    ASSERT_TRUE(store.Get(Cf::kState, key, &v).ok());
    lpb::ConsentIds got;
    ASSERT_TRUE(got.ParseFromString(v));
    ASSERT_EQ(std::vector<std::string>(got.consent_ids().begin(), got.consent_ids().end()), ids);
    ++checked;
  }
  EXPECT_EQ(checked, want.size());
}

TEST(StateFormatTest, ANewerFormatIsRefusedAndAMalformedConsentKeyNamed) {
  auto verifier = crypto::MakeFakeVerifier();
  MemKvStore store;
  ASSERT_NE(OpenOn(store, *verifier), nullptr);
  KvBatch newer;
  newer.Put(Cf::kState, std::string(keys::kStateFormat), "4");
  ASSERT_TRUE(store.Write(newer, true).ok());
  Result<std::unique_ptr<Ledger>> l =
      Ledger::Open(std::make_unique<BorrowedStore>(store), TestGenesis(), *verifier);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(l.status().message().find("m/format"), std::string::npos) << l.status().ToString();

  // A format-1 store whose consent index holds a key too short to name a patient and grantee.
  Downgrade(store, 1);
  KvBatch bad;
  bad.Put(Cf::kIndex, keys::PatientConsentPrefix("short"), "");
  ASSERT_TRUE(store.Write(bad, true).ok());
  l = Ledger::Open(std::make_unique<BorrowedStore>(store), TestGenesis(), *verifier);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kCorruption);
  EXPECT_NE(l.status().message().find("index/"), std::string::npos) << l.status().ToString();
}

}  // namespace
}  // namespace hc::ledger
