#include "node/wire_codec.h"

#include <string>

#include "healthchain/v1/block.pb.h"
#include "healthchain/v1/consensus.pb.h"
#include "healthchain/v1/p2p.pb.h"

namespace hc::node {
namespace {

namespace pb = ::healthchain::v1;
using consensus::Message;

// ---- encoding ----

std::string Str(const Hash32& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), 32);
}
template <size_t N>
std::string Str(const std::array<uint8_t, N>& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), N);
}

void ToPb(const consensus::Block& in, pb::Block* out) {
  out->set_header(ToString(in.header));
  for (const Bytes& tx : in.txs) out->add_txs(ToString(tx));
}

void ToPb(const consensus::CommitCertificate& in, pb::CommitCertificate* out) {
  out->set_height(in.height.value());
  out->set_view(in.view.value());
  out->set_block_hash(Str(in.block_hash));
  for (const auto& s : in.signatures) {
    auto* o = out->add_signatures();
    o->set_replica(s.replica.value());
    o->set_signature(Str(s.signature));
  }
}

void ToPb(const consensus::PrePrepare& in, pb::PrePrepare* out) {
  out->set_view(in.view.value());
  out->set_seq(in.seq.value());
  out->set_block_hash(Str(in.block_hash));
  ToPb(in.block, out->mutable_block());
  out->set_signature(Str(in.signature));
}

void ToPb(const consensus::Prepare& in, pb::Prepare* out) {
  out->set_view(in.view.value());
  out->set_seq(in.seq.value());
  out->set_block_hash(Str(in.block_hash));
  out->set_replica(in.replica.value());
  out->set_signature(Str(in.signature));
}

void ToPb(const consensus::Commit& in, pb::Commit* out) {
  out->set_view(in.view.value());
  out->set_seq(in.seq.value());
  out->set_block_hash(Str(in.block_hash));
  out->set_replica(in.replica.value());
  out->set_signature(Str(in.signature));
}

void ToPb(const consensus::Checkpoint& in, pb::Checkpoint* out) {
  out->set_seq(in.seq.value());
  out->set_block_hash(Str(in.block_hash));
  out->set_log_root(Str(in.log_root));
  out->set_state_digest(Str(in.state_digest));
  out->set_replica(in.replica.value());
  out->set_signature(Str(in.signature));
}

void ToPb(const consensus::ViewChange& in, pb::ViewChange* out) {
  out->set_new_view(in.new_view.value());
  out->set_stable_seq(in.stable_seq.value());
  for (const auto& c : in.checkpoint_proof) ToPb(c, out->add_checkpoint_proof());
  for (const auto& p : in.prepared) {
    auto* o = out->add_prepared();
    ToPb(p.pre_prepare, o->mutable_pre_prepare());
    for (const auto& pr : p.prepares) ToPb(pr, o->add_prepares());
  }
  out->set_replica(in.replica.value());
  out->set_signature(Str(in.signature));
}

void ToPb(const consensus::NewView& in, pb::NewView* out) {
  out->set_view(in.view.value());
  for (const auto& vc : in.view_changes) ToPb(vc, out->add_view_changes());
  for (const auto& pp : in.pre_prepares) ToPb(pp, out->add_pre_prepares());
  out->set_replica(in.replica.value());
  out->set_signature(Str(in.signature));
}

void ToPb(const consensus::StateRequest& in, pb::StateRequest* out) {
  out->set_from_height(in.from_height.value());
  out->set_to_height(in.to_height.value());
  out->set_replica(in.replica.value());
}

void ToPb(const consensus::StateResponse& in, pb::StateResponse* out) {
  for (const auto& b : in.blocks) {
    auto* o = out->add_blocks();
    ToPb(b.block, o->mutable_block());
    ToPb(b.certificate, o->mutable_certificate());
  }
  out->set_peer_height(in.peer_height.value());
}

