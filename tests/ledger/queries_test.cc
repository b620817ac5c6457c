// The queries users come with: audit trail, consent status, consents of a patient, claim
// provenance with proofs, the break-glass review queue, tx by id, block by height.
#include "ledger/queries.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "consensus/signing.h"
#include "crypto/merkle.h"
#include "ledger_test_util.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

class QueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = Ledger::Open(std::make_unique<MemKvStore>(), TestGenesis(), *verifier_);
    ASSERT_TRUE(l.ok());
    ledger_ = std::move(l).value();
    CommitTxs(*ledger_,
              {f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
               f.RegisterOrg("gov", "h2", pb::ORG_ROLE_HOSPITAL),
               f.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER), f.RegisterPolicy("gov", "bppc-1"),
               f.Enroll("h1", "alice"), f.Enroll("bob", "bob")},
              kT0);
    CommitTxs(
        *ledger_,
        {f.Anchor("h1", "r1", "alice"), f.Anchor("h1", "r2", "alice"), f.Anchor("h1", "rb", "bob")},
        kT0 + 1000);
  }

  TxFactory::GrantSpec Pay() {
    TxFactory::GrantSpec s;
    s.id = "pay";
    s.grantee = "i1";
    s.purposes = {pb::PURPOSE_HPAYMT};
    return s;
  }

  std::unique_ptr<crypto::Verifier> verifier_ = crypto::MakeFakeVerifier();
  std::unique_ptr<Ledger> ledger_;
  TxFactory f;
};

TEST_F(QueriesTest, AuditTrailListsEveryAccessWithTheDisclosureFields) {
  CommitTxs(*ledger_, {f.Grant("alice", {})}, kT0 + 2000);  // c1: h2, LAB, TREAT
  CommitTxs(*ledger_,
            {f.Access("h2", "r1"), f.Access("i1", "r1", pb::PURPOSE_HPAYMT),
             f.BreakGlass("h1", "r2"), f.Access("h2", "rb"), f.Erase("alice", "r2")},
            kT0 + 3000);
  auto page = PatientAuditTrail(*ledger_, AsBytes(K("alice")), std::nullopt, 0);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->events.size(), 4u);  // bob's record is not alice's
  const auto& e0 = page->events[0];
  EXPECT_EQ(e0.kind(), lpb::AuditEvent::KIND_ACCESS);
  EXPECT_EQ(e0.time_ms(), kT0 + 3000);
  EXPECT_EQ(e0.actor_name(), "h2");
  EXPECT_EQ(e0.record_id(), "r1");
  EXPECT_EQ(e0.record_description(), "Lab result r1");
  EXPECT_EQ(e0.purpose(), pb::PURPOSE_TREAT);
  EXPECT_EQ(e0.status(), pb::TX_STATUS_OK);
  EXPECT_EQ(e0.consent_id(), "c1");
  EXPECT_EQ(page->events[1].status(), pb::TX_STATUS_DENIED);
  EXPECT_EQ(page->events[1].deny_reason(), pb::DENY_REASON_NO_CONSENT);
  EXPECT_EQ(page->events[2].kind(), lpb::AuditEvent::KIND_BREAK_GLASS);
  EXPECT_EQ(page->events[2].justification(), "unconscious patient in ER");
  EXPECT_EQ(page->events[3].kind(), lpb::AuditEvent::KIND_ERASE);
  EXPECT_FALSE(page->next_after.has_value());

  // Pagination.
  auto p1 = PatientAuditTrail(*ledger_, AsBytes(K("alice")), std::nullopt, 3);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->events.size(), 3u);
  ASSERT_TRUE(p1->next_after.has_value());
  auto p2 = PatientAuditTrail(*ledger_, AsBytes(K("alice")), p1->next_after, 3);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->events.size(), 1u);
  EXPECT_EQ(p2->events[0].kind(), lpb::AuditEvent::KIND_ERASE);
  EXPECT_FALSE(p2->next_after.has_value());
}

