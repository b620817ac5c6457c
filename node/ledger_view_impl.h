// LedgerViewImpl: the node's implementation of api::LedgerView (api/ledger_view.h), over NodeImpl's
// Ledger, its shared ledger lock and its RocksDB store (the `payloads` column family lives in the
// same database; its writes are synced by the caller's Write(batch, sync=true)).
//
// Thread-safety: every method may be called from any thread. Publish is called by the executor
// (validators) or the follower (observers) after each commit, in height order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "api/ledger_view.h"

namespace hc::node {

class LedgerViewImpl final : public api::LedgerView,
                             public std::enable_shared_from_this<LedgerViewImpl> {
 public:
  // `ledger` and `mu` are NodeImpl's ledger_ and ledger_mu_; `store` is the ledger's KvStore.
  // All three must outlive this object's use (the node stops its API server before closing them).
  LedgerViewImpl(const std::unique_ptr<ledger::Ledger>& ledger, std::shared_mutex& mu,
                 ledger::KvStore& store, const ledger::Genesis& genesis)
      : ledger_(ledger), mu_(mu), store_(store), genesis_(genesis) {}

  // Calls `fn` under the shared lock; does not call it once the ledger is closed.
  void Read(const std::function<void(const ledger::Ledger&)>& fn) const override;
  const ledger::Genesis& genesis() const override { return genesis_; }
  ledger::KvStore& payload_store() override { return store_; }
  std::unique_ptr<Subscription> SubscribeCommits(
      std::function<void(const api::CommittedBlockEvent&)> fn) override;

  // Hands `event` to every subscriber (on the committing thread, outside the ledger lock).
  void Publish(const api::CommittedBlockEvent& event);
  bool has_subscribers() const;

 private:
  class SubscriptionImpl;
  void Unsubscribe(uint64_t id);

  const std::unique_ptr<ledger::Ledger>& ledger_;
  std::shared_mutex& mu_;
  ledger::KvStore& store_;
  const ledger::Genesis& genesis_;

  // Subscribers are called under subs_mu_ so that a destroyed Subscription is never called
  // afterwards; they must not block (api/ledger_view.h).
  mutable std::mutex subs_mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::function<void(const api::CommittedBlockEvent&)>> subs_;
};

}  // namespace hc::node
