// A small blocking HTTP/1.1 client for hcctl (Boost.Beast): one request per connection, plain
// HTTP, every step bounded by a deadline. Not for the node: the node owns its own IO.
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

// "http://host:port[/prefix]" or "host:port". https is refused (the node's API serves plain HTTP
// on loopback or behind a TLS-terminating proxy; see docs/operations.md).
struct NodeUrl {
  std::string host;
  std::string port;
  std::string prefix;  // without a trailing slash; "" for the root
};
Result<NodeUrl> ParseNodeUrl(const std::string& url);

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
// kUnavailable when the node cannot be reached or the deadline passes (naming the URL), and
// kInvalidArgument for a malformed response. Any HTTP status is a successful exchange: the caller
// reads it.
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