void ToPb(const Message& msg, pb::PeerFrame* frame) {
  std::visit(
      [frame](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, consensus::PrePrepare>)
          ToPb(m, frame->mutable_pre_prepare());
        else if constexpr (std::is_same_v<T, consensus::Prepare>)
          ToPb(m, frame->mutable_prepare());
        else if constexpr (std::is_same_v<T, consensus::Commit>)
          ToPb(m, frame->mutable_commit());
        else if constexpr (std::is_same_v<T, consensus::Checkpoint>)
          ToPb(m, frame->mutable_checkpoint());
        else if constexpr (std::is_same_v<T, consensus::ViewChange>)
          ToPb(m, frame->mutable_view_change());
        else if constexpr (std::is_same_v<T, consensus::NewView>)
          ToPb(m, frame->mutable_new_view());
        else if constexpr (std::is_same_v<T, consensus::StateRequest>)
          ToPb(m, frame->mutable_state_request());
        else if constexpr (std::is_same_v<T, consensus::StateResponse>)
          ToPb(m, frame->mutable_state_response());
      },
      msg);
}

Bytes Serialize(const pb::PeerFrame& frame) {
  Bytes out(frame.ByteSizeLong());
  // Serialising a message we built cannot fail short of a size overflow, which the builders bound.
  HC_ASSERT(frame.SerializeToArray(out.data(), static_cast<int>(out.size())));
  return out;
}

// ---- decoding: every fixed-size field checked, naming the field ----

template <size_t N>
Status Fixed(const std::string& in, std::array<uint8_t, N>* out, const std::string& field) {
  if (in.size() != N) {
    return InvalidArgument(field + ": " + std::to_string(in.size()) + " bytes, expected " +
                           std::to_string(N));
  }
  std::memcpy(out->data(), in.data(), N);
  return Status::Ok();
}

consensus::Block FromPb(const pb::Block& in) {
  consensus::Block b;
  b.header = ToBytes(in.header());
  std::vector<Bytes> txs;
  txs.reserve(in.txs_size());
  for (const auto& tx : in.txs()) txs.push_back(ToBytes(tx));
  b.txs = std::move(txs);
  return b;
}

Status FromPb(const pb::CommitCertificate& in, consensus::CommitCertificate* out,
              const std::string& f) {
  out->height = Height(in.height());
  out->view = ViewNumber(in.view());
  HC_RETURN_IF_ERROR(Fixed(in.block_hash(), &out->block_hash, f + ".block_hash"));
  out->signatures.resize(in.signatures_size());
  for (int i = 0; i < in.signatures_size(); ++i) {
    out->signatures[i].replica = ReplicaId(in.signatures(i).replica());
    HC_RETURN_IF_ERROR(Fixed(in.signatures(i).signature(), &out->signatures[i].signature,
                             f + ".signatures[" + std::to_string(i) + "]"));
  }
  return Status::Ok();
}

Status FromPb(const pb::PrePrepare& in, consensus::PrePrepare* out, const std::string& f) {
  out->view = ViewNumber(in.view());
  out->seq = SeqNumber(in.seq());
  HC_RETURN_IF_ERROR(Fixed(in.block_hash(), &out->block_hash, f + ".block_hash"));
  out->block = FromPb(in.block());
  return Fixed(in.signature(), &out->signature, f + ".signature");
}

template <typename Vote>
Status VoteFromPb(const Vote& in, auto* out, const std::string& f) {
  out->view = ViewNumber(in.view());
  out->seq = SeqNumber(in.seq());
  HC_RETURN_IF_ERROR(Fixed(in.block_hash(), &out->block_hash, f + ".block_hash"));
  out->replica = ReplicaId(in.replica());
  return Fixed(in.signature(), &out->signature, f + ".signature");
}

Status FromPb(const pb::Checkpoint& in, consensus::Checkpoint* out, const std::string& f) {
  out->seq = SeqNumber(in.seq());
  HC_RETURN_IF_ERROR(Fixed(in.block_hash(), &out->block_hash, f + ".block_hash"));
  HC_RETURN_IF_ERROR(Fixed(in.log_root(), &out->log_root, f + ".log_root"));
  HC_RETURN_IF_ERROR(Fixed(in.state_digest(), &out->state_digest, f + ".state_digest"));
  out->replica = ReplicaId(in.replica());
  return Fixed(in.signature(), &out->signature, f + ".signature");
}

