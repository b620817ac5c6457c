#include "node/wire_codec.h"

#include <gtest/gtest.h>

#include <random>

#include "healthchain/v1/p2p.pb.h"

namespace hc::node {
namespace {

namespace pb = ::healthchain::v1;
using namespace consensus;

Hash32 H(uint8_t fill) {
  Hash32 h;
  h.fill(fill);
  return h;
}
Signature S(uint8_t fill) {
  Signature s;
  s.fill(fill);
  return s;
}

PrePrepare MakePrePrepare() {
  PrePrepare pp;
  pp.view = ViewNumber(3);
  pp.seq = SeqNumber(17);
  pp.block_hash = H(1);
  pp.block.header = {1, 2, 3};
  pp.block.txs = {{4, 5}, {6}};
  pp.signature = S(2);
  return pp;
}

Checkpoint MakeCheckpoint(uint32_t replica) {
  return Checkpoint{SeqNumber(10), H(3), H(4), H(5), ReplicaId(replica), S(6)};
}

std::vector<Message> AllMessages() {
  PreparedCertificate pc{MakePrePrepare(),
                         {Prepare{ViewNumber(3), SeqNumber(17), H(1), ReplicaId(1), S(7)}}};
  ViewChange vc{ViewNumber(4), SeqNumber(10), {MakeCheckpoint(0), MakeCheckpoint(2)},
                {pc},          ReplicaId(2),  S(8)};
  CertifiedBlock cb{Block{{9}, {{10, 11}}},
                    CommitCertificate{Height(5),
                                      ViewNumber(1),
                                      H(12),
                                      {CommitSignature{ReplicaId(0), S(13)},
                                       CommitSignature{ReplicaId(3), S(14)}}}};
  return {
      MakePrePrepare(),
      Prepare{ViewNumber(3), SeqNumber(17), H(1), ReplicaId(1), S(7)},
      Commit{ViewNumber(3), SeqNumber(17), H(1), ReplicaId(2), S(9)},
      MakeCheckpoint(1),
      vc,
      NewView{ViewNumber(4), {vc}, {MakePrePrepare()}, ReplicaId(0), S(15)},
      StateRequest{Height(1), Height(64), ReplicaId(3)},
      StateResponse{{cb}, Height(99)},
  };
}

TEST(WireCodecTest, EveryConsensusMessageRoundTrips) {
  for (const Message& m : AllMessages()) {
    Bytes bytes = EncodeConsensusMessage(m);
    auto decoded = DecodePeerMessage(bytes);
    ASSERT_TRUE(decoded.ok()) << MessageTypeName(m) << ": " << decoded.status().ToString();
    const auto* got = std::get_if<Message>(&*decoded);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, m) << MessageTypeName(m);
    EXPECT_LE(bytes.size(), ApproxWireSize(m)) << MessageTypeName(m);
  }
}

TEST(WireCodecTest, HelloAndRelayRoundTrip) {
  HelloMsg hello{"hc-test", H(7), 2, kProtocolVersion, 42};
  auto d = DecodePeerMessage(EncodePeerMessage(hello));
  ASSERT_TRUE(d.ok());
  const auto& h = std::get<HelloMsg>(*d);
  EXPECT_EQ(h.chain_id, "hc-test");
  EXPECT_EQ(h.genesis_hash, H(7));
  EXPECT_EQ(h.committed_height, 42u);

  TxRelayMsg relay{{{1, 2, 3}, {}, {4}}};
  auto r = DecodePeerMessage(EncodePeerMessage(relay));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<TxRelayMsg>(*r).txs, relay.txs);
}

TEST(WireCodecTest, WrongSizedFieldsAreRejectedNamingTheField) {
  pb::PeerFrame f;
  f.mutable_prepare()->set_block_hash(std::string(31, 'x'));
  f.mutable_prepare()->set_signature(std::string(64, 'y'));
  std::string bytes = f.SerializeAsString();
  auto d = DecodePeerMessage(AsBytes(bytes));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "prepare.block_hash: 31 bytes, expected 32");

  pb::PeerFrame g;
  auto* vc = g.mutable_view_change();
  vc->set_signature(std::string(64, 's'));
  auto* cp = vc->add_checkpoint_proof();
  cp->set_block_hash(std::string(32, 'a'));
  cp->set_log_root(std::string(32, 'b'));
  cp->set_state_digest(std::string(33, 'c'));
  bytes = g.SerializeAsString();
  d = DecodePeerMessage(AsBytes(bytes));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "view_change.checkpoint_proof[0].state_digest: 33 bytes, expected 32");
}

TEST(WireCodecTest, EmptyFrameAndGarbageAreRejected) {
  EXPECT_FALSE(DecodePeerMessage({}).ok());  // no oneof set
  std::mt19937_64 rng(7);
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) {
    Bytes junk(rng() % 200);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    auto d = DecodePeerMessage(junk);  // must never crash; may rarely parse
    accepted += d.ok();
  }
  EXPECT_LT(accepted, 2000);
}

TEST(WireCodecTest, TruncatedMessagesNeverDecodeToSomethingElse) {
  Bytes bytes = EncodeConsensusMessage(AllMessages()[4]);  // a ViewChange
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    auto d = DecodePeerMessage(ByteView(bytes.data(), cut));
    if (d.ok()) {
      // A prefix can parse only as an incomplete message, never as a complete valid equal one.
      const auto* m = std::get_if<Message>(&*d);
      if (m != nullptr) {
        EXPECT_NE(*m, AllMessages()[4]);
      }
    }
  }
}

}  // namespace
}  // namespace hc::node
