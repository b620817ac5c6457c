#include "consensus/limits.h"

#include <string>

#include "consensus/signing.h"

namespace hc::consensus {

Status Config::Validate() const {
  if (!IsValidChainId(chain_id)) return InvalidArgument("config: chain id must be 1..64 bytes");
  if (validators.empty()) return InvalidArgument("config: no validators");
  if (validators.size() > kMaxReplicas) {
    return InvalidArgument("config: more than " + std::to_string(kMaxReplicas) + " validators");
  }
  if (self.value() >= validators.size()) return InvalidArgument("config: self is not a validator");
  for (size_t i = 0; i < validators.size(); ++i) {
    for (size_t j = i + 1; j < validators.size(); ++j) {
      if (validators[i] == validators[j]) return InvalidArgument("config: duplicate validator key");
    }
  }
  if (batch_txs_max == 0 || batch_txs_max > kMaxBatchTxs) {
    return InvalidArgument("config: batch_txs_max must be 1.." + std::to_string(kMaxBatchTxs));
  }
  if (batch_bytes_max < kMaxTxBytes || batch_bytes_max > kMaxBatchBytes) {
    return InvalidArgument("config: batch_bytes_max must hold one maximal tx and be at most " +
                           std::to_string(kMaxBatchBytes));
  }
  if (batch_delay_ms < 0) return InvalidArgument("config: batch_delay_ms < 0");
  if (checkpoint_interval == 0) return InvalidArgument("config: checkpoint_interval is 0");
  if (window == 0 || window > kMaxWindow || window % checkpoint_interval != 0 ||
      window < 2 * checkpoint_interval) {
    return InvalidArgument(
        "config: window must be a multiple of checkpoint_interval, at least two intervals, at "
        "most " +
        std::to_string(kMaxWindow));
  }
  if (exec_lag_max == 0) return InvalidArgument("config: exec_lag_max is 0");
  if (view_change_timeout_ms <= 0 || view_change_timeout_max_ms < view_change_timeout_ms) {
    return InvalidArgument("config: need 0 < view_change_timeout_ms <= view_change_timeout_max_ms");
  }
  if (censorship_timeout_ms <= 0 || retransmit_interval_ms <= 0 || state_transfer_timeout_ms <= 0 ||
      timestamp_drift_ms <= 0 || empty_block_delay_ms < 0 || status_interval_ms < 0) {
    return InvalidArgument("config: timeouts must be positive");
  }
  return Status::Ok();
}

uint64_t MaxViewChangeWireBytes(const Config& config) {
  const uint64_t cert = config.batch_bytes_max + 16ull * config.batch_txs_max + kMaxHeaderBytes +
                        256 + uint64_t{config.n()} * kPrepareWireBytes;
  return 1024 + uint64_t{config.n()} * 256 + uint64_t{config.window} * cert;
}

uint64_t MaxNewViewWireBytes(const Config& config) {
  const uint64_t stripped_vc =
      1024 + uint64_t{config.n()} * 256 +
      uint64_t{config.window} * (kMaxHeaderBytes + 256 + uint64_t{config.n()} * kPrepareWireBytes);
  const uint64_t block = config.batch_bytes_max + 16ull * config.batch_txs_max + kMaxHeaderBytes;
  return 1024 + uint64_t{config.n()} * stripped_vc + uint64_t{config.window} * (block + 256);
}

}  // namespace hc::consensus
