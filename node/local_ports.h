#pragma once

// Loopback port blocks for the local networks that tests and the cluster benchmark start.
//
// Choosing a port by binding :0 and closing races twice: another process may choose the same
// port before the node binds it, and the kernel may hand it out meanwhile as the source port of
// any outbound connection (both come from the ephemeral range). A PortBlock avoids both: its
// ports lie below the kernel's ephemeral range (ip_local_port_range), and each is held by an
// exclusive flock on a file under $TMPDIR/healthchain-ports until the block is destroyed, so
// every process that reserves through this class gets disjoint ports.

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace hc::node {

class PortBlock {
 public:
  // `count` consecutive ports, each free on 127.0.0.1 when reserved.
  static Result<PortBlock> Reserve(uint32_t count);

  PortBlock(PortBlock&& other) noexcept;
  PortBlock& operator=(PortBlock&& other) noexcept;
  PortBlock(const PortBlock&) = delete;
  PortBlock& operator=(const PortBlock&) = delete;
  ~PortBlock();

  uint16_t base() const { return base_; }
  uint32_t size() const { return static_cast<uint32_t>(lock_fds_.size()); }
  uint16_t port(uint32_t i) const { return static_cast<uint16_t>(base_ + i); }

 private:
  PortBlock(uint16_t base, std::vector<int> lock_fds)
      : base_(base), lock_fds_(std::move(lock_fds)) {}
  void Release();

  uint16_t base_ = 0;
  std::vector<int> lock_fds_;  // one flock'd file per port
};

// One port reserved until the process exits, for tests that start many nodes; 0 when none is
// free (the tests then fail to start a node, naming the port).
uint16_t ReservePortForProcess();

}  // namespace hc::node
