// hcctl verify provenance as a process: a valid bundle exits 0 with the claim's story, a tampered
// one exits 1 with "invalid: <reason>", garbage or a missing file exits 2.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/encoding.h"
#include "ledger/genesis.h"
#include "ledger/provenance.h"
#include "provenance_fixture.h"
#include "run_process.h"

namespace hc {
namespace {

namespace json = boost::json;
using ledger::testing::ProvenanceChain;

class HcctlProvenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::path(::testing::TempDir()) / ("hcctl-prov-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    chain_.ClaimStory();
    auto b = ledger::BuildClaimProvenanceBundle(chain_.ledger(), "cl1", std::nullopt);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bundle_ = *b;
    genesis_ = Write("genesis.json", ledger::GenesisToJson(chain_.genesis()));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  test::ProcessResult Verify(const std::string& bundle_path) {
    // The chain's certificates carry the simulator's fake signatures.
    return test::RunProcess({HCCTL_PATH, "verify", "provenance", bundle_path, "--genesis", genesis_,
                             "--insecure-fake-signatures"});
  }

  ProvenanceChain chain_;
  std::filesystem::path dir_;
  std::string bundle_;
  std::string genesis_;
};

TEST_F(HcctlProvenanceTest, ValidBundleExitsZeroWithTheStory) {
  const auto r = Verify(Write("ok.json", bundle_));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("claim cl1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("record 'r1'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("consent 'pay'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("adjudicated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verified\n"), std::string::npos) << r.out;
}

TEST_F(HcctlProvenanceTest, TamperedBundleExitsOne) {
  json::value v = json::parse(bundle_);
  auto& entry = v.at("entries").as_array()[2].as_object()["entry"];
  auto bytes = Base64Decode(entry.as_string());
  ASSERT_TRUE(bytes.ok());
  (*bytes)[10] ^= 0x40;
  entry = Base64Encode(*bytes);
  const auto r = Verify(Write("bad.json", json::serialize(v)));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("invalid: ", 0), 0u) << r.out;
}

TEST_F(HcctlProvenanceTest, RealEd25519VerifierRejectsFakeSignatures) {
  const auto r = test::RunProcess(
      {HCCTL_PATH, "verify", "provenance", Write("ok.json", bundle_), "--genesis", genesis_});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("certificate"), std::string::npos) << r.out;
}

TEST_F(HcctlProvenanceTest, GarbageExitsTwo) {
  EXPECT_EQ(Verify(Write("garbage.json", "\x01\x02 not json")).exit_code, 2);
  EXPECT_EQ(Verify((dir_ / "missing.json").string()).exit_code, 2);
  const auto r = test::RunProcess({HCCTL_PATH, "verify", "provenance", Write("ok.json", bundle_),
                                   "--genesis", Write("g.json", "{}")});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

}  // namespace
}  // namespace hc
