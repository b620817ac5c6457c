// The FHIR R4 views (api/fhir_mapping.h, api/fhir_reader.h) on a chain covering every event kind,
// validated by two independent FHIR validators (tests/fhir/validate.mjs: @medplum/core and the HL7
// R4 JSON schema). ctest installs the validators once (the fhir_npm fixture, `npm ci`).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/fhir_mapping.h"
#include "api/fhir_reader.h"
#include "common/encoding.h"
#include "ledger/ledger.h"
#include "ledger/mem_store.h"
#include "tests/ledger/tx_factory.h"

namespace hc::api::fhir {
namespace {

namespace json = boost::json;
using ledger::testing::kDay;
using ledger::testing::kT0;
using ledger::testing::TxFactory;
namespace hpb = ::healthchain::v1;

// A ledger with every event kind: consents granted and revoked, records anchored, accesses
// granted and denied (no consent, revoked), break-glass, erasure, a claim, a duplicate, and an
// adjudication.
class FhirChain {
 public:
  FhirChain() : verifier_(crypto::MakeFakeVerifier()) {
    auto opened = ledger::Ledger::Open(std::make_unique<ledger::MemKvStore>(),
                                       ledger::testing::TestGenesis(), *verifier_);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    ledger_ = std::move(opened).value();
  }

  std::vector<hpb::Receipt> Commit(std::vector<std::string> txs, int64_t time_ms) {
    hpb::Block block = ledger::testing::NextBlock(*ledger_, std::move(txs), time_ms);
    auto r = ledger_->Commit(block, ledger::testing::Certify(block));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->execution.receipts : std::vector<hpb::Receipt>{};
  }
  void CommitOk(std::vector<std::string> txs, int64_t time_ms) {
    for (const auto& r : Commit(std::move(txs), time_ms)) {
      EXPECT_EQ(r.status(), hpb::TX_STATUS_OK) << r.reason();
    }
  }

  void Build() {
    TxFactory& f = f_;
    CommitOk({f.RegisterOrg("gov", "h1", hpb::ORG_ROLE_HOSPITAL),
              f.RegisterOrg("gov", "h2", hpb::ORG_ROLE_HOSPITAL),
              f.RegisterOrg("gov", "i1", hpb::ORG_ROLE_INSURER), f.RegisterPolicy("gov", "bppc-1"),
              f.Enroll("h1", "alice"), f.Enroll("bob", "bob")},
             kT0 + 1000);
    CommitOk({f.Anchor("h1", "r1", "alice"),
              f.Anchor("h1", "r2", "alice", hpb::RECORD_CATEGORY_MENTAL_HEALTH),
              f.Anchor("h1", "r3", "bob", hpb::RECORD_CATEGORY_IMAGING)},
             kT0 + 2000);
    TxFactory::GrantSpec treat;  // c1: alice -> h2, TREAT, LABORATORY
    TxFactory::GrantSpec pay;
    pay.id = "c-pay";
    pay.grantee = "i1";
    pay.purposes = {hpb::PURPOSE_HPAYMT};
    pay.record_ids = {"r1"};
    TxFactory::GrantSpec research;
    research.id = "c-research";
    research.patient = "bob";
    research.purposes = {hpb::PURPOSE_HRESCH, hpb::PURPOSE_TREAT};
    research.categories = {hpb::RECORD_CATEGORY_IMAGING};
    CommitOk({f.Grant("alice", treat), f.Grant("alice", pay), f.Grant("bob", research)},
             kT0 + 3000);
    // Granted access, then a denied one (no consent covers h2 for r2).
    auto r = Commit(
        {f.Access("h2", "r1"), f.Access("h2", "r2"), f.Access("i1", "r1", hpb::PURPOSE_HPAYMT)},
        kT0 + 4123);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].status(), hpb::TX_STATUS_OK) << r[0].reason();
    EXPECT_EQ(r[1].status(), hpb::TX_STATUS_DENIED) << r[1].reason();
    EXPECT_EQ(r[2].status(), hpb::TX_STATUS_OK) << r[2].reason();
    CommitOk({f.Revoke("bob", "c-research")}, kT0 + 5000);
    r = Commit({f.Access("h2", "r3", hpb::PURPOSE_HRESCH)}, kT0 + 6000);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status(), hpb::TX_STATUS_DENIED) << r[0].reason();
    CommitOk({f.BreakGlass("h2", "r3")}, kT0 + 7000);
    CommitOk({f.Claim("h1", {})}, kT0 + 8000);
    TxFactory::ClaimSpec dup;
    dup.id = "cl-dup";
    r = Commit({f.Claim("h1", dup)}, kT0 + 9000);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status(), hpb::TX_STATUS_DUPLICATE) << r[0].reason();
    CommitOk({f.Adjudicate("i1", "cl1", hpb::CLAIM_DECISION_PARTIAL, 12345)}, kT0 + 10000);
    CommitOk({f.Erase("alice", "r2")}, kT0 + 11000);
    CommitOk({}, kT0 + kDay);
  }

  const ledger::Ledger& ledger() const { return *ledger_; }

 private:
  TxFactory f_;
  std::unique_ptr<crypto::Verifier> verifier_;
  std::unique_ptr<ledger::Ledger> ledger_;
};