TEST_F(QueriesTest, ReviewQueueListsBreakGlassEvents) {
  CommitTxs(*ledger_, {f.BreakGlass("h1", "r1"), f.BreakGlass("h2", "rb")});
  auto q = BreakGlassReviewQueue(*ledger_, std::nullopt, 10);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->events.size(), 2u);
  EXPECT_EQ(q->events[0].patient_key(), K("alice"));
  EXPECT_EQ(q->events[1].patient_key(), K("bob"));
  EXPECT_EQ(q->events[1].actor_name(), "h2");
}

TEST_F(QueriesTest, ConsentStatusAtHeightAndTime) {
  TxFactory::GrantSpec s;
  s.from = kT0 + 5000;
  s.until = kT0 + 9000;
  CommitTxs(*ledger_, {f.Grant("alice", s)}, kT0 + 2000);      // height 3
  CommitTxs(*ledger_, {}, kT0 + 6000);                         // height 4
  CommitTxs(*ledger_, {f.Revoke("alice", "c1")}, kT0 + 7000);  // height 5
  CommitTxs(*ledger_, {}, kT0 + 9500);                         // height 6
  auto at = [&](uint64_t h) { return ConsentStatusAtHeight(*ledger_, "c1", h)->status; };
  EXPECT_EQ(at(2), ConsentStatus::kNotGranted);
  EXPECT_EQ(at(3), ConsentStatus::kNotYetValid);
  EXPECT_EQ(at(4), ConsentStatus::kActive);
  EXPECT_EQ(at(5), ConsentStatus::kRevoked);
  EXPECT_EQ(at(6), ConsentStatus::kRevoked);
  auto when = [&](int64_t t) { return ConsentStatusAtTime(*ledger_, "c1", t)->status; };
  EXPECT_EQ(when(kT0), ConsentStatus::kNotGranted);
  EXPECT_EQ(when(kT0 + 3000), ConsentStatus::kNotYetValid);
  EXPECT_EQ(when(kT0 + 6500), ConsentStatus::kActive);
  EXPECT_EQ(when(kT0 + 7000), ConsentStatus::kRevoked);
  EXPECT_EQ(ConsentStatusAtHeight(*ledger_, "c404", 3).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ConsentStatusAtHeight(*ledger_, "c1", 99).status().code(),
            StatusCode::kFailedPrecondition);
  // Without revocation, a consent expires.
  TxFactory::GrantSpec s2;
  s2.id = "c2";
  s2.until = kT0 + 9000;
  CommitTxs(*ledger_, {f.Grant("alice", s2)}, kT0 + 9600);
  EXPECT_EQ(ConsentStatusAtHeight(*ledger_, "c2", ledger_->height())->status,
            ConsentStatus::kExpired);
}

TEST_F(QueriesTest, ConsentsOfAPatient) {
  TxFactory::GrantSpec a;
  TxFactory::GrantSpec b = Pay();
  TxFactory::GrantSpec c;
  c.id = "c3";
  c.grantee = "h1";
  CommitTxs(*ledger_, {f.Grant("alice", a), f.Grant("alice", b), f.Grant("alice", c)});
  TxFactory::GrantSpec bobs;
  bobs.id = "bob-1";
  bobs.patient = "bob";
  CommitTxs(*ledger_, {f.Grant("bob", bobs), f.Revoke("alice", "c3")});
  auto page = ConsentsOfPatient(*ledger_, AsBytes(K("alice")), std::nullopt, 0);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->consents.size(), 3u);
  std::map<std::string, ConsentStatus> got;
  for (const auto& x : page->consents) got[x.consent.grant().consent_id()] = x.status;
  EXPECT_EQ(got["c1"], ConsentStatus::kActive);
  EXPECT_EQ(got["pay"], ConsentStatus::kActive);
  EXPECT_EQ(got["c3"], ConsentStatus::kRevoked);
  auto p1 = ConsentsOfPatient(*ledger_, AsBytes(K("alice")), std::nullopt, 2);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->consents.size(), 2u);
  ASSERT_TRUE(p1->next_after.has_value());
  auto p2 = ConsentsOfPatient(*ledger_, AsBytes(K("alice")), p1->next_after, 2);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->consents.size(), 1u);
  EXPECT_FALSE(p2->next_after.has_value());
}

