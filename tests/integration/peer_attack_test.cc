// A peer presenting an unpinned certificate is refused; garbage, bytes that are not TLS,
// frames from another network and oversize frames do not crash a node (issue 5).
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "node/transport.h"
#include "node/wire_codec.h"
#include "tests/integration/network_fixture.h"

namespace hc::integration {
namespace {

// A transport of our own that dials node 0 with the given TLS identity.
class Rogue {
 public:
  Rogue(uint32_t self_id, const std::string& key, const std::string& cert, const TestNode& target,
        const crypto::TlsPin& target_pin, uint32_t frame_bytes_max) {
    node::TransportConfig tc;
    tc.self_id = self_id;
    tc.tls_key_path = key;
    tc.tls_cert_path = cert;
    tc.peers.push_back(
        {target.id, "127.0.0.1:" + std::to_string(target.p2p_port), target_pin, true});
    tc.frame_bytes_max = frame_bytes_max;
    tc.queue_bytes_max = 4ull * frame_bytes_max;
    tc.reconnect_initial_ms = 50;
    tc.reconnect_max_ms = 200;
    node::TransportCallbacks cb;
    cb.on_frame = [](uint32_t, Bytes) {};
    cb.on_peer_state = [this](uint32_t, bool up) { up_ = up; };
    auto t = node::PeerTransport::Create(io_, std::move(tc), std::move(cb));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return;
    transport_ = std::move(t).value();
    EXPECT_TRUE(transport_->Start().ok());
    thread_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }
  ~Rogue() {
    if (transport_) transport_->Stop();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    transport_.reset();
  }
  bool up() const { return up_; }
  bool Send(uint32_t peer, Bytes frame) {
    return transport_->Send(peer, std::make_shared<const Bytes>(std::move(frame)), true);
  }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<node::PeerTransport> transport_;
  std::thread thread_;
  std::atomic<bool> up_{false};
};

TEST_F(NetworkTest, BadPeersDoNotHurtANode) {
  // Small blocks so that the node's frame cap is small (a few MiB) and an oversize frame cheap.
  ledger::ConsensusParams params = TestConsensusParams();
  params.batch_txs_max = 100;
  params.batch_bytes_max = 128 << 10;
  params.window = 16;
  MakeNetwork(4, 0, params);
  net_.nodes[0].config.limits.peer_frame_bytes_max = 1 << 20;
  net_.SaveConfig(0);
  StartAll();
  ASSERT_TRUE(WaitAllUp(Ms(10'000)));
  const TestNode& target = net_.nodes[0];
  const crypto::TlsPin pin0 = net_.genesis.validators[0].tls_key_pin;

  // 1. A certificate no genesis entry pins.
  {
    auto tls = crypto::GenerateTlsIdentity("intruder");
    ASSERT_TRUE(tls.ok());
    const std::string key = net_.dir + "/intruder.key.pem", cert = net_.dir + "/intruder.crt.pem";
    ASSERT_TRUE(crypto::SaveTlsIdentity(tls.value(), key, cert).ok());
    Rogue intruder(77, key, cert, target, pin0, 1 << 20);
    ASSERT_TRUE(WaitUntil(
        [&] {
          return MetricValue(
                     Http(Api(0), "GET", "/metrics").body,
                     "hc_transport_connections_refused_total{reason=\"unknown_peer_cert\"}") >= 1;
        },
        Ms(10'000)));
  }
  // 2. Bytes that are not TLS at all.
  {
    auto raw = api::testing::RawClient::Connect(target.p2p_port);
    ASSERT_TRUE(raw);
    raw->Send(std::string(5000, '\x16') + "GET / HTTP/1.1\r\n\r\n");
    EXPECT_TRUE(raw->WaitClosed(Ms(10'000)));
  }
  // 3. Validator 3's own key (its process is gone): undecodable frames, a Hello from another
  //    network, then a frame above the node's cap.
  Kill(3);
  {
    const TestNode& v3 = net_.nodes[3];
    Rogue imp(3, v3.dir + "/tls.key.pem", v3.dir + "/tls.crt.pem", target, pin0, 64 << 20);
    ASSERT_TRUE(WaitUntil([&] { return imp.up(); }, Ms(10'000)));
    // An undecodable frame closes the connection (wire.md W6); the impostor redials.
    ASSERT_TRUE(imp.Send(0, Bytes(100, 0xff)));
    ASSERT_TRUE(WaitUntil(
        [&] {
          const std::string metrics = Http(Api(0), "GET", "/metrics").body;
          return MetricValue(metrics, "hc_node_frames_dropped_total{reason=\"undecodable\"}") >=
                     1 &&
                 MetricValue(metrics,
                             "hc_transport_connections_refused_total{reason=\"refused_frame\"}") >=
                     1;
        },
        Ms(10'000)));
    ASSERT_TRUE(WaitUntil([&] { return imp.up(); }, Ms(15'000)));  // reconnected with backoff
    node::HelloMsg hello;
    hello.chain_id = "another-chain";
    hello.replica = 3;
    hello.protocol_version = node::kProtocolVersion;
    ASSERT_TRUE(imp.Send(0, node::EncodePeerMessage(hello)));
    ASSERT_TRUE(WaitUntil(
        [&] { return procs_[0]->Log().find("another network") != std::string::npos; }, Ms(10'000)));
    ASSERT_TRUE(WaitUntil([&] { return imp.up(); }, Ms(15'000)));  // disconnected, then redialed
    ASSERT_TRUE(imp.Send(0, Bytes(48u << 20, 0x42)));
    ASSERT_TRUE(WaitUntil(
        [&] {
          return MetricValue(Http(Api(0), "GET", "/metrics").body,
                             "hc_transport_connections_refused_total{reason=\"oversize_frame\"}") >=
                 1;
        },
        Ms(15'000)));
  }
  // Node 0 is alive and, with validators 0..2, still commits.
  TxMaker txs(net_);
  HttpResult r = SubmitTx(Api(0), txs.Next(), true);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(procs_[0]->running());
  EXPECT_FALSE(procs_[0]->Wait(Ms(10)).has_value());
}

}  // namespace
}  // namespace hc::integration
