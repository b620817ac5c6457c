// What the HTTP server's tests over plain TCP (server_test.cc) and over TLS (server_tls_test.cc)
// share: limits small enough to hit quickly, and reading a JSON or problem+json answer.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "api/server.h"
#include "tests/api/test_client.h"

namespace hc::api::testing {

// Limits small enough that every limit (body, headers, timeouts, connections, the TLS handshake)
// can be hit quickly.
inline ServerLimits FastLimits() {
  ServerLimits l;
  l.body_bytes_max = 1024;
  l.header_bytes_max = 2048;
  l.request_read_timeout = Ms(400);
  l.idle_timeout = Ms(1500);
  l.write_timeout = Ms(2000);
  l.handler_deadline = Ms(3000);
  l.linger_timeout = Ms(500);
  l.tls_handshake_timeout = Ms(300);
  l.connections_max = 16;
  l.requests_per_connection_max = 100;
  return l;
}

// The body as a JSON object; empty when it is not one.
inline boost::json::object BodyJson(const RawResponse& res) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(res.body(), ec);
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

// Checks the RFC 9457 shape and returns the code member.
inline std::string ProblemCodeOf(const RawResponse& res) {
  EXPECT_EQ(res[http::field::content_type], "application/problem+json");
  const boost::json::object o = BodyJson(res);
  EXPECT_TRUE(o.contains("type") && o.contains("title") && o.contains("status") &&
              o.contains("detail") && o.contains("code"))
      << res.body();
  EXPECT_EQ(o.contains("status") ? o.at("status").to_number<unsigned>() : 0u, res.result_int());
  return o.contains("code") ? std::string(o.at("code").as_string()) : std::string();
}

}  // namespace hc::api::testing
