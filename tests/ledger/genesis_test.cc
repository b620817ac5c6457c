// R24: the genesis file, validated with the field at fault named.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/encoding.h"
#include "ledger_test_util.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)
namespace json = boost::json;

std::string Edit(const std::function<void(json::object&)>& edit) {
  json::value v = json::parse(GenesisToJson(TestGenesis()));
  edit(v.as_object());
  return json::serialize(v);
}

void ExpectFieldError(const std::string& text, const std::string& field) {
  Result<Genesis> g = ParseGenesis(text);
  ASSERT_FALSE(g.ok()) << field;
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(g.status().message().find("genesis: " + field + ":"), std::string::npos)
      << g.status().message();
}

TEST(GenesisTest, RoundTripsAndHashesTheFields) {
  const Genesis g = TestGenesis();
  Result<Genesis> parsed = ParseGenesis(GenesisToJson(g));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->chain_id, g.chain_id);
  EXPECT_EQ(parsed->validators.size(), 1u);
  EXPECT_EQ(parsed->validators[0].key, g.validators[0].key);
  EXPECT_EQ(parsed->commissions[0].name, "gov");
  EXPECT_EQ(GenesisHash(*parsed), GenesisHash(g));
  // Reformatting the JSON does not change the hash; changing a field does.
  json::value v = json::parse(GenesisToJson(g));
  std::string pretty = json::serialize(v);
  pretty.insert(1, "\n   ");
  EXPECT_EQ(GenesisHash(*ParseGenesis(pretty)), GenesisHash(g));
  Genesis other = g;
  other.validators[0].address = "127.0.0.1:7001";
  EXPECT_NE(GenesisHash(other), GenesisHash(g));
}