Status FromPb(const pb::ViewChange& in, consensus::ViewChange* out, const std::string& f) {
  out->new_view = ViewNumber(in.new_view());
  out->stable_seq = SeqNumber(in.stable_seq());
  out->checkpoint_proof.resize(in.checkpoint_proof_size());
  for (int i = 0; i < in.checkpoint_proof_size(); ++i) {
    HC_RETURN_IF_ERROR(FromPb(in.checkpoint_proof(i), &out->checkpoint_proof[i],
                              f + ".checkpoint_proof[" + std::to_string(i) + "]"));
  }
  out->prepared.resize(in.prepared_size());
  for (int i = 0; i < in.prepared_size(); ++i) {
    const std::string pf = f + ".prepared[" + std::to_string(i) + "]";
    HC_RETURN_IF_ERROR(
        FromPb(in.prepared(i).pre_prepare(), &out->prepared[i].pre_prepare, pf + ".pre_prepare"));
    out->prepared[i].prepares.resize(in.prepared(i).prepares_size());
    for (int j = 0; j < in.prepared(i).prepares_size(); ++j) {
      HC_RETURN_IF_ERROR(VoteFromPb(in.prepared(i).prepares(j), &out->prepared[i].prepares[j],
                                    pf + ".prepares[" + std::to_string(j) + "]"));
    }
  }
  out->replica = ReplicaId(in.replica());
  return Fixed(in.signature(), &out->signature, f + ".signature");
}

Status FromPb(const pb::NewView& in, consensus::NewView* out, const std::string& f) {
  out->view = ViewNumber(in.view());
  out->view_changes.resize(in.view_changes_size());
  for (int i = 0; i < in.view_changes_size(); ++i) {
    HC_RETURN_IF_ERROR(FromPb(in.view_changes(i), &out->view_changes[i],
                              f + ".view_changes[" + std::to_string(i) + "]"));
  }
  out->pre_prepares.resize(in.pre_prepares_size());
  for (int i = 0; i < in.pre_prepares_size(); ++i) {
    HC_RETURN_IF_ERROR(FromPb(in.pre_prepares(i), &out->pre_prepares[i],
                              f + ".pre_prepares[" + std::to_string(i) + "]"));
  }
  out->replica = ReplicaId(in.replica());
  return Fixed(in.signature(), &out->signature, f + ".signature");
}

Status FromPb(const pb::CertifiedBlock& in, consensus::CertifiedBlock* out, const std::string& f) {
  out->block = FromPb(in.block());
  return FromPb(in.certificate(), &out->certificate, f + ".certificate");
}

template <typename T>
Result<T> ParseProto(ByteView bytes, const char* what) {
  T msg;
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument(std::string(what) + ": undecodable protobuf");
  }
  return msg;
}

}  // namespace

Bytes EncodeConsensusMessage(const Message& msg) {
  pb::PeerFrame frame;
  ToPb(msg, &frame);
  return Serialize(frame);
}

Bytes EncodePeerMessage(const PeerMessage& msg) {
  pb::PeerFrame frame;
  if (const auto* hello = std::get_if<HelloMsg>(&msg)) {
    auto* h = frame.mutable_hello();
    h->set_chain_id(hello->chain_id);
    h->set_genesis_hash(Str(hello->genesis_hash));
    h->set_replica(hello->replica);
    h->set_protocol_version(hello->protocol_version);
    h->set_committed_height(hello->committed_height);
  } else if (const auto* relay = std::get_if<TxRelayMsg>(&msg)) {
    auto* r = frame.mutable_tx_relay();
    for (const Bytes& tx : relay->txs) r->add_txs(ToString(tx));
  } else {
    ToPb(std::get<Message>(msg), &frame);
  }
  return Serialize(frame);
}