MappingOptions Options() {
  MappingOptions o;
  o.chain_id = std::string(ledger::testing::kChainId);
  return o;
}

std::string RunCommand(const std::string& command, int* status) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int rc = ::pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

bool NodeAvailable() {
  int status = 0;
  RunCommand("node --version 2>/dev/null", &status);
  return status == 0;
}

class FhirTest : public ::testing::Test {
 protected:
  void SetUp() override { chain_.Build(); }
  FhirChain chain_;
};

TEST(FhirHelpers, InstantsCarrySecondsAndZulu) {
  EXPECT_EQ(Instant(kT0), "2026-01-01T00:00:00Z");
  EXPECT_EQ(Instant(kT0 + 4123), "2026-01-01T00:00:04.123Z");
  EXPECT_EQ(Instant(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Instant(951782400000), "2000-02-29T00:00:00Z");
}

TEST(FhirHelpers, IdsAndNamedInformation) {
  EXPECT_EQ(FhirId("r-1.a"), "r-1.a");
  EXPECT_TRUE(IsFhirId(FhirId("has space/and:colon")));
  EXPECT_EQ(FhirId("has space").rfind("sha256-", 0), 0u);
  EXPECT_EQ(FhirId("x").size(), 1u);
  EXPECT_LE(FhirId(std::string(64, '_')).size(), 64u);
  // RFC 6920 §8.1 example: sha-256 of "Hello World!" .
  const std::string digest(
      "\x7f\x83\xb1\x65\x7f\xf1\xfc\x53\xb9\x2d\xc1\x81\x48\xa1\xd6\x5d"
      "\xfc\x2d\x4b\x1f\xa3\xd6\x77\x28\x4a\xdd\xd2\x00\x12\x6d\x90\x69",
      32);
  EXPECT_EQ(NiUri(AsBytes(digest)), "ni:///sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk");
}

TEST_F(FhirTest, EveryEventKindIsMapped) {
  auto all = CollectAll(chain_.ledger(), Options());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::map<std::string, int> counts;
  for (const auto& item : *all) counts[std::string(item.resource.at("resourceType").as_string())]++;
  EXPECT_EQ(counts["Consent"], 3);
  EXPECT_EQ(counts["DocumentReference"], 3);
  EXPECT_EQ(counts["Provenance"], 3);
  // Accesses: 2 granted, 2 denied; 1 break-glass; 1 erasure.
  EXPECT_EQ(counts["AuditEvent"], 6);
  EXPECT_EQ(counts["Claim"], 1);
  EXPECT_EQ(counts["ClaimResponse"], 1);
  // No names, no unknown ledger keys at the top level; ids are FHIR ids.
  for (const auto& item : *all) {
    const std::string text = json::serialize(item.resource);
    EXPECT_EQ(text.find("alice"), std::string::npos) << text;
    EXPECT_EQ(text.find("bob"), std::string::npos) << text;
    EXPECT_FALSE(item.resource.contains("txId"));
    EXPECT_FALSE(item.resource.contains("height"));
    EXPECT_TRUE(IsFhirId(item.resource.at("id").as_string())) << text;
  }
}

TEST_F(FhirTest, ConsentRevocationIsANewInactiveVersion) {
  FhirFilter f;
  f.ledger_id = "c-research";
  auto items = Collect(chain_.ledger(), ResourceKind::kConsent, f, Options());
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  const json::object& c = items->front().resource;
  EXPECT_EQ(c.at("status").as_string(), "inactive");
  EXPECT_EQ(c.at("meta").at("versionId").as_string(), "2");
  EXPECT_EQ(c.at("extension").as_array().size(), 2u);  // grant and revoke entries
  EXPECT_EQ(c.at("provision").at("purpose").as_array().size(), 2u);
  EXPECT_EQ(c.at("policy").as_array()[0].at("uri").as_string(), "https://policies.example/bppc-1");

  f.ledger_id = "c1";
  items = Collect(chain_.ledger(), ResourceKind::kConsent, f, Options());
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ(items->front().resource.at("status").as_string(), "active");
}

TEST_F(FhirTest, DocumentReferenceCarriesSha256NotAttachmentHash) {
  FhirFilter f;
  f.ledger_id = "r2";
  auto items = Collect(chain_.ledger(), ResourceKind::kDocumentReference, f, Options());
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  const json::object& d = items->front().resource;
  const json::object& att = d.at("content").as_array()[0].at("attachment").as_object();
  EXPECT_FALSE(att.contains("hash"));
  EXPECT_FALSE(att.contains("data"));
  EXPECT_EQ(att.at("url").as_string(), "/v1/payloads/r2");
  EXPECT_EQ(d.at("identifier").as_array()[0].at("value").as_string(),
            NiUri(AsBytes(std::string(32, 'h'))));
  EXPECT_EQ(d.at("meta").at("tag").as_array()[0].at("code").as_string(), "erased");
  EXPECT_EQ(d.at("securityLabel").as_array()[0].at("coding").as_array()[0].at("code").as_string(),
            "R");
}

TEST_F(FhirTest, AuditEventsFollowBalp) {
  auto items = Collect(chain_.ledger(), ResourceKind::kAuditEvent, {}, Options());
  ASSERT_TRUE(items.ok());
  int granted = 0, denied = 0, break_glass = 0, erase = 0;
  for (const auto& item : *items) {
    const json::object& a = item.resource;
    const std::string type(a.at("type").at("code").as_string());
    if (type == "110106") {
      (a.at("outcome").as_string() == "0" ? granted : denied)++;
      EXPECT_EQ(a.at("subtype").as_array()[0].at("code").as_string(), "disclose");
    } else if (type == "110113") {
      break_glass++;
      EXPECT_EQ(a.at("subtype").as_array()[0].at("code").as_string(), "110127");
      EXPECT_EQ(
          a.at("purposeOfEvent").as_array()[0].at("coding").as_array()[0].at("code").as_string(),
          "ETREAT");
    } else if (type == "110110") {
      erase++;
    }
  }
  EXPECT_EQ(granted, 2);
  EXPECT_EQ(denied, 2);
  EXPECT_EQ(break_glass, 1);
  EXPECT_EQ(erase, 1);
}

TEST_F(FhirTest, SearchByPatientAndClaimResponseByRequest) {
  FhirFilter f;
  f.patient_key = ledger::testing::K("bob");
  auto items = Collect(chain_.ledger(), ResourceKind::kDocumentReference, f, Options());
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->size(), 1u);
  auto patient = PatientKeyOfId(chain_.ledger(), IdentityId(AsBytes(ledger::testing::K("bob"))));
  ASSERT_TRUE(patient.ok());
  EXPECT_EQ(*patient, ledger::testing::K("bob"));
  EXPECT_FALSE(PatientKeyOfId(chain_.ledger(), "00").ok());
  patient = PatientKeyOfId(chain_.ledger(), HexEncode(AsBytes(ledger::testing::K("alice"))));
  ASSERT_TRUE(patient.ok());
  EXPECT_EQ(*patient, ledger::testing::K("alice"));

  FhirFilter req;
  req.claim_id = "cl1";
  items = Collect(chain_.ledger(), ResourceKind::kClaimResponse, req, Options());
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ(items->front().resource.at("request").at("reference").as_string(), "Claim/cl1");
  EXPECT_EQ(items->front().org_keys.size(), 2u);
}

