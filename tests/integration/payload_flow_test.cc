// The encrypted payload store end to end on a real 4-validator network (issue 6, DESIGN.md §5):
// hcctl record put → consent → access → share → hcctl record get decrypts the original; no granted
// access → 403 (the same answer as for a record that does not exist); revocation then a DENIED
// access → 403; a tampered upload is refused; erasure leaves nothing to fetch.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "api/auth.h"
#include "common/encoding.h"
#include "crypto/keyfile.h"
#include "exchange_fixture.h"
#include "ledger/payload_store.h"
#include "ledger/rocks_store.h"
#include "ledger/tx.h"
#include "run_process.h"

namespace hc::integration {
namespace {

namespace pb = ::healthchain::v1;

// An identity with its key file (hcctl reads it) and its public export.
struct Party {
  Party(const std::string& dir, const std::string& name) {
    crypto::Identity id = crypto::GenerateIdentity();
    key_path = dir + "/" + name + ".key";
    pub_path = dir + "/" + name + ".pub";
    EXPECT_TRUE(crypto::SaveIdentity(id, key_path, true).ok());
    EXPECT_TRUE(crypto::SavePublicIdentity(crypto::ToPublic(id), pub_path, true).ok());
    key = id.signing.public_key;
    x25519 = id.encryption.public_key;
    signer = crypto::MakeEd25519Signer(std::move(id.signing.secret_key));
  }
  explicit Party(const std::string& existing_key_path) : key_path(existing_key_path) {
    auto id = crypto::LoadIdentity(key_path);
    EXPECT_TRUE(id.ok());
    key = id->signing.public_key;
    x25519 = id->encryption.public_key;
    signer = crypto::MakeEd25519Signer(std::move(id->signing.secret_key));
  }
  std::string Key() const { return std::string(reinterpret_cast<const char*>(key.data()), 32); }
  std::string X() const { return std::string(reinterpret_cast<const char*>(x25519.data()), 32); }

