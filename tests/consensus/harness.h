// A single replica under test, fed by hand: n = 4 fake-signer validators, the simulator's FakeApp,
// and helpers that build validly signed messages from any validator.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "consensus/durable.h"
#include "consensus/replica.h"
#include "consensus/signing.h"
#include "crypto/hash.h"
#include "crypto/signer.h"
#include "tests/sim/fake_app.h"

namespace hc::consensus::testing {

using sim::EncodeFakeHeader;
using sim::FakeApp;
using sim::FakeTxId;
using sim::FakeTxsRoot;
using sim::MakeFakeTx;
using sim::SimLedger;
using sim::SimMempool;

inline constexpr int64_t kNow = 1'000'000;

inline Config TestConfig(uint32_t n = 4) {
  Config c;
  c.chain_id = "hc-unit";
  c.genesis.hash = crypto::Sha256(AsBytes("unit-genesis"));
  c.genesis.timestamp_ms = kNow - 1000;
  for (uint32_t i = 0; i < n; ++i) {
    PublicKey k = crypto::Sha256(AsBytes("unit-key-" + std::to_string(i)));
    c.validators.push_back(k);
  }
  c.batch_txs_max = 4;
  c.batch_delay_ms = 5;
  c.window = 8;
  c.checkpoint_interval = 4;
  c.exec_lag_max = 8;
  c.empty_block_delay_ms = 0;
  return c;
}

class Harness {
 public:
  explicit Harness(uint32_t self, DurableState durable = {}, Config config = TestConfig())
      : config_(std::move(config)),
        ledger_(config_.genesis),
        app_(config_.chain_id, &ledger_, &mempool_) {
    config_.self = ReplicaId(self);
    for (uint32_t i = 0; i < config_.n(); ++i) {
      signers_.push_back(crypto::MakeFakeSigner(config_.validators[i]));
    }
    verifier_ = crypto::MakeFakeVerifier();
    replica_ = std::make_unique<Replica>(config_, *signers_[self], *verifier_, app_,
                                         std::move(durable), ledger_.tip(), kNow);
    Tick(kNow);
  }

  Replica& replica() { return *replica_; }
  const Config& config() const { return config_; }
  FakeApp& app() { return app_; }
  SimLedger& ledger() { return ledger_; }
  const crypto::Signer& signer(uint32_t i) const { return *signers_[i]; }

  Actions Deliver(uint32_t from, Message msg) {
    Actions a = replica_->OnMessage(ReplicaId(from), msg);
    Apply(a);
    return a;
  }
  Actions Tick(int64_t now) {
    now_ = now;
    Actions a = replica_->OnTick(now);
    Apply(a);
    return a;
  }
  Actions Tx(uint64_t number, uint32_t relayer) {
    Bytes tx = MakeFakeTx(number, 100);
    const TxId id = FakeTxId(tx);
    mempool_.Add(id, tx);
    Actions a = replica_->OnTx(id, static_cast<uint32_t>(tx.size()), ReplicaId(relayer));
    Apply(a);
    return a;
  }
  uint64_t Drops(DropReason r) const { return replica_->metrics().Dropped(r); }

  // What the replica has persisted so far (the simulator's store).
  const DurableState& store() const { return store_; }
  const std::vector<Actions>& log() const { return log_; }
  uint64_t commits() const { return commits_; }

