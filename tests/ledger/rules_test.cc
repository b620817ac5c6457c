// One test per rule outcome of docs/spec/ledger-rules.md: the allowed case and every rejection.
#include <gtest/gtest.h>

#include "common/encoding.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger_test_util.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

#define EXPECT_RECEIPT(receipt, want_status, want_rule)                                 \
  do {                                                                                  \
    const pb::Receipt& r_ = (receipt);                                                  \
    EXPECT_EQ(r_.status(), pb::want_status) << r_.reason();                             \
    EXPECT_EQ(r_.rule(), want_rule) << r_.reason();                                     \
    EXPECT_TRUE(r_.reason().starts_with(std::string(want_rule) + ": ")) << r_.reason(); \
  } while (0)

#define EXPECT_DENIED(receipt, why)                              \
  do {                                                           \
    const pb::Receipt& r_ = (receipt);                           \
    EXPECT_EQ(r_.status(), pb::TX_STATUS_DENIED) << r_.reason(); \
    EXPECT_EQ(r_.deny_reason(), pb::why) << r_.reason();         \
  } while (0)

class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override { chain.StandardWorld(f); }

  // alice -> h2: LABORATORY for TREAT, valid [kT0, kT0 + 1 year).
  void GrantDefault(TxFactory::GrantSpec s = {}) { chain.Setup({f.Grant(s.patient, s)}); }

  TxFactory f;
  StateChain chain;
};

// ---- R1..R4: the boundary ----

TEST_F(RulesTest, R1GarbageBytesAreInvalid) {
  EXPECT_RECEIPT(chain.Run1("not a protobuf \xff\xff"), TX_STATUS_INVALID, "R1");
}

TEST_F(RulesTest, R1OversizedBodyIsInvalid) {
  pb::TxBody b = f.Body("h1");
  b.mutable_anchor_record()->set_description(std::string(kTxBodyMaxBytes, 'x'));
  EXPECT_RECEIPT(chain.Run1(f.Sign(b)), TX_STATUS_INVALID, "R1");
}

TEST_F(RulesTest, R1ShortSignatureIsInvalid) {
  pb::SignedTx st;
  ASSERT_TRUE(st.ParseFromString(f.Access("h2", "r1")));
  st.set_signature("short");
  EXPECT_RECEIPT(chain.Run1(st.SerializeAsString()), TX_STATUS_INVALID, "R1");
}

TEST_F(RulesTest, R1BodyThatIsNotATxBodyIsInvalid) {
  pb::SignedTx st;
  st.set_body("\xff\xff\xff");
  st.set_signature(std::string(64, 's'));
  EXPECT_RECEIPT(chain.Run1(st.SerializeAsString()), TX_STATUS_INVALID, "R1");
}

TEST_F(RulesTest, R2WrongChainIdIsInvalid) {
  TxFactory other("another-chain");
  EXPECT_RECEIPT(chain.Run1(other.Access("h2", "r1")), TX_STATUS_INVALID, "R2");
}

TEST_F(RulesTest, R3FieldBoundsAreInvalid) {
  struct Case {
    const char* what;
    std::function<void(pb::TxBody&)> mutate;
  };
  const std::vector<Case> cases = {
      {"short signer", [](pb::TxBody& b) { b.set_signer("abc"); }},
      {"short nonce", [](pb::TxBody& b) { b.set_nonce("n"); }},
      {"no payload", [](pb::TxBody& b) { b.clear_payload(); }},
      {"record id with space",
       [](pb::TxBody& b) { b.mutable_access_record()->set_record_id("a b"); }},
      {"record id too long",
       [](pb::TxBody& b) { b.mutable_access_record()->set_record_id(std::string(65, 'r')); }},
      {"unspecified purpose",
       [](pb::TxBody& b) { b.mutable_access_record()->set_purpose(pb::PURPOSE_UNSPECIFIED); }},
      {"unknown purpose",
       [](pb::TxBody& b) { b.mutable_access_record()->set_purpose(static_cast<pb::Purpose>(99)); }},
  };
  for (const Case& c : cases) {
    pb::TxBody b = f.Body("h2");
    b.mutable_access_record()->set_record_id("r1");
    b.mutable_access_record()->set_purpose(pb::PURPOSE_TREAT);
    c.mutate(b);
    EXPECT_RECEIPT(chain.Run1(f.Sign(b)), TX_STATUS_INVALID, "R3");
  }
}

TEST_F(RulesTest, R3ConsentBoundsAreInvalid) {
  std::vector<std::function<void(pb::GrantConsent&)>> mutations = {
      [](pb::GrantConsent& g) { g.clear_purposes(); },
      [](pb::GrantConsent& g) { g.add_purposes(pb::PURPOSE_TREAT); },  // duplicate
      [](pb::GrantConsent& g) { g.mutable_scope()->Clear(); },
      [](pb::GrantConsent& g) {
        g.mutable_scope()->add_categories(pb::RECORD_CATEGORY_UNSPECIFIED);
      },
      [](pb::GrantConsent& g) { g.set_valid_until_ms(g.valid_from_ms()); },
      [](pb::GrantConsent& g) { g.set_valid_from_ms(-1); },
      [](pb::GrantConsent& g) { g.set_policy_id(""); },
      [](pb::GrantConsent& g) {
        for (int i = 0; i <= static_cast<int>(kScopeRecordIdsMax); ++i) {
          g.mutable_scope()->add_record_ids(std::to_string(i).insert(0, 1, 'r'));
        }
      },
  };
  for (auto& m : mutations) {
    pb::TxBody b = f.GrantBody("alice", {});
    m(*b.mutable_grant_consent());
    EXPECT_RECEIPT(chain.Run1(f.Sign(b)), TX_STATUS_INVALID, "R3");
  }
}

