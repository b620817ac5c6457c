#include "node/ledger_view_impl.h"

#include <utility>

namespace hc::node {

class LedgerViewImpl::SubscriptionImpl final : public api::LedgerView::Subscription {
 public:
  SubscriptionImpl(std::weak_ptr<LedgerViewImpl> view, uint64_t id)
      : view_(std::move(view)), id_(id) {}
  ~SubscriptionImpl() override {
    if (auto v = view_.lock()) v->Unsubscribe(id_);
  }

 private:
  std::weak_ptr<LedgerViewImpl> view_;
  uint64_t id_;
};

void LedgerViewImpl::Read(const std::function<void(const ledger::Ledger&)>& fn) const {
  std::shared_lock lock(mu_);
  if (!ledger_) return;
  fn(*ledger_);
}

std::unique_ptr<api::LedgerView::Subscription> LedgerViewImpl::SubscribeCommits(
    std::function<void(const api::CommittedBlockEvent&)> fn) {
  std::lock_guard lock(subs_mu_);
  const uint64_t id = next_id_++;
  subs_.emplace(id, std::move(fn));
  return std::make_unique<SubscriptionImpl>(weak_from_this(), id);
}

void LedgerViewImpl::Unsubscribe(uint64_t id) {
  std::lock_guard lock(subs_mu_);
  subs_.erase(id);
}

bool LedgerViewImpl::has_subscribers() const {
  std::lock_guard lock(subs_mu_);
  return !subs_.empty();
}

void LedgerViewImpl::Publish(const api::CommittedBlockEvent& event) {
  std::lock_guard lock(subs_mu_);
  for (auto& [id, fn] : subs_) fn(event);
}

}  // namespace hc::node
