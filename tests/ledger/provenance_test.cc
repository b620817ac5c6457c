// Provenance bundles (docs/spec/provenance.md): built from an in-memory 4-validator chain with a
// claim story, verified offline, and every tampering detected.
#include "ledger/provenance.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>

#include "common/encoding.h"
#include "crypto/merkle.h"
#include "ledger/tx.h"
#include "provenance_fixture.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)
namespace json = boost::json;
using Outcome = ProvenanceVerdict::Outcome;

class ProvenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chain_.ClaimStory();
    auto b = BuildClaimProvenanceBundle(chain_.ledger(), "cl1", std::nullopt);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bundle_ = *b;
  }

  ProvenanceVerdict Check(const std::string& bundle) {
    return VerifyProvenanceBundle(bundle, chain_.genesis(), chain_.verifier());
  }
  // The bundle after `edit`, re-serialised.
  std::string Edit(const std::function<void(json::object&)>& edit) {
    json::value v = json::parse(bundle_);
    edit(v.as_object());
    return json::serialize(v);
  }
  static void FlipB64(json::value& v, size_t at = 7) {
    auto b = Base64Decode(v.as_string());
    ASSERT_TRUE(b.ok());
    (*b)[at % b->size()] ^= 0x01;
    v = Base64Encode(*b);
  }
  void ExpectInvalid(const std::string& bundle, std::string_view reason_part) {
    const ProvenanceVerdict v = Check(bundle);
    EXPECT_EQ(v.outcome, Outcome::kInvalid) << FormatProvenanceStory(v);
    EXPECT_NE(v.reason.find(reason_part), std::string::npos) << v.reason;
  }

  ProvenanceChain chain_;
  std::string bundle_;
};

TEST_F(ProvenanceTest, AValidBundleVerifiesAndTellsTheStory) {
  const ProvenanceVerdict v = Check(bundle_);
  ASSERT_EQ(v.outcome, Outcome::kVerified) << v.reason;
  std::vector<std::string> kinds;
  for (const auto& line : v.story) kinds.push_back(line.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"record_anchor", "record_anchor", "consent_grant",
                                             "access", "claim", "adjudication"}));
  const std::string text = FormatProvenanceStory(v);
  EXPECT_NE(text.find("record 'r1'"), std::string::npos) << text;
  EXPECT_NE(text.find("PURPOSE_HPAYMT"), std::string::npos) << text;
  EXPECT_NE(text.find("CLAIM_DECISION_APPROVED"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("verified\n"));
  // The bundle names its certified header and the field names of the transparency-log vectors.
  const json::object doc = json::parse(bundle_).as_object();
  const json::object& inc = doc.at("entries").as_array()[0].at("inclusion").as_object();
  for (const char* k : {"leafIdx", "treeSize", "root", "leafHash", "proof"}) {
    EXPECT_TRUE(inc.contains(k)) << k;
  }
}

TEST_F(ProvenanceTest, AFlippedByteInAnyEntryIsDetected) {
  const size_t n = json::parse(bundle_).at("entries").as_array().size();
  for (size_t i = 0; i < n; ++i) {
    for (size_t at : {0u, 7u, 40u, 1000u}) {
      ExpectInvalid(Edit([&](json::object& d) {
                      FlipB64(d["entries"].as_array()[i].as_object()["entry"], at);
                    }),
                    "entries[" + std::to_string(i) + "]");
    }
  }
}

TEST_F(ProvenanceTest, AFlippedProofHashIsDetected) {
  ExpectInvalid(Edit([](json::object& d) {
                  auto& inc = d["entries"].as_array()[0].as_object()["inclusion"].as_object();
                  FlipB64(inc["proof"].as_array()[0]);
                }),
                "inclusion proof");
  ExpectInvalid(Edit([](json::object& d) {
                  auto& inc = d["entries"].as_array()[2].as_object()["inclusion"].as_object();
                  FlipB64(inc["root"]);
                }),
                "not against the certified header");
  ExpectInvalid(Edit([](json::object& d) {
                  auto& inc = d["entries"].as_array()[1].as_object()["inclusion"].as_object();
                  inc["leafIdx"] = 0;
                }),
                "leafIdx");
}

