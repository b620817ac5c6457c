#include "api/router.h"

#include <algorithm>

namespace hc::api {

namespace {

using Segment = Router::Route::Segment;

bool IsLiteralChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '$' || c == ':' || c == '@';
}

bool IsParamName(std::string_view name) {
  if (name.empty()) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Splits "/a/b" into {"a", "b"}; "/" into {}. `path` starts with '/'.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path == "/") return out;
  size_t start = 1;
  while (true) {
    const size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// Parses a pattern into segments; nullopt when it is invalid.
std::optional<std::vector<Segment>> ParsePattern(std::string_view pattern) {
  if (pattern.empty() || pattern[0] != '/') return std::nullopt;
  std::vector<Segment> segments;
  for (std::string_view s : SplitPath(pattern)) {
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
      std::string_view name = s.substr(1, s.size() - 2);
      if (!IsParamName(name)) return std::nullopt;
      segments.push_back({true, std::string(name)});
    } else {
      if (s.empty() || !std::all_of(s.begin(), s.end(), IsLiteralChar)) return std::nullopt;
      segments.push_back({false, std::string(s)});
    }
  }
  if (segments.size() > kPathSegmentsMax) return std::nullopt;
  return segments;
}

// Two patterns have the same shape when they have the same literals at the same positions and
// parameters at the same positions (names aside).
bool SameShape(const std::vector<Segment>& a, const std::vector<Segment>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].is_param != b[i].is_param) return false;
    if (!a[i].is_param && a[i].text != b[i].text) return false;
  }
  return true;
}

bool Matches(const std::vector<Segment>& pattern, const std::vector<std::string>& segments) {
  if (pattern.size() != segments.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i].is_param) {
      if (segments[i].empty()) return false;
    } else if (pattern[i].text != segments[i]) {
      return false;
    }
  }
  return true;
}

// True when `a` is more specific than `b` (both match the same path): at the first position where
// one has a literal and the other a parameter, the literal wins.
bool MoreSpecific(const std::vector<Segment>& a, const std::vector<Segment>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].is_param != b[i].is_param) return !a[i].is_param;
  }
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void Router::Add(http::verb method, std::string_view pattern, Handler handler,
                 RouteOptions options) {
  std::optional<std::vector<Segment>> segments = ParsePattern(pattern);
  HC_ASSERT_MSG(segments.has_value(), "invalid route pattern: " + std::string(pattern));
  HC_ASSERT_MSG(handler != nullptr, "route without a handler: " + std::string(pattern));
  HC_ASSERT_MSG(method != http::verb::unknown, "route with an unknown method");
  if (options.body_bytes_max.has_value()) {
    HC_ASSERT_GT(*options.body_bytes_max, size_t{0});
    HC_ASSERT_LE(*options.body_bytes_max, kBodyBytesCeiling);
  }
  if (options.handler_deadline.has_value()) {
    HC_ASSERT_GT(options.handler_deadline->count(), 0);
    HC_ASSERT_LE(options.handler_deadline->count(), kHandlerDeadlineCeiling.count());
  }
  for (const Route& r : routes_) {
    if (!SameShape(r.segments, *segments)) continue;
    HC_ASSERT_MSG(r.pattern == pattern, "route patterns differ only in parameter names: " +
                                            r.pattern + " and " + std::string(pattern));
    HC_ASSERT_MSG(r.method != method,
                  "route registered twice: " + JoinMethods({method}) + " " + r.pattern);
  }
  routes_.push_back(Route{method, std::string(pattern), std::move(*segments), std::move(handler),
                          std::move(options)});
}

Result<Router::Match> Router::Find(http::verb method, std::string_view path) const {
  if (path.empty() || path[0] != '/') return InvalidArgument("the path must start with '/'");
  const std::vector<std::string_view> raw = SplitPath(path);
  if (raw.size() > kPathSegmentsMax) {
    return InvalidArgument("the path has more than " + std::to_string(kPathSegmentsMax) +
                           " segments");
  }
  std::vector<std::string> segments;
  segments.reserve(raw.size());
  for (std::string_view s : raw) {
    Result<std::string> decoded = PercentDecode(s, /*plus_is_space=*/false);
    if (!decoded.ok()) return decoded.status().WithContext("path");
    segments.push_back(std::move(decoded).value());
  }

  Match match;
  const Route* best = nullptr;
  for (const Route& r : routes_) {
    if (!Matches(r.segments, segments)) continue;
    if (std::find(match.allowed.begin(), match.allowed.end(), r.method) == match.allowed.end()) {
      match.allowed.push_back(r.method);
    }
    if (r.method != method) continue;
    if (best == nullptr || MoreSpecific(r.segments, best->segments)) best = &r;
  }
  if (best == nullptr) {
    match.kind = match.allowed.empty() ? MatchKind::kUnknownPath : MatchKind::kMethodNotAllowed;
    return match;
  }
  match.kind = MatchKind::kFound;
  match.route = best;
  match.allowed.clear();
  for (size_t i = 0; i < best->segments.size(); ++i) {
    if (best->segments[i].is_param) {
      match.params.push_back(Param{best->segments[i].text, std::move(segments[i])});
    }
  }
  return match;
}

std::vector<RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const Route& r : routes_) out.push_back(RouteInfo{r.method, r.pattern});
  return out;
}

Result<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      const int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
      const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return InvalidArgument("bad percent-encoding at offset " + std::to_string(i));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::vector<Param>> ParseQuery(std::string_view query) {
  std::vector<Param> out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    if (out.size() == kQueryParamsMax) {
      return InvalidArgument("the query has more than " + std::to_string(kQueryParamsMax) +
                             " parameters");
    }
    const size_t eq = pair.find('=');
    Result<std::string> name = PercentDecode(pair.substr(0, eq), /*plus_is_space=*/true);
    if (!name.ok()) return name.status().WithContext("query");
    Result<std::string> value = eq == std::string_view::npos
                                    ? Result<std::string>(std::string())
                                    : PercentDecode(pair.substr(eq + 1), /*plus_is_space=*/true);
    if (!value.ok()) return value.status().WithContext("query parameter '" + *name + "'");
    out.push_back(Param{std::move(name).value(), std::move(value).value()});
  }
  return out;
}

Result<ParsedTarget> ParseTarget(std::string_view target) {
  if (target.empty() || target[0] != '/') {
    return InvalidArgument("the request target must be a path starting with '/'");
  }
  const size_t q = target.find('?');
  ParsedTarget out;
  out.path = target.substr(0, q);
  if (q != std::string_view::npos) {
    HC_ASSIGN_OR_RETURN(out.query, ParseQuery(target.substr(q + 1)));
  }
  return out;
}

std::string JoinMethods(const std::vector<http::verb>& methods) {
  std::string out;
  for (http::verb m : methods) {
    if (!out.empty()) out += ", ";
    const auto s = http::to_string(m);
    out.append(s.data(), s.size());
  }
  return out;
}

}  // namespace hc::api
