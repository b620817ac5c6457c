#include "node/local_ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <system_error>

namespace hc::node {
namespace {

constexpr uint32_t kLowestPort = 10000;  // below this live well-known services' defaults
constexpr int kAttempts = 500;

// The first port of the kernel's ephemeral range (outbound connections' source ports).
uint32_t EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  uint32_t low = 0;
  uint32_t high = 0;
  if (in >> low >> high && low > kLowestPort) return low;
  return 32768;  // Linux's default when the file is unreadable
}

bool FreeOnLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // The nodes listen with SO_REUSEADDR, so a port whose old connections linger in TIME_WAIT is
  // usable for them; check the same way.
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// An exclusive, non-blocking flock on the port's file; -1 when another process holds it.
int LockPort(const std::filesystem::path& dir, uint16_t port) {
  const std::string path = (dir / (std::to_string(port) + ".lock")).string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

Result<PortBlock> PortBlock::Reserve(uint32_t count) {
  const uint32_t high = EphemeralLow();  // one past the last usable port
  if (count == 0 || kLowestPort + count > high) {
    return InvalidArgument("cannot reserve " + std::to_string(count) + " loopback ports below " +
                           std::to_string(high));
  }
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::temp_directory_path(ec) / "healthchain-ports";
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message());
  // Shared by every user of the machine's test runs: anyone may add lock files.
  std::filesystem::permissions(
      dir, std::filesystem::perms::all | std::filesystem::perms::sticky_bit, ec);

  std::mt19937 rng(
      static_cast<uint32_t>(::getpid()) ^
      static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const uint32_t starts = high - kLowestPort - count + 1;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const auto base = static_cast<uint16_t>(kLowestPort + rng() % starts);
    std::vector<int> fds;
    fds.reserve(count);
    bool ok = true;
    for (uint32_t i = 0; i < count && ok; ++i) {
      const auto port = static_cast<uint16_t>(base + i);
      const int fd = LockPort(dir, port);
      if (fd >= 0) fds.push_back(fd);
      ok = fd >= 0 && FreeOnLoopback(port);
    }
    if (ok) return PortBlock(base, std::move(fds));
    for (int fd : fds) ::close(fd);
  }
  return Unavailable("no block of " + std::to_string(count) + " free loopback ports in [" +
                     std::to_string(kLowestPort) + ", " + std::to_string(high) + ") after " +
                     std::to_string(kAttempts) + " tries");
}

PortBlock::PortBlock(PortBlock&& other) noexcept
    : base_(other.base_), lock_fds_(std::move(other.lock_fds_)) {
  other.lock_fds_.clear();
}

PortBlock& PortBlock::operator=(PortBlock&& other) noexcept {
  if (this != &other) {
    Release();
    base_ = other.base_;
    lock_fds_ = std::move(other.lock_fds_);
    other.lock_fds_.clear();
  }
  return *this;
}

PortBlock::~PortBlock() { Release(); }

void PortBlock::Release() {
  for (int fd : lock_fds_) ::close(fd);
  lock_fds_.clear();
}

uint16_t ReservePortForProcess() {
  static std::mutex mu;
  static std::vector<PortBlock> held;
  auto block = PortBlock::Reserve(1);
  if (!block.ok()) return 0;
  std::lock_guard lock(mu);
  held.push_back(std::move(block).value());
  return held.back().base();
}

}  // namespace hc::node
