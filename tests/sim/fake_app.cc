#include "tests/sim/fake_app.h"

#include <cstring>

#include "consensus/limits.h"
#include "crypto/hash.h"

namespace hc::sim {
namespace {

constexpr std::string_view kMagic = "FH1";

void PutU32(Bytes& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
void PutU64(Bytes& out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
void PutRaw(Bytes& out, ByteView b) {
  // resize + memcpy rather than insert: GCC 12 at -O3 warns (stringop-overflow) on the latter.
  if (b.empty()) return;
  const size_t at = out.size();
  out.resize(at + b.size());
  std::memcpy(out.data() + at, b.data(), b.size());
}

class Reader {
 public:
  explicit Reader(ByteView b) : b_(b) {}
  bool U32(uint32_t& v) {
    if (left() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | b_[pos_++];
    return true;
  }
  bool U64(uint64_t& v) {
    if (left() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | b_[pos_++];
    return true;
  }
  bool Raw(uint8_t* out, size_t n) {
    if (left() < n) return false;
    std::memcpy(out, b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  size_t left() const { return b_.size() - pos_; }

 private:
  ByteView b_;
  size_t pos_ = 0;
};

}  // namespace

Bytes MakeFakeTx(uint64_t number, uint32_t size) {
  Bytes tx;
  tx.push_back('T');
  PutU64(tx, number);
  while (tx.size() < std::max<uint32_t>(size, 16)) tx.push_back(static_cast<uint8_t>(tx.size()));
  return tx;
}

TxId FakeTxId(ByteView tx) { return crypto::DomainHash("hc/txid/v1", tx); }

bool FakeTxWellFormed(ByteView tx) {
  return tx.size() >= 16 && tx.size() <= consensus::kMaxTxBytes && tx[0] == 'T';
}

Hash32 FakeTxsRoot(const std::vector<TxId>& ids) {
  crypto::Sha256Hasher h;
  h.Update(std::string_view("fake-txs-root"));
  for (const TxId& id : ids) h.Update(id);
  return h.Final();
}

Bytes EncodeFakeHeader(std::string_view chain_id, const HeaderInfo& h, const Hash32& txs_root) {
  Bytes out;
  PutRaw(out, AsBytes(kMagic));
  out.push_back(static_cast<uint8_t>(chain_id.size()));
  PutRaw(out, AsBytes(chain_id));
  PutU64(out, h.height.value());
  PutRaw(out, h.prev_block_hash);
  PutU64(out, static_cast<uint64_t>(h.timestamp_ms));
  PutU64(out, h.view.value());
  PutU32(out, h.proposer.value());
  PutRaw(out, txs_root);
  PutU32(out, h.tx_count);
  PutU64(out, h.exec_height.value());
  PutU64(out, h.log_size);
  PutRaw(out, h.log_root);
  return out;
}

SimLedger::SimLedger(const consensus::Genesis& genesis) {
  ExecSummary g;
  g.height = Height(0);
  g.block_hash = genesis.hash;
  g.timestamp_ms = genesis.timestamp_ms;
  g.log_root = crypto::Sha256(AsBytes("fake-empty-log"));
  g.state_digest = crypto::Sha256(AsBytes("fake-genesis-state"));
  summaries.push_back(g);
}

const ExecSummary& SimLedger::Execute(const CertifiedBlock& block, const HeaderInfo& header,
                                      const std::vector<TxId>& ids) {
  const ExecSummary& prev = summaries.back();
  ExecSummary s;
  s.height = Height(prev.height.value() + 1);
  s.block_hash = block.certificate.block_hash;
  s.timestamp_ms = header.timestamp_ms;
  s.log_size = prev.log_size;
  crypto::Sha256Hasher h;
  Hash32 root = prev.log_root;
  for (const TxId& id : ids) {
    // Duplicate tx ids stay in the block but do not enter the log twice (the ledger's DUPLICATE).
    if (tx_height.contains(id)) continue;
    tx_height.emplace(id, s.height.value());
    root = h.Update(std::string_view("fake-log")).Update(root).Update(id).Final();
    ++s.log_size;
  }
  s.log_root = root;
  s.state_digest = h.Update(std::string_view("fake-state")).Update(root).Final();
  blocks.push_back(block);
  summaries.push_back(s);
  return summaries.back();
}

void SimMempool::Add(const TxId& id, Bytes tx) {
  if (txs.contains(id)) return;
  const uint64_t o = next++;
  order.emplace(o, id);
  txs.emplace(id, std::make_pair(o, std::move(tx)));
}

void SimMempool::Remove(const TxId& id) {
  auto it = txs.find(id);
  if (it == txs.end()) return;
  order.erase(it->second.first);
  txs.erase(it);
}

Block FakeApp::BuildBlock(const consensus::ProposalRequest& request) {
  Block block;
  std::vector<TxId> ids;
  uint64_t bytes = 0;
  for (const auto& [o, id] : mempool_->order) {
    if (ids.size() >= request.max_txs) break;
    if (request.exclude->contains(id) || ledger_->tx_height.contains(id)) continue;
    const Bytes& tx = mempool_->txs.at(id).second;
    if (bytes + tx.size() > request.max_bytes) break;
    bytes += tx.size();
    ids.push_back(id);
    block.txs.Mutable().push_back(tx);
  }
  HeaderInfo h;
  h.height = request.height;
  h.prev_block_hash = request.prev_block_hash;
  h.timestamp_ms = request.timestamp_ms;
  h.view = request.view;
  h.proposer = request.proposer;
  h.tx_count = static_cast<uint32_t>(ids.size());
  h.exec_height = request.exec.height;
  h.log_size = request.exec.log_size;
  h.log_root = request.exec.log_root;
  block.header = EncodeFakeHeader(chain_id_, h, FakeTxsRoot(ids));
  return block;
}

Result<HeaderInfo> FakeApp::DecodeHeader(ByteView header) const {
  Reader r(header);
  char magic[3];
  if (!r.Raw(reinterpret_cast<uint8_t*>(magic), 3) || std::string_view(magic, 3) != kMagic) {
    return InvalidArgument("fake header: bad magic");
  }
  uint8_t len = 0;
  if (!r.Raw(&len, 1) || len != chain_id_.size()) return InvalidArgument("fake header: chain id");
  std::string chain(len, '\0');
  if (!r.Raw(reinterpret_cast<uint8_t*>(chain.data()), len) || chain != chain_id_) {
    return InvalidArgument("fake header: chain id");
  }
  HeaderInfo h;
  uint64_t height, ts, view, exec;
  uint32_t proposer;
  Hash32 txs_root;
  if (!r.U64(height) || !r.Raw(h.prev_block_hash.data(), 32) || !r.U64(ts) || !r.U64(view) ||
      !r.U32(proposer) || !r.Raw(txs_root.data(), 32) || !r.U32(h.tx_count) || !r.U64(exec) ||
      !r.U64(h.log_size) || !r.Raw(h.log_root.data(), 32) || r.left() != 0) {
    return InvalidArgument("fake header: truncated or trailing bytes");
  }
  h.height = Height(height);
  h.timestamp_ms = static_cast<int64_t>(ts);
  h.view = ViewNumber(view);
  h.proposer = ReplicaId(proposer);
  h.exec_height = Height(exec);
  return h;
}

Result<std::vector<TxId>> FakeApp::CheckBlockBody(const Block& block,
                                                  const HeaderInfo& header) const {
  if (block.txs.size() != header.tx_count) return InvalidArgument("tx count mismatch");
  std::vector<TxId> ids;
  for (const Bytes& tx : block.txs) {
    if (!FakeTxWellFormed(tx)) return InvalidArgument("malformed tx");
    ids.push_back(FakeTxId(tx));
  }
  // The txs_root sits at a fixed offset: re-encode the header with the recomputed root.
  if (EncodeFakeHeader(chain_id_, header, FakeTxsRoot(ids)) != block.header) {
    return InvalidArgument("txs_root mismatch");
  }
  return ids;
}

std::vector<TxId> FakeApp::TxIds(const Block& block) const {
  std::vector<TxId> ids;
  ids.reserve(block.txs.size());
  for (const Bytes& tx : block.txs) ids.push_back(FakeTxId(tx));
  return ids;
}

std::optional<ExecSummary> FakeApp::ExecutedSummary(Height height) const {
  if (height.value() >= ledger_->summaries.size()) return std::nullopt;
  return ledger_->summaries[height.value()];
}

}  // namespace hc::sim