TEST_F(RulesTest, R3ClaimBoundsAreInvalid) {
  std::vector<std::function<void(pb::SubmitClaim&)>> mutations = {
      [](pb::SubmitClaim& c) { c.set_service_date("2026-02-30"); },
      [](pb::SubmitClaim& c) { c.set_service_date("26-01-01"); },
      [](pb::SubmitClaim& c) { c.clear_items(); },
      [](pb::SubmitClaim& c) { c.mutable_items(0)->set_quantity(0); },
      [](pb::SubmitClaim& c) { c.mutable_items(0)->set_unit_price_cents(-1); },
      [](pb::SubmitClaim& c) { c.mutable_items(0)->set_code(""); },
      [](pb::SubmitClaim& c) { c.set_invoice_number(""); },
      [](pb::SubmitClaim& c) { c.clear_evidence_record_ids(); },
      [](pb::SubmitClaim& c) { c.add_evidence_record_ids("r1"); },  // duplicate
      [](pb::SubmitClaim& c) { c.set_currency("eur"); },
  };
  for (auto& m : mutations) {
    pb::TxBody b = f.ClaimBody("h1", {});
    m(*b.mutable_submit_claim());
    EXPECT_RECEIPT(chain.Run1(f.Sign(b)), TX_STATUS_INVALID, "R3");
  }
  pb::TxBody leap = f.ClaimBody("h1", {});
  leap.mutable_submit_claim()->set_service_date("2028-02-29");
  EXPECT_TRUE(ValidatePayload(leap).ok());
}

TEST_F(RulesTest, R4BadSignatureIsInvalidAndDoesNotBlockTheGenuineTx) {
  const std::string genuine = f.Access("h1", "r1");
  pb::SignedTx forged;
  ASSERT_TRUE(forged.ParseFromString(genuine));
  std::string sig = forged.signature();
  sig[0] ^= 1;
  forged.set_signature(sig);
  EXPECT_RECEIPT(chain.Run1(forged.SerializeAsString()), TX_STATUS_INVALID, "R4");
  // The forged copy has the same tx id but never reached the tx index (R1..R4 reach no state).
  EXPECT_NE(chain.Run1(genuine).status(), pb::TX_STATUS_DUPLICATE);
}

TEST_F(RulesTest, R4SignatureByAnotherKeyIsInvalid) {
  pb::TxBody b = f.Body("h1");
  b.mutable_access_record()->set_record_id("r1");
  b.mutable_access_record()->set_purpose(pb::PURPOSE_TREAT);
  const std::string tx = SignTx(b, *crypto::MakeFakeSigner(KeyOf("mallory")));
  EXPECT_RECEIPT(chain.Run1(tx), TX_STATUS_INVALID, "R4");
}

TEST_F(RulesTest, R4RealEd25519SignatureVerifies) {
  auto kp = crypto::GenerateEd25519();
  auto signer = crypto::MakeEd25519Signer(std::move(kp.secret_key));
  pb::TxBody b = f.Body("x");
  b.set_signer(std::string(reinterpret_cast<const char*>(signer->public_key().data()), 32));
  b.mutable_enroll_patient()->set_patient_key(b.signer());
  b.mutable_enroll_patient()->set_encryption_key(std::string(32, 'e'));
  const std::string tx = SignTx(b, *signer);
  auto verifier = crypto::MakeEd25519Verifier();
  Result<DecodedTx> d = DecodeTx(AsBytes(tx), kChainId, *verifier);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  pb::SignedTx st;
  ASSERT_TRUE(st.ParseFromString(tx));
  EXPECT_EQ(d->tx_id, crypto::DomainHash("hc/txid/v1", AsBytes(st.body())));
  EXPECT_EQ(d->tx_id, TxIdOf(AsBytes(tx)));
  // The fake verifier never accepts a real signature.
  EXPECT_EQ(RuleOf(DecodeTx(AsBytes(tx), kChainId, chain.verifier()).status()), "R4");
}

// ---- R5: replay ----

TEST_F(RulesTest, R5ReplayInALaterBlockIsDuplicate) {
  const std::string tx = f.Access("h1", "r1");
  chain.Run1(tx);
  const pb::Receipt r = chain.Run1(tx);
  EXPECT_RECEIPT(r, TX_STATUS_DUPLICATE, "R5");
  EXPECT_EQ(r.related_id(), HexEncode(AsBytes(r.tx_id())));
}

TEST_F(RulesTest, R5ReplayInTheSameBlockIsDuplicate) {
  const std::string tx = f.Anchor("h1", "r2", "alice");
  auto rs = chain.Run({tx, tx});
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].status(), pb::TX_STATUS_OK);
  EXPECT_RECEIPT(rs[1], TX_STATUS_DUPLICATE, "R5");
}

TEST_F(RulesTest, R5ReplayOfARejectedTxIsDuplicate) {
  const std::string tx = f.RegisterOrg("h1", "h9", pb::ORG_ROLE_HOSPITAL);
  EXPECT_EQ(chain.Run1(tx).status(), pb::TX_STATUS_UNAUTHORIZED);
  EXPECT_RECEIPT(chain.Run1(tx), TX_STATUS_DUPLICATE, "R5");
}

// ---- R6: who signs ----

TEST_F(RulesTest, R6UnknownSignerIsUnauthorized) {
  EXPECT_RECEIPT(chain.Run1(f.Anchor("nobody", "r9", "alice")), TX_STATUS_UNAUTHORIZED, "R6");
}

