#include "api/exchange.h"

#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace hc::api {

std::string_view Request::path() const {
  const std::string_view t = target();
  return t.substr(0, t.find('?'));
}

std::string_view Request::Header(http::field field) const {
  auto it = message_.find(field);
  if (it == message_.end()) return {};
  return {it->value().data(), it->value().size()};
}

std::string_view Request::Header(std::string_view name) const {
  for (const auto& f : message_) {
    if (boost::beast::iequals({f.name_string().data(), f.name_string().size()}, name)) {
      return {f.value().data(), f.value().size()};
    }
  }
  return {};
}

std::optional<std::string_view> Request::PathParam(std::string_view name) const {
  for (const Param& p : path_params_) {
    if (p.name == name) return std::string_view(p.value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const Param& p : query_) {
    if (p.name == name) return std::string_view(p.value);
  }
  return std::nullopt;
}

std::vector<std::string_view> Request::QueryAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const Param& p : query_) {
    if (p.name == name) out.emplace_back(p.value);
  }
  return out;
}

HttpResponse MakeProblemResponse(const Problem& problem) {
  HttpResponse res{static_cast<http::status>(problem.status()), 11};
  res.set(http::field::content_type, kProblemContentType);
  res.set(http::field::cache_control, "no-store");
  res.body() = problem.ToJson();
  return res;
}

HttpResponse MakeJsonResponse(http::status status, const boost::json::value& body) {
  HttpResponse res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = boost::json::serialize(body);
  return res;
}

HttpResponse MakeTextResponse(http::status status, std::string_view content_type,
                              std::string body) {
  HttpResponse res{status, 11};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  return res;
}

namespace internal {

void Exchange::Deliver(HttpResponse response) const {
  // Locking the weak pointer is what makes "the connection is gone" safe: a dead connection's
  // answer is dropped here and never touches its executor.
  if (std::shared_ptr<ExchangeSink> s = sink.lock()) s->Deliver(id, std::move(response));
}

// Shared by all copies of one Responder; its destructor is where "nobody answered" is detected.
class ResponderCore {
 public:
  explicit ResponderCore(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  ResponderCore(const ResponderCore&) = delete;
  ResponderCore& operator=(const ResponderCore&) = delete;

  ~ResponderCore() {
    if (exchange_->Claim()) {
      exchange_->Deliver(MakeProblemResponse(
          Problem(ProblemCode::kInternal, "the handler did not answer the request")));
    }
  }

  bool Send(HttpResponse response) {
    if (!exchange_->Claim()) return false;
    exchange_->Deliver(std::move(response));
    return true;
  }

  bool answered() const { return exchange_->answered.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<Exchange> exchange_;
};

}  // namespace internal

Responder::Responder(std::shared_ptr<internal::Exchange> exchange)
    : core_(std::make_shared<internal::ResponderCore>(std::move(exchange))) {}

bool Responder::Send(HttpResponse response) {
  HC_ASSERT_MSG(core_ != nullptr, "use of a moved-from Responder");
  return core_->Send(std::move(response));
}

bool Responder::SendJson(http::status status, const boost::json::value& body) {
  if (answered()) return false;  // skip serialising an answer that would be dropped
  return Send(MakeJsonResponse(status, body));
}

bool Responder::SendText(http::status status, std::string_view content_type, std::string body) {
  return Send(MakeTextResponse(status, content_type, std::move(body)));
}

bool Responder::SendProblem(const Problem& problem) { return Send(MakeProblemResponse(problem)); }

bool Responder::SendProblem(ProblemCode code, std::string detail) {
  return SendProblem(Problem(code, std::move(detail)));
}

bool Responder::SendStatus(const Status& status) { return SendProblem(ProblemFromStatus(status)); }

bool Responder::answered() const {
  HC_ASSERT_MSG(core_ != nullptr, "use of a moved-from Responder");
  return core_->answered();
}

}  // namespace hc::api
