// A small blocking HTTP/1.1 client for hcctl (Boost.Beast): one request per connection, plain
// HTTP or HTTPS, every step bounded by a deadline. Not for the node: the node owns its own IO.
//
// HTTPS verifies the node's certificate chain against a CA file (hcctl's --cacert) or the system's
// store, and checks that the certificate names the host of the URL
// (crypto::MakeApiClientTlsContext, crypto::SetApiTlsServerName); an unverified node is never
// talked to.
//
// Thread-safe: each call uses its own io_context and socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace hc::cli {

// "http://host:port[/prefix]", "https://host:port[/prefix]" or "host:port" (plain HTTP). The port
// is required; an IPv6 host is written in brackets.
struct NodeUrl {
  bool https = false;
  std::string host;
  std::string port;
  std::string prefix;  // without a trailing slash; "" for the root
  // https only: the PEM CA certificates the node's certificate must chain to; "" for the system's
  // store (which SSL_CERT_FILE / SSL_CERT_DIR may point elsewhere).
  std::string ca_file;

  // "https://host:port/prefix", for messages.
  std::string ToString() const;
};
// `ca_file` (--cacert) with an http:// URL is refused: it would silently protect nothing.
Result<NodeUrl> ParseNodeUrl(const std::string& url, const std::string& ca_file = "");

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // every response field, in order

  // The value of the first field named `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

inline constexpr size_t kHttpResponseBodyMaxBytes = 16u << 20;

// Sends one request and reads the whole response (at most kHttpResponseBodyMaxBytes). Returns
// kUnavailable when the node cannot be reached or the deadline passes (naming the URL);
// kUnauthenticated when an https node's certificate is not trusted (saying why: unknown issuer,
// wrong name, expired, ...); kNotFound / kInvalidArgument when the CA file cannot be read or holds
// no certificate. Any HTTP status is a successful exchange: the caller reads it.
Result<HttpResponse> HttpRequest(const NodeUrl& url, const std::string& method,
                                 const std::string& target, const std::string& body,
                                 const std::string& content_type,
                                 std::chrono::milliseconds timeout);

// The same with extra request header fields (e.g. a request signature, api/auth.h) and another
// response body limit (payload downloads are up to 64 MiB).
struct HttpRequestOptions {
  std::vector<std::pair<std::string, std::string>> headers;
  size_t response_body_max = kHttpResponseBodyMaxBytes;
};
Result<HttpResponse> HttpRequest(const NodeUrl& url, const std::string& method,
                                 const std::string& target, const std::string& body,
                                 const std::string& content_type, std::chrono::milliseconds timeout,
                                 const HttpRequestOptions& options);

// The "detail" (or "title") of an application/problem+json body, with its "code"; the raw body
// when it is not one.
std::string DescribeProblem(const HttpResponse& response);

}  // namespace hc::cli
