#include "cli/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <optional>
#include <type_traits>

#include "crypto/tls.h"

namespace hc::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct Exchange {
  const NodeUrl& url;
  const std::string& where;  // the URL of the request, for messages
  const tcp::resolver::results_type& endpoints;
  http::request<http::string_body>& request;
  http::response_parser<http::string_body>& parser;
  std::chrono::milliseconds timeout;
};

// Connects, completes the TLS handshake for a TlsStream, sends the request and reads the answer,
// all as a chain of asynchronous calls on `ioc` (Beast's stream timeouts apply to asynchronous
// operations only), which is run to completion here.
template <class Stream>
Status Run(asio::io_context& ioc, Stream& stream, const Exchange& x) {
  constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  beast::flat_buffer buffer;
  beast::error_code result_ec;
  std::string stage = "connect";
  auto send = [&] {
    stage = "send";
    http::async_write(stream, x.request, [&](beast::error_code ec, size_t) {
      if (ec) {
        result_ec = ec;
        return;
      }
      stage = "receive";
      http::async_read(stream, buffer, x.parser,
                       [&](beast::error_code ec2, size_t) { result_ec = ec2; });
    });
  };
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(x.timeout);
  lowest.async_connect(x.endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
    if (ec) {
      result_ec = ec;
      return;
    }
    if constexpr (kTls) {
      stage = "TLS handshake";
      stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec2) {
        if (ec2) {
          result_ec = ec2;
          return;
        }
        send();
      });
    } else {
      send();
    }
  });
  ioc.run();
  if (result_ec) {
    if (result_ec == beast::error::timeout) {
      return Unavailable(x.where + ": no answer within " + std::to_string(x.timeout.count()) +
                         " ms (" + stage + ")");
    }
    if constexpr (kTls) {
      const std::string why = crypto::TlsVerifyFailure(stream.native_handle());
      if (!why.empty()) {
        return Unauthenticated(
            x.where + ": the node's TLS certificate is not trusted: " + why +
            (x.url.ca_file.empty()
                 ? " (checked against the system's CA store; give the CA certificate that issued "
                   "the node's certificate with --cacert FILE)"
                 : " (checked against --cacert " + x.url.ca_file + ")"));
      }
    }
    return Unavailable(x.where + ": " + stage + ": " + result_ec.message());
  }
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);  // best effort
  return Status::Ok();
}

}  // namespace

std::string NodeUrl::ToString() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return (https ? "https://" : "http://") + h + ":" + port + prefix;
}

Result<NodeUrl> ParseNodeUrl(const std::string& url, const std::string& ca_file) {
  std::string rest = url;
  NodeUrl out;
  if (rest.rfind("https://", 0) == 0) {
    out.https = true;
    rest = rest.substr(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  }
  if (!ca_file.empty() && !out.https) {
    return InvalidArgument("--cacert " + ca_file + " is for https:// node URLs, and --node " + url +
                           " is not one");
  }
  out.ca_file = ca_file;
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
    return InvalidArgument("--node " + url + ": expected http://host:port or https://host:port");
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
  const std::string where = url.ToString() + target;
  // The CA file is read before anything is sent, so a bad --cacert is reported as such.
  std::optional<asio::ssl::context> tls_context;
  if (url.https) {
    HC_ASSIGN_OR_RETURN(crypto::SslCtxPtr ctx, crypto::MakeApiClientTlsContext(url.ca_file));
    tls_context.emplace(ctx.release());  // asio's context owns it from here
  }
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  const tcp::resolver::results_type endpoints = resolver.resolve(url.host, url.port, ec);
  if (ec) return Unavailable(where + ": cannot resolve " + url.host + ": " + ec.message());

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
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.response_body_max);

  const Exchange exchange{url, where, endpoints, req, parser, timeout};
  if (tls_context) {
    std::optional<TlsStream> stream;
    try {
      stream.emplace(ioc, *tls_context);
    } catch (const boost::system::system_error& e) {
      // asio reports a failed SSL_new by exception; this is where it arises.
      return Internal(where + ": cannot start TLS: " + e.what());
    }
    HC_RETURN_IF_ERROR(crypto::SetApiTlsServerName(stream->native_handle(), url.host));
    HC_RETURN_IF_ERROR(Run(ioc, *stream, exchange));
  } else {
    beast::tcp_stream stream(ioc);
    HC_RETURN_IF_ERROR(Run(ioc, stream, exchange));
  }

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
