#include "node/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace hc::node {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("hc-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& text) {
    std::string path = (dir_ / "node.toml").string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

constexpr const char* kValid = R"(
[node]
name = "validator-0"
mode = "validator"
replica = 0
data_dir = "data"
genesis = "../genesis.json"

[keys]
identity = "identity.key.json"
tls_cert = "tls.crt.pem"
tls_key = "tls.key.pem"

[p2p]
listen = "127.0.0.1:7000"

[[p2p.observers]]
id = 1000
name = "observer-0"
tls_pin = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

[api]
listen = "127.0.0.1:8000"

[limits]
mempool_txs_max = 5000
)";

TEST_F(ConfigTest, LoadsAValidFileAndResolvesRelativePaths) {
  auto c = LoadNodeConfig(Write(kValid));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "validator-0");
  EXPECT_EQ(c->mode, NodeMode::kValidator);
  EXPECT_EQ(c->replica, 0u);
  EXPECT_EQ(c->data_dir, (dir_ / "data").string());
  EXPECT_EQ(c->genesis_path, (dir_.parent_path() / "genesis.json").string());
  EXPECT_EQ(c->p2p_listen.port, 7000);
  EXPECT_EQ(c->api_listen.ToString(), "127.0.0.1:8000");
  ASSERT_EQ(c->observers.size(), 1u);
  EXPECT_EQ(c->observers[0].id, 1000u);
  EXPECT_EQ(c->observers[0].tls_pin.size(), 32u);
  EXPECT_EQ(c->limits.mempool_txs_max, 5000u);
  EXPECT_EQ(c->limits.verify_threads, NodeLimits{}.verify_threads);
  // No [backup]: backups go to <data_dir>/backups, three kept.
  EXPECT_EQ(c->BackupDir(), (dir_ / "data" / "backups").string());
  EXPECT_EQ(c->backup.keep, 3u);
}

TEST_F(ConfigTest, BackupSectionResolvesItsDirectory) {
  std::string text = kValid;
  text.replace(text.find("[limits]"), 8, "[backup]\ndir = \"../vault\"\nkeep = 7\n[limits]");
  auto c = LoadNodeConfig(Write(text));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->BackupDir(), (dir_.parent_path() / "vault").string());
  EXPECT_EQ(c->backup.keep, 7u);
  auto again = LoadNodeConfig(Write(EncodeNodeConfig(*c)));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->BackupDir(), c->BackupDir());
  EXPECT_EQ(again->backup.keep, 7u);
}

TEST_F(ConfigTest, StorageSectionSizesTheDatabase) {
  auto d = LoadNodeConfig(Write(kValid));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->storage.cache_mb, StorageConfig{}.cache_mb);
  EXPECT_EQ(d->storage.wal_mb, StorageConfig{}.wal_mb);
  EXPECT_FALSE(d->storage.zstd_bottom);
  EXPECT_TRUE(d->storage.low_priority_compaction);
  std::string text = kValid;
  text.replace(text.find("[limits]"), 8,
               "[storage]\ncache_mb = 1024\nwal_mb = 64\nbottom_compression = \"zstd\"\n"
               "compaction_priority = \"normal\"\n[limits]");
  auto c = LoadNodeConfig(Write(text));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->storage.cache_mb, 1024u);
  EXPECT_EQ(c->storage.wal_mb, 64u);
  EXPECT_TRUE(c->storage.zstd_bottom);
  EXPECT_FALSE(c->storage.low_priority_compaction);
  auto again = LoadNodeConfig(Write(EncodeNodeConfig(*c)));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->storage.cache_mb, 1024u);
  EXPECT_EQ(again->storage.wal_mb, 64u);
  EXPECT_TRUE(again->storage.zstd_bottom);
  EXPECT_FALSE(again->storage.low_priority_compaction);
}

TEST_F(ConfigTest, EncodedConfigLoadsBack) {
  auto c = LoadNodeConfig(Write(kValid));
  ASSERT_TRUE(c.ok());
  auto again = LoadNodeConfig(Write(EncodeNodeConfig(*c)));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->data_dir, c->data_dir);
  EXPECT_EQ(again->observers[0].tls_pin, c->observers[0].tls_pin);
  EXPECT_EQ(again->limits.mempool_txs_max, 5000u);
}

struct BadCase {
  std::string from;
  std::string to;
  std::string expected_message;
};