TEST_F(ProvenanceTest, AFlippedHeaderByteIsDetected) {
  // Anywhere in the header bytes: the block hash no longer matches the certificate (or the bytes
  // no longer parse, or the log root no longer matches the proofs).
  const size_t size =
      Base64Decode(json::parse(bundle_).at("header").at("bytes").as_string())->size();
  for (size_t at = 0; at < size; ++at) {
    const ProvenanceVerdict v =
        Check(Edit([&](json::object& d) { FlipB64(d["header"].as_object()["bytes"], at); }));
    EXPECT_EQ(v.outcome, Outcome::kInvalid) << "byte " << at;
  }
  ExpectInvalid(Edit([](json::object& d) { d["header"].as_object()["log_size"] = 3; }),
                "decoded fields");
}

TEST_F(ProvenanceTest, ForgedOrShortCertificatesAreDetected) {
  ExpectInvalid(Edit([](json::object& d) {
                  auto& sigs = d["certificate"].as_object()["signatures"].as_array();
                  FlipB64(sigs[1].as_object()["signature"]);
                }),
                "certificate");
  ExpectInvalid(Edit([](json::object& d) {
                  d["certificate"].as_object()["signatures"].as_array().pop_back();
                }),
                "certificate");
  ExpectInvalid(Edit([](json::object& d) {
                  auto& sigs = d["certificate"].as_object()["signatures"].as_array();
                  sigs[2] = sigs[0];  // a duplicate signer to make up the quorum
                }),
                "certificate");
  ExpectInvalid(Edit([](json::object& d) { d["certificate"].as_object()["view"] = 1; }),
                "certificate");
  ExpectInvalid(Edit([](json::object& d) { FlipB64(d["certificate"].as_object()["block_hash"]); }),
                "certificate");
  ExpectInvalid(Edit([](json::object& d) {
                  auto& sigs = d["certificate"].as_object()["signatures"].as_array();
                  sigs[0].as_object()["replica"] = 9;
                }),
                "not a genesis validator");
}

TEST_F(ProvenanceTest, AWrongGenesisIsDetected) {
  Genesis other = chain_.genesis();
  other.validators[1].key = KeyOf("mallory");
  ProvenanceVerdict v = VerifyProvenanceBundle(bundle_, other, chain_.verifier());
  EXPECT_EQ(v.outcome, Outcome::kInvalid);
  EXPECT_NE(v.reason.find("genesis hash"), std::string::npos) << v.reason;
  other = chain_.genesis();
  other.chain_id = "hc-other";
  v = VerifyProvenanceBundle(bundle_, other, chain_.verifier());
  EXPECT_EQ(v.outcome, Outcome::kInvalid);
  // A bundle that claims the other genesis's hash still fails on the signatures: the validator
  // set decides, not the bundle's word.
  other = chain_.genesis();
  for (auto& val : other.validators) val.key = KeyOf("m-" + val.id);
  v = VerifyProvenanceBundle(
      Edit([&](json::object& d) { d["genesis_hash"] = Base64Encode(GenesisHash(other)); }), other,
      chain_.verifier());
  EXPECT_EQ(v.outcome, Outcome::kInvalid);
  EXPECT_NE(v.reason.find("certificate"), std::string::npos) << v.reason;
}

TEST_F(ProvenanceTest, AMissingEntryOfTheStoryIsDetected) {
  // 0, 1: the evidence anchors; 2: the consent; 4: the claim.
  ExpectInvalid(
      Edit([](json::object& d) { d["entries"].as_array().erase(d["entries"].as_array().begin()); }),
      "evidence record 'r1' has no anchor");
  ExpectInvalid(Edit([](json::object& d) {
                  d["entries"].as_array().erase(d["entries"].as_array().begin() + 1);
                }),
                "evidence record 'r2' has no anchor");
  ExpectInvalid(Edit([](json::object& d) {
                  d["entries"].as_array().erase(d["entries"].as_array().begin() + 2);
                }),
                "no payment consent");
  ExpectInvalid(Edit([](json::object& d) {
                  d["entries"].as_array().erase(d["entries"].as_array().begin() + 4);
                }),
                "no claim entry");
  ExpectInvalid(Edit([](json::object& d) { d["entries"].as_array().clear(); }), "no entries");
}

