// hcctl status: a node's view of the chain (GET /v1/status), readable or as JSON.
// Exit code 0: the node answered; 2: it could not be reached or answered with an error.
#include <boost/json.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/http_client.h"

namespace hc::cli {
namespace {

namespace json = boost::json;

struct StatusOptions {
  std::string node = "http://127.0.0.1:8000";
  std::string cacert;  // https nodes: the CA file (--cacert)
  bool json = false;
  std::string field;
  int timeout_ms = 5000;
};

// A scalar as plain text ("abc", 12, true); other values as compact JSON.
std::string Text(const json::value* v) {
  if (v == nullptr) return "?";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

int RunStatus(const StatusOptions& opts) {
  Result<NodeUrl> url = ParseNodeUrl(opts.node, opts.cacert);
  if (!url.ok()) {
    std::fprintf(stderr, "hcctl status: %s\n", url.status().message().c_str());
    return 2;
  }
  Result<HttpResponse> res =
      HttpRequest(*url, "GET", "/v1/status", "", "", std::chrono::milliseconds(opts.timeout_ms));
  if (!res.ok()) {
    std::fprintf(stderr, "hcctl status: %s\n", res.status().message().c_str());
    return 2;
  }
  if (res->status != 200) {
    std::fprintf(stderr, "hcctl status: %s\n", DescribeProblem(*res).c_str());
    return 2;
  }
  boost::system::error_code ec;
  json::value doc = json::parse(res->body, ec);
  if (ec || !doc.is_object()) {
    std::fprintf(stderr, "hcctl status: the node's answer is not a JSON object\n");
    return 2;
  }
  const json::object& o = doc.as_object();
  if (!opts.field.empty()) {
    const json::value* v = o.if_contains(opts.field);
    if (v == nullptr) {
      std::fprintf(stderr, "hcctl status: the node's status has no field \"%s\"\n",
                   opts.field.c_str());
      return 2;
    }
    std::printf("%s\n", Text(v).c_str());
    return 0;
  }
  if (opts.json) {
    std::printf("%s\n", res->body.c_str());
    return 0;
  }
  std::string role = Text(o.if_contains("mode"));
  if (const json::value* r = o.if_contains("replica"); r != nullptr && !r->is_null()) {
    role += ", replica " + Text(r);
  }
  std::printf("node:     %s (%s)\n", Text(o.if_contains("node")).c_str(), role.c_str());
  std::printf("chain:    %s  genesis %s\n", Text(o.if_contains("chain_id")).c_str(),
              Text(o.if_contains("genesis_hash")).c_str());
  std::printf("height:   %s  head %s\n", Text(o.if_contains("height")).c_str(),
              Text(o.if_contains("head_hash")).c_str());
  // Observers take no part in consensus: they report no view (view_active is null).
  const json::value* active = o.if_contains("view_active");
  if (active != nullptr && active->is_bool()) {
    std::printf("view:     %s  primary %s  %s\n", Text(o.if_contains("view")).c_str(),
                Text(o.if_contains("primary")).c_str(),
                active->as_bool() ? "active" : "changing view");
  } else {
    std::printf("view:     (observer: follows certified blocks, takes no part in consensus)\n");
  }
  std::printf("log:      size %s  root %s\n", Text(o.if_contains("log_size")).c_str(),
              Text(o.if_contains("log_root")).c_str());
  if (const json::value* m = o.if_contains("mempool"); m != nullptr && m->is_object()) {
    std::printf("mempool:  %s txs, %s bytes\n", Text(m->as_object().if_contains("txs")).c_str(),
                Text(m->as_object().if_contains("bytes")).c_str());
  }
  if (const json::value* p = o.if_contains("peers"); p != nullptr && p->is_array()) {
    size_t up = 0;
    std::string list;
    for (const json::value& peer : p->as_array()) {
      if (!peer.is_object()) continue;
      const bool is_up = Text(peer.as_object().if_contains("up")) == "true";
      up += is_up ? 1 : 0;
      list += " " + Text(peer.as_object().if_contains("id")) + (is_up ? ":up" : ":down");
    }
    std::printf("peers:    %zu/%zu up%s\n", up, p->as_array().size(), list.c_str());
  }
  return 0;
}

}  // namespace

void RegisterStatus(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<StatusOptions>();
  CLI::App* cmd =
      app.add_subcommand("status", "Show a node's height, view, primary, peers, mempool");
  cmd->add_option("--node", opts->node, "The node's API URL")->capture_default_str();
  AddCaCertOption(cmd, &opts->cacert);
  cmd->add_flag("--json", opts->json, "Print the node's JSON answer");
  cmd->add_option("--field", opts->field,
                  "Print one top-level field only (e.g. height, head_hash), for scripts");
  cmd->add_option("--timeout-ms", opts->timeout_ms, "Give up after this long")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd->callback([opts, exit_code] { *exit_code = RunStatus(*opts); });
}

}  // namespace hc::cli