TEST_F(RulesTest, R6WrongRoleIsUnauthorized) {
  EXPECT_RECEIPT(chain.Run1(f.Anchor("i1", "r9", "alice")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.RegisterPolicy("h1", "p9")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Access("gov", "r1")), TX_STATUS_UNAUTHORIZED, "R6");
}

TEST_F(RulesTest, R6PatientSigningAnOrgPayloadIsUnauthorized) {
  EXPECT_RECEIPT(chain.Run1(f.Anchor("alice", "r9", "alice")), TX_STATUS_UNAUTHORIZED, "R6");
}

TEST_F(RulesTest, R6OrgSigningAPatientPayloadIsUnauthorized) {
  EXPECT_RECEIPT(chain.Run1(f.Grant("h1", {})), TX_STATUS_UNAUTHORIZED, "R6");
}

// ---- R7, R8, R9: membership ----

TEST_F(RulesTest, R7CommissionRegistersOrgs) {
  EXPECT_RECEIPT(chain.Run1(f.RegisterOrg("gov", "gov2", pb::ORG_ROLE_COMMISSION)), TX_STATUS_OK,
                 "R7");
  // The new commission can act at once.
  EXPECT_RECEIPT(chain.Run1(f.RegisterOrg("gov2", "h3", pb::ORG_ROLE_HOSPITAL)), TX_STATUS_OK,
                 "R7");
}

TEST_F(RulesTest, R7NonCommissionCannotRegister) {
  EXPECT_RECEIPT(chain.Run1(f.RegisterOrg("h1", "h3", pb::ORG_ROLE_HOSPITAL)),
                 TX_STATUS_UNAUTHORIZED, "R6");
}

TEST_F(RulesTest, R7AlreadyRegisteredIsConflict) {
  EXPECT_RECEIPT(chain.Run1(f.RegisterOrg("gov", "h1", pb::ORG_ROLE_INSURER)), TX_STATUS_CONFLICT,
                 "R7");
}

TEST_F(RulesTest, R7PatientKeyCannotBecomeAnOrg) {
  EXPECT_RECEIPT(chain.Run1(f.RegisterOrg("gov", "alice", pb::ORG_ROLE_HOSPITAL)),
                 TX_STATUS_CONFLICT, "R7");
}

TEST_F(RulesTest, R7UnspecifiedRoleIsInvalid) {
  EXPECT_RECEIPT(chain.Run1(f.RegisterOrg("gov", "h3", pb::ORG_ROLE_UNSPECIFIED)),
                 TX_STATUS_INVALID, "R3");
}

TEST_F(RulesTest, R8SuspendedOrgIsUnauthorized) {
  EXPECT_RECEIPT(chain.Run1(f.SuspendOrg("gov", "h1")), TX_STATUS_OK, "R8");
  EXPECT_RECEIPT(chain.Run1(f.Anchor("h1", "r9", "alice")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Access("h1", "r1")), TX_STATUS_UNAUTHORIZED, "R6");
}

