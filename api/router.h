// Router: maps (method, path) to a handler, with `{name}` parameters in path patterns, and the
// request-target parsing (path, query string, percent-decoding) it relies on.
//
// Thread-safety: Add is not thread-safe and happens before the server starts (the server takes the
// router by value); Find and Routes are const and may be called from any thread.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/exchange.h"
#include "api/limits.h"
#include "common/status.h"

namespace hc::api {

// Per-route overrides of the server's limits.
struct RouteOptions {
  // Body limit of this route; default ServerLimits::body_bytes_max, at most kBodyBytesCeiling.
  std::optional<size_t> body_bytes_max;
  // Deadline of this route's handler; default ServerLimits::handler_deadline, at most
  // kHandlerDeadlineCeiling.
  std::optional<Millis> handler_deadline;
};

// One registered route, as listed by Routes() (checked against docs/api/openapi.yaml).
struct RouteInfo {
  http::verb method;
  std::string pattern;

  friend bool operator==(const RouteInfo&, const RouteInfo&) = default;
};

class Router {
 public:
  struct Route {
    http::verb method;
    std::string pattern;
    // One per segment: the literal, or the parameter name when `is_param`.
    struct Segment {
      bool is_param;
      std::string text;
    };
    std::vector<Segment> segments;
    Handler handler;
    RouteOptions options;
  };

  enum class MatchKind { kFound, kUnknownPath, kMethodNotAllowed };
  struct Match {
    MatchKind kind = MatchKind::kUnknownPath;
    const Route* route = nullptr;     // kFound
    std::vector<Param> params;        // kFound: decoded, in pattern order
    std::vector<http::verb> allowed;  // kMethodNotAllowed: the methods the path has
  };

  Router() = default;
  Router(Router&&) = default;
  Router& operator=(Router&&) = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `method` and `pattern`. A pattern is "/" or "/seg/seg/...", each
  // segment a literal of [A-Za-z0-9-._~$:@] or a parameter "{name}" with name [a-z_][a-z0-9_]*,
  // which matches one non-empty path segment. Patterns are code, not input: an invalid pattern, a
  // (method, pattern) registered twice, or two patterns that differ only in parameter names
  // ("/a/{x}" and "/a/{y}") are programming errors and abort.
  void Add(http::verb method, std::string_view pattern, Handler handler, RouteOptions options = {});
  void Get(std::string_view pattern, Handler handler, RouteOptions options = {}) {
    Add(http::verb::get, pattern, std::move(handler), std::move(options));
  }
  void Post(std::string_view pattern, Handler handler, RouteOptions options = {}) {
    Add(http::verb::post, pattern, std::move(handler), std::move(options));
  }
  void Put(std::string_view pattern, Handler handler, RouteOptions options = {}) {
    Add(http::verb::put, pattern, std::move(handler), std::move(options));
  }

  // Matches a still percent-encoded path (no query). Literal segments beat parameters at the first
  // position where candidate patterns differ; among the patterns matching the path, the most
  // specific one registered for `method` wins. When the path matches some pattern but none for
  // `method`, the kind is kMethodNotAllowed with every method the path has. InvalidArgument when
  // a segment's percent-encoding is bad or the path has more than kPathSegmentsMax segments.
  Result<Match> Find(http::verb method, std::string_view path) const;

  // Every registered (method, pattern), in registration order.
  std::vector<RouteInfo> Routes() const;

  bool empty() const { return routes_.empty(); }

 private:
  std::vector<Route> routes_;
};

// Percent-decodes `in` (RFC 3986 §2.1). With `plus_is_space` (query strings, as HTML forms send
// them) '+' decodes to ' '. InvalidArgument on a '%' not followed by two hex digits.
Result<std::string> PercentDecode(std::string_view in, bool plus_is_space);

// Parses "a=1&b=x%20y&c" into decoded pairs (c has an empty value); empty pairs ("a=1&&b") are
// skipped. InvalidArgument on bad percent-encoding or more than kQueryParamsMax pairs.
Result<std::vector<Param>> ParseQuery(std::string_view query);

struct ParsedTarget {
  std::string_view path;  // still percent-encoded; a view into the target
  std::vector<Param> query;
};
// Splits an origin-form request target ("/path?query"; RFC 9112 §3.2.1) into its path and decoded
// query. InvalidArgument for any other form ("*", "http://host/...") or a bad query.
Result<ParsedTarget> ParseTarget(std::string_view target);

// "GET, POST": the value of an Allow header.
std::string JoinMethods(const std::vector<http::verb>& methods);

}  // namespace hc::api
