// The state family's format (keys::kStateFormat): a store written before the consent pairs
// (format 1, no marker) is upgraded at the open to exactly the state a current ledger would hold,
// and then executes as one that never was format 1; a newer format is refused.
#include <gtest/gtest.h>

#include "ledger/codec.h"
#include "ledger/mem_store.h"
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

// Takes the store back to format 1: no consent pairs and no marker.
void Downgrade(MemKvStore& store) {
  KvBatch b;
  for (const auto& [k, v] : store.table(Cf::kState)) {
    if (k.starts_with(keys::kPairConsentsPrefix) || k == keys::kStateFormat) {
      b.Delete(Cf::kState, k);
    }
  }
  ASSERT_TRUE(store.Write(b, true).ok());
}

TEST(StateFormatTest, AFormat1StoreIsUpgradedToTheStateACurrentLedgerHolds) {
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
  // The property is exercised: pairs exist, some with more than one consent.
  size_t pairs = 0, multi = 0;
  for (const auto& [k, v] : reference.table(Cf::kState)) {
    if (!k.starts_with(keys::kPairConsentsPrefix)) continue;
    lpb::ConsentIds ids;
    ASSERT_TRUE(ids.ParseFromString(v));
    ++pairs;
    multi += ids.consent_ids_size() > 1;
  }
  EXPECT_GT(pairs, 20u);
  EXPECT_GT(multi, 0u);

  a.reset();
  Downgrade(upgraded);
  ASSERT_NE(StateDigest(upgraded), StateDigest(reference));
  a = OpenOn(upgraded, *verifier);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(StateDigest(upgraded), StateDigest(reference));
  EXPECT_EQ(a->upgraded_consent_pairs(), pairs);
  EXPECT_EQ(b->upgraded_consent_pairs(), std::nullopt);  // created in the current format

  // And it goes on executing exactly as the store that never was format 1.
  for (size_t i = half; i < blocks.size(); ++i) {
    const int64_t t = kT0 + static_cast<int64_t>(i) * 1000;
    CommittedBlock ca = CommitTxs(*a, blocks[i], t);
    CommittedBlock cb = CommitTxs(*b, blocks[i], t);
    ASSERT_EQ(ca.execution.receipt_bytes, cb.execution.receipt_bytes) << "block " << i + 1;
  }
  EXPECT_EQ(StateDigest(upgraded), StateDigest(reference));
}

TEST(StateFormatTest, ANewerFormatIsRefusedAndAMalformedConsentKeyNamed) {
  auto verifier = crypto::MakeFakeVerifier();
  MemKvStore store;
  ASSERT_NE(OpenOn(store, *verifier), nullptr);
  KvBatch newer;
  newer.Put(Cf::kState, std::string(keys::kStateFormat), "3");
  ASSERT_TRUE(store.Write(newer, true).ok());
  Result<std::unique_ptr<Ledger>> l =
      Ledger::Open(std::make_unique<BorrowedStore>(store), TestGenesis(), *verifier);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(l.status().message().find("m/format"), std::string::npos) << l.status().ToString();

  // A format-1 store whose consent index holds a key too short to name a patient and grantee.
  Downgrade(store);
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