// Within one block, each tx sees the orgs as the txs before it left them (the executor keeps
// parsed org states for the block; this pins that it keeps them current).
TEST_F(RulesTest, R7R8OrgChangesApplyToLaterTxsOfTheSameBlock) {
  const auto r = chain.Run(
      {f.Anchor("h1", "r7", "alice"), f.SuspendOrg("gov", "h1"), f.Anchor("h1", "r8", "alice"),
       f.RegisterOrg("gov", "h3", pb::ORG_ROLE_HOSPITAL), f.Anchor("h3", "r9", "alice"),
       f.SuspendOrg("gov", "h3"), f.Anchor("h3", "r10", "alice")});
  ASSERT_EQ(r.size(), 7u);
  EXPECT_RECEIPT(r[0], TX_STATUS_OK, "R13");
  EXPECT_RECEIPT(r[1], TX_STATUS_OK, "R8");
  EXPECT_RECEIPT(r[2], TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(r[3], TX_STATUS_OK, "R7");
  EXPECT_RECEIPT(r[4], TX_STATUS_OK, "R13");
  EXPECT_RECEIPT(r[5], TX_STATUS_OK, "R8");
  EXPECT_RECEIPT(r[6], TX_STATUS_UNAUTHORIZED, "R6");
  // And the next block reads the same from the store.
  EXPECT_RECEIPT(chain.Run1(f.Anchor("h3", "r11", "alice")), TX_STATUS_UNAUTHORIZED, "R6");
}

TEST_F(RulesTest, R8SuspendRejections) {
  EXPECT_RECEIPT(chain.Run1(f.SuspendOrg("gov", "nobody")), TX_STATUS_NOT_FOUND, "R8");
  EXPECT_RECEIPT(chain.Run1(f.SuspendOrg("gov", "gov")), TX_STATUS_CONFLICT, "R8");
  EXPECT_RECEIPT(chain.Run1(f.SuspendOrg("h2", "h1")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_EQ(chain.Run1(f.SuspendOrg("gov", "h1")).status(), pb::TX_STATUS_OK);
  EXPECT_RECEIPT(chain.Run1(f.SuspendOrg("gov", "h1")), TX_STATUS_CONFLICT, "R8");
}

TEST_F(RulesTest, R9Policies) {
  EXPECT_RECEIPT(chain.Run1(f.RegisterPolicy("gov", "pcf-2")), TX_STATUS_OK, "R9");
  EXPECT_RECEIPT(chain.Run1(f.RegisterPolicy("gov", "pcf-2")), TX_STATUS_CONFLICT, "R9");
  EXPECT_RECEIPT(chain.Run1(f.RegisterPolicy("i1", "pcf-3")), TX_STATUS_UNAUTHORIZED, "R6");
}

// ---- R10: enrolment ----

TEST_F(RulesTest, R10HospitalOrSelfEnrolls) {
  EXPECT_RECEIPT(chain.Run1(f.Enroll("h2", "carol")), TX_STATUS_OK, "R10");
  EXPECT_RECEIPT(chain.Run1(f.Enroll("dave", "dave")), TX_STATUS_OK, "R10");
  EXPECT_RECEIPT(chain.Run1(f.Enroll("alice", "kid", "alice")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Enroll("h1", "kid", "alice")), TX_STATUS_OK, "R10");
}

TEST_F(RulesTest, R10Rejections) {
  EXPECT_RECEIPT(chain.Run1(f.Enroll("i1", "carol")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Enroll("stranger", "carol")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Enroll("h1", "alice")), TX_STATUS_CONFLICT, "R10");
  EXPECT_RECEIPT(chain.Run1(f.Enroll("h1", "h2")), TX_STATUS_CONFLICT, "R10");
  EXPECT_RECEIPT(chain.Run1(f.Enroll("h1", "kid", "ghost")), TX_STATUS_NOT_FOUND, "R10");
  EXPECT_RECEIPT(chain.Run1(f.Enroll("h1", "kid", "kid")), TX_STATUS_INVALID, "R10");
}

// ---- R11, R12: consent ----

TEST_F(RulesTest, R11PatientGrants) {
  const pb::Receipt r = chain.Run1(f.Grant("alice", {}));
  EXPECT_RECEIPT(r, TX_STATUS_OK, "R11");
  EXPECT_EQ(r.related_id(), "c1");
}

TEST_F(RulesTest, R11GuardianGrants) {
  chain.Setup({f.Enroll("h1", "kid", "alice")});
  TxFactory::GrantSpec s;
  s.patient = "kid";
  EXPECT_RECEIPT(chain.Run1(f.Grant("alice", s)), TX_STATUS_OK, "R11");
}

TEST_F(RulesTest, R11Rejections) {
  EXPECT_RECEIPT(chain.Run1(f.Grant("bob", {})), TX_STATUS_UNAUTHORIZED, "R11");
  TxFactory::GrantSpec s;
  s.patient = "ghost";
  EXPECT_RECEIPT(chain.Run1(f.Grant("alice", s)), TX_STATUS_NOT_FOUND, "R11");
  s = {};
  s.grantee = "nowhere";
  EXPECT_RECEIPT(chain.Run1(f.Grant("alice", s)), TX_STATUS_NOT_FOUND, "R11");
  s = {};
  s.grantee = "gov";
  EXPECT_RECEIPT(chain.Run1(f.Grant("alice", s)), TX_STATUS_CONFLICT, "R11");
  s = {};
  s.policy = "no-such-policy";
  EXPECT_RECEIPT(chain.Run1(f.Grant("alice", s)), TX_STATUS_NOT_FOUND, "R11");
  chain.Setup({f.SuspendOrg("gov", "h2")});
  EXPECT_RECEIPT(chain.Run1(f.Grant("alice", {})), TX_STATUS_CONFLICT, "R11");
  s = {};
  s.grantee = "h1";
  EXPECT_RECEIPT(chain.Run1(f.Grant("alice", s)), TX_STATUS_OK, "R11");
  EXPECT_RECEIPT(chain.Run1(f.Grant("alice", s)), TX_STATUS_CONFLICT, "R11");  // id reused
}

TEST_F(RulesTest, R12RevokeThenAccessIsDenied) {
  GrantDefault();
  EXPECT_EQ(chain.Run1(f.Access("h2", "r1")).status(), pb::TX_STATUS_OK);
  EXPECT_RECEIPT(chain.Run1(f.Revoke("alice", "c1")), TX_STATUS_OK, "R12");
  const pb::Receipt r = chain.Run1(f.Access("h2", "r1"));
  EXPECT_DENIED(r, DENY_REASON_REVOKED);
  EXPECT_EQ(r.related_id(), "c1");
}

TEST_F(RulesTest, R12GuardianRevokes) {
  chain.Setup({f.Enroll("h1", "kid", "alice")});
  TxFactory::GrantSpec s;
  s.patient = "kid";
  chain.Setup({f.Grant("alice", s)});
  EXPECT_RECEIPT(chain.Run1(f.Revoke("alice", "c1")), TX_STATUS_OK, "R12");
}

TEST_F(RulesTest, R12Rejections) {
  GrantDefault();
  EXPECT_RECEIPT(chain.Run1(f.Revoke("bob", "c1")), TX_STATUS_UNAUTHORIZED, "R12");
  EXPECT_RECEIPT(chain.Run1(f.Revoke("h2", "c1")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Revoke("alice", "c404")), TX_STATUS_NOT_FOUND, "R12");
  EXPECT_EQ(chain.Run1(f.Revoke("alice", "c1")).status(), pb::TX_STATUS_OK);
  EXPECT_RECEIPT(chain.Run1(f.Revoke("alice", "c1")), TX_STATUS_CONFLICT, "R12");
}

TEST_F(RulesTest, R12ExpiredConsentCannotBeRevoked) {
  TxFactory::GrantSpec s;
  s.until = kT0 + kDay;
  GrantDefault(s);
  EXPECT_RECEIPT(chain.Run1(f.Revoke("alice", "c1"), kT0 + 2 * kDay), TX_STATUS_CONFLICT, "R12");
}

// ---- R13: anchoring ----

TEST_F(RulesTest, R13Anchor) {
  EXPECT_RECEIPT(chain.Run1(f.Anchor("h2", "r2", "bob")), TX_STATUS_OK, "R13");
  EXPECT_RECEIPT(chain.Run1(f.Anchor("h2", "r2", "bob")), TX_STATUS_CONFLICT, "R13");
  EXPECT_RECEIPT(chain.Run1(f.Anchor("h1", "r3", "ghost")), TX_STATUS_NOT_FOUND, "R13");
  EXPECT_RECEIPT(chain.Run1(f.Anchor("i1", "r4", "bob")), TX_STATUS_UNAUTHORIZED, "R6");
}

// ---- R14, R15: access ----

TEST_F(RulesTest, R15AccessGrantedUnderConsent) {
  GrantDefault();
  const pb::Receipt r = chain.Run1(f.Access("h2", "r1"));
  EXPECT_RECEIPT(r, TX_STATUS_OK, "R15");
  EXPECT_EQ(r.related_id(), "c1");
  EXPECT_EQ(r.deny_reason(), pb::DENY_REASON_UNSPECIFIED);
}

TEST_F(RulesTest, R15NoConsentIsDenied) {
  const pb::Receipt r = chain.Run1(f.Access("h2", "r1"));
  EXPECT_RECEIPT(r, TX_STATUS_DENIED, "R15");
  EXPECT_DENIED(r, DENY_REASON_NO_CONSENT);
}

TEST_F(RulesTest, R15ExpiredAndNotYetValidAreDenied) {
  TxFactory::GrantSpec s;
  s.from = kT0 + 10 * kDay;
  s.until = kT0 + 20 * kDay;
  GrantDefault(s);
  EXPECT_DENIED(chain.Run1(f.Access("h2", "r1"), kT0 + 9 * kDay), DENY_REASON_NOT_YET_VALID);
  // The period is [from, until): granted at from, denied at until.
  EXPECT_EQ(chain.Run1(f.Access("h2", "r1"), kT0 + 10 * kDay).status(), pb::TX_STATUS_OK);
  EXPECT_EQ(chain.Run1(f.Access("h2", "r1"), kT0 + 20 * kDay - 1).status(), pb::TX_STATUS_OK);
  EXPECT_DENIED(chain.Run1(f.Access("h2", "r1"), kT0 + 20 * kDay), DENY_REASON_EXPIRED);
}

TEST_F(RulesTest, R15OutOfScopeAndWrongPurposeAreDenied) {
  GrantDefault();
  chain.Setup({f.Anchor("h1", "img", "alice", pb::RECORD_CATEGORY_IMAGING)});
  EXPECT_DENIED(chain.Run1(f.Access("h2", "img")), DENY_REASON_OUT_OF_SCOPE);
  EXPECT_DENIED(chain.Run1(f.Access("h2", "r1", pb::PURPOSE_HRESCH)), DENY_REASON_WRONG_PURPOSE);
}

TEST_F(RulesTest, R15SensitiveCategoriesAreNeverCoveredImplicitly) {
  TxFactory::GrantSpec s;
  s.categories = {pb::RECORD_CATEGORY_CLINICAL_NOTE,
                  pb::RECORD_CATEGORY_LABORATORY,
                  pb::RECORD_CATEGORY_IMAGING,
                  pb::RECORD_CATEGORY_MEDICATION,
                  pb::RECORD_CATEGORY_DISCHARGE_SUMMARY,
                  pb::RECORD_CATEGORY_IMMUNIZATION,
                  pb::RECORD_CATEGORY_BILLING};
  GrantDefault(s);
  chain.Setup({f.Anchor("h1", "mh", "alice", pb::RECORD_CATEGORY_MENTAL_HEALTH),
               f.Anchor("h1", "su", "alice", pb::RECORD_CATEGORY_SUBSTANCE_USE),
               f.Anchor("h1", "gen", "alice", pb::RECORD_CATEGORY_GENETIC)});
  for (const char* rec : {"mh", "su", "gen"}) {
    const pb::Receipt r = chain.Run1(f.Access("h2", rec));
    EXPECT_DENIED(r, DENY_REASON_OUT_OF_SCOPE);
    EXPECT_NE(r.reason().find("sensitive"), std::string::npos) << r.reason();
  }
  // Named by category or by record id, they are covered.
  TxFactory::GrantSpec mh;
  mh.id = "c-mh";
  mh.categories = {pb::RECORD_CATEGORY_MENTAL_HEALTH};
  TxFactory::GrantSpec gen;
  gen.id = "c-gen";
  gen.categories = {};
  gen.record_ids = {"gen"};
  chain.Setup({f.Grant("alice", mh), f.Grant("alice", gen)});
  EXPECT_EQ(chain.Run1(f.Access("h2", "mh")).status(), pb::TX_STATUS_OK);
  EXPECT_EQ(chain.Run1(f.Access("h2", "gen")).status(), pb::TX_STATUS_OK);
  EXPECT_DENIED(chain.Run1(f.Access("h2", "su")), DENY_REASON_OUT_OF_SCOPE);
}

TEST_F(RulesTest, R15ConsentToAnotherOrgDoesNotCover) {
  GrantDefault();  // to h2
  EXPECT_DENIED(chain.Run1(f.Access("i1", "r1")), DENY_REASON_NO_CONSENT);
  // Naming someone else's consent does not help either.
  EXPECT_DENIED(chain.Run1(f.Access("i1", "r1", pb::PURPOSE_TREAT, "c1")), DENY_REASON_NO_CONSENT);
  EXPECT_DENIED(chain.Run1(f.Access("h2", "r1", pb::PURPOSE_TREAT, "c404")),
                DENY_REASON_NO_CONSENT);
}

TEST_F(RulesTest, R15ConsentHintIsTheOnlyConsentEvaluated) {
  GrantDefault();
  TxFactory::GrantSpec s;
  s.id = "c2";
  s.purposes = {pb::PURPOSE_HRESCH};
  GrantDefault(s);
  EXPECT_EQ(chain.Run1(f.Access("h2", "r1", pb::PURPOSE_TREAT, "c1")).related_id(), "c1");
  EXPECT_DENIED(chain.Run1(f.Access("h2", "r1", pb::PURPOSE_TREAT, "c2")),
                DENY_REASON_WRONG_PURPOSE);
  // Without a hint, every consent to h2 is searched and c1 is found.
  EXPECT_EQ(chain.Run1(f.Access("h2", "r1", pb::PURPOSE_TREAT)).related_id(), "c1");
  EXPECT_EQ(chain.Run1(f.Access("h2", "r1", pb::PURPOSE_HRESCH)).related_id(), "c2");
}

TEST_F(RulesTest, R15MostSpecificReasonAmongSeveralConsents) {
  TxFactory::GrantSpec revoked;
  revoked.id = "a-revoked";
  TxFactory::GrantSpec purpose;
  purpose.id = "b-purpose";
  purpose.purposes = {pb::PURPOSE_HOPERAT};
  chain.Setup({f.Grant("alice", revoked), f.Grant("alice", purpose)});
  chain.Setup({f.Revoke("alice", "a-revoked")});
  const pb::Receipt r = chain.Run1(f.Access("h2", "r1"));
  EXPECT_DENIED(r, DENY_REASON_WRONG_PURPOSE);
  EXPECT_EQ(r.related_id(), "b-purpose");
}

TEST_F(RulesTest, R14AccessRejections) {
  EXPECT_RECEIPT(chain.Run1(f.Access("h2", "r404")), TX_STATUS_NOT_FOUND, "R14");
  EXPECT_RECEIPT(chain.Run1(f.Access("alice", "r1")), TX_STATUS_UNAUTHORIZED, "R6");
}

TEST_F(RulesTest, R14InsurerAccessesForPayment) {
  TxFactory::GrantSpec s;
  s.grantee = "i1";
  s.purposes = {pb::PURPOSE_HPAYMT};
  GrantDefault(s);
  EXPECT_EQ(chain.Run1(f.Access("i1", "r1", pb::PURPOSE_HPAYMT)).status(), pb::TX_STATUS_OK);
}

// ---- R16: break-glass ----

TEST_F(RulesTest, R16BreakGlassIsGrantedAndFlagged) {
  const pb::Receipt r = chain.Run1(f.BreakGlass("h2", "r1"));
  EXPECT_RECEIPT(r, TX_STATUS_OK, "R16");
  EXPECT_TRUE(r.flagged());
  int queued = 0;
  ASSERT_TRUE(chain.store()
                  .ScanPrefix(Cf::kIndex, keys::kReviewPrefix,
                              [&](std::string_view, std::string_view) {
                                ++queued;
                                return true;
                              })
                  .ok());
  EXPECT_EQ(queued, 1);
}

TEST_F(RulesTest, R16Rejections) {
  EXPECT_RECEIPT(chain.Run1(f.BreakGlass("h2", "r1", pb::PURPOSE_TREAT)), TX_STATUS_INVALID, "R16");
  EXPECT_RECEIPT(chain.Run1(f.BreakGlass("h2", "r1", pb::PURPOSE_ETREAT, "")), TX_STATUS_INVALID,
                 "R16");
  EXPECT_RECEIPT(chain.Run1(f.BreakGlass("i1", "r1")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.BreakGlass("h2", "r404")), TX_STATUS_NOT_FOUND, "R16");
}

// ---- R17: erasure ----

TEST_F(RulesTest, R17PatientErasesAndLaterAccessIsErased) {
  GrantDefault();
  EXPECT_RECEIPT(chain.Run1(f.Erase("alice", "r1")), TX_STATUS_OK, "R17");
  EXPECT_RECEIPT(chain.Run1(f.Access("h2", "r1")), TX_STATUS_ERASED, "R17");
  EXPECT_RECEIPT(chain.Run1(f.BreakGlass("h2", "r1")), TX_STATUS_ERASED, "R17");
  EXPECT_RECEIPT(chain.Run1(f.Erase("alice", "r1")), TX_STATUS_ERASED, "R17");
}

TEST_F(RulesTest, R17AnchoringHospitalOrGuardianErases) {
  EXPECT_RECEIPT(chain.Run1(f.Erase("h1", "r1")), TX_STATUS_OK, "R17");
  chain.Setup({f.Enroll("h1", "kid", "bob"), f.Anchor("h1", "kr", "kid")});
  EXPECT_RECEIPT(chain.Run1(f.Erase("bob", "kr")), TX_STATUS_OK, "R17");
}

TEST_F(RulesTest, R17Rejections) {
  EXPECT_RECEIPT(chain.Run1(f.Erase("h2", "r1")), TX_STATUS_UNAUTHORIZED, "R17");
  EXPECT_RECEIPT(chain.Run1(f.Erase("bob", "r1")), TX_STATUS_UNAUTHORIZED, "R17");
  EXPECT_RECEIPT(chain.Run1(f.Erase("i1", "r1")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Erase("stranger", "r1")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Erase("alice", "r404")), TX_STATUS_NOT_FOUND, "R17");
}

// ---- R18, R19, R20: claims ----

class ClaimsTest : public RulesTest {
 protected:
  void SetUp() override {
    RulesTest::SetUp();
    TxFactory::GrantSpec s;
    s.id = "pay";
    s.grantee = "i1";
    s.purposes = {pb::PURPOSE_HPAYMT};
    GrantDefault(s);
  }
};

TEST_F(ClaimsTest, R18SubmitClaim) {
  const pb::Receipt r = chain.Run1(f.Claim("h1", {}));
  EXPECT_RECEIPT(r, TX_STATUS_OK, "R18");
  EXPECT_EQ(r.related_id(), "cl1");
}

TEST_F(ClaimsTest, R18Rejections) {
  TxFactory::ClaimSpec s;
  s.patient = "ghost";
  EXPECT_RECEIPT(chain.Run1(f.Claim("h1", s)), TX_STATUS_NOT_FOUND, "R18");
  s = {};
  s.insurer = "nobody";
  EXPECT_RECEIPT(chain.Run1(f.Claim("h1", s)), TX_STATUS_NOT_FOUND, "R18");
  s = {};
  s.insurer = "h2";
  EXPECT_RECEIPT(chain.Run1(f.Claim("h1", s)), TX_STATUS_CONFLICT, "R18");
  s = {};
  s.evidence = {"r404"};
  EXPECT_RECEIPT(chain.Run1(f.Claim("h1", s)), TX_STATUS_NOT_FOUND, "R18");
  EXPECT_RECEIPT(chain.Run1(f.Claim("h2", {})), TX_STATUS_CONFLICT, "R18");  // not h2's record
  chain.Setup({f.Anchor("h1", "rb", "bob")});
  s = {};
  s.evidence = {"r1", "rb"};
  EXPECT_RECEIPT(chain.Run1(f.Claim("h1", s)), TX_STATUS_CONFLICT, "R18");  // another patient
  EXPECT_RECEIPT(chain.Run1(f.Claim("i1", {})), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_EQ(chain.Run1(f.Claim("h1", {})).status(), pb::TX_STATUS_OK);
  s = {};
  s.invoice = "INV-2";
  EXPECT_RECEIPT(chain.Run1(f.Claim("h1", s)), TX_STATUS_CONFLICT, "R18");  // claim id reused
}

TEST_F(ClaimsTest, R18SuspendedInsurerIsConflict) {
  chain.Setup({f.SuspendOrg("gov", "i1")});
  EXPECT_RECEIPT(chain.Run1(f.Claim("h1", {})), TX_STATUS_CONFLICT, "R18");
}

TEST_F(ClaimsTest, R18PaymentConsentIsRequired) {
  chain.Setup({f.Revoke("alice", "pay")});
  pb::Receipt r = chain.Run1(f.Claim("h1", {}));
  EXPECT_RECEIPT(r, TX_STATUS_DENIED, "R18");
  EXPECT_DENIED(r, DENY_REASON_REVOKED);
  TxFactory::GrantSpec treat;
  treat.id = "treat-only";
  treat.grantee = "i1";
  chain.Setup({f.Grant("alice", treat)});
  TxFactory::ClaimSpec s;
  s.id = "cl2";
  EXPECT_DENIED(chain.Run1(f.Claim("h1", s)), DENY_REASON_WRONG_PURPOSE);
  TxFactory::GrantSpec i2;
  chain.Setup({f.RegisterOrg("gov", "i2", pb::ORG_ROLE_INSURER)});
  s.id = "cl3";
  s.insurer = "i2";
  EXPECT_DENIED(chain.Run1(f.Claim("h1", s)), DENY_REASON_NO_CONSENT);
}

TEST_F(ClaimsTest, R18ErasedEvidenceIsErased) {
  chain.Setup({f.Erase("alice", "r1")});
  EXPECT_RECEIPT(chain.Run1(f.Claim("h1", {})), TX_STATUS_ERASED, "R17");
}

TEST_F(ClaimsTest, R19DuplicateClaimNamesTheFirst) {
  EXPECT_EQ(chain.Run1(f.Claim("h1", {})).status(), pb::TX_STATUS_OK);
  TxFactory::ClaimSpec s;
  s.id = "cl-again";
  std::swap(s.items[0], s.items[1]);  // item order does not matter
  s.items[0].second = 1;              // nor do prices
  const pb::Receipt r = chain.Run1(f.Claim("h1", s));
  EXPECT_RECEIPT(r, TX_STATUS_DUPLICATE, "R19");
  EXPECT_EQ(r.related_id(), "cl1");
  s.id = "cl-other-invoice";
  s.invoice = "INV-2";
  EXPECT_EQ(chain.Run1(f.Claim("h1", s)).status(), pb::TX_STATUS_OK);
}

TEST_F(ClaimsTest, R19DuplicateInTheSameBlock) {
  TxFactory::ClaimSpec s;
  s.id = "cl2";
  auto rs = chain.Run({f.Claim("h1", {}), f.Claim("h1", s)});
  EXPECT_EQ(rs[0].status(), pb::TX_STATUS_OK);
  EXPECT_EQ(rs[1].status(), pb::TX_STATUS_DUPLICATE);
  EXPECT_EQ(rs[1].related_id(), "cl1");
}

TEST(ClaimFingerprintTest, CoversEachField) {
  TxFactory f;
  const pb::SubmitClaim base = f.ClaimBody("h1", {}).submit_claim();
  const Hash32 fp = ClaimFingerprint(base, AsBytes(K("h1")));
  EXPECT_NE(fp, ClaimFingerprint(base, AsBytes(K("h2"))));
  auto changed = [&](std::function<void(pb::SubmitClaim&)> m) {
    pb::SubmitClaim c = base;
    m(c);
    return ClaimFingerprint(c, AsBytes(K("h1")));
  };
  EXPECT_NE(fp, changed([](auto& c) { c.set_patient_key(K("bob")); }));
  EXPECT_NE(fp, changed([](auto& c) { c.set_service_date("2026-01-03"); }));
  EXPECT_NE(fp, changed([](auto& c) { c.set_invoice_number("INV-9"); }));
  EXPECT_NE(fp, changed([](auto& c) { c.mutable_items(0)->set_code("99214"); }));
  EXPECT_NE(fp, changed([](auto& c) { c.add_items()->set_code("99213"); }));
  // Not covered: claim id, insurer, prices, quantities, evidence, currency, item order.
  EXPECT_EQ(fp, changed([](auto& c) { c.set_claim_id("x"); }));
  EXPECT_EQ(fp, changed([](auto& c) { c.set_insurer_key(K("i2")); }));
  EXPECT_EQ(fp, changed([](auto& c) { c.mutable_items()->SwapElements(0, 1); }));
}

TEST_F(ClaimsTest, R20Adjudicate) {
  chain.Setup({f.Claim("h1", {})});
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i1", "cl1")), TX_STATUS_OK, "R20");
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i1", "cl1", pb::CLAIM_DECISION_REJECTED, 0)),
                 TX_STATUS_CONFLICT, "R20");
}

TEST_F(ClaimsTest, R20Rejections) {
  chain.Setup({f.Claim("h1", {}), f.RegisterOrg("gov", "i2", pb::ORG_ROLE_INSURER)});
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i2", "cl1")), TX_STATUS_UNAUTHORIZED, "R20");
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("h1", "cl1")), TX_STATUS_UNAUTHORIZED, "R6");
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i1", "cl404")), TX_STATUS_NOT_FOUND, "R20");
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i1", "cl1", pb::CLAIM_DECISION_PARTIAL, 99999)),
                 TX_STATUS_INVALID, "R20");
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i1", "cl1", pb::CLAIM_DECISION_APPROVED, 100)),
                 TX_STATUS_INVALID, "R20");
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i1", "cl1", pb::CLAIM_DECISION_PARTIAL, 16500)),
                 TX_STATUS_INVALID, "R20");
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i1", "cl1", pb::CLAIM_DECISION_REJECTED, 5)),
                 TX_STATUS_INVALID, "R20");
  EXPECT_RECEIPT(chain.Run1(f.Adjudicate("i1", "cl1", pb::CLAIM_DECISION_PARTIAL, 100)),
                 TX_STATUS_OK, "R20");
}

