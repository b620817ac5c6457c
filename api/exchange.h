// One HTTP exchange as a route handler sees it: the decoded Request and the Responder that answers
// it, possibly later and from another thread.
#pragma once

#include <atomic>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/fwd.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/problem.h"
#include "common/status.h"

namespace hc::api {

namespace http = boost::beast::http;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// One `name=value` pair of a query string or one `{name}` of a route pattern, percent-decoded.
struct Param {
  std::string name;
  std::string value;

  friend bool operator==(const Param&, const Param&) = default;
};

// A request that matched a route. Immutable. Handlers receive it by reference: it is valid only
// during the handler call, so a handler that answers later copies what it needs.
class Request {
 public:
  Request(HttpRequest message, std::string_view route_pattern, std::vector<Param> path_params,
          std::vector<Param> query, std::string remote)
      : message_(std::move(message)),
        route_pattern_(route_pattern),
        path_params_(std::move(path_params)),
        query_(std::move(query)),
        remote_(std::move(remote)) {}

  http::verb method() const { return message_.method(); }
  // The request target exactly as sent ("/v1/tx/ab%20c?wait=commit"): what a request signature
  // covers.
  std::string_view target() const { return {message_.target().data(), message_.target().size()}; }
  // The target's path, still percent-encoded.
  std::string_view path() const;
  // The route pattern that matched ("/v1/tx/{id}").
  const std::string& route_pattern() const { return route_pattern_; }
  const std::string& body() const { return message_.body(); }
  const HttpRequest& message() const { return message_; }
  // "ip:port" of the client.
  const std::string& remote() const { return remote_; }

  // The value of a header field, or empty when absent.
  std::string_view Header(http::field field) const;
  std::string_view Header(std::string_view name) const;

  // The decoded value of the pattern parameter `name`; nullopt when the pattern has no such name.
  std::optional<std::string_view> PathParam(std::string_view name) const;
  const std::vector<Param>& path_params() const { return path_params_; }

  // The first decoded value of the query parameter `name` ("?a" gives ""), or nullopt.
  std::optional<std::string_view> Query(std::string_view name) const;
  // Every value of `name`, in order.
  std::vector<std::string_view> QueryAll(std::string_view name) const;
  const std::vector<Param>& query() const { return query_; }

 private:
  HttpRequest message_;
  std::string route_pattern_;
  std::vector<Param> path_params_;
  std::vector<Param> query_;
  std::string remote_;
};

// Builds a response carrying `problem`. The server sets the version, keep-alive and
// Content-Length when it sends it.
HttpResponse MakeProblemResponse(const Problem& problem);
HttpResponse MakeJsonResponse(http::status status, const boost::json::value& body);
HttpResponse MakeTextResponse(http::status status, std::string_view content_type, std::string body);

namespace internal {

// Where a Responder's answer goes: implemented by the connection that read the request. Deliver
// may be called from any thread; the connection hops to its own executor, and drops the answer
// when the connection is gone or no longer waiting for that exchange.
class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  virtual void Deliver(uint64_t exchange_id, HttpResponse response) = 0;
};

// The shared state of one exchange. `answered` is claimed exactly once: by the handler's answer,
// by the deadline (504), or by the last Responder copy dying unanswered (500).
struct Exchange {
  Exchange(uint64_t id, std::weak_ptr<ExchangeSink> sink) : id(id), sink(std::move(sink)) {}

  // Claims the right to answer; true for exactly one caller.
  bool Claim() { return !answered.exchange(true, std::memory_order_acq_rel); }
  // Hands `response` to the connection when it still exists.
  void Deliver(HttpResponse response) const;

  const uint64_t id;
  const std::weak_ptr<ExchangeSink> sink;
  std::atomic<bool> answered{false};
};

class ResponderCore;

}  // namespace internal

// Answers one request. Copyable: all copies share one exchange, and the first Send* wins; later
// calls, and calls after the deadline answered 504, return false and drop their response.
//
// Thread-safety: every method may be called from any thread. The answer is posted to the
// connection's executor; when the client has gone meanwhile it is dropped silently. When the last
// copy is destroyed without an answer, the client gets 500 internal ("the handler did not
// answer"), so a lost Responder never hangs a connection until its deadline.
//
// Responders must be answered or destroyed before the io_context the server runs on is destroyed.
class Responder {
 public:
  explicit Responder(std::shared_ptr<internal::Exchange> exchange);

  // The server sets the HTTP version, keep-alive, Server and Content-Length fields.
  bool Send(HttpResponse response);
  bool SendJson(http::status status, const boost::json::value& body);
  bool SendText(http::status status, std::string_view content_type, std::string body);
  bool SendProblem(const Problem& problem);
  bool SendProblem(ProblemCode code, std::string detail);
  // ProblemFromStatus(status); `status` must not be OK.
  bool SendStatus(const Status& status);

  // True once the exchange is answered (by anyone, including the deadline).
  bool answered() const;

 private:
  std::shared_ptr<internal::ResponderCore> core_;
};

// A route handler. Runs on the connection's executor (an io_context thread), so it must not block:
// work that waits (a commit, a slow read) keeps the Responder and answers later.
using Handler = std::function<void(const Request&, Responder)>;

}  // namespace hc::api