  std::string key_path, pub_path;
  crypto::Ed25519PublicKey key{};
  crypto::X25519PublicKey x25519{};
  std::unique_ptr<crypto::Signer> signer;
};

class PayloadFlowTest : public ExchangeNetworkTest {
 protected:
  HttpResult Signed(const std::string& method, const std::string& target, const std::string& body,
                    const Party& who) {
    std::map<std::string, std::string> headers = SignedHeaders(*who.signer, method, target, body);
    if (!body.empty()) headers["Content-Type"] = "application/octet-stream";
    return RoundTrip(api::testing::RawClient::Connect(Api(0)).get(), method, target, body, headers,
                     Ms(10'000));
  }

  test::ProcessResult Hcctl(std::vector<std::string> args) {
    args.insert(args.begin(), HC_HCCTL_PATH);
    args.push_back("--node");
    args.push_back("http://127.0.0.1:" + std::to_string(Api(0)));
    return test::RunProcess(args);
  }
};

TEST_F(PayloadFlowTest, PutConsentAccessShareGetThenDenialsTamperingAndErasure) {
  MakeNetwork(4, 0);
  StartAll();
  ASSERT_TRUE(WaitAllUp(Ms(15'000)));
  const std::string dir = net_.nodes[0].dir + "/../parties";
  std::filesystem::create_directories(dir);
  Party gov(net_.commission_key_path), h1(dir, "h1"), h2(dir, "h2"), alice(dir, "alice");

  for (const auto& [who, name] : {std::pair{&h1, "Hospital One"}, {&h2, "Hospital Two"}}) {
    pb::TxBody b = Body(gov);
    auto* p = b.mutable_register_org();
    p->set_org_key(who->Key());
    p->set_encryption_key(who->X());
    p->set_role(pb::ORG_ROLE_HOSPITAL);
    p->set_name(name);
    ASSERT_EQ(Commit(b, gov), "OK");
  }
  {
    pb::TxBody b = Body(gov);
    b.mutable_register_policy()->set_policy_id("bppc-1");
    b.mutable_register_policy()->set_uri("https://policies.example/bppc-1");
    b.mutable_register_policy()->set_document_sha256(std::string(32, 'd'));
    ASSERT_EQ(Commit(b, gov), "OK");
    pb::TxBody e = Body(h1);
    e.mutable_enroll_patient()->set_patient_key(alice.Key());
    e.mutable_enroll_patient()->set_encryption_key(alice.X());
    ASSERT_EQ(Commit(e, h1), "OK");
  }

  // h1 encrypts, uploads, anchors and wraps for alice.
  const std::string plaintext = "{\"resourceType\":\"Observation\",\"status\":\"final\"}";
  const std::string in_path = dir + "/lab.json";
  std::ofstream(in_path) << plaintext;
  auto put =
      Hcctl({"record", "put", in_path, "--patient", alice.pub_path, "--category", "laboratory",
             "--record-id", "r1", "--key", h1.key_path, "--description", "Lipid panel"});
  ASSERT_EQ(put.exit_code, 0) << put.out << put.err;
  EXPECT_NE(put.out.find("ciphertext_sha256"), std::string::npos);

  // The patient can always read it back.
  auto mine = Hcctl({"record", "get", "--record-id", "r1", "--key", alice.key_path, "--out",
                     dir + "/alice.json"});
  ASSERT_EQ(mine.exit_code, 0) << mine.out << mine.err;

  // No access yet: 403, exactly as for a record that does not exist.
  HttpResult denied = Signed("GET", "/v1/payloads/r1", "", h2);
  HttpResult unknown = Signed("GET", "/v1/payloads/no-such-record", "", h2);
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(denied.body, unknown.body);
  // Unsigned: 401.
  EXPECT_EQ(Http(Api(0), "GET", "/v1/payloads/r1", {}, {}, Ms(5000)).status, 401);

  // Consent, access, share, fetch: the plaintext comes back.
  {
    pb::TxBody b = Body(alice);
    auto* g = b.mutable_grant_consent();
    g->set_consent_id("c1");
    g->set_patient_key(alice.Key());
    g->set_grantee_key(h2.Key());
    g->add_purposes(pb::PURPOSE_TREAT);
    g->mutable_scope()->add_categories(pb::RECORD_CATEGORY_LABORATORY);
    g->set_valid_from_ms(NowMs() - 60'000);
    g->set_valid_until_ms(NowMs() + 3'600'000);
    g->set_policy_id("bppc-1");
    ASSERT_EQ(Commit(b, alice), "OK");
  }
  auto access = [&] {
    pb::TxBody b = Body(h2);
    b.mutable_access_record()->set_record_id("r1");
    b.mutable_access_record()->set_purpose(pb::PURPOSE_TREAT);
    return Commit(b, h2);
  };
  ASSERT_EQ(access(), "OK");
  auto share =
      Hcctl({"record", "share", "--record-id", "r1", "--to", h2.pub_path, "--key", alice.key_path});
  ASSERT_EQ(share.exit_code, 0) << share.out << share.err;
  const std::string out_path = dir + "/h2.json";
  auto got = Hcctl({"record", "get", "--record-id", "r1", "--key", h2.key_path, "--out", out_path});
  ASSERT_EQ(got.exit_code, 0) << got.out << got.err;
  std::ifstream in(out_path);
  std::string decrypted((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(decrypted, plaintext);

  // A tampered upload (not the anchored bytes) is refused.
  HttpResult tampered = Signed("PUT", "/v1/payloads/r1", "not the anchored ciphertext", h1);
  EXPECT_EQ(tampered.status, 409) << tampered.body;

  // Revocation, then a new access that is DENIED: the download ends.
  {
    pb::TxBody b = Body(alice);
    b.mutable_revoke_consent()->set_consent_id("c1");
    ASSERT_EQ(Commit(b, alice), "OK");
  }
  ASSERT_EQ(access(), "DENIED");
  auto after_revoke =
      Hcctl({"record", "get", "--record-id", "r1", "--key", h2.key_path, "--out", out_path});
  EXPECT_EQ(after_revoke.exit_code, 1) << after_revoke.out << after_revoke.err;
  EXPECT_EQ(Signed("GET", "/v1/payloads/r1", "", h2).body, unknown.body);

  // Erasure: the node deletes the ciphertext and keys; the patient is told, others get the 403.
  {
    pb::TxBody b = Body(alice);
    b.mutable_erase_record()->set_record_id("r1");
    b.mutable_erase_record()->set_reason("patient request");
    ASSERT_EQ(Commit(b, alice), "OK");
  }
  // The commit itself deleted the ciphertext and the wrapped keys from node 0's disk (P4), before
  // anyone asked for the record (a GET of an erased record would also delete them).
  procs_[0]->Kill(SIGTERM);
  ASSERT_TRUE(procs_[0]->Wait(Ms(15'000)).has_value());
  {
    ledger::RocksOptions existing;
    existing.create_if_missing = false;  // the node's own database, not a new empty one
    auto store = ledger::RocksKvStore::Open(net_.nodes[0].dir + "/data/db", existing);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::vector<std::string> held;
    ASSERT_TRUE(ledger::PayloadStore(**store)
                    .ForEachRecord([&](std::string_view id) {
                      held.emplace_back(id);
                      return true;
                    })
                    .ok());
    EXPECT_EQ(std::count(held.begin(), held.end(), "r1"), 0);
  }
  StartNode(0);
  ASSERT_TRUE(WaitUntil([&] { return Signed("GET", "/v1/payloads/r1", "", alice).status != 0; },
                        Ms(15'000)));
  HttpResult erased;
  ASSERT_TRUE(WaitUntil(
      [&] {
        erased = Signed("GET", "/v1/payloads/r1", "", alice);
        return erased.status == 404;
      },
      Ms(10'000)))
      << erased.status << " " << erased.body;
  EXPECT_NE(erased.body.find("erased"), std::string::npos);
  EXPECT_EQ(Signed("GET", "/v1/payloads/r1", "", h2).body, unknown.body);
  auto gone = Hcctl(
      {"record", "get", "--record-id", "r1", "--key", alice.key_path, "--out", dir + "/gone.json"});
  EXPECT_NE(gone.exit_code, 0);
  // And nothing can be uploaded again.
  EXPECT_EQ(Signed("PUT", "/v1/payloads/r1", "anything", h1).status, 409);
}

}  // namespace
}  // namespace hc::integration
