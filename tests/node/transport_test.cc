// node/transport: real TLS connections on 127.0.0.1 between transports, each on its own io_context
// and IO thread, as separate nodes would be.
#include "node/transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/tls.h"
#include "node/local_ports.h"

namespace hc::node {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr auto kWait = 5s;  // every wait in this file is bounded by this

// Polls `pred` until it holds or `timeout` passes; returns its last value.
template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::steady_clock::duration timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::shared_ptr<const Bytes> Frame(const std::string& text) {
  return std::make_shared<const Bytes>(ToBytes(text));
}

// Peers must know each other's addresses before any transport starts, so tests reserve ports
// up front (node/local_ports.h).
uint16_t FreePort() { return node::ReservePortForProcess(); }

std::string Loopback(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

struct CertFiles {
  std::string key_path;
  std::string cert_path;
  crypto::TlsPin pin{};
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "hc-transport-XXXXXX";
    HC_ASSERT(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

CertFiles MakeCert(const TempDir& dir, const std::string& name) {
  auto id = crypto::GenerateTlsIdentity(name);
  HC_ASSERT(id.ok());
  CertFiles files{dir.path() + "/" + name + ".key", dir.path() + "/" + name + ".crt", id->pin()};
  HC_ASSERT(crypto::SaveTlsIdentity(*id, files.key_path, files.cert_path).ok());
  return files;
}

// A node: an io_context run by one IO thread, a transport on it, and what its callbacks saw.
class TestNode {
 public:
  explicit TestNode(TransportConfig config, bool stop_on_first_frame = false)
      : work_(asio::make_work_guard(io_)) {
    TransportCallbacks callbacks;
    callbacks.on_frame = [this, stop_on_first_frame](uint32_t peer, Bytes payload) {
      {
        const std::lock_guard<std::mutex> lock(mu_);
        frames_.emplace_back(peer, ToString(payload));
        ++callbacks_;
      }
      if (stop_on_first_frame) transport_->Stop();  // Stop from a callback must not deadlock
    };
    callbacks.on_peer_state = [this](uint32_t peer, bool up) {
      const std::lock_guard<std::mutex> lock(mu_);
      up_[peer] = up;
      ++callbacks_;
    };
    auto created = PeerTransport::Create(io_, std::move(config), std::move(callbacks));
    HC_ASSERT_MSG(created.ok(), created.status().ToString());
    transport_ = std::move(created).value();
    thread_ = std::thread([this] { io_.run(); });
  }

  ~TestNode() { Shutdown(); }

  // Stops the transport, lets the IO thread finish what is pending, and joins it.
  void Shutdown() {
    if (!thread_.joinable()) return;
    transport_->Stop();
    work_.reset();
    // Everything pending completes promptly once the sockets and timers are closed; io.stop() is
    // only a backstop so that a bug shows as a failed expectation rather than a hung test.
    const bool drained = WaitUntil([this] { return io_.stopped(); }, kWait);
    EXPECT_TRUE(drained) << "io_context still had work 5 s after Stop";
    io_.stop();
    thread_.join();
  }

  PeerTransport& transport() { return *transport_; }
  const TransportStats& stats() { return transport_->stats(); }

  std::vector<std::pair<uint32_t, std::string>> frames() {
    const std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }
  std::vector<std::string> FramesFrom(uint32_t peer) {
    std::vector<std::string> out;
    for (auto& [from, text] : frames()) {
      if (from == peer) out.push_back(text);
    }
    return out;
  }
  size_t frame_count() {
    const std::lock_guard<std::mutex> lock(mu_);
    return frames_.size();
  }
  uint64_t callback_count() {
    const std::lock_guard<std::mutex> lock(mu_);
    return callbacks_;
  }
  std::optional<bool> up(uint32_t peer) {
    const std::lock_guard<std::mutex> lock(mu_);
    auto it = up_.find(peer);
    return it == up_.end() ? std::nullopt : std::optional<bool>(it->second);
  }
  bool IsUp(uint32_t peer) { return up(peer) == true; }
  std::optional<PeerStatus> Status(uint32_t peer) {
    for (const PeerStatus& s : transport_->PeerStatuses()) {
      if (s.id == peer) return s;
    }
    return std::nullopt;
  }
  bool OutboundUp(uint32_t peer) {
    auto s = Status(peer);
    return s && s->outbound_up;
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<PeerTransport> transport_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::pair<uint32_t, std::string>> frames_;
  std::map<uint32_t, bool> up_;
  uint64_t callbacks_ = 0;
};

// Certificates and ports of a small network; config builders.
class TransportTest : public ::testing::Test {
 protected:
  // Node `id` (1-based) gets certs_[id] and ports_[id].
  void MakeNetwork(uint32_t n) {
    certs_.resize(n + 1);
    ports_.resize(n + 1);
    for (uint32_t id = 1; id <= n; ++id) {
      certs_[id] = MakeCert(dir_, "node" + std::to_string(id));
      ports_[id] = FreePort();
    }
  }

  // A config for `self` that listens on its port and knows every node of the network; peers in
  // `dial_in_only` are listed without an address.
  TransportConfig ConfigFor(uint32_t self, std::set<uint32_t> dial_in_only = {}) {
    TransportConfig c;
    c.self_id = self;
    c.listen_address = Loopback(ports_[self]);
    c.tls_cert_path = certs_[self].cert_path;
    c.tls_key_path = certs_[self].key_path;
    for (uint32_t id = 1; id < certs_.size(); ++id) {
      PeerEndpoint p;
      p.id = id;
      p.pin = certs_[id].pin;
      if (!dial_in_only.contains(id)) p.address = Loopback(ports_[id]);
      c.peers.push_back(p);
    }
    c.reconnect_initial_ms = 20;
    c.reconnect_max_ms = 200;
    c.handshake_timeout_ms = 2000;
    return c;
  }

  std::unique_ptr<TestNode> StartNode(TransportConfig config, bool stop_on_first_frame = false) {
    auto node = std::make_unique<TestNode>(std::move(config), stop_on_first_frame);
    const Status started = node->transport().Start();
    HC_ASSERT_MSG(started.ok(), started.ToString());
    return node;
  }

  TempDir dir_;
  std::vector<CertFiles> certs_;
  std::vector<uint16_t> ports_;
};

// A TLS or plain TCP client driven by hand, to send what a correct node never would. Every
// operation runs the client's own io_context for at most kWait.
class RawClient {
 public:
  // With `identity`, a TLS client presenting that certificate; without, plain TCP.
  explicit RawClient(const crypto::TlsIdentity* identity)
      : ctx_(identity ? crypto::MakeTlsContext(*identity).value().release()
                      : crypto::MakeTlsContext(*FallbackIdentity()).value().release()),
        stream_(io_, ctx_),
        tls_(identity != nullptr) {}

  bool Connect(uint16_t port) {
    ErrorCode ec;
    stream_.lowest_layer().connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), ec);
    if (ec) return false;
    if (!tls_) return true;
    bool done = false;
    stream_.async_handshake(asio::ssl::stream_base::client, [&](const ErrorCode& hs) {
      ec = hs;
      done = true;
    });
    Run([&] { return done; });
    return done && !ec;
  }

  bool Write(ByteView bytes) {
    ErrorCode ec;
    bool done = false;
    auto handler = [&](const ErrorCode& e, size_t) {
      ec = e;
      done = true;
    };
    if (tls_) {
      asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), handler);
    } else {
      asio::async_write(stream_.next_layer(), asio::buffer(bytes.data(), bytes.size()), handler);
    }
    Run([&] { return done; });
    return done && !ec;
  }

  bool WriteFrame(const std::string& payload) {
    Bytes wire;
    const auto header = EncodeFrameLength(static_cast<uint32_t>(payload.size()));
    wire.insert(wire.end(), header.begin(), header.end());
    wire.insert(wire.end(), payload.begin(), payload.end());
    return Write(wire);
  }

  // Reads one frame (TLS only).
  std::optional<std::string> ReadFrame() {
    std::array<uint8_t, kFrameHeaderBytes> header{};
    ErrorCode ec;
    bool done = false;
    asio::async_read(stream_, asio::buffer(header), [&](const ErrorCode& e, size_t) {
      ec = e;
      done = true;
    });
    Run([&] { return done; });
    if (!done || ec) return std::nullopt;
    std::string body(DecodeFrameLength(header), '\0');
    done = false;
    asio::async_read(stream_, asio::buffer(body), [&](const ErrorCode& e, size_t) {
      ec = e;
      done = true;
    });
    Run([&] { return done; });
    if (!done || ec) return std::nullopt;
    return body;
  }

  // True when the other end closes the connection within kWait.
  bool WaitClosed() {
    bool closed = false;
    std::array<uint8_t, 256> buf;
    std::function<void()> read = [&] {
      auto handler = [&](const ErrorCode& e, size_t) {
        if (e) {
          closed = true;
        } else {
          read();
        }
      };
      if (tls_) {
        stream_.async_read_some(asio::buffer(buf), handler);
      } else {
        stream_.next_layer().async_read_some(asio::buffer(buf), handler);
      }
    };
    read();
    Run([&] { return closed; });
    return closed;
  }

 private:
  static const crypto::TlsIdentity* FallbackIdentity() {
    static const crypto::TlsIdentity* id =
        new crypto::TlsIdentity(std::move(crypto::GenerateTlsIdentity("unused")).value());
    return id;
  }

  template <typename Pred>
  void Run(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    io_.restart();
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(20ms);
      io_.restart();
    }
  }