// Pages of any size list every consent once, in (grantee, consent id) order, whether a page ends
// inside one grantee's consents or at the end of them; a cursor is the consent's key in the
// consent index of state formats 1 and 2, so one handed out before the upgrade still works; a
// cursor of another patient or too short to name a consent is refused.
TEST_F(QueriesTest, ConsentPagesOfAnySizeListEveryConsentOnceInOrder) {
  std::vector<std::string> txs;
  std::vector<std::pair<std::string, std::string>> want;  // (grantee key, id)
  for (const char* grantee : {"h1", "h2", "i1"}) {
    for (int i = 0; i < 4; ++i) {
      TxFactory::GrantSpec g;
      g.grantee = grantee;
      g.id = std::string(grantee) + "-c" + std::to_string(i);
      txs.push_back(f.Grant("alice", g));
      want.emplace_back(K(grantee), g.id);
    }
  }
  CommitTxs(*ledger_, txs);
  std::sort(want.begin(), want.end());
  for (size_t limit : {1, 2, 3, 5, 12, 13}) {
    std::vector<std::pair<std::string, std::string>> got;
    std::optional<std::string> after;
    for (int pages = 0; pages < 20; ++pages) {
      auto page = ConsentsOfPatient(*ledger_, AsBytes(K("alice")), after, limit);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      ASSERT_LE(page->consents.size(), limit);
      for (const auto& c : page->consents) {
        got.emplace_back(c.consent.grant().grantee_key(), c.consent.grant().consent_id());
      }
      after = page->next_after;
      if (!after) break;
    }
    EXPECT_EQ(got, want) << "pages of " << limit;
  }
  // An earlier version's cursor: the consent index key of the fifth consent.
  auto rest = ConsentsOfPatient(*ledger_, AsBytes(K("alice")),
                                keys::PatientConsent(K("alice"), want[4].first, want[4].second), 0);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  ASSERT_EQ(rest->consents.size(), want.size() - 5);
  EXPECT_EQ(rest->consents.front().consent.grant().consent_id(), want[5].second);
  for (const std::string& bad : {keys::PatientConsent(K("bob"), want[4].first, want[4].second),
                                 keys::PatientGranteePrefix(K("alice"), want[4].first)}) {
    auto r = ConsentsOfPatient(*ledger_, AsBytes(K("alice")), bad, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(QueriesTest, TxByIdWithAVerifiableInclusionProof) {
  const std::string tx = f.Grant("alice", {});
  CommitTxs(*ledger_, {f.Enroll("carl", "carl"), tx});
  const Hash32 id = TxIdOf(AsBytes(tx));
  auto a = TxById(*ledger_, id);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->receipt.status(), pb::TX_STATUS_OK);
  EXPECT_EQ(a->entry.parsed.tx(), tx);
  EXPECT_EQ(a->entry.height, 3u);
  EXPECT_EQ(a->entry.index_in_block, 1u);
  // Not yet covered by a certified header: the tip's header certifies the log before the tip.
  EXPECT_FALSE(a->entry.certified);
  CommitTxs(*ledger_, {});
  a = TxById(*ledger_, id);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->entry.certified);
  EXPECT_TRUE(crypto::VerifyInclusion(a->entry.index, a->entry.tree_size, a->entry.leaf_hash,
                                      a->entry.proof, a->root.log_root)
                  .ok());
  // The root is the certified header's, signed by the certificate.
  pb::BlockHeader h;
  ASSERT_TRUE(h.ParseFromString(a->root.header));
  EXPECT_EQ(h.log_size(), a->root.log_size);
  EXPECT_TRUE(CheckCertificate(a->root.certificate, a->root.height,
                               consensus::BlockHash(AsBytes(a->root.header)), TestGenesis(),
                               *verifier_)
                  .ok());
  EXPECT_EQ(TxById(*ledger_, Hash32{}).status().code(), StatusCode::kNotFound);
}

// LocateTx answers what TxById does, without the proof (GET /v1/tx/{id}).
TEST_F(QueriesTest, LocateTxAgreesWithTxById) {
  const std::string denied = f.Access("h2", "no-such-record");  // a receipt other than OK
  const std::string tx = f.Grant("alice", {});
  CommitTxs(*ledger_, {f.Enroll("carl", "carl"), tx, denied});
  for (const std::string& t : {tx, denied}) {
    const Hash32 id = TxIdOf(AsBytes(t));
    auto loc = LocateTx(*ledger_, id);
    auto full = TxById(*ledger_, id);
    ASSERT_TRUE(loc.ok()) << loc.status().ToString();
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    EXPECT_EQ(loc->height, full->entry.height);
    EXPECT_EQ(loc->index_in_block, full->entry.index_in_block);
    EXPECT_EQ(loc->receipt.SerializeAsString(), full->receipt.SerializeAsString());
  }
  EXPECT_EQ(LocateTx(*ledger_, Hash32{}).status().code(), StatusCode::kNotFound);
}

TEST_F(QueriesTest, BlockByHeight) {
  auto b = BlockByHeight(*ledger_, 2);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->header.height(), 2u);
  EXPECT_EQ(b->block.txs_size(), 3);
  EXPECT_EQ(b->certificate.height(), 2u);
  EXPECT_EQ(b->block_hash, consensus::BlockHash(AsBytes(b->block.header())));
  EXPECT_EQ(BlockByHeight(*ledger_, 9).status().code(), StatusCode::kNotFound);
}

