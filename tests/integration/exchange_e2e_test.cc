// The exchange API end to end through HTTP on a real 4-validator network (issue 6):
//  - a claim's story (register → enroll → anchor → HPAYMT consent → insurer access → claim →
//    adjudication) fetched as a provenance bundle and verified offline by `hcctl verify
//    provenance`, every tampering detected, the read rules on the route, tx proofs and
//    consistency proofs;
//  - the FHIR R4 views over HTTP (search, read, $export) with their read rules, every resource the
//    server returned validated by tests/fhir/validate.mjs;
//  - the error shapes (problem+json with a stable code) of the router and the server.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <array>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "api/auth.h"
#include "api/fhir_mapping.h"
#include "common/encoding.h"
#include "exchange_fixture.h"
#include "ledger/tx.h"
#include "run_process.h"

namespace hc::integration {
namespace {

namespace pb = ::healthchain::v1;
namespace json = boost::json;

struct Identity : TestIdentity {
  using TestIdentity::TestIdentity;
  std::string FhirPatient() const { return "Patient/" + api::fhir::IdentityId(key); }
};

// A response with its headers.
struct Response {
  int status = 0;  // 0: no answer
  std::string content_type;
  std::string allow;
  std::string body;
  json::value json;
};

Response ToResponse(const std::optional<api::testing::RawResponse>& resp) {
  Response out;
  if (!resp) return out;
  out.status = static_cast<int>(resp->result_int());
  out.content_type = std::string((*resp)[api::http::field::content_type]);
  out.allow = std::string((*resp)[api::http::field::allow]);
  out.body = resp->body();
  boost::system::error_code ec;
  out.json = json::parse(out.body, ec);
  if (ec) out.json = nullptr;
  return out;
}

std::string Str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const json::value* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : "";
}

std::string RunShell(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
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

class ExchangeE2eTest : public ExchangeNetworkTest {
 protected:
  void SetUp() override {
    MakeNetwork(4, 0);
    StartAll();
    ASSERT_TRUE(WaitAllUp(Ms(15'000)));
    dir_ = net_.dir + "/files";
    std::filesystem::create_directories(dir_);
  }

  // A request to node 0, signed by `who` when not null.
  Response Call(const std::string& method, const std::string& target, const Identity* who,
                const std::string& body = "", const std::string& content_type = "",
                size_t node = 0) {
    auto client = api::testing::RawClient::Connect(Api(node));
    if (!client) return {};
    std::map<std::string, std::string> headers;
    if (who != nullptr) headers = SignedHeaders(*who->signer, method, target, body);
    if (!content_type.empty()) headers["Content-Type"] = content_type;
    if (!client->Send(api::testing::MakeRequest(method, target, body, headers))) return {};
    return ToResponse(client->ReadResponse(Ms(10'000)));
  }
  Response Get(const std::string& target, const Identity* who) { return Call("GET", target, who); }

  test::ProcessResult Verify(const std::string& bundle_path) {
    return test::RunProcess(
        {HC_HCCTL_PATH, "verify", "provenance", bundle_path, "--genesis", net_.genesis_path});
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::string dir_;
};

// The problem+json every failure path answers with: the status, the media type and the code.
void ExpectProblem(const Response& r, int status, std::string_view code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.content_type, "application/problem+json") << r.body;
  EXPECT_EQ(Str(r.json, "code"), code) << r.body;
  EXPECT_EQ(r.json.is_object() ? r.json.as_object().at("status").to_number<int>() : 0, status)
      << r.body;
}

TEST_F(ExchangeE2eTest, ClaimProvenanceVerifiesOfflineAndFhirViewsFollowTheReadRules) {
  Identity gov(net_.commission_key_path), hosp, insurer, alice, stranger_org;
  // ---- The story ----
  auto org = [&](const Identity& who, pb::OrgRole role, const std::string& name) {
    pb::TxBody b = Body(gov);
    auto* p = b.mutable_register_org();
    p->set_org_key(who.Key());
    p->set_encryption_key(std::string(32, 'x'));
    p->set_role(role);
    p->set_name(name);
    return Commit(b, gov);
  };
  ASSERT_EQ(org(hosp, pb::ORG_ROLE_HOSPITAL, "General Hospital"), "OK");
  ASSERT_EQ(org(insurer, pb::ORG_ROLE_INSURER, "Mutual Insurance"), "OK");
  ASSERT_EQ(org(stranger_org, pb::ORG_ROLE_HOSPITAL, "Unrelated Clinic"), "OK");
  {
    pb::TxBody b = Body(gov);
    b.mutable_register_policy()->set_policy_id("bppc-1");
    b.mutable_register_policy()->set_uri("https://policies.example/bppc-1");
    b.mutable_register_policy()->set_document_sha256(std::string(32, 'd'));
    ASSERT_EQ(Commit(b, gov), "OK");
  }
  {
    pb::TxBody b = Body(hosp);
    b.mutable_enroll_patient()->set_patient_key(alice.Key());
    b.mutable_enroll_patient()->set_encryption_key(std::string(32, 'y'));
    ASSERT_EQ(Commit(b, hosp), "OK");
  }
  ASSERT_EQ(CommitAnchor(hosp, "r1", alice.Key()), "OK");
  {
    pb::TxBody b = Body(alice);
    auto* g = b.mutable_grant_consent();
    g->set_consent_id("c-pay");
    g->set_patient_key(alice.Key());
    g->set_grantee_key(insurer.Key());
    g->add_purposes(pb::PURPOSE_HPAYMT);
    g->mutable_scope()->add_record_ids("r1");
    g->set_valid_from_ms(NowMs() - 60'000);
    g->set_valid_until_ms(NowMs() + 3'600'000);
    g->set_policy_id("bppc-1");
    ASSERT_EQ(Commit(b, alice), "OK");
  }
  {
    pb::TxBody b = Body(insurer);
    b.mutable_access_record()->set_record_id("r1");
    b.mutable_access_record()->set_purpose(pb::PURPOSE_HPAYMT);
    ASSERT_EQ(Commit(b, insurer), "OK");
  }
  std::string claim_tx;
  {
    pb::TxBody b = Body(hosp);
    auto* c = b.mutable_submit_claim();
    c->set_claim_id("cl1");
    c->set_patient_key(alice.Key());
    c->set_insurer_key(insurer.Key());
    c->set_service_date("2026-01-15");
    auto* item = c->add_items();
    item->set_code("80061");
    item->set_quantity(1);
    item->set_unit_price_cents(4200);
    c->set_invoice_number("INV-1");
    c->add_evidence_record_ids("r1");
    c->set_currency("EUR");
    ASSERT_EQ(Commit(b, hosp, 0, &claim_tx), "OK");
  }
  {
    pb::TxBody b = Body(insurer);
    b.mutable_adjudicate_claim()->set_claim_id("cl1");
    b.mutable_adjudicate_claim()->set_decision(pb::CLAIM_DECISION_APPROVED);
    b.mutable_adjudicate_claim()->set_approved_cents(4200);
    ASSERT_EQ(Commit(b, insurer), "OK");
  }

  // ---- Provenance ----
  // The entries are proved against the latest certified root: until a later block certifies
  // them the route answers 409 (P12); one more committed tx closes the gap.
  const std::string prov = "/v1/claims/cl1/provenance";
  Response bundle = Get(prov, &insurer);
  if (bundle.status == 409) {
    EXPECT_EQ(Str(bundle.json, "code"), "conflict") << bundle.body;
    pb::TxBody more = Body(gov);
    more.mutable_register_policy()->set_policy_id("bppc-2");
    more.mutable_register_policy()->set_uri("https://policies.example/bppc-2");
    more.mutable_register_policy()->set_document_sha256(std::string(32, 'e'));
    ASSERT_EQ(Commit(more, gov), "OK");
    ASSERT_TRUE(WaitUntil(
        [&] {
          bundle = Get(prov, &insurer);
          return bundle.status != 409;
        },
        Ms(10'000)))
        << bundle.body;
  }
  ASSERT_EQ(bundle.status, 200) << bundle.body;
  EXPECT_EQ(bundle.content_type, "application/json");
  ASSERT_TRUE(bundle.json.is_object()) << bundle.body;
  const json::object& b0 = bundle.json.as_object();
  EXPECT_EQ(Str(b0, "format"), "hc-provenance/v1");
  EXPECT_EQ(Str(b0, "subject"), "cl1");
  std::set<std::string> kinds;
  for (const auto& e : b0.at("entries").as_array()) kinds.insert(Str(e, "kind"));
  EXPECT_EQ(kinds, (std::set<std::string>{"record_anchor", "consent_grant", "access", "claim",
                                          "adjudication"}))
      << bundle.body;

  const std::string bundle_path = WriteFile("claim.json", bundle.body);
  {
    auto v = Verify(bundle_path);
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("cl1"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("verified"), std::string::npos) << v.out;
  }
  auto expect_invalid = [&](const std::string& name, const json::object& tampered) {
    auto v = Verify(WriteFile(name, json::serialize(tampered)));
    EXPECT_EQ(v.exit_code, 1) << name << ": " << v.out << v.err;
    EXPECT_EQ(v.out.rfind("invalid:", 0), 0u) << name << ": " << v.out << v.err;
  };
  {  // One character inside an entry's base64 (still valid base64, so the bytes change).
    json::object t = b0;
    json::object& e = t.at("entries").as_array()[0].as_object();
    std::string s(e.at("entry").as_string());
    ASSERT_GT(s.size(), 8u);
    char& c = s[s.size() / 2];
    c = c == 'A' ? 'B' : 'A';
    e["entry"] = s;
    expect_invalid("flipped-entry.json", t);
  }
  {  // The certificate's view: the signatures bind the view.
    json::object t = b0;
    json::object& cert = t.at("certificate").as_object();
    cert["view"] = cert.at("view").to_number<uint64_t>() + 1;
    expect_invalid("view.json", t);
  }
  {  // An entry dropped: the story is incomplete.
    json::object t = b0;
    json::array& entries = t.at("entries").as_array();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (Str(entries[i], "kind") == "record_anchor") {
        entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    ASSERT_EQ(entries.size(), b0.at("entries").as_array().size() - 1);
    expect_invalid("dropped.json", t);
  }
  {  // Garbage: unreadable.
    auto v = Verify(WriteFile("garbage.json", "this is not a bundle {"));
    EXPECT_EQ(v.exit_code, 2) << v.out << v.err;
  }

  // Who may fetch it: unsigned 401, a stranger org 403, the patient and a commission 200.
  {
    Response r = Get(prov, nullptr);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(Str(r.json, "code"), "unauthenticated") << r.body;
    r = Get(prov, &stranger_org);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(Str(r.json, "code"), "forbidden") << r.body;
    EXPECT_EQ(Get(prov, &alice).status, 200);
    EXPECT_EQ(Get(prov, &hosp).status, 200);
    EXPECT_EQ(Get(prov, &gov).status, 200);
    // A stranger learns nothing of what does not exist; a commission gets 404.
    EXPECT_EQ(Get("/v1/claims/nope/provenance", &stranger_org).status, 403);
    EXPECT_EQ(Get("/v1/claims/nope/provenance", &gov).status, 404);
  }

  // The claim tx's own proof verifies too.
  {
    const std::string proof = "/v1/tx/" + claim_tx + "/proof";
    Response r = Get(proof, &insurer);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Str(r.json, "subject_kind"), "tx");
    EXPECT_EQ(Str(r.json, "subject"), claim_tx);
    auto v = Verify(WriteFile("tx.json", r.body));
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("verified"), std::string::npos) << v.out;
    EXPECT_EQ(Get(proof, &stranger_org).status, 403);
    EXPECT_EQ(Get(proof, nullptr).status, 401);
  }

  // ?since_size=M adds a consistency proof from the log of M leaves; it verifies, and a forged
  // earlier root does not.
  {
    const uint64_t n = b0.at("header").at("log_size").to_number<uint64_t>();
    ASSERT_GE(n, 4u);
    const uint64_t m = n / 2;
    Response r = Get(prov + "?since_size=" + std::to_string(m), &insurer);
    ASSERT_EQ(r.status, 200) << r.body;
    const json::object& c = r.json.at("consistency").as_object();
    EXPECT_EQ(c.at("size1").to_number<uint64_t>(), m);
    // The proof ends at this bundle's own certified log, which may have grown since b0: when b0
    // took the 409 path above, the extra tx is certified by an empty block (R3) once the chain
    // has been idle for empty_block_delay_ms, which a slow (sanitizer) build can hit in between.
    EXPECT_EQ(c.at("size2").to_number<uint64_t>(),
              r.json.at("header").at("log_size").to_number<uint64_t>());
    EXPECT_GE(c.at("size2").to_number<uint64_t>(), n);
    auto v = Verify(WriteFile("since.json", r.body));
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("verified"), std::string::npos) << v.out;
    json::object t = r.json.as_object();
    std::string root1(t.at("consistency").at("root1").as_string());
    root1[0] = root1[0] == 'A' ? 'B' : 'A';
    t.at("consistency").as_object()["root1"] = root1;
    expect_invalid("since-forged.json", t);
    // Beyond the certified log: 400.
    EXPECT_EQ(Get(prov + "?since_size=" + std::to_string(n + 1000), &insurer).status, 400);
  }

  // ---- FHIR ----
  std::vector<std::string> emitted;  // every resource body the server returned
  auto fhir_ok = [&](const Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/fhir+json") << r.body;
    if (r.status == 200) emitted.push_back(r.body);
  };
  auto entries_of = [](const Response& r) {
    std::vector<json::object> out;
    if (!r.json.is_object()) return out;
    if (const json::value* e = r.json.as_object().if_contains("entry")) {
      for (const auto& x : e->as_array()) out.push_back(x.at("resource").as_object());
    }
    return out;
  };
  const std::string by_patient = "?patient=" + alice.FhirPatient();
  {
    Response r = Get("/fhir/Consent" + by_patient, &alice);
    fhir_ok(r);
    EXPECT_EQ(Str(r.json, "resourceType"), "Bundle");
    EXPECT_EQ(Str(r.json, "type"), "searchset");
    auto res = entries_of(r);
    ASSERT_EQ(res.size(), 1u) << r.body;
    EXPECT_EQ(Str(res[0], "resourceType"), "Consent");
    EXPECT_EQ(Str(res[0], "id"), "c-pay");
    // The grantee finds it too; another patient may not search alice's consents.
    Response grantee = Get("/fhir/Consent" + by_patient, &insurer);
    fhir_ok(grantee);
    EXPECT_EQ(entries_of(grantee).size(), 1u) << grantee.body;
    Identity bob;
    {
      pb::TxBody e = Body(bob);
      e.mutable_enroll_patient()->set_patient_key(bob.Key());
      e.mutable_enroll_patient()->set_encryption_key(std::string(32, 'z'));
      ASSERT_EQ(Commit(e, bob), "OK");
    }
    Response other = Get("/fhir/Consent" + by_patient, &bob);
    EXPECT_EQ(other.status, 403) << other.body;
    EXPECT_EQ(Str(other.json, "resourceType"), "OperationOutcome") << other.body;
    if (other.status == 403) emitted.push_back(other.body);
  }
  {
    Response r = Get("/fhir/AuditEvent" + by_patient, &alice);
    fhir_ok(r);
    auto res = entries_of(r);
    ASSERT_GE(res.size(), 1u) << r.body;
    bool insurer_access = false;
    for (const auto& ev : res) {
      EXPECT_EQ(Str(ev, "resourceType"), "AuditEvent");
      const std::string text = json::serialize(ev);
      if (text.find("110106") != std::string::npos && Str(ev, "outcome") == "0" &&
          text.find("HPAYMT") != std::string::npos) {
        insurer_access = true;
      }
    }
    EXPECT_TRUE(insurer_access) << r.body;
  }
  {
    Response r = Get("/fhir/Claim/cl1", &insurer);
    fhir_ok(r);
    EXPECT_EQ(Str(r.json, "resourceType"), "Claim");
    EXPECT_EQ(Str(r.json, "id"), "cl1");
    fhir_ok(Get("/fhir/ClaimResponse/cl1", &insurer));
    fhir_ok(Get("/fhir/DocumentReference/r1", &hosp));
    fhir_ok(Get("/fhir/Provenance?target=DocumentReference/r1", &alice));
    fhir_ok(Get("/fhir/Claim" + by_patient, &alice));

    Response stranger = Get("/fhir/Claim/cl1", &stranger_org);
    EXPECT_EQ(stranger.status, 403) << stranger.body;
    EXPECT_EQ(stranger.content_type, "application/fhir+json");
    EXPECT_EQ(Str(stranger.json, "resourceType"), "OperationOutcome") << stranger.body;
    if (stranger.status == 403) emitted.push_back(stranger.body);

    Response anon = Get("/fhir/Claim/cl1", nullptr);
    EXPECT_EQ(anon.status, 401) << anon.body;
    EXPECT_EQ(Str(anon.json, "resourceType"), "OperationOutcome") << anon.body;
    if (anon.status == 401) emitted.push_back(anon.body);
  }
  {
    Response r = Get("/fhir/$export", &gov);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/fhir+ndjson");
    std::set<std::string> types;
    std::istringstream lines(r.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      ASSERT_FALSE(ec) << line;
      types.insert(Str(v, "resourceType"));
      emitted.push_back(line);
    }
    for (const char* t :
         {"Consent", "DocumentReference", "AuditEvent", "Provenance", "Claim", "ClaimResponse"}) {
      EXPECT_TRUE(types.contains(t)) << t << " missing from $export:\n" << r.body;
    }
    Response refused = Get("/fhir/$export", &insurer);
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(Str(refused.json, "resourceType"), "OperationOutcome");
  }

  // Every resource the server returned passes the project's two FHIR validators.
  int status = 0;
  RunShell("node --version >/dev/null 2>&1", &status);
  if (status != 0) {
    GTEST_SKIP() << "node is not installed: the FHIR validators (tests/fhir) cannot run; install "
                    "nodejs and npm (scripts/bootstrap.sh) to run this step";
  }
  const std::string fhir_dir = std::string(HC_SOURCE_DIR) + "/tests/fhir";
  ASSERT_TRUE(std::filesystem::exists(fhir_dir + "/node_modules/@medplum/core"))
      << "the validators are not installed: run `npm ci` in " << fhir_dir
      << " (ctest does it through the fhir_npm fixture)";
  std::string ndjson;
  for (const std::string& body : emitted) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);  // one line each
    ASSERT_FALSE(ec) << body;
    ndjson += json::serialize(v) + "\n";
  }
  const std::string path = WriteFile("fhir.ndjson", ndjson);
  const std::string out = RunShell("node " + fhir_dir + "/validate.mjs " + path + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("0 with errors; 0 errors"), std::string::npos) << out;
}

TEST_F(ExchangeE2eTest, EveryFailurePathAnswersProblemJsonWithAStableCode) {
  ExpectProblem(Get("/v1/no/such/route", nullptr), 404, "unknown_route");

  Response wrong = Call("DELETE", "/v1/status", nullptr);
  ExpectProblem(wrong, 405, "method_not_allowed");
  EXPECT_NE(wrong.allow.find("GET"), std::string::npos) << "Allow: " << wrong.allow;

  ExpectProblem(Call("POST", "/v1/tx", nullptr, "{\"tx\": ", "application/json"), 400,
                "malformed_json");

  // A declared body beyond the route's limit is refused before it is read.
  {
    auto client = api::testing::RawClient::Connect(Api(0));
    ASSERT_TRUE(client);
    const size_t too_big = (8u << 20) + 1;
    ASSERT_TRUE(
        client->Send("POST /v1/tx HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: application/x-protobuf\r\nContent-Length: " +
                     std::to_string(too_big) + "\r\n\r\n" + std::string(1024, 'x')));
    ExpectProblem(ToResponse(client->ReadResponse(Ms(10'000))), 413, "body_too_large");
  }
  // And one actually sent (chunked: no length to refuse up front).
  {
    auto client = api::testing::RawClient::Connect(Api(0));
    ASSERT_TRUE(client);
    std::string req =
        "POST /v1/tx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    const std::string chunk(1 << 20, 'x');
    char size_line[32];
    std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
    for (int i = 0; i < 9; ++i) req += size_line + chunk + "\r\n";
    req += "0\r\n\r\n";
    client->Send(req);  // the server may close mid-body once it has answered
    ExpectProblem(ToResponse(client->ReadResponse(Ms(10'000))), 413, "body_too_large");
  }
  // The node keeps serving.
  EXPECT_EQ(Get("/v1/status", nullptr).status, 200);
}

}  // namespace
}  // namespace hc::integration