  asio::io_context io_;
  asio::ssl::context ctx_;
  asio::ssl::stream<tcp::socket> stream_;
  bool tls_;
};

// ---- Tests ----

TEST_F(TransportTest, FullMeshOfThreeExchangesFramesBothWays) {
  MakeNetwork(3);
  std::vector<std::unique_ptr<TestNode>> nodes(4);
  for (uint32_t id = 1; id <= 3; ++id) nodes[id] = StartNode(ConfigFor(id));
  for (uint32_t a = 1; a <= 3; ++a) {
    for (uint32_t b = 1; b <= 3; ++b) {
      if (a == b) continue;
      ASSERT_TRUE(WaitUntil([&] { return nodes[a]->IsUp(b) && nodes[a]->OutboundUp(b); }))
          << a << " -> " << b;
    }
  }
  // Each node sends 50 frames to each other node; every frame of one sender arrives in order.
  constexpr int kFrames = 50;
  for (uint32_t a = 1; a <= 3; ++a) {
    for (uint32_t b = 1; b <= 3; ++b) {
      if (a == b) continue;
      for (int k = 0; k < kFrames; ++k) {
        ASSERT_TRUE(nodes[a]->transport().Send(
            b, Frame(std::to_string(a) + "->" + std::to_string(b) + " #" + std::to_string(k)),
            /*essential=*/true));
      }
    }
  }
  for (uint32_t b = 1; b <= 3; ++b) {
    ASSERT_TRUE(WaitUntil([&] { return nodes[b]->frame_count() == 2 * kFrames; }))
        << "node " << b << " got " << nodes[b]->frame_count();
    for (uint32_t a = 1; a <= 3; ++a) {
      if (a == b) continue;
      std::vector<std::string> expected;
      for (int k = 0; k < kFrames; ++k) {
        expected.push_back(std::to_string(a) + "->" + std::to_string(b) + " #" + std::to_string(k));
      }
      EXPECT_EQ(nodes[b]->FramesFrom(a), expected);
    }
  }
  // Broadcast reaches both other nodes.
  EXPECT_EQ(nodes[1]->transport().Broadcast(Frame("hello all"), false), 2u);
  for (uint32_t b : {2u, 3u}) {
    EXPECT_TRUE(WaitUntil([&] { return nodes[b]->frame_count() == 2 * kFrames + 1; }));
    EXPECT_EQ(nodes[b]->FramesFrom(1).back(), "hello all");
  }
  for (uint32_t id = 1; id <= 3; ++id) {
    const TransportStats& s = nodes[id]->stats();
    EXPECT_EQ(s.frames_received.load(), id == 1 ? 2u * kFrames : 2u * kFrames + 1);
    // Counted when the write completes, which may be just after the receiver has the bytes.
    const uint64_t sent = id == 1 ? 2u * kFrames + 2 : 2u * kFrames;
    EXPECT_TRUE(WaitUntil([&] { return s.frames_sent.load() == sent; })) << s.frames_sent.load();
    EXPECT_LE(s.writes.load(), s.frames_sent.load());
    EXPECT_EQ(s.refused_unknown_peer_cert.load() + s.refused_wrong_peer_cert.load() +
                  s.handshake_failed.load(),
              0u);
  }
  for (uint32_t id = 1; id <= 3; ++id) nodes[id]->Shutdown();
}