  // A block at `seq` with the given txs, linked to `prev`, proposed in `view` by its primary.
  Block MakeBlock(ViewNumber view, SeqNumber seq, const Hash32& prev, std::vector<uint64_t> txs,
                  std::optional<int64_t> ts = std::nullopt,
                  const std::function<void(HeaderInfo&)>& tweak = nullptr) {
    Block b;
    std::vector<TxId> ids;
    for (uint64_t t : txs) {
      b.txs.Mutable().push_back(MakeFakeTx(t, 100));
      ids.push_back(FakeTxId(b.txs.back()));
    }
    HeaderInfo h;
    h.height = Height(seq.value());
    h.prev_block_hash = prev;
    h.timestamp_ms = ts.value_or(now_);
    h.view = view;
    h.proposer = ReplicaId(static_cast<uint32_t>(view.value() % config_.n()));
    h.tx_count = static_cast<uint32_t>(ids.size());
    h.exec_height = ledger_.height();
    h.log_size = ledger_.tip().log_size;
    h.log_root = ledger_.tip().log_root;
    if (tweak) tweak(h);
    b.header = EncodeFakeHeader(config_.chain_id, h, FakeTxsRoot(ids));
    return b;
  }
  PrePrepare MakePrePrepare(ViewNumber view, SeqNumber seq, Block block) {
    PrePrepare pp{view, seq, BlockHash(block.header), std::move(block), {}};
    SignPrePrepare(*signers_[view.value() % config_.n()], config_.chain_id, pp);
    return pp;
  }
  PrePrepare FirstPrePrepare(std::vector<uint64_t> txs = {1}) {
    return MakePrePrepare(ViewNumber(0), SeqNumber(1),
                          MakeBlock(ViewNumber(0), SeqNumber(1), config_.genesis.hash, txs));
  }
  Prepare MakePrepare(uint32_t from, ViewNumber view, SeqNumber seq, const Hash32& digest) {
    Prepare p{view, seq, digest, ReplicaId(from), {}};
    SignPrepare(*signers_[from], config_.chain_id, p);
    return p;
  }
  Commit MakeCommit(uint32_t from, ViewNumber view, SeqNumber seq, const Hash32& digest) {
    Commit c{view, seq, digest, ReplicaId(from), {}};
    SignCommit(*signers_[from], config_.chain_id, c);
    return c;
  }
  Checkpoint MakeCheckpoint(uint32_t from, SeqNumber seq, const Hash32& block_hash) {
    Checkpoint cp{seq, block_hash, Hash32{}, Hash32{}, ReplicaId(from), {}};
    SignCheckpoint(*signers_[from], config_.chain_id, cp);
    return cp;
  }

  template <typename T>
  static std::vector<T> Sent(const Actions& actions) {
    std::vector<T> out;
    for (const Action& a : actions) {
      if (const auto* b = std::get_if<BroadcastAction>(&a)) {
        if (const T* m = std::get_if<T>(&b->message)) out.push_back(*m);
      } else if (const auto* s = std::get_if<SendAction>(&a)) {
        if (const T* m = std::get_if<T>(&s->message)) out.push_back(*m);
      }
    }
    return out;
  }

 private:
  void Record(const Actions& actions) {
    log_.push_back(actions);
    for (const Action& a : actions) {
      if (const auto* p = std::get_if<PersistAction>(&a)) ApplyRecord(store_, p->record);
      if (const auto* c = std::get_if<CommitAction>(&a)) {
        ++commits_;
        HC_ASSERT_MSG(c->tx_ids == app_.TxIds(c->block.block),
                      "a CommitAction names other tx ids than its block's txs");
        Result<HeaderInfo> h = app_.DecodeHeader(c->block.block.header);
        pending_exec_.push_back({c->block, *h});
      }
    }
  }
  void Apply(const Actions& actions) {
    Record(actions);
    // Execute after the whole vector, as a driver must (actions.h).
    while (!pending_exec_.empty()) {
      auto [block, header] = pending_exec_.front();
      pending_exec_.erase(pending_exec_.begin());
      const ExecSummary s = ledger_.Execute(block, header, app_.TxIds(block.block));
      Record(replica_->OnBlockExecuted(s));
    }
  }

  Config config_;
  std::vector<std::unique_ptr<crypto::Signer>> signers_;
  std::unique_ptr<crypto::Verifier> verifier_;
  SimLedger ledger_;
  SimMempool mempool_;
  FakeApp app_;
  std::unique_ptr<Replica> replica_;
  DurableState store_;
  std::vector<Actions> log_;
  std::vector<std::pair<CertifiedBlock, HeaderInfo>> pending_exec_;
  uint64_t commits_ = 0;
  int64_t now_ = kNow;
};

}  // namespace hc::consensus::testing
