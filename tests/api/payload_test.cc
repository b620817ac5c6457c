// The payload store's rules (api/payload_service.h P1..P4) on a real Ledger over a MemKvStore,
// behind a fake LedgerView whose commits the test drives.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/payload_service.h"
#include "common/encoding.h"
#include "crypto/box.h"
#include "crypto/hash.h"
#include "ledger/mem_store.h"
#include "ledger/payload_store.h"
#include "ledger_test_util.h"

namespace hc::api {
namespace {

using ledger::Cf;
using ledger::MemKvStore;
using namespace ledger::testing;  // NOLINT(google-build-using-namespace): tx builders, names

// A LedgerView over a Ledger the test commits to; subscribers are called after each commit, as
// the node's executor would.
class FakeLedgerView final : public LedgerView {
 public:
  FakeLedgerView() : verifier_(crypto::MakeFakeVerifier()) {
    auto l = ledger::Ledger::Open(std::make_unique<MemKvStore>(), TestGenesis(), *verifier_);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
  }

  void Read(const std::function<void(const ledger::Ledger&)>& fn) const override { fn(*ledger_); }
  const ledger::Genesis& genesis() const override { return ledger_->genesis(); }
  ledger::KvStore& payload_store() override { return payloads_; }
  std::unique_ptr<Subscription> SubscribeCommits(
      std::function<void(const CommittedBlockEvent&)> fn) override {
    auto live = std::make_shared<bool>(true);
    subscribers_.emplace_back(live, std::move(fn));
    return std::make_unique<Sub>(std::move(live));
  }

  // Commits txs in one block and tells the subscribers; returns the receipts.
  std::vector<pb::Receipt> Commit(std::vector<std::string> txs) {
    ledger::CommittedBlock c = CommitTxs(*ledger_, txs);
    CommittedBlockEvent e;
    e.height = c.height;
    e.first_entry = c.execution.first_entry;
    std::vector<Bytes> bytes;
    for (const auto& t : txs) bytes.push_back(ToBytes(t));
    e.txs = std::make_shared<const std::vector<Bytes>>(std::move(bytes));
    e.receipts = c.execution.receipt_bytes;
    e.erased_records = ParseErasedRecords(*e.txs, e.receipts);
    for (const auto& [live, fn] : subscribers_) {
      if (*live) fn(e);
    }
    return c.execution.receipts;
  }
  void CommitOk(std::vector<std::string> txs) {
    for (const pb::Receipt& r : Commit(std::move(txs))) {
      ASSERT_EQ(r.status(), pb::TX_STATUS_OK) << r.reason();
    }
  }

  MemKvStore& payloads() { return payloads_; }

 private:
  std::unique_ptr<crypto::Verifier> verifier_;
  std::unique_ptr<ledger::Ledger> ledger_;
  MemKvStore payloads_;
  // A subscription ends when its handle is destroyed.
  struct Sub final : Subscription {
    explicit Sub(std::shared_ptr<bool> live) : live(std::move(live)) {}
    ~Sub() override { *live = false; }
    std::shared_ptr<bool> live;
  };
  std::vector<std::pair<std::shared_ptr<bool>, std::function<void(const CommittedBlockEvent&)>>>
      subscribers_;
};

Caller As(std::string_view name, CallerRole role) { return Caller{KeyOf(name), role}; }
const Caller kH1 = As("h1", CallerRole::kHospital);
const Caller kH2 = As("h2", CallerRole::kHospital);
const Caller kI1 = As("i1", CallerRole::kInsurer);
const Caller kAlice = As("alice", CallerRole::kPatient);
const Caller kBob = As("bob", CallerRole::kPatient);

std::string Hex(std::string_view name) { return HexEncode(KeyOf(name)); }

class PayloadRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    view_ = std::make_shared<FakeLedgerView>();
    service_ = std::make_unique<PayloadService>(view_);
    sub_ = view_->SubscribeCommits(
        [this](const CommittedBlockEvent& e) { service_->OnCommittedBlock(e); });
    view_->CommitOk({f_.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
                     f_.RegisterOrg("gov", "h2", pb::ORG_ROLE_HOSPITAL),
                     f_.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER),
                     f_.RegisterPolicy("gov", "bppc-1"), f_.Enroll("h1", "alice"),
                     f_.Enroll("bob", "bob")});
  }

  std::string AnchorTx(std::string_view hospital, std::string_view record,
                       std::string_view ciphertext, std::string_view patient = "alice") {
    pb::TxBody b = f_.Body(hospital);
    auto* p = b.mutable_anchor_record();
    p->set_record_id(std::string(record));
    p->set_patient_key(K(patient));
    p->set_category(pb::RECORD_CATEGORY_LABORATORY);
    const Hash32 sha = crypto::Sha256(AsBytes(ciphertext));
    p->set_ciphertext_sha256(std::string(reinterpret_cast<const char*>(sha.data()), sha.size()));
    p->set_ciphertext_size(ciphertext.size());
    p->set_description("Lab result");
    p->set_content_type("text/plain");
    return f_.Sign(b);
  }

  // h1 uploads `ct` for `record`, anchors it for alice, and wraps a key for alice.
  void Publish(std::string_view record, std::string_view ct) {
    ASSERT_TRUE(service_->PutCiphertext(kH1, record, ct).ok());
    view_->CommitOk({AnchorTx("h1", record, ct)});
    ASSERT_TRUE(service_->PutWrappedKey(kH1, record, Hex("alice"), std::string(80, 'a')).ok());
  }

  static ProblemCode CodeOf(const Problem& p) { return p.code(); }

  TxFactory f_;
  std::shared_ptr<FakeLedgerView> view_;
  std::unique_ptr<PayloadService> service_;
  std::unique_ptr<LedgerView::Subscription> sub_;
};