TEST_F(ProvenanceTest, RelabelledReorderedOrForeignEntriesAreDetected) {
  ExpectInvalid(Edit([](json::object& d) {
                  d["entries"].as_array()[3].as_object()["kind"] = "adjudication";
                }),
                "labelled");
  ExpectInvalid(Edit([](json::object& d) {
                  auto& e = d["entries"].as_array();
                  std::swap(e[0], e[1]);
                }),
                "increasing");
  ExpectInvalid(Edit([](json::object& d) { d["subject"] = "cl2"; }), "not 'cl2'");
}

TEST_F(ProvenanceTest, ConsistencyProofFromAnEarlierRoot) {
  const uint64_t size1 = 3;
  auto root1 = crypto::RootAt(chain_.ledger().log_nodes(), size1);
  ASSERT_TRUE(root1.ok());
  auto b = BuildClaimProvenanceBundle(chain_.ledger(), "cl1", SinceRoot{size1, *root1});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ProvenanceVerdict v = Check(*b);
  ASSERT_EQ(v.outcome, Outcome::kVerified) << v.reason;
  EXPECT_TRUE(v.consistency_checked);
  EXPECT_EQ(v.since_size, size1);
  // The node looks the earlier root up when the client does not give it.
  b = BuildClaimProvenanceBundle(chain_.ledger(), "cl1", SinceRoot{size1, std::nullopt});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Check(*b).outcome, Outcome::kVerified);
  // A root the client kept that is not a prefix of this log fails.
  b = BuildClaimProvenanceBundle(chain_.ledger(), "cl1", SinceRoot{size1, Hash32{}});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Check(*b).outcome, Outcome::kInvalid);
  // A tampered proof hash fails.
  bundle_ = *BuildClaimProvenanceBundle(chain_.ledger(), "cl1", SinceRoot{size1, *root1});
  ExpectInvalid(
      Edit([](json::object& d) { FlipB64(d["consistency"].as_object()["proof"].as_array()[0]); }),
      "consistency");
  ExpectInvalid(Edit([](json::object& d) { d["consistency"].as_object()["size2"] = 4; }),
                "consistency");
  EXPECT_EQ(BuildClaimProvenanceBundle(chain_.ledger(), "cl1", SinceRoot{1000, std::nullopt})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ProvenanceTest, TxProofBundle) {
  const std::string tx = chain_.f.Enroll("bob", "bob");
  chain_.Commit({tx});
  const Hash32 id = TxIdOf(AsBytes(tx));
  // Not yet covered by a certified header.
  EXPECT_EQ(BuildTxProofBundle(chain_.ledger(), id, std::nullopt).status().code(),
            StatusCode::kFailedPrecondition);
  chain_.Commit({});
  auto b = BuildTxProofBundle(chain_.ledger(), id, std::nullopt);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ProvenanceVerdict v = Check(*b);
  ASSERT_EQ(v.outcome, Outcome::kVerified) << v.reason;
  ASSERT_EQ(v.story.size(), 1u);
  bundle_ = *b;
  ExpectInvalid(Edit([](json::object& d) { d["subject"] = std::string(64, '0'); }), "not tx");
  ExpectInvalid(
      Edit([](json::object& d) { FlipB64(d["entries"].as_array()[0].as_object()["entry"]); }),
      "entries[0]");
  EXPECT_EQ(BuildTxProofBundle(chain_.ledger(), Hash32{}, std::nullopt).status().code(),
            StatusCode::kNotFound);
}

TEST_F(ProvenanceTest, GarbageIsUnreadable) {
  EXPECT_EQ(Check("").outcome, Outcome::kUnreadable);
  EXPECT_EQ(Check("{not json").outcome, Outcome::kUnreadable);
  EXPECT_EQ(Check("[1,2]").outcome, Outcome::kUnreadable);
  EXPECT_EQ(Check(R"({"format":"other"})").outcome, Outcome::kUnreadable);
  // A bundle of the right format with missing fields is invalid, not unreadable.
  EXPECT_EQ(Check(R"({"format":"hc-provenance/v1"})").outcome, Outcome::kInvalid);
}

TEST_F(ProvenanceTest, UnknownClaimIsNotFound) {
  EXPECT_EQ(BuildClaimProvenanceBundle(chain_.ledger(), "cl404", std::nullopt).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace hc::ledger