TEST_F(TransportTest, SendBeforeConnectIsQueuedAndDeliveredInOneWriteAfterConnect) {
  MakeNetwork(2);
  auto a = StartNode(ConfigFor(1));
  // Node 2 is not up yet: the frames wait in node 1's queue.
  for (int k = 0; k < 10; ++k) {
    ASSERT_TRUE(a->transport().Send(2, Frame("early #" + std::to_string(k)), k % 2 == 0));
  }
  EXPECT_EQ(a->Status(2)->queued_frames, 10u);
  EXPECT_FALSE(a->Status(2)->up);
  std::this_thread::sleep_for(100ms);  // a few failed dials with backoff
  EXPECT_GT(a->stats().dial_failures.load(), 0u);

  auto b = StartNode(ConfigFor(2));
  ASSERT_TRUE(WaitUntil([&] { return b->frame_count() == 10; })) << b->frame_count();
  std::vector<std::string> expected;
  for (int k = 0; k < 10; ++k) expected.push_back("early #" + std::to_string(k));
  EXPECT_EQ(b->FramesFrom(1), expected);
  // Coalesced: the ten queued frames left in one write.
  EXPECT_EQ(a->stats().writes.load(), 1u);
  EXPECT_EQ(a->Status(2)->queued_frames, 0u);
  a->Shutdown();
  b->Shutdown();
}