TEST_F(PayloadRulesTest, PendingUploadIsServedOnlyOnceItsUploaderAnchorsTheSameHash) {
  auto up = service_->PutCiphertext(kH1, "r1", "cipher-1");
  ASSERT_TRUE(up.ok()) << up.problem().detail();
  EXPECT_TRUE(up.value().pending);
  // Not anchored: nobody is served, the uploader included.
  EXPECT_EQ(service_->Get(kH1, "r1").problem().code(), ProblemCode::kForbidden);
  view_->CommitOk({AnchorTx("h1", "r1", "cipher-1")});
  auto got = service_->Get(kAlice, "r1");
  ASSERT_TRUE(got.ok()) << got.problem().detail();
  EXPECT_EQ(got.value().ciphertext, "cipher-1");
  EXPECT_FALSE(got.value().wrapped_key.has_value());
}

TEST_F(PayloadRulesTest, PendingUploadWithAnotherHashIsNeverServed) {
  ASSERT_TRUE(service_->PutCiphertext(kH1, "r1", "cipher-1").ok());
  view_->CommitOk({AnchorTx("h1", "r1", "cipher-2")});
  EXPECT_EQ(service_->Get(kAlice, "r1").problem().code(), ProblemCode::kNotFound);
  // The right bytes can still be uploaded afterwards.
  ASSERT_TRUE(service_->PutCiphertext(kH1, "r1", "cipher-2").ok());
  EXPECT_EQ(service_->Get(kAlice, "r1").value().ciphertext, "cipher-2");
}

TEST_F(PayloadRulesTest, SquattedPendingUploadByAnotherHospitalIsNotServed) {
  ASSERT_TRUE(service_->PutCiphertext(kH2, "r1", "squat").ok());
  ASSERT_TRUE(service_->PutCiphertext(kH1, "r1", "cipher-1").ok());
  view_->CommitOk({AnchorTx("h1", "r1", "cipher-1")});
  EXPECT_EQ(service_->Get(kAlice, "r1").value().ciphertext, "cipher-1");
  // Once anchored, only the anchoring hospital may upload.
  EXPECT_EQ(service_->PutCiphertext(kH2, "r1", "cipher-1").problem().code(),
            ProblemCode::kForbidden);
}

TEST_F(PayloadRulesTest, UploadOfAnchoredRecordMustMatchTheAnchoredHash) {
  view_->CommitOk({AnchorTx("h1", "r1", "cipher-1")});
  auto tampered = service_->PutCiphertext(kH1, "r1", "cipher-1!");
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.problem().code(), ProblemCode::kConflict);
  EXPECT_NE(tampered.problem().detail().find("does not match"), std::string::npos);
  auto ok = service_->PutCiphertext(kH1, "r1", "cipher-1");
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok.value().pending);
}

TEST_F(PayloadRulesTest, OnlyActiveHospitalsUploadAheadOfAnchoring) {
  EXPECT_EQ(service_->PutCiphertext(kI1, "r9", "x").problem().code(), ProblemCode::kForbidden);
  EXPECT_EQ(service_->PutCiphertext(kAlice, "r9", "x").problem().code(), ProblemCode::kForbidden);
  view_->CommitOk({f_.SuspendOrg("gov", "h2")});
  EXPECT_EQ(service_->PutCiphertext(kH2, "r9", "x").problem().code(), ProblemCode::kForbidden);
  EXPECT_EQ(service_->PutCiphertext(kH1, "bad id", "x").problem().code(), ProblemCode::kBadRequest);
  EXPECT_EQ(service_->PutCiphertext(kH1, "r9", "").problem().code(), ProblemCode::kBadRequest);
}

