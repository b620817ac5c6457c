// hcctl tx <payload> --dry-run: every payload of tx.proto is built from flags, signed by --key,
// and decodes with the ledger's own decoder carrying the flags' values.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/keyfile.h"
#include "crypto/signer.h"
#include "ledger/tx.h"
#include "tests/cli/run_process.h"

namespace hc::cli {
namespace {

namespace fs = std::filesystem;
namespace pb = ::healthchain::v1;
using ::hc::test::ProcessResult;
using ::hc::test::RunProcess;

constexpr char kChain[] = "hc-cli-test";

std::string Key(const crypto::Identity& id) {
  return std::string(reinterpret_cast<const char*>(id.signing.public_key.data()), 32);
}

class HcctlTxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "hc-tx-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    for (const char* who : {"commission", "hospital", "insurer", "patient"}) {
      const std::string path = Path(std::string(who) + ".key.json");
      ASSERT_TRUE(crypto::SaveIdentity(crypto::GenerateIdentity(), path).ok());
    }
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  crypto::Identity Load(const std::string& who) const {
    return std::move(crypto::LoadIdentity(Path(who + ".key.json"))).value();
  }

  // Runs `hcctl tx <payload> --dry-run --chain-id ... --key <signer> args...` and decodes the tx.
  pb::TxBody DryRun(const std::string& payload, const std::string& signer,
                    std::vector<std::string> args) {
    args.insert(args.begin(), {HCCTL_PATH, "tx", payload, "--dry-run", "--chain-id", kChain,
                               "--key", Path(signer + ".key.json")});
    const ProcessResult r = RunProcess(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string key = "\ntx: ";
    const size_t at = r.out.find(key);
    EXPECT_NE(at, std::string::npos) << r.out;
    if (at == std::string::npos) return {};
    const size_t start = at + key.size();
    auto raw = Base64Decode(r.out.substr(start, r.out.find('\n', start) - start));
    EXPECT_TRUE(raw.ok());
    if (!raw.ok()) return {};
    auto verifier = crypto::MakeEd25519Verifier();
    auto decoded = ledger::DecodeTx(*raw, kChain, *verifier);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    if (!decoded.ok()) return {};
    EXPECT_EQ(decoded->signer, Load(signer).signing.public_key);
    EXPECT_NE(r.out.find("tx_id: " + HexEncode(decoded->tx_id)), std::string::npos) << r.out;
    return decoded->body;
  }

  static ProcessResult Tx(std::vector<std::string> args) {
    args.insert(args.begin(), {HCCTL_PATH, "tx"});
    return RunProcess(args);
  }

  std::string dir_;
};

TEST_F(HcctlTxTest, MembershipPayloads) {
  pb::TxBody b = DryRun("register-org", "commission",
                        {"--org-key", Path("hospital.key.json"), "--role", "hospital", "--name",
                         "St Mary", "--fhir-organization", "npi-1"});
  ASSERT_TRUE(b.has_register_org());
  EXPECT_EQ(b.register_org().org_key(), Key(Load("hospital")));
  EXPECT_EQ(b.register_org().encryption_key(),
            std::string(
                reinterpret_cast<const char*>(Load("hospital").encryption.public_key.data()), 32));
  EXPECT_EQ(b.register_org().role(), pb::ORG_ROLE_HOSPITAL);
  EXPECT_EQ(b.register_org().name(), "St Mary");
  EXPECT_EQ(b.register_org().fhir_organization(), "npi-1");

  // A public export works as well as a key file.
  const crypto::Identity insurer = Load("insurer");
  ASSERT_TRUE(crypto::SavePublicIdentity(crypto::ToPublic(insurer), Path("insurer.pub.json")).ok());
  b = DryRun("register-org", "commission",
             {"--org-key", Path("insurer.pub.json"), "--role", "INSURER", "--name", "Northwind"});
  EXPECT_EQ(b.register_org().org_key(), Key(insurer));
  EXPECT_EQ(b.register_org().role(), pb::ORG_ROLE_INSURER);

  b = DryRun("suspend-org", "commission",
             {"--org-key", Base64Encode(insurer.signing.public_key), "--reason", "audit"});
  ASSERT_TRUE(b.has_suspend_org());
  EXPECT_EQ(b.suspend_org().org_key(), Key(insurer));
  EXPECT_EQ(b.suspend_org().reason(), "audit");

  b = DryRun("register-policy", "commission",
             {"--policy-id", "bppc-1", "--uri", "https://example.org/p", "--document-sha256",
              std::string(64, 'a')});
  ASSERT_TRUE(b.has_register_policy());
  EXPECT_EQ(b.register_policy().policy_id(), "bppc-1");
  EXPECT_EQ(b.register_policy().uri(), "https://example.org/p");
  EXPECT_EQ(b.register_policy().document_sha256(), std::string(32, '\xaa'));
}

TEST_F(HcctlTxTest, PatientAndConsentPayloads) {
  pb::TxBody b = DryRun("enroll-patient", "hospital", {"--patient", Path("patient.key.json")});
  ASSERT_TRUE(b.has_enroll_patient());
  EXPECT_EQ(b.enroll_patient().patient_key(), Key(Load("patient")));
  EXPECT_EQ(b.enroll_patient().encryption_key().size(), 32u);

  b = DryRun("grant-consent", "patient", {"--consent-id", "c-1",
                                          "--patient",    Path("patient.key.json"),
                                          "--grantee",    Path("hospital.key.json"),
                                          "--purpose",    "TREAT,hpaymt",
                                          "--category",   "clinical-note",
                                          "--category",   "laboratory",
                                          "--record-id",  "r-9",
                                          "--from",       "2026-01-01T00:00:00Z",
                                          "--until",      "1800000000000",
                                          "--policy",     "bppc-1"});
  ASSERT_TRUE(b.has_grant_consent());
  const pb::GrantConsent& g = b.grant_consent();
  EXPECT_EQ(g.consent_id(), "c-1");
  EXPECT_EQ(g.patient_key(), Key(Load("patient")));
  EXPECT_EQ(g.grantee_key(), Key(Load("hospital")));
  ASSERT_EQ(g.purposes_size(), 2);
  EXPECT_EQ(g.purposes(0), pb::PURPOSE_TREAT);
  EXPECT_EQ(g.purposes(1), pb::PURPOSE_HPAYMT);
  ASSERT_EQ(g.scope().categories_size(), 2);
  EXPECT_EQ(g.scope().categories(1), pb::RECORD_CATEGORY_LABORATORY);
  ASSERT_EQ(g.scope().record_ids_size(), 1);
  EXPECT_EQ(g.valid_from_ms(), 1767225600000);
  EXPECT_EQ(g.valid_until_ms(), 1800000000000);
  EXPECT_EQ(g.policy_id(), "bppc-1");

  // Relative periods are relative to the tx's creation time.
  b = DryRun("grant-consent", "patient",
             {"--consent-id", "c-2", "--patient", Path("patient.key.json"), "--grantee",
              Path("hospital.key.json"), "--purpose", "TREAT", "--record-id", "r-1", "--from",
              "now", "--until", "+365d", "--policy", "bppc-1"});
  EXPECT_EQ(b.grant_consent().valid_from_ms(), b.created_ms());
  EXPECT_EQ(b.grant_consent().valid_until_ms(), b.created_ms() + 365LL * 86'400'000);

  b = DryRun("revoke-consent", "patient", {"--consent-id", "c-1", "--reason", "moved"});
  ASSERT_TRUE(b.has_revoke_consent());
  EXPECT_EQ(b.revoke_consent().consent_id(), "c-1");
  EXPECT_EQ(b.revoke_consent().reason(), "moved");
}

TEST_F(HcctlTxTest, RecordPayloads) {
  const std::string blob = Path("ciphertext.bin");
  std::ofstream(blob) << "not really ciphertext";
  pb::TxBody b =
      DryRun("anchor-record", "hospital",
             {"--record-id", "r-1", "--patient", Path("patient.key.json"), "--category",
              "discharge-summary", "--file", blob, "--description", "Discharge summary"});
  ASSERT_TRUE(b.has_anchor_record());
  const pb::AnchorRecord& a = b.anchor_record();
  EXPECT_EQ(a.record_id(), "r-1");
  EXPECT_EQ(a.patient_key(), Key(Load("patient")));
  EXPECT_EQ(a.category(), pb::RECORD_CATEGORY_DISCHARGE_SUMMARY);
  const Hash32 h = crypto::Sha256(AsBytes("not really ciphertext"));
  EXPECT_EQ(a.ciphertext_sha256(), std::string(h.begin(), h.end()));
  EXPECT_EQ(a.ciphertext_size(), 21u);
  EXPECT_EQ(a.description(), "Discharge summary");

  b = DryRun("access-record", "insurer",
             {"--record-id", "r-1", "--purpose", "HPAYMT", "--consent-id", "c-1"});
  ASSERT_TRUE(b.has_access_record());
  EXPECT_EQ(b.access_record().record_id(), "r-1");
  EXPECT_EQ(b.access_record().purpose(), pb::PURPOSE_HPAYMT);
  EXPECT_EQ(b.access_record().consent_id(), "c-1");

  b = DryRun("break-glass", "hospital",
             {"--record-id", "r-1", "--justification", "unconscious in ER"});
  ASSERT_TRUE(b.has_break_glass());
  EXPECT_EQ(b.break_glass().purpose(), pb::PURPOSE_ETREAT);
  EXPECT_EQ(b.break_glass().justification(), "unconscious in ER");

  b = DryRun("erase-record", "patient", {"--record-id", "r-1", "--reason", "GDPR art. 17"});
  ASSERT_TRUE(b.has_erase_record());
  EXPECT_EQ(b.erase_record().record_id(), "r-1");
  EXPECT_EQ(b.erase_record().reason(), "GDPR art. 17");
}

TEST_F(HcctlTxTest, ClaimPayloads) {
  pb::TxBody b = DryRun("submit-claim", "hospital", {"--claim-id",     "cl-1",
                                                     "--patient",      Path("patient.key.json"),
                                                     "--insurer",      Path("insurer.key.json"),
                                                     "--service-date", "2026-03-01",
                                                     "--item",         "99213:1:12500",
                                                     "--item",         "80053:2:3000",
                                                     "--invoice",      "INV-7",
                                                     "--evidence",     "r-1",
                                                     "--evidence",     "r-2",
                                                     "--currency",     "USD"});
  ASSERT_TRUE(b.has_submit_claim());
  const pb::SubmitClaim& c = b.submit_claim();
  EXPECT_EQ(c.claim_id(), "cl-1");
  EXPECT_EQ(c.insurer_key(), Key(Load("insurer")));
  EXPECT_EQ(c.service_date(), "2026-03-01");
  ASSERT_EQ(c.items_size(), 2);
  EXPECT_EQ(c.items(1).code(), "80053");
  EXPECT_EQ(c.items(1).quantity(), 2u);
  EXPECT_EQ(c.items(1).unit_price_cents(), 3000);
  EXPECT_EQ(c.invoice_number(), "INV-7");
  ASSERT_EQ(c.evidence_record_ids_size(), 2);
  EXPECT_EQ(c.currency(), "USD");

  b = DryRun("adjudicate-claim", "insurer",
             {"--claim-id", "cl-1", "--decision", "partial", "--approved-cents", "12000", "--note",
              "one lab test not covered"});
  ASSERT_TRUE(b.has_adjudicate_claim());
  EXPECT_EQ(b.adjudicate_claim().decision(), pb::CLAIM_DECISION_PARTIAL);
  EXPECT_EQ(b.adjudicate_claim().approved_cents(), 12000);
}

TEST_F(HcctlTxTest, BadFlagsExitTwoWithAClearMessage) {
  const std::string key = Path("hospital.key.json");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"access-record", "--key", key, "--chain-id", kChain, "--dry-run", "--record-id", "r",
        "--purpose", "SHOPPING"},
       "--purpose SHOPPING"},
      {{"register-org", "--key", key, "--chain-id", kChain, "--dry-run", "--org-key", "nope",
        "--role", "hospital", "--name", "x"},
       "--org-key nope"},
      {{"register-org", "--key", key, "--chain-id", kChain, "--dry-run", "--org-key", key, "--role",
        "pharmacy", "--name", "x"},
       "--role pharmacy"},
      {{"submit-claim",   "--key",    key,         "--chain-id", kChain,      "--dry-run",
        "--claim-id",     "c",        "--patient", key,          "--insurer", key,
        "--service-date", "2026-3-1", "--item",    "a:1:1",      "--invoice", "i",
        "--evidence",     "r"},
       "--service-date"},
      {{"submit-claim",   "--key",      key,         "--chain-id", kChain,      "--dry-run",
        "--claim-id",     "c",          "--patient", key,          "--insurer", key,
        "--service-date", "2026-03-01", "--item",    "a:x:1",      "--invoice", "i",
        "--evidence",     "r"},
       "--item a:x:1"},
      {{"grant-consent",
        "--key",
        key,
        "--chain-id",
        kChain,
        "--dry-run",
        "--consent-id",
        "c",
        "--patient",
        key,
        "--grantee",
        key,
        "--purpose",
        "TREAT",
        "--category",
        "clinical-note",
        "--from",
        "yesterday",
        "--policy",
        "p"},
       "--from yesterday"},
      {{"access-record", "--key", Path("missing.key.json"), "--chain-id", kChain, "--dry-run",
        "--record-id", "r", "--purpose", "TREAT"},
       "--key"},
      {{"access-record", "--key", key, "--dry-run", "--record-id", "r", "--purpose", "TREAT"},
       "--chain-id"},
      {{"access-record", "--key", key, "--node", "ftp://x", "--record-id", "r", "--purpose",
        "TREAT"},
       "--node"},
      {{"access-record", "--key", key, "--record-id", "r"}, "--purpose"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = Tx(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << c.message << ": " << r.out;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST_F(HcctlTxTest, UnreachableNodeExitsTwo) {
  const ProcessResult r =
      Tx({"access-record", "--key", Path("hospital.key.json"), "--chain-id", kChain, "--node",
          "http://127.0.0.1:1", "--record-id", "r", "--purpose", "TREAT", "--timeout-ms", "2000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
}

TEST(HcctlStatusTest, UnreachableNodeExitsTwo) {
  const ProcessResult r =
      RunProcess({HCCTL_PATH, "status", "--node", "http://127.0.0.1:1", "--timeout-ms", "2000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hc::cli