// A peer that was down longer than the non-essential frames' time to live gets the essential ones
// and the fresh ones on reconnect, not a backlog of stale relays.
TEST_F(TransportTest, StaleNonEssentialFramesAreDroppedNotSent) {
  MakeNetwork(2);
  TransportConfig c1 = ConfigFor(1);
  c1.nonessential_ttl_ms = 200;
  auto a = StartNode(std::move(c1));
  PeerTransport& t = a->transport();
  ASSERT_TRUE(t.Send(2, Frame("old relay"), false));
  ASSERT_TRUE(t.Send(2, Frame("old vote"), true));
  std::this_thread::sleep_for(400ms);
  ASSERT_TRUE(t.Send(2, Frame("new relay"), false));
  auto b = StartNode(ConfigFor(2));
  ASSERT_TRUE(WaitUntil([&] { return b->frame_count() == 2; })) << b->frame_count();
  EXPECT_EQ(b->FramesFrom(1), (std::vector<std::string>{"old vote", "new relay"}));
  EXPECT_EQ(a->stats().dropped_stale.load(), 1u);
  EXPECT_EQ(a->Status(2)->queued_frames, 0u);
  // Only stale frames queued: nothing is written, and the connection carries on.
  b->Shutdown();
  ASSERT_TRUE(WaitUntil([&] { return !a->Status(2)->up; }));
  ASSERT_TRUE(t.Send(2, Frame("stale alone"), false));
  std::this_thread::sleep_for(400ms);
  auto b2 = StartNode(ConfigFor(2));
  ASSERT_TRUE(WaitUntil([&] { return a->Status(2)->up && a->stats().dropped_stale.load() == 2; }));
  ASSERT_TRUE(t.Send(2, Frame("after"), true));
  ASSERT_TRUE(WaitUntil([&] { return b2->frame_count() == 1; })) << b2->frame_count();
  EXPECT_EQ(b2->FramesFrom(1), (std::vector<std::string>{"after"}));
  a->Shutdown();
  b2->Shutdown();
}

TEST_F(TransportTest, PeerAddressMayBeAHostName) {
  MakeNetwork(2);
  TransportConfig c1 = ConfigFor(1, /*dial_in_only=*/{});
  c1.peers[1].address = "localhost:" + std::to_string(ports_[2]);
  auto node1 = StartNode(std::move(c1));
  auto node2 = StartNode(ConfigFor(2, /*dial_in_only=*/{1}));  // only node 1 dials
  ASSERT_TRUE(WaitUntil([&] { return node1->OutboundUp(2); }));
  ASSERT_TRUE(node1->transport().Send(2, Frame("resolved"), true));
  EXPECT_TRUE(
      WaitUntil([&] { return node2->FramesFrom(1) == std::vector<std::string>{"resolved"}; }));
  // Node 2 answers over the connection node 1 dialed.
  ASSERT_TRUE(node2->transport().Send(1, Frame("answer"), true));
  EXPECT_TRUE(
      WaitUntil([&] { return node1->FramesFrom(2) == std::vector<std::string>{"answer"}; }));
  node1->Shutdown();
  node2->Shutdown();
}