TEST_F(PayloadRulesTest, WrappedKeysComeFromTheAnchoringHospitalOrThePatient) {
  const std::string wrapped(80, 'w');
  // Not anchored yet: the same refusal as for a stranger.
  ASSERT_TRUE(service_->PutCiphertext(kH1, "r1", "cipher-1").ok());
  EXPECT_EQ(service_->PutWrappedKey(kH1, "r1", Hex("alice"), wrapped).problem().code(),
            ProblemCode::kForbidden);
  view_->CommitOk({AnchorTx("h1", "r1", "cipher-1")});
  EXPECT_TRUE(service_->PutWrappedKey(kH1, "r1", Hex("alice"), wrapped).ok());
  EXPECT_TRUE(service_->PutWrappedKey(kAlice, "r1", Hex("h2"), wrapped).ok());
  EXPECT_EQ(service_->PutWrappedKey(kH2, "r1", Hex("h2"), wrapped).problem().code(),
            ProblemCode::kForbidden);
  EXPECT_EQ(service_->PutWrappedKey(kBob, "r1", Hex("bob"), wrapped).problem().code(),
            ProblemCode::kForbidden);
  EXPECT_EQ(service_->PutWrappedKey(kH1, "r1", Hex("nobody"), wrapped).problem().code(),
            ProblemCode::kBadRequest);
  EXPECT_EQ(service_->PutWrappedKey(kH1, "r1", "zz", wrapped).problem().code(),
            ProblemCode::kBadRequest);
  EXPECT_EQ(service_->PutWrappedKey(kH1, "r1", Hex("h2"), std::string(79, 'w')).problem().code(),
            ProblemCode::kBadRequest);
}

TEST_F(PayloadRulesTest, DownloadNeedsAGrantedAccessAndDeniesUniformly) {
  Publish("r1", "cipher-1");
  ASSERT_TRUE(service_->PutWrappedKey(kAlice, "r1", Hex("h2"), std::string(80, 'k')).ok());
  // No access: the same answer as for a record that does not exist.
  const auto no_access = service_->Get(kH2, "r1");
  const auto unknown = service_->Get(kH2, "r-unknown");
  ASSERT_FALSE(no_access.ok());
  EXPECT_EQ(no_access.problem(), unknown.problem());
  EXPECT_EQ(no_access.problem().code(), ProblemCode::kForbidden);

  // A denied access (no consent) does not open it.
  ASSERT_EQ(view_->Commit({f_.Access("h2", "r1")})[0].status(), pb::TX_STATUS_DENIED);
  EXPECT_EQ(service_->Get(kH2, "r1").problem(), unknown.problem());

  // Consent, then a granted access: served with h2's wrapped key.
  view_->CommitOk({f_.Grant("alice", {})});
  view_->CommitOk({f_.Access("h2", "r1")});
  auto got = service_->Get(kH2, "r1");
  ASSERT_TRUE(got.ok()) << got.problem().detail();
  EXPECT_EQ(got.value().ciphertext, "cipher-1");
  ASSERT_TRUE(got.value().wrapped_key.has_value());
  EXPECT_EQ(*got.value().wrapped_key, std::string(80, 'k'));
  EXPECT_EQ(got.value().sha256, crypto::Sha256(AsBytes(std::string("cipher-1"))));

  // The patient and the anchoring hospital are always served; the patient gets their own key.
  EXPECT_EQ(*service_->Get(kAlice, "r1").value().wrapped_key, std::string(80, 'a'));
  EXPECT_TRUE(service_->Get(kH1, "r1").ok());
  // Another patient and an insurer without access are not.
  EXPECT_EQ(service_->Get(kBob, "r1").problem(), unknown.problem());
  EXPECT_EQ(service_->Get(kI1, "r1").problem(), unknown.problem());
}

TEST_F(PayloadRulesTest, RevocationThenDeniedAccessEndsTheDownload) {
  Publish("r1", "cipher-1");
  view_->CommitOk({f_.Grant("alice", {})});
  view_->CommitOk({f_.Access("h2", "r1")});
  ASSERT_TRUE(service_->Get(kH2, "r1").ok());
  view_->CommitOk({f_.Revoke("alice", "c1")});
  ASSERT_EQ(view_->Commit({f_.Access("h2", "r1")})[0].status(), pb::TX_STATUS_DENIED);
  EXPECT_EQ(service_->Get(kH2, "r1").problem().code(), ProblemCode::kForbidden);
}

