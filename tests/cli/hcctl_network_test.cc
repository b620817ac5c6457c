// hcctl network new (and the hc_netgen library behind it): the generated network loads.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/network_gen.h"
#include "crypto/keyfile.h"
#include "crypto/tls.h"
#include "ledger/genesis.h"
#include "node/config.h"
#include "tests/cli/run_process.h"

namespace hc::cli {
namespace {

namespace fs = std::filesystem;
using ::hc::test::ProcessResult;
using ::hc::test::RunProcess;

class HcctlNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "hc-network-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static ProcessResult NetworkNew(std::vector<std::string> args) {
    args.insert(args.begin(), {HCCTL_PATH, "network", "new"});
    return RunProcess(args);
  }
  static unsigned Mode(const fs::path& p) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
  }
  static std::string ReadAll(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string dir_;
};

TEST_F(HcctlNetworkTest, FourValidatorsAndAnObserverLoad) {
  const fs::path out = fs::path(dir_) / "net";
  const ProcessResult r =
      NetworkNew({"--validators", "4", "--observers", "1", "--out", out.string(), "--chain-id",
                  "hc-test-4", "--base-port", "21000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto genesis = ledger::LoadGenesisFile((out / "genesis.json").string());
  ASSERT_TRUE(genesis.ok()) << genesis.status().ToString();
  EXPECT_EQ(genesis->chain_id, "hc-test-4");
  ASSERT_EQ(genesis->validators.size(), 4u);
  ASSERT_EQ(genesis->commissions.size(), 1u);
  EXPECT_EQ(Mode(out / "genesis.json"), 0644u);

  auto commission = crypto::LoadIdentity((out / "commission-0.key.json").string());
  ASSERT_TRUE(commission.ok()) << commission.status().ToString();
  EXPECT_EQ(commission->signing.public_key, genesis->commissions[0].key);

  crypto::TlsPin observer_pin{};
  {
    const fs::path od = out / "observer-0";
    auto c = node::LoadNodeConfig((od / "node.toml").string());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->mode, node::NodeMode::kObserver);
    EXPECT_EQ(c->observer_id, 1000u);
    EXPECT_EQ(c->api_listen.ToString(), "127.0.0.1:22004");
    EXPECT_EQ(Mode(od / "identity.key.json"), 0600u);
    EXPECT_EQ(Mode(od / "tls.key.pem"), 0600u);
    auto tls = crypto::LoadTlsIdentity(c->tls_key_path, c->tls_cert_path);
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    observer_pin = tls->pin();
    EXPECT_EQ(fs::path(c->genesis_path), (out / "genesis.json").lexically_normal());
  }
  for (uint32_t i = 0; i < 4; ++i) {
    const fs::path vd = out / ("validator-" + std::to_string(i));
    auto c = node::LoadNodeConfig((vd / "node.toml").string());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->mode, node::NodeMode::kValidator);
    EXPECT_EQ(c->replica, i);
    EXPECT_EQ(c->data_dir, (vd / "data").lexically_normal().string());
    EXPECT_EQ(c->p2p_listen.ToString(), genesis->validators[i].address);
    EXPECT_EQ(c->p2p_listen.port, 21000 + i);
    EXPECT_EQ(c->api_listen.port, 22000 + i);
    EXPECT_EQ(Mode(vd / "identity.key.json"), 0600u);
    EXPECT_EQ(Mode(vd / "tls.key.pem"), 0600u);
    auto id = crypto::LoadIdentity(c->identity_key_path);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_EQ(id->signing.public_key, genesis->validators[i].key);
    auto tls = crypto::LoadTlsIdentity(c->tls_key_path, c->tls_cert_path);
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    EXPECT_EQ(tls->pin(), genesis->validators[i].tls_key_pin);
    // Validators accept the observer by its pin.
    ASSERT_EQ(c->observers.size(), 1u);
    EXPECT_EQ(c->observers[0].id, 1000u);
    EXPECT_EQ(c->observers[0].tls_pin, Bytes(observer_pin.begin(), observer_pin.end()));
  }
}

TEST_F(HcctlNetworkTest, RefusesToOverwriteUnlessForced) {
  const fs::path out = fs::path(dir_) / "net";
  ASSERT_EQ(NetworkNew({"--validators", "4", "--out", out.string()}).exit_code, 0);
  const std::string genesis_before = ReadAll(out / "genesis.json");

  const ProcessResult again = NetworkNew({"--validators", "4", "--out", out.string()});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already holds a network"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  EXPECT_EQ(ReadAll(out / "genesis.json"), genesis_before);

  // A leftover data directory goes with --force, and a smaller network leaves no stale node.
  fs::create_directories(out / "validator-3" / "data");
  const ProcessResult forced = NetworkNew({"--validators", "1", "--out", out.string(), "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(ReadAll(out / "genesis.json"), genesis_before);
  EXPECT_FALSE(fs::exists(out / "validator-3"));
  EXPECT_TRUE(fs::exists(out / "validator-0" / "node.toml"));
}

TEST_F(HcctlNetworkTest, BadFlagsExitTwo) {
  const std::string out = (fs::path(dir_) / "net").string();
  ProcessResult r = NetworkNew({"--validators", "0", "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  r = NetworkNew({"--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--validators"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(out) / "genesis.json"));
}

TEST(NetworkGenTest, RejectsOverlappingPortRangesBeforeWritingAnything) {
  NetworkSpec spec;
  spec.validators = 4;
  spec.base_p2p_port = 9000;
  spec.base_api_port = 9002;
  const std::string out = ::testing::TempDir() + "hc-netgen-overlap";
  Status s = GenerateNetwork(spec, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("overlaps"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out));
}

TEST(NetworkGenTest, ReportsWhatItGenerated) {
  std::string tmpl = ::testing::TempDir() + "hc-netgen-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  NetworkSpec spec;
  spec.validators = 7;
  spec.observers = 2;
  spec.commissions = 2;
  spec.base_p2p_port = 31000;
  spec.base_api_port = 32000;
  GeneratedNetwork net;
  ASSERT_TRUE(GenerateNetwork(spec, tmpl, &net).ok());
  ASSERT_EQ(net.nodes.size(), 9u);
  EXPECT_EQ(net.commission_key_paths.size(), 2u);
  EXPECT_EQ(net.nodes[7].name, "observer-0");
  EXPECT_EQ(net.nodes[8].api_address, "127.0.0.1:32008");
  for (const GeneratedNode& n : net.nodes) {
    EXPECT_TRUE(node::LoadNodeConfig(n.config_path).ok()) << n.config_path;
  }
  std::error_code ec;
  fs::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace hc::cli