Result<PeerMessage> DecodePeerMessage(ByteView payload) {
  HC_ASSIGN_OR_RETURN(pb::PeerFrame frame, ParseProto<pb::PeerFrame>(payload, "peer frame"));
  switch (frame.msg_case()) {
    case pb::PeerFrame::kHello: {
      HelloMsg h;
      h.chain_id = frame.hello().chain_id();
      HC_RETURN_IF_ERROR(
          Fixed(frame.hello().genesis_hash(), &h.genesis_hash, "hello.genesis_hash"));
      h.replica = frame.hello().replica();
      h.protocol_version = frame.hello().protocol_version();
      h.committed_height = frame.hello().committed_height();
      return PeerMessage(std::move(h));
    }
    case pb::PeerFrame::kTxRelay: {
      TxRelayMsg r;
      r.txs.reserve(frame.tx_relay().txs_size());
      for (const auto& tx : frame.tx_relay().txs()) r.txs.push_back(ToBytes(tx));
      return PeerMessage(std::move(r));
    }
    case pb::PeerFrame::kPrePrepare: {
      consensus::PrePrepare m;
      HC_RETURN_IF_ERROR(FromPb(frame.pre_prepare(), &m, "pre_prepare"));
      return PeerMessage(Message(std::move(m)));
    }
    case pb::PeerFrame::kPrepare: {
      consensus::Prepare m;
      HC_RETURN_IF_ERROR(VoteFromPb(frame.prepare(), &m, "prepare"));
      return PeerMessage(Message(std::move(m)));
    }
    case pb::PeerFrame::kCommit: {
      consensus::Commit m;
      HC_RETURN_IF_ERROR(VoteFromPb(frame.commit(), &m, "commit"));
      return PeerMessage(Message(std::move(m)));
    }
    case pb::PeerFrame::kCheckpoint: {
      consensus::Checkpoint m;
      HC_RETURN_IF_ERROR(FromPb(frame.checkpoint(), &m, "checkpoint"));
      return PeerMessage(Message(std::move(m)));
    }
    case pb::PeerFrame::kViewChange: {
      consensus::ViewChange m;
      HC_RETURN_IF_ERROR(FromPb(frame.view_change(), &m, "view_change"));
      return PeerMessage(Message(std::move(m)));
    }
    case pb::PeerFrame::kNewView: {
      consensus::NewView m;
      HC_RETURN_IF_ERROR(FromPb(frame.new_view(), &m, "new_view"));
      return PeerMessage(Message(std::move(m)));
    }
    case pb::PeerFrame::kStateRequest: {
      consensus::StateRequest m;
      m.from_height = Height(frame.state_request().from_height());
      m.to_height = Height(frame.state_request().to_height());
      m.replica = ReplicaId(frame.state_request().replica());
      return PeerMessage(Message(std::move(m)));
    }
    case pb::PeerFrame::kStateResponse: {
      consensus::StateResponse m;
      m.peer_height = Height(frame.state_response().peer_height());
      m.blocks.resize(frame.state_response().blocks_size());
      for (int i = 0; i < frame.state_response().blocks_size(); ++i) {
        HC_RETURN_IF_ERROR(FromPb(frame.state_response().blocks(i), &m.blocks[i],
                                  "state_response.blocks[" + std::to_string(i) + "]"));
      }
      return PeerMessage(Message(std::move(m)));
    }
    case pb::PeerFrame::MSG_NOT_SET:
      break;
  }
  return InvalidArgument("peer frame: no message (unknown or empty oneof)");
}

Bytes EncodeBlock(const consensus::Block& block) {
  pb::Block b;
  ToPb(block, &b);
  Bytes out(b.ByteSizeLong());
  HC_ASSERT(b.SerializeToArray(out.data(), static_cast<int>(out.size())));
  return out;
}

Bytes EncodeCertificate(const consensus::CommitCertificate& cert) {
  pb::CommitCertificate c;
  ToPb(cert, &c);
  Bytes out(c.ByteSizeLong());
  HC_ASSERT(c.SerializeToArray(out.data(), static_cast<int>(out.size())));
  return out;
}

Result<consensus::Block> DecodeBlock(ByteView bytes) {
  HC_ASSIGN_OR_RETURN(pb::Block b, ParseProto<pb::Block>(bytes, "block"));
  return FromPb(b);
}

Result<consensus::CommitCertificate> DecodeCertificate(ByteView bytes) {
  HC_ASSIGN_OR_RETURN(pb::CommitCertificate c,
                      ParseProto<pb::CommitCertificate>(bytes, "certificate"));
  consensus::CommitCertificate out;
  HC_RETURN_IF_ERROR(FromPb(c, &out, "certificate"));
  return out;
}

Result<consensus::CertifiedBlock> DecodeCertifiedBlock(ByteView block_bytes, ByteView cert_bytes) {
  consensus::CertifiedBlock out;
  HC_ASSIGN_OR_RETURN(out.block, DecodeBlock(block_bytes));
  HC_ASSIGN_OR_RETURN(out.certificate, DecodeCertificate(cert_bytes));
  return out;
}

}  // namespace hc::node