TEST_F(ConfigTest, RefusesBadFilesNamingFileKeyAndReason) {
  const BadCase cases[] = {
      {"listen = \"127.0.0.1:7000\"", "listen = \"7000\"", "p2p.listen: expected host:port"},
      {"listen = \"127.0.0.1:8000\"", "listen = \"127.0.0.1:99999\"", "api.listen: bad port"},
      {"replica = 0", "replica = \"zero\"", "node.replica: expected an integer"},
      {"replica = 0", "", "node.replica: missing"},
      {"mode = \"validator\"", "mode = \"leader\"", "node.mode: expected"},
      {"mempool_txs_max = 5000", "mempool_txs_max = 0", "limits.mempool_txs_max: must be in"},
      {"tls_pin = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"", "tls_pin = \"AAAA\"",
       "p2p.observers[0].tls_pin"},
      {"identity = \"identity.key.json\"", "", "keys.identity: missing"},
      {"[api]", "[api", ":"},  // a TOML syntax error carries line and column
      // An incomplete [api.tls] section.
      {"[limits]", "[api.tls]\ncert_chain = \"api.chain.pem\"\n[limits]", "api.tls.key: missing"},
      {"[limits]", "[api.tls]\nkey = \"api.key.pem\"\n[limits]", "api.tls.cert_chain: missing"},
      {"[limits]", "[api.tls]\ncert_chain = \"\"\nkey = \"k.pem\"\n[limits]",
       "api.tls.cert_chain: must not be empty"},
      {"listen = \"127.0.0.1:8000\"", "listen = \"127.0.0.1:8000\"\ntls = \"yes\"",
       "api.tls: expected a table"},
      {"[limits]", "[backup]\nkeep = 0\n[limits]", "backup.keep: must be in [1, 1000]"},
      {"[limits]", "[backup]\ndir = 5\n[limits]", "backup.dir: expected a string"},
      {"[limits]", "[storage]\ncache_mb = 1\n[limits]", "storage.cache_mb: must be in"},
      // Keys nothing reads: a typo, a section misnamed, a key of the other mode.
      {"mempool_txs_max = 5000", "mempool_txs_max = 5000\nmempool_tx_max = 1",
       "limits.mempool_tx_max: unknown key"},
      {"[limits]", "[storge]\ncache_mb = 64\n[limits]", "storge.cache_mb: unknown key"},
      {"name = \"observer-0\"", "name = \"observer-0\"\nport = 7001",
       "p2p.observers[].port: unknown key"},
      {"replica = 0", "replica = 0\nobserver_id = 1000", "node.observer_id: unknown key"},
      {"[limits]", "[storage]\nwal_mb = \"big\"\n[limits]", "storage.wal_mb: expected an integer"},
      {"[limits]", "[storage]\nbottom_compression = \"snappy\"\n[limits]",
       "storage.bottom_compression: expected \"lz4\" or \"zstd\", got \"snappy\""},
      {"[limits]", "[storage]\ncompaction_priority = \"idle\"\n[limits]",
       "storage.compaction_priority: expected \"low\" or \"normal\", got \"idle\""},
  };
  for (const auto& bad : cases) {
    std::string text = kValid;
    size_t at = text.find(bad.from);
    ASSERT_NE(at, std::string::npos) << bad.from;
    text.replace(at, bad.from.size(), bad.to);
    std::string path = Write(text);
    auto c = LoadNodeConfig(path);
    ASSERT_FALSE(c.ok()) << bad.to;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(path), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find(bad.expected_message), std::string::npos)
        << c.status().message();
  }
}

TEST_F(ConfigTest, ApiTlsIsOptionalAndResolvesItsPaths) {
  auto plain = LoadNodeConfig(Write(kValid));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->api_tls.has_value());

  std::string text = kValid;
  text.replace(text.find("[limits]"), 8,
               "[api.tls]\ncert_chain = \"api.chain.pem\"\nkey = \"/etc/hc/api.key.pem\"\n\n"
               "[limits]");
  auto c = LoadNodeConfig(Write(text));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->api_tls.has_value());
  EXPECT_EQ(c->api_tls->cert_chain_path, (dir_ / "api.chain.pem").string());
  EXPECT_EQ(c->api_tls->key_path, "/etc/hc/api.key.pem");
  EXPECT_EQ(c->api_listen.ToString(), "127.0.0.1:8000");

  auto again = LoadNodeConfig(Write(EncodeNodeConfig(*c)));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(again->api_tls.has_value());
  EXPECT_EQ(again->api_tls->cert_chain_path, c->api_tls->cert_chain_path);
  EXPECT_EQ(again->api_tls->key_path, c->api_tls->key_path);
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  auto c = LoadNodeConfig((dir_ / "absent.toml").string());
  EXPECT_FALSE(c.ok());
}

TEST(HostPortTest, ParsesV4V6AndRejectsGarbage) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:80")->port, 80);
  EXPECT_EQ(ParseHostPort("[::1]:8080")->host, "::1");
  EXPECT_EQ(ParseHostPort("[::1]:8080")->ToString(), "[::1]:8080");
  EXPECT_FALSE(ParseHostPort("::1:80").ok());
  EXPECT_FALSE(ParseHostPort(":80").ok());
  EXPECT_FALSE(ParseHostPort("host:").ok());
  EXPECT_FALSE(ParseHostPort("host:8x").ok());
  EXPECT_FALSE(ParseHostPort("[::1]8080").ok());
}

}  // namespace
}  // namespace hc::node
