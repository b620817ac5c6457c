// A deliberately low-level HTTP client for the server tests: raw POSIX sockets with explicit
// timeouts, so a test can send half a request, garbage or pipelined bytes, and never hangs.
// Responses are parsed with Beast's parser fed by hand.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hc::api::testing {

using Ms = std::chrono::milliseconds;
using RawResponse = boost::beast::http::response<boost::beast::http::string_body>;

class RawClient {
 public:
  // Connects to 127.0.0.1:port; nullptr on failure.
  static std::unique_ptr<RawClient> Connect(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return nullptr;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return std::unique_ptr<RawClient>(new RawClient(fd));
  }

  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Sends all of `data`; false when the connection refuses it (reset, closed).
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response; nullopt on timeout, close before a full response, or a parse error.
  std::optional<RawResponse> ReadResponse(Ms timeout = Ms(5000)) {
    namespace http = boost::beast::http;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(64u << 20);
    while (true) {
      if (!buffer_.empty()) {
        boost::system::error_code ec;
        const size_t n = parser.put(boost::asio::buffer(buffer_), ec);
        buffer_.erase(0, n);
        if (ec && ec != http::error::need_more) return std::nullopt;
        if (parser.is_done()) return parser.release();
        if (!ec && n > 0) continue;
      }
      const ReadResult r = ReadMore(deadline);
      if (r == ReadResult::kEof) {
        boost::system::error_code ec;
        parser.put_eof(ec);
        if (!ec && parser.is_done()) return parser.release();
        return std::nullopt;
      }
      if (r != ReadResult::kData) return std::nullopt;
    }
  }

  // Reads exactly `n` bytes (or fewer on close/timeout).
  std::string ReadBytes(size_t n, Ms timeout = Ms(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.size() < n && ReadMore(deadline) == ReadResult::kData) {
    }
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, out.size());
    return out;
  }

  // True when the server closes (EOF or reset) within `timeout`; bytes received meanwhile are
  // kept in `received()`.
  bool WaitClosed(Ms timeout = Ms(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const ReadResult r = ReadMore(deadline);
      if (r == ReadResult::kEof || r == ReadResult::kError) return true;
      if (r == ReadResult::kTimeout) return false;
    }
  }

  const std::string& received() const { return buffer_; }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  enum class ReadResult { kData, kEof, kTimeout, kError };

  explicit RawClient(int fd) : fd_(fd) {}

  ReadResult ReadMore(std::chrono::steady_clock::time_point deadline) {
    while (true) {
      const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return ReadResult::kTimeout;
      pollfd p{fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return ReadResult::kError;
      if (rc == 0) return ReadResult::kTimeout;
      char buf[8192];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ReadResult::kError;
      if (n == 0) return ReadResult::kEof;
      buffer_.append(buf, static_cast<size_t>(n));
      return ReadResult::kData;
    }
  }

  int fd_;
  std::string buffer_;
};

// "METHOD target HTTP/1.1" with Host, the given extra header lines and Content-Length for a body.
inline std::string MakeRequest(std::string_view method, std::string_view target,
                               std::string_view body = {},
                               const std::map<std::string, std::string>& headers = {}) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers) out.append(name).append(": ").append(value) += "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    out.append("Content-Length: ").append(std::to_string(body.size())) += "\r\n";
  }
  out += "\r\n";
  out.append(body);
  return out;
}

}  // namespace hc::api::testing
