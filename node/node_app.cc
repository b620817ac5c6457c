#include "node/node_app.h"

#include "consensus/limits.h"
#include "consensus/signing.h"
#include "crypto/hash.h"
#include "healthchain/v1/block.pb.h"
#include "ledger/tx.h"

namespace hc::node {
namespace {

namespace pb = ::healthchain::v1;

std::string AsStr(const Bytes& b) { return std::string(b.begin(), b.end()); }

Result<pb::BlockHeader> ParseHeader(ByteView header, std::string_view chain_id) {
  if (header.size() > consensus::kMaxHeaderBytes) {
    return InvalidArgument("header: " + std::to_string(header.size()) + " bytes");
  }
  pb::BlockHeader h;
  if (!h.ParseFromArray(header.data(), static_cast<int>(header.size()))) {
    return InvalidArgument("header: undecodable protobuf");
  }
  if (h.chain_id() != chain_id) return InvalidArgument("header: chain id \"" + h.chain_id() + "\"");
  if (h.prev_block_hash().size() != 32) return InvalidArgument("header: prev_block_hash size");
  if (h.txs_root().size() != 32) return InvalidArgument("header: txs_root size");
  if (h.log_root().size() != 32) return InvalidArgument("header: log_root size");
  if (!h.state_root().empty()) return InvalidArgument("header: state_root is reserved");
  return h;
}

}  // namespace

consensus::ExecSummary MakeExecSummary(uint64_t height, const Hash32& block_hash,
                                       int64_t timestamp_ms, uint64_t log_size,
                                       const Hash32& log_root) {
  consensus::ExecSummary s;
  s.height = Height(height);
  s.block_hash = block_hash;
  s.timestamp_ms = timestamp_ms;
  s.log_size = log_size;
  s.log_root = log_root;
  Bytes d;
  for (int sh = 56; sh >= 0; sh -= 8) d.push_back(static_cast<uint8_t>(log_size >> sh));
  d.insert(d.end(), log_root.begin(), log_root.end());
  s.state_digest = crypto::DomainHash("hc/state-digest/v1", d);
  return s;
}

Result<consensus::ExecSummary> LedgerSummaryAt(const ledger::Ledger& ledger, uint64_t height) {
  if (height == 0) {
    HC_ASSIGN_OR_RETURN(ledger::LogClaim claim, ledger.LogClaimAt(0));
    return MakeExecSummary(0, ledger.genesis_hash(), ledger.genesis().genesis_time_ms,
                           claim.log_size, claim.log_root);
  }
  HC_ASSIGN_OR_RETURN(auto info, ledger.InfoAt(height));
  if (info.block_hash().size() != 32 || info.log_root().size() != 32) {
    return Corruption("block info " + std::to_string(height) + ": bad hash sizes");
  }
  return MakeExecSummary(height, ToHash32(AsBytes(info.block_hash())), info.timestamp_ms(),
                         info.log_size(), ToHash32(AsBytes(info.log_root())));
}

NodeApp::NodeApp(std::string chain_id, const Mempool& mempool, SummaryFn summary_at)
    : chain_id_(std::move(chain_id)), mempool_(mempool), summary_at_(std::move(summary_at)) {}

consensus::Block NodeApp::BuildBlock(const consensus::ProposalRequest& request) {
  std::vector<std::string> txs;
  if (request.max_txs > 0) {
    for (Bytes& tx : mempool_.Select(request.max_txs, request.max_bytes, *request.exclude)) {
      txs.push_back(AsStr(tx));
    }
  }
  ledger::BlockParams params;
  params.chain_id = chain_id_;
  params.height = request.height.value();
  params.prev_block_hash = request.prev_block_hash;
  params.timestamp_ms = request.timestamp_ms;
  params.view = request.view.value();
  params.proposer = request.proposer.value();
  params.log.exec_height = request.exec.height.value();
  params.log.log_size = request.exec.log_size;
  params.log.log_root = request.exec.log_root;
  pb::Block built = ledger::BuildBlock(params, std::move(txs));
  consensus::Block block;
  block.header = ToBytes(built.header());
  std::vector<Bytes> block_txs;
  block_txs.reserve(built.txs_size());
  for (const std::string& tx : built.txs()) block_txs.push_back(ToBytes(tx));
  block.txs = std::move(block_txs);
  return block;
}

Result<consensus::HeaderInfo> NodeApp::DecodeHeader(ByteView header) const {
  HC_ASSIGN_OR_RETURN(pb::BlockHeader h, ParseHeader(header, chain_id_));
  consensus::HeaderInfo info;
  info.height = Height(h.height());
  info.prev_block_hash = ToHash32(AsBytes(h.prev_block_hash()));
  info.timestamp_ms = h.timestamp_ms();
  info.view = ViewNumber(h.view());
  info.proposer = ReplicaId(h.proposer());
  info.tx_count = h.tx_count();
  info.exec_height = Height(h.exec_height());
  info.log_size = h.log_size();
  info.log_root = ToHash32(AsBytes(h.log_root()));
  return info;
}

Result<std::vector<consensus::TxId>> NodeApp::CheckBlockBody(
    const consensus::Block& block, const consensus::HeaderInfo& header) const {
  if (block.txs.size() != header.tx_count) {
    return InvalidArgument("block: " + std::to_string(block.txs.size()) + " txs, header says " +
                           std::to_string(header.tx_count));
  }
  HC_ASSIGN_OR_RETURN(pb::BlockHeader h, ParseHeader(block.header, chain_id_));
  for (const Bytes& tx : block.txs) {
    if (tx.empty() || tx.size() > consensus::kMaxTxBytes) {
      return InvalidArgument("block: a tx of " + std::to_string(tx.size()) + " bytes");
    }
  }
  std::vector<consensus::TxId> ids = TxIds(block);
  const Hash32 root = ledger::TxsRootOfIds(ids);
  if (AsStringView(root) != h.txs_root()) return InvalidArgument("block: txs_root mismatch");
  return ids;
}

std::vector<consensus::TxId> NodeApp::TxIds(const consensus::Block& block) const {
  std::vector<consensus::TxId> ids;
  ids.reserve(block.txs.size());
  for (const Bytes& tx : block.txs) ids.push_back(ledger::TxIdOf(tx));
  return ids;
}

std::optional<consensus::ExecSummary> NodeApp::ExecutedSummary(Height height) const {
  return summary_at_(height);
}

}  // namespace hc::node