// R5's tx lifetime is optional: a genesis without it hashes as before it existed, so chains made
// then keep their genesis hash; with it, the lifetime is part of the hash and round-trips.
TEST(GenesisTest, TxLifetimeIsOptionalAndHashedOnlyWhenSet) {
  const Genesis plain = TestGenesis();
  EXPECT_FALSE(plain.txs.enabled());
  EXPECT_EQ(GenesisToJson(plain).find("\"txs\""), std::string::npos);
  Genesis g = plain;
  g.txs = kDefaultTxLifetime;
  Result<Genesis> parsed = ParseGenesis(GenesisToJson(g));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->txs.max_age_ms, 15 * 60'000);
  EXPECT_EQ(parsed->txs.max_future_ms, 5 * 60'000);
  EXPECT_EQ(GenesisHash(*parsed), GenesisHash(g));
  EXPECT_NE(GenesisHash(g), GenesisHash(plain));
  Genesis longer = g;
  longer.txs.max_age_ms += 1;
  EXPECT_NE(GenesisHash(longer), GenesisHash(g));
  // Stored chains' genesis records pin the hash of a genesis without it (here the test genesis's,
  // as the code before "txs" existed computed it): it must not move.
  EXPECT_EQ(HexEncode(GenesisHash(plain)),
            "8ec18596e6ea00c0449d44ee37499592eaa24e543e458c72d4865ee076ec97ef");

  auto with = [](json::value txs) { return Edit([&](auto& o) { o["txs"] = txs; }); };
  ExpectFieldError(with(json::value(5)), "txs");
  ExpectFieldError(with(json::object{{"max_age_ms", 900000}}), "txs.max_future_ms");
  ExpectFieldError(with(json::object{{"max_age_ms", 59999}, {"max_future_ms", 60000}}),
                   "txs.max_age_ms");
  ExpectFieldError(with(json::object{{"max_age_ms", 60000}, {"max_future_ms", 8LL * 86'400'000}}),
                   "txs.max_future_ms");
  ExpectFieldError(
      with(json::object{{"max_age_ms", 60000}, {"max_future_ms", 60000}, {"max_ago", 1}}),
      "txs.max_ago");
}

TEST(GenesisTest, TxLifetimeBoundsAreInclusive) {
  const TxLifetime l{900'000, 300'000};
  const int64_t t = kT0;
  EXPECT_TRUE(l.Allows(t - 900'000, t));
  EXPECT_FALSE(l.Allows(t - 900'001, t));
  EXPECT_TRUE(l.Allows(t + 300'000, t));
  EXPECT_FALSE(l.Allows(t + 300'001, t));
  EXPECT_EQ(l.Horizon(t), t - 1'200'000);
  EXPECT_TRUE(TxLifetime{}.Allows(0, t));  // none: every created_ms
}

TEST(GenesisTest, QuorumFollowsTheValidatorCount) {
  Genesis g = TestGenesis();
  EXPECT_EQ(g.Quorum(), 1u);
  g.validators.resize(4);
  EXPECT_EQ(g.Quorum(), 3u);
  g.validators.resize(7);
  EXPECT_EQ(g.Quorum(), 5u);
}

TEST(GenesisTest, MalformedFilesNameTheField) {
  ExpectFieldError("{not json", "(file)");
  ExpectFieldError("[]", "(root)");
  ExpectFieldError(Edit([](auto& o) { o.erase("chain_id"); }), "chain_id");
  ExpectFieldError(Edit([](auto& o) { o["chain_id"] = "has space"; }), "chain_id");
  ExpectFieldError(Edit([](auto& o) { o["chain_id"] = std::string(65, 'c'); }), "chain_id");
  ExpectFieldError(Edit([](auto& o) { o["version"] = 2; }), "version");
  ExpectFieldError(Edit([](auto& o) { o["genesis_time_ms"] = -5; }), "genesis_time_ms");
  ExpectFieldError(Edit([](auto& o) { o["extra"] = 1; }), "extra");
  ExpectFieldError(Edit([](auto& o) { o["validators"] = json::array(); }), "validators");
  ExpectFieldError(
      Edit([](auto& o) { o["validators"].as_array()[0].as_object()["ed25519_key"] = "AAAA"; }),
      "validators[0].ed25519_key");
  ExpectFieldError(
      Edit([](auto& o) { o["validators"].as_array()[0].as_object()["tls_key_pin"] = "!!"; }),
      "validators[0].tls_key_pin");
  ExpectFieldError(
      Edit([](auto& o) { o["validators"].as_array()[0].as_object()["address"] = "nohost"; }),
      "validators[0].address");
  ExpectFieldError(
      Edit([](auto& o) { o["validators"].as_array()[0].as_object()["address"] = "h:70000"; }),
      "validators[0].address");
  ExpectFieldError(Edit([](auto& o) {
                     auto& a = o["validators"].as_array();
                     json::value second = a[0];
                     second.as_object()["ed25519_key"] = a[0].as_object()["tls_key_pin"];
                     a.push_back(second);
                   }),
                   "validators[1].id");
  ExpectFieldError(Edit([](auto& o) {
                     auto& a = o["validators"].as_array();
                     json::value second = a[0];
                     second.as_object()["id"] = "v1";
                     a.push_back(second);
                   }),
                   "validators[1].ed25519_key");
  ExpectFieldError(Edit([](auto& o) { o["commissions"].as_array()[0].as_object().erase("name"); }),
                   "commissions[0].name");
  ExpectFieldError(
      Edit([](auto& o) { o["commissions"].as_array()[0].as_object()["x25519_key"] = 5; }),
      "commissions[0].x25519_key");
  ExpectFieldError(Edit([](auto& o) { o.erase("consensus"); }), "consensus");
  ExpectFieldError(Edit([](auto& o) { o["consensus"].as_object()["batch_txs_max"] = 0; }),
                   "consensus.batch_txs_max");
  ExpectFieldError(Edit([](auto& o) { o["consensus"].as_object()["window"] = "16"; }),
                   "consensus.window");
  ExpectFieldError(Edit([](auto& o) { o["consensus"].as_object()["typo"] = 1; }), "consensus.typo");
  // The window must hold two checkpoint intervals and move by whole intervals (the replica's rule).
  ExpectFieldError(Edit([](auto& o) {
                     o["consensus"].as_object()["window"] = 16;
                     o["consensus"].as_object()["checkpoint_interval"] = 128;
                   }),
                   "consensus.window");
  ExpectFieldError(Edit([](auto& o) {
                     o["consensus"].as_object()["window"] = 40;
                     o["consensus"].as_object()["checkpoint_interval"] = 16;
                   }),
                   "consensus.window");
}

TEST(GenesisTest, DefaultConsensusParametersSatisfyTheReplica) {
  Genesis g;
  g.chain_id = "hc-test";
  EXPECT_EQ(g.consensus.window % g.consensus.checkpoint_interval, 0u);
  EXPECT_GE(g.consensus.window, 2 * g.consensus.checkpoint_interval);
  EXPECT_LE(g.consensus.window, 256u);
}

TEST(GenesisTest, FoundingCommissionsAreActiveOrgs) {
  KvBatch b = GenesisStateWrites(TestGenesis());
  ASSERT_EQ(b.writes.size(), 2u);
  EXPECT_EQ(b.writes[1].key, keys::kStateFormat);
  EXPECT_EQ(b.writes[1].value, std::to_string(keys::kStateFormatCurrent));
  lpb::OrgState org;
  ASSERT_TRUE(org.ParseFromString(*b.writes[0].value));
  EXPECT_EQ(org.role(), pb::ORG_ROLE_COMMISSION);
  EXPECT_FALSE(org.suspended());
  EXPECT_EQ(org.key(), K("gov"));
}

// The example networks in network-configs/ are documentation of what `hcctl network new` writes:
// their genesis files must load as they are (they had once gone stale unnoticed).
TEST(GenesisTest, TheExampleNetworksGenesisFilesLoad) {
  for (const char* name : {"local-4", "local-7"}) {
    Result<Genesis> g =
        LoadGenesisFile(std::string(HC_SOURCE_DIR) + "/network-configs/" + name + "/genesis.json");
    ASSERT_TRUE(g.ok()) << name << ": " << g.status().ToString();
    EXPECT_EQ(g->txs.max_age_ms, kDefaultTxLifetime.max_age_ms) << name;
    EXPECT_EQ(g->txs.max_future_ms, kDefaultTxLifetime.max_future_ms) << name;
    EXPECT_EQ(g->consensus.window, ConsensusParams{}.window) << name;
  }
}

TEST(GenesisTest, LoadFileReportsMissingFile) {
  Result<Genesis> g = LoadGenesisFile("/nonexistent/genesis.json");
  EXPECT_EQ(g.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace hc::ledger
