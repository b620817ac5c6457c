// End-to-end tests of the node daemon: real `healthchain` processes on 127.0.0.1 (issue 5).
// Each test bounds its own time (every wait has a deadline) and kills its processes on exit.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "ledger/mem_store.h"
#include "ledger/rocks_store.h"
#include "ledger/verify_chain.h"
#include "node/backup.h"
#include "tests/integration/network_fixture.h"

namespace hc::integration {
namespace {

// 4 validators come up, commit, and agree on the head hash; a tx submitted to any node is
// committed (?wait=commit answers with its receipt, height and commit certificate).
TEST_F(NetworkTest, FourValidatorsCommitAndAgree) {
  MakeNetwork(4, 0);
  StartAll();
  // Everyone's API is up.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (size_t i = 0; i < 4; ++i) {
          if (!StatusOf(i)) return false;
        }
        return true;
      },
      Ms(10'000)));
  TxMaker txs(net_);
  std::set<std::string> committed;
  for (size_t i = 0; i < 4; ++i) {
    const std::string tx = txs.Next();
    HttpResult r = SubmitTx(Api(i), tx, /*wait_commit=*/true);
    ASSERT_EQ(r.status, 200) << "node " << i << ": " << r.body;
    const auto& o = r.json.as_object();
    EXPECT_EQ(o.at("tx_id").as_string(), TxMaker::IdOf(tx));
    EXPECT_EQ(o.at("receipt").at("status").as_string(), "OK") << r.body;
    EXPECT_GE(o.at("height").to_number<uint64_t>(), 1u);
    const auto& cert = o.at("certificate").as_object();
    EXPECT_EQ(cert.at("height"), o.at("height"));
    EXPECT_EQ(cert.at("block_hash"), o.at("block_hash"));
    EXPECT_GE(cert.at("signatures").as_array().size(), 3u);  // 2f+1 with f = 1
    committed.insert(TxMaker::IdOf(tx));
  }
  // Without waiting: 202 pending, then committed.
  const std::string tx = txs.Next();
  HttpResult r = SubmitTx(Api(2), tx, false);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json.at("status").as_string(), "pending");
  ASSERT_TRUE(WaitUntil(
      [&] {
        HttpResult g = Http(Api(1), "GET", "/v1/tx/" + TxMaker::IdOf(tx));
        return g.status == 200 && g.json.at("status").as_string() == "committed";
      },
      Ms(10'000)));
  committed.insert(TxMaker::IdOf(tx));

  // A duplicate is refused with 409; garbage with 400 invalid_tx; unknown ids are 404.
  HttpResult dup = SubmitTx(Api(0), tx, false);
  EXPECT_EQ(dup.status, 409) << dup.body;
  HttpResult bad = SubmitTx(Api(0), "garbage", false);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.json.at("code").as_string(), "invalid_tx");
  HttpResult json_tx =
      Http(Api(3), "POST", "/v1/tx", "{\"tx\": \"" + Base64Encode(AsBytes(txs.Next())) + "\"}",
           "application/json");
  EXPECT_EQ(json_tx.status, 202) << json_tx.body;
  HttpResult unknown = Http(Api(0), "GET", "/v1/tx/" + std::string(64, 'a'));
  EXPECT_EQ(unknown.status, 404);

  // Agreement: every validator ends at the same height and head hash, and has every tx.
  uint64_t height = 0;
  ASSERT_TRUE(WaitAgree(Validators(), Ms(15'000), &height));
  for (size_t i = 0; i < 4; ++i) {
    for (const std::string& id : committed) {
      HttpResult g = Http(Api(i), "GET", "/v1/tx/" + id);
      EXPECT_EQ(g.status, 200) << "node " << i << " tx " << id;
      EXPECT_EQ(g.json.at("status").as_string(), "committed");
    }
  }
  auto st = StatusOf(0);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->at("mode").as_string(), "validator");
  EXPECT_EQ(st->at("peers").as_array().size(), 3u);
  HttpResult metrics = Http(Api(0), "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("hc_node_height"), std::string::npos);
  EXPECT_NE(metrics.body.find("hc_consensus_dropped_total"), std::string::npos);
  // The database's sizes: the blocks above are in its write-ahead log at least.
  EXPECT_GT(MetricValue(metrics.body, "hc_node_db_table_bytes") +
                MetricValue(metrics.body, "hc_node_db_log_bytes"),
            0)
      << "no database size on /metrics";

  // Graceful shutdown on SIGTERM.
  for (size_t i = 0; i < 4; ++i) Kill(i, SIGTERM);
  for (size_t i = 0; i < 4; ++i) {
    auto rc = procs_[i]->Wait(Ms(10'000));
    ASSERT_TRUE(rc.has_value()) << "node " << i << " did not stop on SIGTERM";
    EXPECT_EQ(*rc, 0) << procs_[i]->Log();
  }
}

// kill -9 the primary under load: a new view is installed and txs keep committing; restart it:
// it catches up and agrees on the head hash; no tx acknowledged as committed is missing anywhere.
TEST_F(NetworkTest, PrimaryCrashViewChangeAndRecovery) {
  MakeNetwork(4, 0);
  StartAll();
  ASSERT_TRUE(WaitAllUp(Ms(10'000)));
  auto st = StatusOf(1);
  ASSERT_TRUE(st);
  ASSERT_EQ(st->at("primary").to_number<uint64_t>(), 0u);
  Load load(net_, {Api(1), Api(2), Api(3)}, 6);
  ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= 30; }, Ms(15'000)));
  Kill(0);  // the primary of view 0
  const size_t acked_at_kill = load.acked_count();
  // A new view with another primary, installed on the survivors, and progress in it.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (size_t i : {1, 2, 3}) {
          auto s = StatusOf(i);
          if (!s || s->at("view").to_number<uint64_t>() == 0 || !s->at("view_active").as_bool()) {
            return false;
          }
        }
        return true;
      },
      Ms(15'000)));
  ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= acked_at_kill + 30; }, Ms(15'000)))
      << "no progress after the view change";
  // Restart the old primary with its data directory: it catches up while the load goes on.
  StartNode(0);
  ASSERT_TRUE(WaitUntil([&] { return StatusOf(0).has_value(); }, Ms(10'000)));
  const size_t acked_at_restart = load.acked_count();
  ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= acked_at_restart + 20; }, Ms(15'000)));
  load.Stop();
  uint64_t height = 0;
  ASSERT_TRUE(WaitAgree(Validators(), Ms(20'000), &height));
  const auto missing = FirstMissing(Validators(), load.acked());
  EXPECT_FALSE(missing.has_value()) << *missing;
}

// kill -9 a backup mid-run and restart it with its data directory; then restart another with an
// empty data directory: both catch up by state transfer and agree.
TEST_F(NetworkTest, BackupCrashRestartAndEmptyDiskRejoin) {
  MakeNetwork(4, 0);
  StartAll();
  ASSERT_TRUE(WaitAllUp(Ms(10'000)));
  {
    Load load(net_, {Api(0), Api(1), Api(2)}, 4);
    ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= 20; }, Ms(15'000)));
    Kill(3);
    const size_t at_kill = load.acked_count();
    ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= at_kill + 40; }, Ms(15'000)));
    StartNode(3);
    ASSERT_TRUE(WaitUntil([&] { return StatusOf(3).has_value(); }, Ms(10'000)));
    const size_t at_restart = load.acked_count();
    ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= at_restart + 20; }, Ms(15'000)));
    load.Stop();
    ASSERT_TRUE(WaitAgree(Validators(), Ms(20'000)));
    const auto missing = FirstMissing(Validators(), load.acked());
    EXPECT_FALSE(missing.has_value()) << *missing;
  }
  // Lose a disk: node 2 restarts from nothing and rejoins from its peers' certified blocks.
  Kill(2);
  std::filesystem::remove_all(net_.nodes[2].dir + "/data");
  {
    Load load(net_, {Api(0), Api(1), Api(3)}, 4);
    ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= 20; }, Ms(15'000)));
    StartNode(2);
    ASSERT_TRUE(WaitUntil([&] { return StatusOf(2).has_value(); }, Ms(10'000)));
    const size_t at_restart = load.acked_count();
    ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= at_restart + 20; }, Ms(15'000)));
    load.Stop();
    ASSERT_TRUE(WaitAgree(Validators(), Ms(20'000)));
    const auto missing = FirstMissing({2}, load.acked());
    EXPECT_FALSE(missing.has_value()) << *missing;
  }
  EXPECT_NE(procs_[2]->Log().find("state transfer"), std::string::npos);
}

// An observer follows the validators by state transfer and serves the same blocks.
TEST_F(NetworkTest, ObserverFollowsAndServesTheSameBlocks) {
  MakeNetwork(4, 1);
  StartAll();
  ASSERT_TRUE(WaitAllUp(Ms(10'000)));
  TxMaker txs(net_);
  std::vector<std::string> ids;
  for (int k = 0; k < 5; ++k) {
    const std::string tx = txs.Next();
    HttpResult r = SubmitTx(Api(k % 4), tx, true);
    ASSERT_EQ(r.status, 200) << r.body;
    ids.push_back(TxMaker::IdOf(tx));
  }
  std::vector<size_t> all = Validators();
  all.push_back(4);
  ASSERT_TRUE(WaitAgree(all, Ms(20'000)));
  for (const std::string& id : ids) {
    HttpResult v = Http(Api(0), "GET", "/v1/tx/" + id);
    HttpResult o = Http(Api(4), "GET", "/v1/tx/" + id);
    ASSERT_EQ(o.status, 200) << o.body;
    EXPECT_EQ(o.json.at("block_hash"), v.json.at("block_hash"));
    EXPECT_EQ(o.json.at("height"), v.json.at("height"));
    EXPECT_EQ(o.json.at("receipt"), v.json.at("receipt"));
  }
  auto st = StatusOf(4);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->at("mode").as_string(), "observer");
  // Observers take no transactions.
  EXPECT_EQ(SubmitTx(Api(4), txs.Next(), false).status, 503);
}

// Online backups (SIGUSR1): written while the chain commits, checked, pruned to [backup] keep,
// and verifiable offline; a node restored from one catches up from the backup's height; a backup
// that cannot be written is logged and counted, and the node keeps committing.
TEST_F(NetworkTest, OnlineBackupsAreCheckedPrunedAndRestoreANode) {
  MakeNetwork(4, 1);
  const size_t obs = 4;
  net_.nodes[obs].config.backup.keep = 2;
  net_.SaveConfig(obs);
  StartAll();
  ASSERT_TRUE(WaitAllUp(Ms(10'000)));
  const std::string obs_backups = net_.nodes[obs].dir + "/data/backups";
  auto backups_ok = [&](size_t i) {
    return MetricValue(Http(Api(i), "GET", "/metrics").body,
                       "hc_node_backups_total{result=\"ok\"}");
  };
  std::set<std::string> acked;
  {
    Load load(net_, {Api(0), Api(1), Api(2), Api(3)}, 4);
    ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= 30; }, Ms(15'000)));
    for (int k = 1; k <= 3; ++k) {
      Kill(obs, SIGUSR1);
      ASSERT_TRUE(WaitUntil([&] { return backups_ok(obs) >= k; }, Ms(20'000))) << k;
      const size_t at = load.acked_count();
      ASSERT_TRUE(WaitUntil([&] { return load.acked_count() >= at + 10; }, Ms(15'000)));
    }
    Kill(0, SIGUSR1);
    ASSERT_TRUE(WaitUntil([&] { return backups_ok(0) >= 1; }, Ms(20'000)));
    load.Stop();
    acked = load.acked();
  }
  const std::vector<std::string> kept = node::ListBackups(obs_backups);
  ASSERT_EQ(kept.size(), 2u) << "keep = 2 after three backups";
  EXPECT_NE(procs_[obs]->Log().find("backup: removed"), std::string::npos);
  EXPECT_EQ(node::ListBackups(net_.nodes[0].dir + "/data/backups").size(), 1u);

  // The newest backup re-verifies offline (every block, certificate and receipt) and holds the
  // height its name says.
  const std::string newest = obs_backups + "/" + kept.back();
  auto verifier = crypto::MakeEd25519Verifier();
  uint64_t backup_height = 0;
  {
    ledger::RocksOptions ro;
    ro.create_if_missing = false;
    auto store = ledger::RocksKvStore::Open(newest + "/db", ro);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto report = ledger::VerifyChain(**store, net_.genesis, *verifier,
                                      std::make_unique<ledger::MemKvStore>());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->fault, "");
    backup_height = report->height;
    ASSERT_GT(backup_height, 0u);
    char name_prefix[16];
    std::snprintf(name_prefix, sizeof(name_prefix), "h%012llu",
                  static_cast<unsigned long long>(backup_height));
    EXPECT_EQ(kept.back().substr(0, 13), name_prefix);
  }

  // Restore the observer from it: it resumes at the backup's height and catches up.
  Kill(obs, SIGTERM);
  ASSERT_TRUE(procs_[obs]->Wait(Ms(15'000)).has_value());
  const std::string db = net_.nodes[obs].dir + "/data/db";
  std::filesystem::remove_all(db);
  std::filesystem::copy(newest + "/db", db, std::filesystem::copy_options::recursive);
  TxMaker txs(net_);
  for (int k = 0; k < 5; ++k) {
    const std::string tx = txs.Next();
    ASSERT_EQ(SubmitTx(Api(k % 4), tx, true).status, 200);
    acked.insert(TxMaker::IdOf(tx));
  }
  StartNode(obs);
  std::vector<size_t> all = Validators();
  all.push_back(obs);
  ASSERT_TRUE(WaitAgree(all, Ms(30'000)));
  const auto missing = FirstMissing({obs}, acked);
  EXPECT_FALSE(missing.has_value()) << *missing;
  EXPECT_NE(procs_[obs]->Log().find("from ledger height " + std::to_string(backup_height)),
            std::string::npos)
      << "the restored observer resumes at the backup's height";

  // A backup that cannot be written (its directory is a file): logged and counted; node 0 keeps
  // committing.
  const std::string v0_backups = net_.nodes[0].dir + "/data/backups";
  std::filesystem::remove_all(v0_backups);
  std::ofstream(v0_backups) << "not a directory";
  Kill(0, SIGUSR1);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return MetricValue(Http(Api(0), "GET", "/metrics").body,
                           "hc_node_backups_total{result=\"failed\"}") >= 1;
      },
      Ms(20'000)));
  EXPECT_NE(procs_[0]->Log().find("backup: failed"), std::string::npos);
  EXPECT_EQ(SubmitTx(Api(0), txs.Next(), true).status, 200);
  EXPECT_EQ(backups_ok(0), 1);
}

// Bad configuration is refused at start with exit code 2, naming the file and the key.
TEST_F(NetworkTest, BadConfigExitsWithTwo) {
  MakeNetwork(4, 0);
  const std::string bad = net_.nodes[0].dir + "/bad.toml";
  {
    std::ifstream in(net_.nodes[0].config_path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    // Replace the value of [api] listen (the first "listen = " after "[api]").
    const size_t api = text.find("[api]");
    ASSERT_NE(api, std::string::npos);
    const size_t key = text.find("listen = ", api);
    const size_t eol = text.find('\n', key);
    ASSERT_NE(key, std::string::npos);
    text.replace(key, eol - key, "listen = 'not-an-address'");
    std::ofstream(bad) << text;
  }
  NodeProcess p;
  ASSERT_TRUE(p.Start(HC_HEALTHCHAIN_PATH, bad, net_.nodes[0].dir + "/bad.log"));
  auto rc = p.Wait(Ms(10'000));
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 2);
  const std::string log = p.Log();
  EXPECT_NE(log.find("bad.toml"), std::string::npos) << log;
  EXPECT_NE(log.find("listen"), std::string::npos) << log;

  // A missing file.
  NodeProcess q;
  ASSERT_TRUE(q.Start(HC_HEALTHCHAIN_PATH, net_.nodes[0].dir + "/nope.toml",
                      net_.nodes[0].dir + "/nope.log"));
  rc = q.Wait(Ms(10'000));
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 2);
  EXPECT_NE(q.Log().find("nope.toml"), std::string::npos) << q.Log();

  // A validator whose identity key is not its genesis key: node 0 with node 1's key.
  net_.nodes[0].config.identity_key_path = "../validator-1/identity.key.json";
  net_.SaveConfig(0);
  NodeProcess k;
  ASSERT_TRUE(
      k.Start(HC_HEALTHCHAIN_PATH, net_.nodes[0].config_path, net_.nodes[0].dir + "/key.log"));
  rc = k.Wait(Ms(10'000));
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 2);
  EXPECT_NE(k.Log().find("identity.key.json"), std::string::npos) << k.Log();
}

}  // namespace
}  // namespace hc::integration

namespace hc::integration {
namespace {

// A rough throughput probe (not run by ctest: DISABLED_). 16 clients post pre-signed txs over
// keep-alive connections to the 4 validators for 10 s; prints committed tx/s.
TEST_F(NetworkTest, DISABLED_ThroughputProbe) {
  ledger::ConsensusParams params = TestConsensusParams();
  if (const char* w = std::getenv("HC_PROBE_WINDOW")) params.window = std::atoi(w);
  if (const char* c = std::getenv("HC_PROBE_CHECKPOINT")) params.checkpoint_interval = std::atoi(c);
  MakeNetwork(4, 0, params);
  for (size_t i = 0; i < 4; ++i) {
    net_.nodes[i].config.log_level = "warn";
    net_.SaveConfig(i);
  }
  StartAll();
  ASSERT_TRUE(WaitAllUp(Ms(10'000)));
  constexpr int kClients = 16;
  constexpr int kPerClient = 6000;
  std::vector<std::vector<std::string>> txs(kClients);
  {
    TxMaker maker(net_);
    for (auto& v : txs) {
      for (int k = 0; k < kPerClient; ++k) v.push_back(maker.Next());
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> accepted{0}, refused{0};
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = api::testing::RawClient::Connect(Api(c % 4));
      for (const std::string& tx : txs[c]) {
        if (stop) break;
        if (!client || !client->Send(api::testing::MakeRequest(
                           "POST", "/v1/tx", tx, {{"Content-Type", "application/x-protobuf"}}))) {
          client = api::testing::RawClient::Connect(Api(c % 4));
          continue;
        }
        auto r = client->ReadResponse(Ms(10'000));
        if (r && r->result_int() == 202) {
          ++accepted;
        } else {
          ++refused;
          if (!r) client = api::testing::RawClient::Connect(Api(c % 4));
        }
      }
    });
  }
  std::this_thread::sleep_for(Ms(10'000));
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(Ms(3000));
  HttpResult m = Http(Api(1), "GET", "/metrics");
  const size_t at = m.body.find("\nhc_node_txs_committed_total ");
  const double committed = at == std::string::npos ? 0 : std::stod(m.body.substr(at + 29));
  std::cout << "accepted " << accepted << " refused " << refused << " in " << secs
            << " s; committed " << committed << " (" << committed / secs << " tx/s)\n"
            << m.body.substr(m.body.find("hc_node_commit_latency_seconds_bucket"), 1200) << "\n";
  for (size_t i = 0; i < 4; ++i) {
    HttpResult mi = Http(Api(i), "GET", "/metrics");
    std::istringstream lines(mi.body);
    for (std::string line; std::getline(lines, line);) {
      if (line[0] != '#' &&
          (line.find("dropped") != std::string::npos || line.find("mempool") != std::string::npos ||
           line.find("censorship") != std::string::npos) &&
          line.substr(line.rfind(' ') + 1) != "0") {
        std::cout << "node " << i << ": " << line << "\n";
      }
    }
  }
}

}  // namespace
}  // namespace hc::integration
