// Named identities, tx builders and a test genesis for the ledger tests and benchmarks (no
// GoogleTest dependency, so bench/ledger can use it). Signatures are the fake signer's.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "crypto/signer.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/genesis.h"
#include "ledger/ledger.h"
#include "ledger/tx.h"

namespace hc::ledger::testing {

namespace pb = ::healthchain::v1;

inline constexpr std::string_view kChainId = "hc-test";
inline constexpr int64_t kDay = 24 * 3600 * 1000;
inline constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01

// A deterministic public key per name.
inline crypto::Ed25519PublicKey KeyOf(std::string_view name) {
  return crypto::Sha256(AsBytes(std::string("key:") + std::string(name)));
}
inline std::string K(std::string_view name) {
  const auto k = KeyOf(name);
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

// Builds and signs txs for named identities.
class TxFactory {
 public:
  explicit TxFactory(std::string chain_id = std::string(kChainId))
      : chain_id_(std::move(chain_id)) {}

  pb::TxBody Body(std::string_view signer) {
    pb::TxBody b;
    b.set_chain_id(chain_id_);
    b.set_signer(K(signer));
    std::string nonce(16, '\0');
    const uint64_t n = ++nonce_;
    std::memcpy(nonce.data(), &n, sizeof n);
    b.set_nonce(nonce);
    b.set_created_ms(kT0);
    return b;
  }

  std::string Sign(const pb::TxBody& body) {
    crypto::Ed25519PublicKey key{};
    std::memcpy(key.data(), body.signer().data(), std::min<size_t>(32, body.signer().size()));
    return SignTx(body, *crypto::MakeFakeSigner(key));
  }

  std::string RegisterOrg(std::string_view signer, std::string_view org, pb::OrgRole role) {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_register_org();
    p->set_org_key(K(org));
    p->set_encryption_key(K(std::string(org) + "/x25519"));
    p->set_role(role);
    p->set_name(std::string(org));
    return Sign(b);
  }
  std::string SuspendOrg(std::string_view signer, std::string_view org) {
    pb::TxBody b = Body(signer);
    b.mutable_suspend_org()->set_org_key(K(org));
    b.mutable_suspend_org()->set_reason("audit finding");
    return Sign(b);
  }
  std::string RegisterPolicy(std::string_view signer, std::string_view id) {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_register_policy();
    p->set_policy_id(std::string(id));
    p->set_uri("https://policies.example/" + std::string(id));
    p->set_document_sha256(std::string(32, 'd'));
    return Sign(b);
  }
  std::string Enroll(std::string_view signer, std::string_view patient,
                     std::string_view guardian = "") {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_enroll_patient();
    p->set_patient_key(K(patient));
    p->set_encryption_key(K(std::string(patient) + "/x25519"));
    if (!guardian.empty()) p->set_guardian_key(K(guardian));
    return Sign(b);
  }

  struct GrantSpec {
    std::string id = "c1";
    std::string patient = "alice";
    std::string grantee = "h2";
    std::vector<pb::Purpose> purposes = {pb::PURPOSE_TREAT};
    std::vector<pb::RecordCategory> categories = {pb::RECORD_CATEGORY_LABORATORY};
    std::vector<std::string> record_ids;
    int64_t from = kT0;
    int64_t until = kT0 + 365 * kDay;
    std::string policy = "bppc-1";
  };
  pb::TxBody GrantBody(std::string_view signer, const GrantSpec& s) {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_grant_consent();
    p->set_consent_id(s.id);
    p->set_patient_key(K(s.patient));
    p->set_grantee_key(K(s.grantee));
    for (auto pu : s.purposes) p->add_purposes(pu);
    for (auto c : s.categories) p->mutable_scope()->add_categories(c);
    for (const auto& r : s.record_ids) p->mutable_scope()->add_record_ids(r);
    p->set_valid_from_ms(s.from);
    p->set_valid_until_ms(s.until);
    p->set_policy_id(s.policy);
    return b;
  }
  std::string Grant(std::string_view signer, const GrantSpec& s) {
    return Sign(GrantBody(signer, s));
  }
  std::string Revoke(std::string_view signer, std::string_view id) {
    pb::TxBody b = Body(signer);
    b.mutable_revoke_consent()->set_consent_id(std::string(id));
    return Sign(b);
  }
  std::string Anchor(std::string_view signer, std::string_view record, std::string_view patient,
                     pb::RecordCategory category = pb::RECORD_CATEGORY_LABORATORY) {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_anchor_record();
    p->set_record_id(std::string(record));
    p->set_patient_key(K(patient));
    p->set_category(category);
    p->set_ciphertext_sha256(std::string(32, 'h'));
    p->set_ciphertext_size(1234);
    p->set_description("Lab result " + std::string(record));
    p->set_content_type("application/fhir+json");
    return Sign(b);
  }
  std::string Access(std::string_view signer, std::string_view record,
                     pb::Purpose purpose = pb::PURPOSE_TREAT, std::string_view consent = "") {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_access_record();
    p->set_record_id(std::string(record));
    p->set_purpose(purpose);
    p->set_consent_id(std::string(consent));
    return Sign(b);
  }
  std::string BreakGlass(std::string_view signer, std::string_view record,
                         pb::Purpose purpose = pb::PURPOSE_ETREAT,
                         std::string_view why = "unconscious patient in ER") {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_break_glass();
    p->set_record_id(std::string(record));
    p->set_purpose(purpose);
    p->set_justification(std::string(why));
    return Sign(b);
  }
  std::string Erase(std::string_view signer, std::string_view record) {
    pb::TxBody b = Body(signer);
    b.mutable_erase_record()->set_record_id(std::string(record));
    b.mutable_erase_record()->set_reason("patient request");
    return Sign(b);
  }

  struct ClaimSpec {
    std::string id = "cl1";
    std::string patient = "alice";
    std::string insurer = "i1";
    std::string date = "2026-01-02";
    std::vector<std::pair<std::string, int64_t>> items = {{"99213", 12000}, {"80053", 4500}};
    std::string invoice = "INV-1";
    std::vector<std::string> evidence = {"r1"};
  };
  pb::TxBody ClaimBody(std::string_view signer, const ClaimSpec& s) {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_submit_claim();
    p->set_claim_id(s.id);
    p->set_patient_key(K(s.patient));
    p->set_insurer_key(K(s.insurer));
    p->set_service_date(s.date);
    for (const auto& [code, price] : s.items) {
      auto* it = p->add_items();
      it->set_code(code);
      it->set_quantity(1);
      it->set_unit_price_cents(price);
    }
    p->set_invoice_number(s.invoice);
    for (const auto& e : s.evidence) p->add_evidence_record_ids(e);
    p->set_currency("EUR");
    return b;
  }
  std::string Claim(std::string_view signer, const ClaimSpec& s) {
    return Sign(ClaimBody(signer, s));
  }
  std::string Adjudicate(std::string_view signer, std::string_view claim,
                         pb::ClaimDecision d = pb::CLAIM_DECISION_APPROVED,
                         int64_t approved = 16500) {
    pb::TxBody b = Body(signer);
    auto* p = b.mutable_adjudicate_claim();
    p->set_claim_id(std::string(claim));
    p->set_decision(d);
    p->set_approved_cents(approved);
    return Sign(b);
  }

 private:
  std::string chain_id_;
  uint64_t nonce_ = 0;
};

// A genesis with one commission ("gov") and one validator, for tests.
inline Genesis TestGenesis() {
  Genesis g;
  g.chain_id = std::string(kChainId);
  g.genesis_time_ms = kT0;
  GenesisValidator v;
  v.id = "v0";
  v.key = KeyOf("v0");
  v.tls_key_pin = crypto::Sha256(AsBytes(std::string("tls:v0")));
  v.address = "127.0.0.1:7000";
  g.validators.push_back(v);
  GenesisCommission c;
  c.name = "gov";
  c.key = KeyOf("gov");
  c.encryption_key = KeyOf("gov/x25519");
  g.commissions.push_back(c);
  return g;
}

// Blocks and certificates for a Ledger opened on TestGenesis() (one validator, "v0").
inline pb::Block NextBlock(const Ledger& ledger, std::vector<std::string> txs,
                           int64_t timestamp_ms = 0) {
  BlockParams p;
  p.chain_id = std::string(kChainId);
  p.height = ledger.height() + 1;
  p.prev_block_hash = ledger.tip_hash();
  p.timestamp_ms = timestamp_ms != 0 ? timestamp_ms : ledger.tip_timestamp_ms() + 1000;
  p.log = ledger.CurrentLogClaim();
  return BuildBlock(p, std::move(txs));
}

inline pb::CommitCertificate Certify(const pb::Block& block, uint64_t view = 0) {
  auto signer = crypto::MakeFakeSigner(KeyOf("v0"));
  return MakeCertificate(kChainId, block, view, {{0, signer.get()}});
}

}  // namespace hc::ledger::testing