// The point of the exercise: every resource the server can emit passes both validators.
TEST_F(FhirTest, EveryResourcePassesBothValidators) {
  if (!NodeAvailable()) {
    GTEST_SKIP() << "node is not installed: the FHIR validators (tests/fhir) cannot run; install "
                    "nodejs and npm (scripts/bootstrap.sh) to run this test";
  }
  const std::string fhir_dir = std::string(HC_SOURCE_DIR) + "/tests/fhir";
  ASSERT_TRUE(std::filesystem::exists(fhir_dir + "/node_modules/@medplum/core"))
      << "the validators are not installed: run `npm ci` in " << fhir_dir
      << " (ctest does it through the fhir_npm fixture)";

  auto all = CollectAll(chain_.ledger(), Options());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<json::object> resources;
  for (const auto& item : *all) resources.push_back(item.resource);
  // Also the search Bundle and an OperationOutcome, as the routes send them.
  json::object bundle = SearchBundle(resources, "/fhir/Consent?patient=Patient/x");
  json::object outcome = OperationOutcome("error", "forbidden", "the caller took no part");

  const std::string path =
      ::testing::TempDir() + "fhir-resources-" + std::to_string(::getpid()) + ".ndjson";
  {
    std::ofstream out(path);
    for (const auto& r : resources) out << json::serialize(r) << "\n";
    out << json::serialize(bundle) << "\n" << json::serialize(outcome) << "\n";
  }
  int status = 0;
  const std::string output =
      RunCommand("node " + fhir_dir + "/validate.mjs " + path + " 2>&1", &status);
  std::printf("%s", output.c_str());
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("0 with errors; 0 errors"), std::string::npos) << output;
  std::filesystem::remove(path);

  // A control: the validators do find errors (an R5-shaped Consent, an instant without a zone).
  {
    std::ofstream out(path);
    out << R"({"resourceType":"Consent","id":"x","status":"active","decision":"permit"})"
        << "\n";
    out << R"({"resourceType":"Provenance","id":"y","target":[{"reference":"Patient/p"}],)"
        << R"("recorded":"2026-05-01T10:00:00","agent":[{"who":{"reference":"Patient/p"}}]})"
        << "\n";
  }
  const std::string bad =
      RunCommand("node " + fhir_dir + "/validate.mjs " + path + " 2>&1", &status);
  EXPECT_EQ(status, 1) << bad;
  EXPECT_NE(bad.find("2 with errors"), std::string::npos) << bad;
  EXPECT_NE(bad.find("[medplum]"), std::string::npos) << bad;
  EXPECT_NE(bad.find("[json-schema]"), std::string::npos) << bad;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace hc::api::fhir
