// A deliberately low-level HTTP client for the server tests: raw POSIX sockets with explicit
// timeouts, so a test can send half a request, garbage or pipelined bytes, and never hangs.
// Responses are parsed with Beast's parser fed by hand.
//
// ConnectTls talks the same over TLS (OpenSSL on the socket; tests using it link OpenSSL): the
// handshake and every read are bounded by the same kind of timeouts.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
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

  // Connects to 127.0.0.1:port and completes a TLS handshake with `ctx` (which decides what is
  // verified; the certificate must name 127.0.0.1 when it verifies peers) within `timeout`;
  // nullptr on failure, with the reason in *error (the certificate verification failure when
  // there is one).
  static std::unique_ptr<RawClient> ConnectTls(uint16_t port, SSL_CTX* ctx,
                                               std::string* error = nullptr,
                                               Ms timeout = Ms(5000)) {
    // OpenSSL writes to the socket without MSG_NOSIGNAL; a server that closes first must fail
    // the write, not kill the test.
    ::signal(SIGPIPE, SIG_IGN);
    auto fail = [&](std::string why) -> std::unique_ptr<RawClient> {
      if (error != nullptr) *error = std::move(why);
      return nullptr;
    };
    std::unique_ptr<RawClient> c = Connect(port);
    if (c == nullptr) return fail("connect failed");
    c->ssl_ = SSL_new(ctx);
    if (c->ssl_ == nullptr) return fail("SSL_new failed");
    SSL_set_fd(c->ssl_, c->fd_);
    // A server that closes without close_notify ends the stream like one that sends it.
    SSL_set_options(c->ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl_), "127.0.0.1");
    c->SetSocketTimeout(timeout);
    const int rc = SSL_connect(c->ssl_);
    if (rc != 1) {
      const long verify = SSL_get_verify_result(c->ssl_);
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                                            : "TLS handshake failed (SSL error " +
                                                  std::to_string(SSL_get_error(c->ssl_, rc)) + ")";
      ERR_clear_error();
      return fail(why);
    }
    return c;
  }

  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Sends all of `data`; false when the connection refuses it (reset, closed).
  bool Send(std::string_view data) {
    while (!data.empty()) {
      if (ssl_ != nullptr) {
        const int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (n <= 0) {
          ERR_clear_error();
          return false;
        }
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
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
        // Closed before a byte of a response (Beast asserts on put_eof then).
        if (!parser.got_some()) return std::nullopt;
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

  // The negotiated TLS version (TLS1_3_VERSION, ...); 0 for a plain connection.
  int tls_version() const { return ssl_ != nullptr ? SSL_version(ssl_) : 0; }
  // The certificate the server presented; null for a plain connection. Valid while connected.
  X509* peer_certificate() const {
    return ssl_ != nullptr ? SSL_get0_peer_certificate(ssl_) : nullptr;
  }

  void Close() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  enum class ReadResult { kData, kEof, kTimeout, kError };

  explicit RawClient(int fd) : fd_(fd) {}

  // Bounds blocking socket calls (the TLS handshake, and a TLS record that arrives in pieces).
  void SetSocketTimeout(Ms timeout) {
    const long ms = std::max<long>(1, static_cast<long>(timeout.count()));
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  ReadResult ReadMore(std::chrono::steady_clock::time_point deadline) {
    while (true) {
      const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return ReadResult::kTimeout;
      if (ssl_ != nullptr) return ReadMoreTls(left);
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

  ReadResult ReadMoreTls(Ms left) {
    // Bytes OpenSSL already decrypted are read at once; otherwise wait for the socket.
    if (SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) return ReadResult::kData;  // the caller loops
      if (rc < 0) return ReadResult::kError;
      if (rc == 0) return ReadResult::kTimeout;
    }
    SetSocketTimeout(left);
    char buf[8192];
    const int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
      return ReadResult::kData;
    }
    const int err = SSL_get_error(ssl_, n);
    ERR_clear_error();
    if (err == SSL_ERROR_ZERO_RETURN) return ReadResult::kEof;
    // A post-handshake message (a session ticket) with no data after it, or the socket timeout.
    if (err == SSL_ERROR_WANT_READ) return ReadResult::kData;
    return ReadResult::kError;
  }

  int fd_;
  SSL* ssl_ = nullptr;  // TLS connections only
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