TEST_F(TransportTest, PeerWithUnpinnedCertificateIsRefusedInBothDirections) {
  // Node 1 knows node 2 (at a listener that presents the wrong certificate) and node 3 (dial-in
  // only). Impostors: one listens where node 2 should be, one dials in claiming to be node 3.
  MakeNetwork(3);
  const CertFiles wrong2 = MakeCert(dir_, "impostor2");
  const CertFiles wrong3 = MakeCert(dir_, "impostor3");
  auto node1 = StartNode(ConfigFor(1, /*dial_in_only=*/{3}));

  TransportConfig impostor2 = ConfigFor(2, /*dial_in_only=*/{1, 3});
  impostor2.tls_cert_path = wrong2.cert_path;
  impostor2.tls_key_path = wrong2.key_path;
  impostor2.peers.erase(impostor2.peers.begin() + 1);  // its own entry would not match its cert
  auto listener = StartNode(std::move(impostor2));

  TransportConfig impostor3 = ConfigFor(3);
  impostor3.tls_cert_path = wrong3.cert_path;
  impostor3.tls_key_path = wrong3.key_path;
  impostor3.listen_address.clear();
  impostor3.peers.pop_back();
  auto dialer = StartNode(std::move(impostor3));

  // Node 1 dialed "node 2" and found another key; "node 3" dialed in with an unknown key.
  EXPECT_TRUE(WaitUntil([&] { return node1->stats().refused_wrong_peer_cert.load() >= 1; }));
  EXPECT_TRUE(WaitUntil([&] { return node1->stats().refused_unknown_peer_cert.load() >= 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(node1->up(2).has_value()) << "never reported up";
  EXPECT_FALSE(node1->up(3).has_value()) << "never reported up";
  EXPECT_EQ(node1->frame_count(), 0u);
  EXPECT_EQ(node1->stats().connects_inbound.load() + node1->stats().connects_outbound.load(), 0u);
  // Frames for node 2 stay queued rather than going to the impostor.
  ASSERT_TRUE(node1->transport().Send(2, Frame("secret"), true));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(listener->frame_count(), 0u);
  EXPECT_EQ(node1->Status(2)->queued_frames, 1u);

  dialer->Shutdown();
  listener->Shutdown();
  node1->Shutdown();
}

TEST_F(TransportTest, OversizeAndZeroLengthFramesCloseTheConnectionAndTheNodeKeepsServing) {
  // Node 3 is an observer that only dials in; a hand-driven client holds its certificate.
  MakeNetwork(3);
  TransportConfig c1 = ConfigFor(1, /*dial_in_only=*/{3});
  c1.frame_bytes_max = 1024;
  auto node1 = StartNode(std::move(c1));
  auto node2 = StartNode(ConfigFor(2, /*dial_in_only=*/{3}));
  ASSERT_TRUE(WaitUntil([&] { return node1->IsUp(2) && node2->IsUp(1); }));
  auto observer_id = crypto::LoadTlsIdentity(certs_[3].key_path, certs_[3].cert_path);
  ASSERT_TRUE(observer_id.ok());

  {
    // A well-formed frame is delivered as from peer 3, and node 1 can answer over the inbound
    // connection (a validator answering an observer that only dials in).
    RawClient client(&*observer_id);
    ASSERT_TRUE(client.Connect(node1->transport().listen_port()));
    ASSERT_TRUE(client.WriteFrame("hello from the observer"));
    ASSERT_TRUE(WaitUntil([&] { return node1->frame_count() == 1; }));
    EXPECT_EQ(node1->FramesFrom(3), std::vector<std::string>{"hello from the observer"});
    ASSERT_TRUE(WaitUntil([&] { return node1->IsUp(3); }));
    ASSERT_TRUE(node1->transport().Send(3, Frame("welcome"), true));
    EXPECT_EQ(client.ReadFrame(), "welcome");

    // A length above the cap: closed before anything is allocated for it.
    const std::array<uint8_t, 4> huge = {0xff, 0xff, 0xff, 0xff};
    ASSERT_TRUE(client.Write(huge));
    EXPECT_TRUE(client.WaitClosed());
  }
  EXPECT_EQ(node1->stats().closed_oversize_frame.load(), 1u);
  ASSERT_TRUE(WaitUntil([&] { return node1->up(3) == false; }));
  {
    RawClient client(&*observer_id);
    ASSERT_TRUE(client.Connect(node1->transport().listen_port()));
    const std::array<uint8_t, 4> zero = {0, 0, 0, 0};
    ASSERT_TRUE(client.Write(zero));
    EXPECT_TRUE(client.WaitClosed());
  }
  EXPECT_EQ(node1->stats().closed_zero_length_frame.load(), 1u);
  {
    // One byte over the cap is already too much; exactly the cap is fine.
    RawClient client(&*observer_id);
    ASSERT_TRUE(client.Connect(node1->transport().listen_port()));
    ASSERT_TRUE(client.WriteFrame(std::string(1024, 'x')));
    ASSERT_TRUE(WaitUntil([&] { return node1->frame_count() == 2; }));
    ASSERT_TRUE(client.WriteFrame(std::string(1025, 'x')));
    EXPECT_TRUE(client.WaitClosed());
  }
  EXPECT_EQ(node1->stats().closed_oversize_frame.load(), 2u);
  // Sending above the cap is refused locally.
  EXPECT_FALSE(node1->transport().Send(2, Frame(std::string(1025, 'x')), true));
  EXPECT_FALSE(node1->transport().Send(2, Frame(""), true));
  EXPECT_EQ(node1->stats().dropped_send_invalid.load(), 2u);
  EXPECT_FALSE(node1->transport().Send(99, Frame("nobody"), true));
  EXPECT_EQ(node1->stats().dropped_unknown_peer.load(), 1u);

  // Node 1 still serves node 2 both ways.
  ASSERT_TRUE(node1->transport().Send(2, Frame("still here"), true));
  ASSERT_TRUE(node2->transport().Send(1, Frame("me too"), true));
  EXPECT_TRUE(
      WaitUntil([&] { return node2->FramesFrom(1) == std::vector<std::string>{"still here"}; }));
  EXPECT_TRUE(
      WaitUntil([&] { return node1->FramesFrom(2) == std::vector<std::string>{"me too"}; }));
  node1->Shutdown();
  node2->Shutdown();
}

TEST_F(TransportTest, GarbageAndSilentConnectionsOnTheListeningPortDoNotHurtIt) {
  MakeNetwork(2);
  TransportConfig c1 = ConfigFor(1);
  c1.handshake_timeout_ms = 300;
  c1.pending_handshakes_max = 1;
  auto node1 = StartNode(std::move(c1));
  auto node2 = StartNode(ConfigFor(2));
  ASSERT_TRUE(WaitUntil([&] { return node1->IsUp(2); }));

  for (const std::string& garbage :
       {std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), std::string(4096, '\xff'),
        std::string("\x16\x03\x01\x00\x05hello", 10)}) {
    RawClient client(nullptr);
    ASSERT_TRUE(client.Connect(node1->transport().listen_port()));
    client.Write(AsBytes(garbage));
    EXPECT_TRUE(client.WaitClosed());
  }
  EXPECT_GE(node1->stats().handshake_failed.load(), 3u);
  {
    // Connects and says nothing: closed at the handshake timeout. While it holds the only
    // pending-handshake slot, another connection is closed at once.
    RawClient silent(nullptr);
    ASSERT_TRUE(silent.Connect(node1->transport().listen_port()));
    std::this_thread::sleep_for(50ms);  // accepted by now
    RawClient extra(nullptr);
    ASSERT_TRUE(extra.Connect(node1->transport().listen_port()));
    EXPECT_TRUE(extra.WaitClosed());
    EXPECT_EQ(node1->stats().refused_pending_limit.load(), 1u);
    EXPECT_EQ(node1->stats().handshake_timeout.load(), 0u);
    EXPECT_TRUE(silent.WaitClosed());
  }
  EXPECT_EQ(node1->stats().handshake_timeout.load(), 1u);

  ASSERT_TRUE(node2->transport().Send(1, Frame("after the garbage"), true));
  EXPECT_TRUE(WaitUntil([&] { return node1->frame_count() == 1; }));
  EXPECT_EQ(node1->frames().at(0).second, "after the garbage");
  node1->Shutdown();
  node2->Shutdown();
}

TEST_F(TransportTest, FullQueueDropsTheOldestNonEssentialFrameThenTheNewOne) {
  MakeNetwork(2);
  TransportConfig c1 = ConfigFor(1);
  c1.queue_frames_max = 4;
  auto node1 = StartNode(std::move(c1));  // node 2 is down: everything stays queued
  PeerTransport& t = node1->transport();
  ASSERT_TRUE(t.Send(2, Frame("n1"), false));
  ASSERT_TRUE(t.Send(2, Frame("e1"), true));
  ASSERT_TRUE(t.Send(2, Frame("n2"), false));
  ASSERT_TRUE(t.Send(2, Frame("e2"), true));
  EXPECT_EQ(node1->stats().dropped_queue_full.load(), 0u);
  ASSERT_TRUE(t.Send(2, Frame("n3"), false));  // drops n1
  EXPECT_EQ(node1->stats().dropped_queue_full.load(), 1u);
  ASSERT_TRUE(t.Send(2, Frame("e3"), true));  // drops n2
  ASSERT_TRUE(t.Send(2, Frame("e4"), true));  // drops n3
  EXPECT_EQ(node1->stats().dropped_queue_full.load(), 3u);
  // Everything queued is essential: the new frame is the one dropped, essential or not.
  EXPECT_FALSE(t.Send(2, Frame("n4"), false));
  EXPECT_FALSE(t.Send(2, Frame("e5"), true));
  EXPECT_EQ(node1->stats().dropped_queue_full_essential.load(), 2u);
  EXPECT_EQ(node1->Status(2)->dropped_queue_full, 5u);
  EXPECT_EQ(node1->Status(2)->queued_frames, 4u);

  auto node2 = StartNode(ConfigFor(2));
  ASSERT_TRUE(WaitUntil([&] { return node2->frame_count() == 4; }));
  EXPECT_EQ(node2->FramesFrom(1), (std::vector<std::string>{"e1", "e2", "e3", "e4"}));
  node1->Shutdown();
  node2->Shutdown();
}

TEST_F(TransportTest, FullQueueByBytesDropsOldestNonEssential) {
  MakeNetwork(2);
  TransportConfig c1 = ConfigFor(1);
  c1.frame_bytes_max = 100;
  c1.queue_bytes_max = 250;
  auto node1 = StartNode(std::move(c1));
  PeerTransport& t = node1->transport();
  ASSERT_TRUE(t.Send(2, Frame(std::string(100, 'a')), false));
  ASSERT_TRUE(t.Send(2, Frame(std::string(100, 'b')), true));
  ASSERT_TRUE(t.Send(2, Frame(std::string(50, 'c')), false));  // 250 bytes: full
  ASSERT_TRUE(t.Send(2, Frame(std::string(60, 'd')), true));   // drops 'a'
  EXPECT_EQ(node1->stats().dropped_queue_full.load(), 1u);
  EXPECT_EQ(node1->Status(2)->queued_bytes, 210u);
  ASSERT_TRUE(t.Send(2, Frame(std::string(90, 'e')), true));  // drops 'c' (the only non-essential)
  EXPECT_EQ(node1->Status(2)->queued_bytes, 250u);
  // Dropping every non-essential would not make room: the new frame goes, and nothing else.
  EXPECT_FALSE(t.Send(2, Frame(std::string(1, 'f')), true));
  EXPECT_EQ(node1->stats().dropped_queue_full.load(), 2u);
  EXPECT_EQ(node1->stats().dropped_queue_full_essential.load(), 1u);
  EXPECT_EQ(node1->Status(2)->queued_frames, 3u);
  node1->Shutdown();
}

TEST_F(TransportTest, RestartedPeerIsReconnectedAndFramesFlowAgain) {
  MakeNetwork(3);
  std::vector<std::unique_ptr<TestNode>> nodes(4);
  for (uint32_t id = 1; id <= 3; ++id) nodes[id] = StartNode(ConfigFor(id));
  for (uint32_t a = 1; a <= 3; ++a) {
    for (uint32_t b = 1; b <= 3; ++b) {
      if (a != b) {
        ASSERT_TRUE(WaitUntil([&] { return nodes[a]->IsUp(b); }));
      }
    }
  }
  ASSERT_TRUE(nodes[1]->transport().Send(2, Frame("before"), true));
  ASSERT_TRUE(WaitUntil([&] { return nodes[2]->frame_count() == 1; }));
  const uint64_t connects_before = nodes[1]->stats().connects_outbound.load();

  // Node 2 goes away; its peers see it down.
  nodes[2]->Shutdown();
  nodes[2].reset();
  ASSERT_TRUE(WaitUntil([&] { return nodes[1]->up(2) == false && nodes[3]->up(2) == false; }));
  // Sent while it is down: queued, delivered after the restart.
  ASSERT_TRUE(nodes[3]->transport().Send(2, Frame("while down"), true));

  // It comes back on the same address with the same certificate.
  nodes[2] = StartNode(ConfigFor(2));
  for (uint32_t other : {1u, 3u}) {
    // Up as soon as either side's dial succeeds; the others' own redial (with backoff) follows.
    ASSERT_TRUE(WaitUntil([&] { return nodes[other]->IsUp(2) && nodes[2]->IsUp(other); })) << other;
    ASSERT_TRUE(WaitUntil([&] { return nodes[other]->OutboundUp(2); })) << other;
  }
  EXPECT_GT(nodes[1]->stats().connects_outbound.load(), connects_before);
  ASSERT_TRUE(WaitUntil([&] { return nodes[2]->FramesFrom(3).size() == 1; }));
  EXPECT_EQ(nodes[2]->FramesFrom(3).at(0), "while down");
  ASSERT_TRUE(nodes[1]->transport().Send(2, Frame("after"), true));
  ASSERT_TRUE(nodes[2]->transport().Send(1, Frame("back"), true));
  EXPECT_TRUE(
      WaitUntil([&] { return nodes[2]->FramesFrom(1) == std::vector<std::string>{"after"}; }));
  EXPECT_TRUE(
      WaitUntil([&] { return nodes[1]->FramesFrom(2) == std::vector<std::string>{"back"}; }));
  for (uint32_t id = 1; id <= 3; ++id) nodes[id]->Shutdown();
}

TEST_F(TransportTest, StopWithFramesInFlightIsCleanAndSilencesCallbacks) {
  MakeNetwork(3);
  auto node1 = StartNode(ConfigFor(1));
  auto node2 = StartNode(ConfigFor(2));
  // Node 3 stops its own transport from inside its first on_frame callback.
  auto node3 = StartNode(ConfigFor(3), /*stop_on_first_frame=*/true);
  ASSERT_TRUE(WaitUntil([&] {
    return node1->IsUp(2) && node2->IsUp(1) && node1->IsUp(3) && node1->OutboundUp(2) &&
           node2->OutboundUp(1);
  }));

  // Traffic both ways from other threads while the transports stop.
  const auto payload = std::make_shared<const Bytes>(8192, 0x5a);
  std::atomic<bool> go{true};
  std::vector<std::thread> senders;
  for (auto* node : {node1.get(), node2.get()}) {
    senders.emplace_back([&, node] {
      const uint32_t to = node == node1.get() ? 2 : 1;
      while (go.load()) {
        node->transport().Send(to, payload, false);
        node->transport().Broadcast(payload, false);
      }
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return node2->frame_count() > 100 && node1->frame_count() > 100; }));
  ASSERT_TRUE(WaitUntil([&] { return node3->frame_count() >= 1; }));

  node1->transport().Stop();
  const uint64_t callbacks_at_stop = node1->callback_count();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(node1->callback_count(), callbacks_at_stop) << "a callback ran after Stop returned";
  EXPECT_FALSE(node1->transport().Send(2, payload, true));
  EXPECT_GT(node1->stats().dropped_stopped.load(), 0u);
  node2->transport().Stop();
  go.store(false);
  for (auto& t : senders) t.join();
  // Node 3 stopped itself after one frame and saw nothing after.
  EXPECT_EQ(node3->frame_count(), 1u);
  node1->Shutdown();
  node2->Shutdown();
  node3->Shutdown();
}

TEST_F(TransportTest, ConfigurationErrorsAreReportedBeforeAnythingStarts) {
  MakeNetwork(2);
  asio::io_context io;
  auto create = [&](TransportConfig c) { return PeerTransport::Create(io, std::move(c), {}); };
  auto code = [&](TransportConfig c) { return create(std::move(c)).status().code(); };

  TransportConfig dup_id = ConfigFor(1);
  dup_id.peers.push_back(dup_id.peers.back());
  EXPECT_EQ(code(dup_id), StatusCode::kInvalidArgument);

  TransportConfig dup_pin = ConfigFor(1);
  dup_pin.peers.back().id = 7;
  dup_pin.peers.push_back(dup_pin.peers.back());
  dup_pin.peers.back().id = 8;
  EXPECT_EQ(code(dup_pin), StatusCode::kInvalidArgument);

  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":7000", "::1:7000",
                          "[::1:7000", "127.0.0.1:7x"}) {
    TransportConfig c = ConfigFor(1);
    c.peers.back().address = bad;
    EXPECT_EQ(code(c), StatusCode::kInvalidArgument) << bad;
  }
  TransportConfig v6 = ConfigFor(1);
  v6.peers.back().address = "[::1]:7000";
  EXPECT_TRUE(create(v6).ok());

  TransportConfig small_queue = ConfigFor(1);
  small_queue.queue_bytes_max = small_queue.frame_bytes_max - 1;
  EXPECT_EQ(code(small_queue), StatusCode::kInvalidArgument);

  TransportConfig big_frames = ConfigFor(1);
  big_frames.frame_bytes_max = kFrameBytesMaxLimit + 1;
  EXPECT_EQ(code(big_frames), StatusCode::kInvalidArgument);

  TransportConfig backoff = ConfigFor(1);
  backoff.reconnect_initial_ms = backoff.reconnect_max_ms + 1;
  EXPECT_EQ(code(backoff), StatusCode::kInvalidArgument);

  TransportConfig no_ttl = ConfigFor(1);
  no_ttl.nonessential_ttl_ms = 0;
  EXPECT_EQ(code(no_ttl), StatusCode::kInvalidArgument);

  // The certificate on disk is not the one the configuration pins for this node.
  TransportConfig wrong_self = ConfigFor(1);
  wrong_self.tls_cert_path = certs_[2].cert_path;
  wrong_self.tls_key_path = certs_[2].key_path;
  EXPECT_EQ(code(wrong_self), StatusCode::kFailedPrecondition);

  TransportConfig missing_key = ConfigFor(1);
  missing_key.tls_key_path = dir_.path() + "/none.key";
  EXPECT_EQ(code(missing_key), StatusCode::kNotFound);

  // Start: twice, and on a port that is taken.
  auto t = create(ConfigFor(1));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Start().ok());
  EXPECT_EQ((*t)->listen_port(), ports_[1]);
  EXPECT_EQ((*t)->Start().code(), StatusCode::kFailedPrecondition);
  auto taken = create(ConfigFor(1));
  ASSERT_TRUE(taken.ok());
  const Status bind = (*taken)->Start();
  EXPECT_EQ(bind.code(), StatusCode::kIoError);
  EXPECT_NE(bind.message().find(Loopback(ports_[1])), std::string::npos) << bind.message();

  // Port 0 picks a free port.
  TransportConfig any_port = ConfigFor(2);
  any_port.listen_address = "127.0.0.1:0";
  auto t2 = create(any_port);
  ASSERT_TRUE(t2.ok());
  ASSERT_TRUE((*t2)->Start().ok());
  EXPECT_NE((*t2)->listen_port(), 0);
  (*t)->Stop();
  (*taken)->Stop();
  (*t2)->Stop();
  io.run_for(1s);  // let the stopped transports release everything
}

}  // namespace
}  // namespace hc::node