TEST_F(QueriesTest, ClaimProvenanceIsOrderedAndEveryEntryProves) {
  CommitTxs(*ledger_, {f.Grant("alice", Pay())});
  TxFactory::ClaimSpec s;
  s.evidence = {"r1", "r2"};
  CommitTxs(*ledger_,
            {f.Access("i1", "r1", pb::PURPOSE_HPAYMT), f.Access("h2", "r2"), f.Claim("h1", s)});
  CommitTxs(*ledger_, {f.Adjudicate("i1", "cl1")});
  CommitTxs(*ledger_, {});  // certifies the adjudication
  auto p = ClaimProvenanceOf(*ledger_, "cl1");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  using Kind = ProvenanceItem::Kind;
  std::vector<Kind> kinds;
  for (const auto& item : p->items) kinds.push_back(item.kind);
  // Anchors r1, r2; the consent; the insurer's granted access (h2's was denied); claim; decision.
  EXPECT_EQ(kinds, (std::vector<Kind>{Kind::kRecordAnchor, Kind::kRecordAnchor, Kind::kConsentGrant,
                                      Kind::kAccess, Kind::kClaim, Kind::kAdjudication}));
  uint64_t last = 0;
  for (const auto& item : p->items) {
    EXPECT_GE(item.entry.index, last);
    last = item.entry.index;
    ASSERT_TRUE(item.entry.certified) << ProvenanceKindName(item.kind);
    EXPECT_TRUE(crypto::VerifyInclusion(item.entry.index, item.entry.tree_size,
                                        item.entry.leaf_hash, item.entry.proof, p->root.log_root)
                    .ok());
    EXPECT_EQ(item.entry.parsed.receipt().status(), pb::TX_STATUS_OK);
  }
  EXPECT_EQ(p->items.back().entry.parsed.receipt().rule(), "R20");
  EXPECT_EQ(ClaimProvenanceOf(*ledger_, "cl404").status().code(), StatusCode::kNotFound);
}

TEST_F(QueriesTest, ConsistencyProofBetweenCertifiedRoots) {
  const uint64_t size1 = ledger_->log_size();
  const Hash32 root1 = ledger_->log_root();
  CommitTxs(*ledger_, {f.Access("h2", "r1"), f.Enroll("zed", "zed")});
  auto proof = crypto::ConsistencyProof(ledger_->log_nodes(), size1, ledger_->log_size());
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(
      crypto::VerifyConsistency(size1, ledger_->log_size(), root1, ledger_->log_root(), *proof)
          .ok());
}

}  // namespace
}  // namespace hc::ledger
