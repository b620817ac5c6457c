#include "cli/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace hc::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<NodeUrl> ParseNodeUrl(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("https://", 0) == 0) {
    return InvalidArgument("--node " + url +
                           ": https is not supported by hcctl; use http:// (see "
                           "docs/operations.md)");
  }
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  NodeUrl out;
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    out.prefix = rest.substr(slash);
    while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  }
  const size_t colon = authority.rfind(':');
  if (authority.empty() || colon == std::string::npos || colon == 0 ||
      colon + 1 == authority.size() ||
      authority.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return InvalidArgument("--node " + url + ": expected http://host:port");
  }
  out.host = authority.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  out.port = authority.substr(colon + 1);
  return out;
}

Result<HttpResponse> HttpRequest(const NodeUrl& url, const std::string& method,
                                 const std::string& target, const std::string& body,
                                 const std::string& content_type,
                                 std::chrono::milliseconds timeout) {
  return HttpRequest(url, method, target, body, content_type, timeout, HttpRequestOptions{});
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return "";
}

Result<HttpResponse> HttpRequest(const NodeUrl& url, const std::string& method,
                                 const std::string& target, const std::string& body,
                                 const std::string& content_type, std::chrono::milliseconds timeout,
                                 const HttpRequestOptions& options) {
  const std::string where = "http://" + url.host + ":" + url.port + url.prefix + target;
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  // Beast's stream timeouts apply to asynchronous operations only, so the exchange runs as a short
  // chain of async calls on a private io_context, which is run to completion here.
  const tcp::resolver::results_type endpoints = resolver.resolve(url.host, url.port, ec);
  if (ec) return Unavailable(where + ": cannot resolve " + url.host + ": " + ec.message());

  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::string_to_verb(method), url.prefix + target, 11};
  req.set(http::field::host, url.host + ":" + url.port);
  req.set(http::field::user_agent, "hcctl");
  req.set(http::field::accept, "application/json, application/problem+json");
  for (const auto& [k, v] : options.headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.set(http::field::content_type, content_type);
    req.body() = body;
    req.prepare_payload();
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.response_body_max);

  beast::error_code result_ec;
  std::string stage = "connect";
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
    if (e) {
      result_ec = e;
      return;
    }
    stage = "send";
    http::async_write(stream, req, [&](beast::error_code e2, size_t) {
      if (e2) {
        result_ec = e2;
        return;
      }
      stage = "receive";
      http::async_read(stream, buffer, parser,
                       [&](beast::error_code e3, size_t) { result_ec = e3; });
    });
  });
  ioc.run();
  if (result_ec) {
    if (result_ec == beast::error::timeout) {
      return Unavailable(where + ": no answer within " + std::to_string(timeout.count()) + " ms (" +
                         stage + ")");
    }
    return Unavailable(where + ": " + stage + ": " + result_ec.message());
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);  // best effort

  const http::response<http::string_body>& res = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[http::field::content_type]);
  out.body = res.body();
  for (const auto& field : res) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

std::string DescribeProblem(const HttpResponse& response) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(response.body, ec);
  if (!ec && v.is_object()) {
    const boost::json::object& o = v.as_object();
    std::string text;
    if (const auto* d = o.if_contains("detail"); d != nullptr && d->is_string()) {
      text = std::string(d->as_string());
    } else if (const auto* t = o.if_contains("title"); t != nullptr && t->is_string()) {
      text = std::string(t->as_string());
    }
    if (const auto* c = o.if_contains("code"); c != nullptr && c->is_string()) {
      text += " [" + std::string(c->as_string()) + "]";
    }
    if (!text.empty()) return "HTTP " + std::to_string(response.status) + ": " + text;
  }
  std::string raw = response.body.substr(0, 500);
  return "HTTP " + std::to_string(response.status) + (raw.empty() ? "" : ": " + raw);
}

}  // namespace hc::cli