TEST_F(PayloadRulesTest, BreakGlassOpensTheDownload) {
  Publish("r1", "cipher-1");
  EXPECT_FALSE(service_->Get(kH2, "r1").ok());
  view_->CommitOk({f_.BreakGlass("h2", "r1")});
  EXPECT_TRUE(service_->Get(kH2, "r1").ok());
}

TEST_F(PayloadRulesTest, NodeWithoutThePayloadSaysNotFoundOnlyToEntitledCallers) {
  view_->CommitOk({AnchorTx("h1", "r1", "cipher-1")});  // uploaded elsewhere
  EXPECT_EQ(service_->Get(kAlice, "r1").problem().code(), ProblemCode::kNotFound);
  EXPECT_EQ(service_->Get(kH2, "r1").problem().code(), ProblemCode::kForbidden);
}

TEST_F(PayloadRulesTest, ErasureDeletesCiphertextAndEveryWrappedKey) {
  Publish("r1", "cipher-1");
  view_->CommitOk({f_.Grant("alice", {})});
  view_->CommitOk({f_.Access("h2", "r1")});
  ASSERT_TRUE(service_->PutWrappedKey(kH1, "r1", Hex("h2"), std::string(80, 'k')).ok());
  ASSERT_FALSE(view_->payloads().table(Cf::kPayloads).empty());
  view_->CommitOk({f_.Erase("alice", "r1")});
  EXPECT_TRUE(view_->payloads().table(Cf::kPayloads).empty());
  auto patient = service_->Get(kAlice, "r1");
  EXPECT_EQ(patient.problem().code(), ProblemCode::kNotFound);
  EXPECT_NE(patient.problem().detail().find("erased"), std::string::npos);
  // The grantee learns nothing more than any stranger.
  EXPECT_EQ(service_->Get(kH2, "r1").problem(), service_->Get(kH2, "nope").problem());
  EXPECT_EQ(service_->PutCiphertext(kH1, "r1", "cipher-1").problem().code(),
            ProblemCode::kConflict);
}

TEST_F(PayloadRulesTest, ErasureKeepsACiphertextAnotherRecordReferences) {
  Publish("r1", "same-bytes");
  Publish("r2", "same-bytes");
  view_->CommitOk({f_.Erase("h1", "r1")});
  auto r2 = service_->Get(kAlice, "r2");
  ASSERT_TRUE(r2.ok()) << r2.problem().detail();
  EXPECT_EQ(r2.value().ciphertext, "same-bytes");
  view_->CommitOk({f_.Erase("h1", "r2")});
  EXPECT_TRUE(view_->payloads().table(Cf::kPayloads).empty());
}

TEST_F(PayloadRulesTest, SweepDeletesWhatAMissedErasureLeft) {
  Publish("r1", "cipher-1");
  sub_.reset();
  service_ = std::make_unique<PayloadService>(view_);  // no longer subscribed
  view_->CommitOk({f_.Erase("alice", "r1")});
  ASSERT_FALSE(view_->payloads().table(Cf::kPayloads).empty());
  ASSERT_TRUE(service_->SweepErased().ok());
  EXPECT_TRUE(view_->payloads().table(Cf::kPayloads).empty());
}

TEST(PayloadStoreTest, ReplacingAnUploadDropsTheUnreferencedCiphertext) {
  MemKvStore kv;
  ledger::PayloadStore store(kv);
  const std::string uploader(32, 'u');
  const Hash32 a = crypto::Sha256(AsBytes(std::string("a")));
  const Hash32 b = crypto::Sha256(AsBytes(std::string("b")));
  ASSERT_TRUE(store.PutCiphertext("r1", AsBytes(uploader), a, "a").ok());
  ASSERT_TRUE(store.PutCiphertext("r1", AsBytes(uploader), b, "b").ok());
  std::string out;
  EXPECT_EQ(store.GetCiphertext(a, &out).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store.GetCiphertext(b, &out).ok());
  EXPECT_EQ(out, "b");
  EXPECT_EQ(*store.UploadOf("r1", AsBytes(uploader)), b);
  // "r1" is not a prefix of "r10": erasing one leaves the other.
  ASSERT_TRUE(store.PutWrappedKey("r10", AsBytes(uploader), AsBytes(std::string(80, 'k'))).ok());
  ASSERT_TRUE(store.DeleteRecord("r1").ok());
  EXPECT_TRUE(store.GetWrappedKey("r10", AsBytes(uploader), &out).ok());
}

}  // namespace
}  // namespace hc::api
