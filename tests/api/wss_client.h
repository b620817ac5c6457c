// A WebSocket-over-TLS (wss) client for tests. Every step runs as an asynchronous operation on the
// client's own io_context for at most its timeout, so no test hangs on a silent server (socket
// receive timeouts do not bound Asio's synchronous reads). After a timeout the client is unusable.
//
// The server's certificate is verified as hcctl verifies it (crypto::MakeApiClientTlsContext,
// crypto::SetApiTlsServerName for 127.0.0.1). Tests using it link hc_crypto.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/tls.h"

namespace hc::api::testing {

class WssClient {
  // The completion handler of the pending operation (defined first: its return type is deduced).
  auto Done() {
    return [this](boost::system::error_code ec) {
      ec_ = ec;
      done_ = true;
    };
  }

 public:
  using Ms = std::chrono::milliseconds;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Connects to 127.0.0.1:port, completes the TLS handshake (the certificate checked against
  // `ca_file`) and the WebSocket handshake for `target` with `headers`. False on failure, with the
  // reason in error(); response() holds the server's answer to a refused upgrade.
  bool Open(uint16_t port, const std::string& ca_file, const std::string& target,
            const Headers& headers = {}, Ms timeout = Ms(5000)) {
    namespace asio = boost::asio;
    namespace websocket = boost::beast::websocket;
    auto ctx = crypto::MakeApiClientTlsContext(ca_file);
    if (!ctx.ok()) return Fail(ctx.status().ToString());
    ctx_.emplace(ctx->release());
    ws_.emplace(ioc_, *ctx_);
    Status named = crypto::SetApiTlsServerName(ws_->next_layer().native_handle(), "127.0.0.1");
    if (!named.ok()) return Fail(named.ToString());
    boost::system::error_code ec;
    boost::beast::get_lowest_layer(*ws_).connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return Fail("connect: " + ec.message());
    ws_->next_layer().async_handshake(asio::ssl::stream_base::client, Done());
    if (!Wait(timeout)) {
      const std::string why = crypto::TlsVerifyFailure(ws_->next_layer().native_handle());
      return Fail("TLS handshake: " + (why.empty() ? ec_.message() : why));
    }
    ws_->set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (const auto& [k, v] : headers) req.set(k, v);
    }));
    ws_->async_handshake(response_, "127.0.0.1", target, Done());
    if (!Wait(timeout)) return Fail("WebSocket handshake: " + ec_.message());
    return true;
  }

  // The next text message; nullopt on close, error or timeout (see error()).
  std::optional<std::string> Next(Ms timeout = Ms(5000)) {
    if (!ws_ || broken_) return std::nullopt;
    buffer_.clear();
    ws_->async_read(buffer_, [this](boost::system::error_code ec, size_t) {
      ec_ = ec;
      done_ = true;
    });
    if (!Wait(timeout)) {
      Fail("read: " + ec_.message());
      return std::nullopt;
    }
    return boost::beast::buffers_to_string(buffer_.data());
  }

  // A normal close, waiting at most `timeout` for the server's close frame.
  void Close(Ms timeout = Ms(2000)) {
    if (!ws_ || broken_) return;
    ws_->async_close(boost::beast::websocket::close_code::normal, Done());
    Wait(timeout);
    broken_ = true;
  }

  const boost::beast::websocket::response_type& response() const { return response_; }
  const std::string& error() const { return error_; }

 private:
  // Runs the pending operation for at most `timeout`; true when it completed without error. A
  // timed-out operation stays pending and the client is marked broken: its io_context is never run
  // again, so the handler never runs late.
  bool Wait(Ms timeout) {
    done_ = false;
    ec_ = {};
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!done_) {
      ec_ = boost::asio::error::timed_out;
      broken_ = true;
      return false;
    }
    return !ec_;
  }

  bool Fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  boost::asio::io_context ioc_;
  std::optional<boost::asio::ssl::context> ctx_;
  std::optional<
      boost::beast::websocket::stream<boost::beast::ssl_stream<boost::asio::ip::tcp::socket>>>
      ws_;
  boost::beast::websocket::response_type response_;
  boost::beast::flat_buffer buffer_;
  boost::system::error_code ec_;
  bool done_ = false;
  bool broken_ = false;
  std::string error_;
};

}  // namespace hc::api::testing