// ---- R21 ----

TEST_F(RulesTest, R21UpdateValidatorsIsNotSupported) {
  pb::TxBody b = f.Body("gov");
  b.mutable_update_validators()->add_validators()->set_key(std::string(32, 'k'));
  const pb::Receipt r = chain.Run1(f.Sign(b));
  EXPECT_RECEIPT(r, TX_STATUS_INVALID, "R21");
  EXPECT_NE(r.reason().find("not supported in v1"), std::string::npos);
}

// ---- R22: receipts and entries ----

TEST_F(RulesTest, R22EveryTxGetsOneReceiptAndOneEntry) {
  const std::vector<std::string> txs = {f.Access("h2", "r1"), "garbage",
                                        f.Anchor("h1", "r5", "alice"), f.Access("nobody", "r1")};
  const auto receipts = chain.Run(txs);
  ASSERT_EQ(receipts.size(), txs.size());
  const ExecutionResult& res = chain.last();
  ASSERT_EQ(res.leaf_hashes.size(), txs.size());
  for (size_t i = 0; i < txs.size(); ++i) {
    // The log's leaf i is LogEntry{tx i, height, i, receipt i}, encoded as protobuf does.
    pb::LogEntry e;
    e.set_tx(txs[i]);
    e.set_height(chain.height());
    e.set_index(static_cast<uint32_t>(i));
    ASSERT_TRUE(e.mutable_receipt()->ParseFromString(res.receipt_bytes[i]));
    EXPECT_EQ(e.receipt().tx_id(), AsStr(TxIdOf(AsBytes(txs[i]))));
    EXPECT_EQ(res.leaf_hashes[i], crypto::LeafHash(AsBytes(e.SerializeAsString())));
  }
  EXPECT_EQ(res.first_entry, 7u);  // 6 setup txs + 1 anchor before
}

TEST_F(RulesTest, R22RejectedTxsChangeNoStateButTheTxIndex) {
  const Hash32 before = StateDigest(chain.store());
  const size_t tx_index_before = chain.store().table(Cf::kTxIndex).size();
  chain.Run({f.Anchor("i1", "r9", "alice"), f.Grant("bob", {}), "junk"});
  for (const KvWrite& w : chain.last().writes.writes) {
    const bool allowed = w.cf == Cf::kTxIndex || (w.cf == Cf::kState && w.key == keys::kEntryCount);
    EXPECT_TRUE(allowed) << DescribeKey(w.cf, w.key);
  }
  EXPECT_EQ(chain.store().table(Cf::kTxIndex).size(), tx_index_before + 2);  // not the junk
  EXPECT_NE(before, StateDigest(chain.store()));
}

}  // namespace
}  // namespace hc::ledger
