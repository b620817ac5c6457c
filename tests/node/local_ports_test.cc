#include "node/local_ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace hc::node {
namespace {

uint32_t EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  uint32_t low = 32768;
  in >> low;
  return low;
}

bool CanListen(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok =
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && ::listen(fd, 1) == 0;
  ::close(fd);
  return ok;
}

// True when another open file description can take the port's lock (nobody holds it).
bool LockIsFree(uint16_t port) {
  const auto path = std::filesystem::temp_directory_path() / "healthchain-ports" /
                    (std::to_string(port) + ".lock");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

TEST(PortBlockTest, ConsecutiveListenablePortsBelowTheEphemeralRange) {
  auto block = PortBlock::Reserve(12);
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  EXPECT_EQ(block->size(), 12u);
  EXPECT_GE(block->base(), 10000);
  EXPECT_LT(uint32_t{block->port(11)}, EphemeralLow());
  for (uint32_t i = 0; i < block->size(); ++i) {
    EXPECT_EQ(block->port(i), block->base() + i);
    EXPECT_TRUE(CanListen(block->port(i))) << block->port(i);
  }
}

TEST(PortBlockTest, HeldPortsAreNeverHandedOutAgainUntilReleased) {
  std::set<uint16_t> first_ports;
  {
    auto first = PortBlock::Reserve(16);
    ASSERT_TRUE(first.ok());
    for (uint32_t i = 0; i < first->size(); ++i) first_ports.insert(first->port(i));
    for (uint16_t p : first_ports) EXPECT_FALSE(LockIsFree(p)) << p;
    for (int round = 0; round < 50; ++round) {
      auto other = PortBlock::Reserve(16);
      ASSERT_TRUE(other.ok());
      for (uint32_t i = 0; i < other->size(); ++i) {
        ASSERT_EQ(first_ports.count(other->port(i)), 0u) << "port " << other->port(i) << " twice";
      }
    }
    // Moving a block keeps its ports held.
    PortBlock moved = std::move(first).value();
    for (uint16_t p : first_ports) EXPECT_FALSE(LockIsFree(p)) << p;
  }
  for (uint16_t p : first_ports) EXPECT_TRUE(LockIsFree(p)) << p;
}

TEST(PortBlockTest, ImpossibleSizesAreRefusedWithAReason) {
  EXPECT_FALSE(PortBlock::Reserve(0).ok());
  auto huge = PortBlock::Reserve(60000);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("60000"), std::string::npos);
}

TEST(PortBlockTest, ProcessLifetimePortsAreDistinctAndHeld) {
  std::set<uint16_t> seen;
  for (int i = 0; i < 20; ++i) {
    const uint16_t p = ReservePortForProcess();
    ASSERT_NE(p, 0);
    EXPECT_TRUE(seen.insert(p).second) << p;
    EXPECT_FALSE(LockIsFree(p)) << p;
  }
}

}  // namespace
}  // namespace hc::node
