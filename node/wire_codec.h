// Translation between the peer wire format (proto/healthchain/v1/p2p.proto, consensus.proto) and
// the replica's plain message structs (consensus/messages.h).
//
// Decoding is the boundary of docs/spec/wire.md W6: it rejects undecodable bytes and every
// fixed-size field of the wrong length, naming the field, before a struct is built. What it does
// not check (membership, signatures, watermarks) the replica checks (docs/spec/pbft.md R1).
#pragma once

#include <variant>

#include "common/bytes.h"
#include "common/status.h"
#include "consensus/messages.h"

namespace healthchain::v1 {
class PeerFrame;
class Hello;
}  // namespace healthchain::v1

namespace hc::node {

// The node-level contents of a peer frame besides consensus messages.
struct HelloMsg {
  std::string chain_id;
  Hash32 genesis_hash{};
  uint32_t replica = 0;  // kObserverReplica for observers
  uint32_t protocol_version = 0;
  uint64_t committed_height = 0;
};
inline constexpr uint32_t kObserverReplica = 0xFFFFFFFF;
inline constexpr uint32_t kProtocolVersion = 1;

struct TxRelayMsg {
  std::vector<Bytes> txs;
};

using PeerMessage = std::variant<HelloMsg, TxRelayMsg, consensus::Message>;

// Serialises a frame payload (without the 4-byte length prefix the transport adds).
Bytes EncodePeerMessage(const PeerMessage& msg);
Bytes EncodeConsensusMessage(const consensus::Message& msg);

// Parses a frame payload. InvalidArgument names what is wrong ("prepare.block_hash: 31 bytes,
// expected 32"); an empty oneof is InvalidArgument too.
Result<PeerMessage> DecodePeerMessage(ByteView payload);

// Block and certificate conversions (also used by the ledger adapter and state transfer).
Result<consensus::CertifiedBlock> DecodeCertifiedBlock(ByteView block_bytes, ByteView cert_bytes);
Bytes EncodeBlock(const consensus::Block& block);
Bytes EncodeCertificate(const consensus::CommitCertificate& cert);
Result<consensus::Block> DecodeBlock(ByteView bytes);
Result<consensus::CommitCertificate> DecodeCertificate(ByteView bytes);

}  // namespace hc::node
