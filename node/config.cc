#include "node/config.h"

#include <toml++/toml.h>

#include <charconv>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/encoding.h"

namespace hc::node {
namespace {

namespace fs = std::filesystem;

// Collects the first error with the file and key it concerns, and every key asked for (as
// `prefix` + key), so that a key nobody asked for can be refused (FirstUnknownKey).
class Reader {
 public:
  Reader(const toml::table& root, std::string file, fs::path base, std::set<std::string>* asked,
         std::string prefix = {})
      : root_(root),
        file_(std::move(file)),
        base_(std::move(base)),
        asked_(asked),
        prefix_(std::move(prefix)) {}

  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  void Fail(std::string_view key, std::string_view why) {
    if (!status_.ok()) return;
    status_ = InvalidArgument(file_ + ": " + std::string(key) + ": " + std::string(why));
  }

  const toml::node* Node(std::string_view dotted) {
    asked_->insert(prefix_ + std::string(dotted));
    return root_.at_path(dotted).node();
  }

  std::string String(std::string_view key, bool required, std::string fallback = {}) {
    const toml::node* n = Node(key);
    if (n == nullptr) {
      if (required) Fail(key, "missing");
      return fallback;
    }
    auto v = n->value<std::string>();
    if (!v || !n->is_string()) {
      Fail(key, "expected a string");
      return fallback;
    }
    if (required && v->empty()) Fail(key, "must not be empty");
    return *v;
  }

  // An optional string that must be `a` or `b`; `a` when absent (or refused).
  std::string OneOf(std::string_view key, std::string_view a, std::string_view b) {
    std::string v = String(key, false, std::string(a));
    if (v == a || v == b) return v;
    Fail(key,
         "expected \"" + std::string(a) + "\" or \"" + std::string(b) + "\", got \"" + v + "\"");
    return std::string(a);
  }

  std::string Path(std::string_view key, bool required) {
    std::string p = String(key, required);
    if (p.empty()) return p;
    fs::path path(p);
    if (path.is_relative()) path = base_ / path;
    return path.lexically_normal().string();
  }

  template <typename T>
  std::optional<T> Integer(std::string_view key, T min, T max) {
    const toml::node* n = Node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) {
      Fail(key, "expected an integer");
      return std::nullopt;
    }
    int64_t v = *n->value<int64_t>();
    if (v < static_cast<int64_t>(min) || static_cast<uint64_t>(v) > static_cast<uint64_t>(max)) {
      Fail(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                    std::to_string(v));
      return std::nullopt;
    }
    return static_cast<T>(v);
  }

  HostPort Address(std::string_view key, bool required) {
    std::string s = String(key, required);
    if (s.empty()) return {};
    auto hp = ParseHostPort(s);
    if (!hp.ok()) {
      Fail(key, hp.status().message());
      return {};
    }
    return *hp;
  }

 private:
  const toml::table& root_;
  std::string file_;
  fs::path base_;
  std::set<std::string>* asked_;
  std::string prefix_;
  Status status_;
};

// The first key of `table` (dotted, after `prefix`; the tables of an array as "name[].key") that
// no Reader asked for: a typo, or a setting this version does not have.
std::optional<std::string> FirstUnknownKey(const toml::table& table, const std::string& prefix,
                                           const std::set<std::string>& asked) {
  for (const auto& [k, v] : table) {
    const std::string key = prefix + std::string(k.str());
    if (const toml::table* sub = v.as_table(); sub != nullptr) {
      if (auto unknown = FirstUnknownKey(*sub, key + ".", asked)) return unknown;
      continue;
    }
    if (const toml::array* arr = v.as_array(); arr != nullptr && asked.contains(key)) {
      for (const toml::node& element : *arr) {
        if (const toml::table* t = element.as_table(); t != nullptr) {
          if (auto unknown = FirstUnknownKey(*t, key + "[].", asked)) return unknown;
        }
      }
      continue;
    }
    if (!asked.contains(key)) return key;
  }
  return std::nullopt;
}

}  // namespace

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("expected [v6-address]:port, got \"" + std::string(text) + "\"");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return InvalidArgument("expected host:port, got \"" + std::string(text) + "\"");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return InvalidArgument("empty host in \"" + std::string(text) + "\"");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || port.empty()) {
    return InvalidArgument("bad port in \"" + std::string(text) + "\"");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

Result<NodeConfig> LoadNodeConfig(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    // toml++ reports by exception; this is the edge where it arises.
    std::ostringstream os;
    os << path << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
       << e.description();
    return InvalidArgument(os.str());
  }

  fs::path base = fs::path(path).parent_path();
  std::set<std::string> asked;
  Reader r(root, path, base, &asked);
  NodeConfig c;
  c.config_path = path;
  c.name = r.String("node.name", true);
  std::string mode = r.String("node.mode", false, "validator");
  if (mode == "validator") {
    c.mode = NodeMode::kValidator;
    c.replica = r.Integer<uint32_t>("node.replica", 0, 1023);
    if (r.ok() && !c.replica) r.Fail("node.replica", "missing (validators need their index)");
  } else if (mode == "observer") {
    c.mode = NodeMode::kObserver;
    c.observer_id = r.Integer<uint32_t>("node.observer_id", 1000, 0xFFFFFFFE);
    if (r.ok() && !c.observer_id) r.Fail("node.observer_id", "missing (observers need an id)");
  } else {
    r.Fail("node.mode", "expected \"validator\" or \"observer\", got \"" + mode + "\"");
  }
  c.data_dir = r.Path("node.data_dir", true);
  c.genesis_path = r.Path("node.genesis", true);
  c.log_level = r.String("node.log_level", false, "info");
  if (r.ok() && c.log_level != "trace" && c.log_level != "debug" && c.log_level != "info" &&
      c.log_level != "warn" && c.log_level != "error") {
    r.Fail("node.log_level", "expected trace, debug, info, warn or error");
  }

  c.identity_key_path = r.Path("keys.identity", true);
  c.tls_cert_path = r.Path("keys.tls_cert", true);
  c.tls_key_path = r.Path("keys.tls_key", true);

  c.p2p_listen = r.Address("p2p.listen", c.mode == NodeMode::kValidator);
  c.api_listen = r.Address("api.listen", true);
  if (const toml::node* tls = r.Node("api.tls"); tls != nullptr) {
    if (!tls->is_table()) {
      r.Fail("api.tls", "expected a table ([api.tls] with cert_chain and key)");
    } else {
      ApiTlsConfig t;
      t.cert_chain_path = r.Path("api.tls.cert_chain", true);
      t.key_path = r.Path("api.tls.key", true);
      c.api_tls = std::move(t);
    }
  }

  if (const toml::node* obs = r.Node("p2p.observers"); obs != nullptr) {
    const toml::array* arr = obs->as_array();
    if (arr == nullptr) {
      r.Fail("p2p.observers", "expected an array of tables");
    } else {
      for (size_t i = 0; i < arr->size() && r.ok(); ++i) {
        std::string key = "p2p.observers[" + std::to_string(i) + "]";
        const toml::table* t = (*arr)[i].as_table();
        if (t == nullptr) {
          r.Fail(key, "expected a table");
          break;
        }
        Reader sub(*t, path, base, &asked, "p2p.observers[].");
        ObserverPeer o;
        auto id = sub.Integer<uint32_t>("id", 1000, 0xFFFFFFFE);
        o.name = sub.String("name", false);
        std::string pin = sub.String("tls_pin", true);
        if (!sub.ok()) {
          r.Fail(key, sub.status().message().substr(path.size() + 2));
          break;
        }
        if (!id) {
          r.Fail(key + ".id", "missing");
          break;
        }
        o.id = *id;
        auto pin_bytes = Base64DecodeSized(pin, 32, "tls_pin");
        if (!pin_bytes.ok()) {
          r.Fail(key + ".tls_pin", pin_bytes.status().message());
          break;
        }
        o.tls_pin = *pin_bytes;
        c.observers.push_back(std::move(o));
      }
    }
  }

  c.backup.dir = r.Path("backup.dir", false);
  c.backup.keep = r.Integer<uint32_t>("backup.keep", 1, 1000).value_or(c.backup.keep);

  c.storage.cache_mb =
      r.Integer<uint32_t>("storage.cache_mb", 8, 1u << 20).value_or(c.storage.cache_mb);
  c.storage.wal_mb = r.Integer<uint32_t>("storage.wal_mb", 16, 1u << 20).value_or(c.storage.wal_mb);
  c.storage.zstd_bottom = r.OneOf("storage.bottom_compression", "lz4", "zstd") == "zstd";
  c.storage.low_priority_compaction =
      r.OneOf("storage.compaction_priority", "low", "normal") == "low";

  NodeLimits d;
  c.limits.mempool_txs_max =
      r.Integer<uint64_t>("limits.mempool_txs_max", 1, 10'000'000).value_or(d.mempool_txs_max);
  c.limits.mempool_bytes_max = r.Integer<uint64_t>("limits.mempool_bytes_max", 1 << 20, 16ull << 30)
                                   .value_or(d.mempool_bytes_max);
  c.limits.api_connections_max =
      r.Integer<uint32_t>("limits.api_connections_max", 1, 100'000).value_or(d.api_connections_max);
  c.limits.api_body_bytes_max = r.Integer<uint32_t>("limits.api_body_bytes_max", 1024, 1u << 30)
                                    .value_or(d.api_body_bytes_max);
  c.limits.peer_frame_bytes_max =
      r.Integer<uint32_t>("limits.peer_frame_bytes_max", 64 << 10, 1u << 30)
          .value_or(d.peer_frame_bytes_max);
  c.limits.verify_threads =
      r.Integer<uint32_t>("limits.verify_threads", 1, 64).value_or(d.verify_threads);

  if (r.ok()) {
    if (std::optional<std::string> unknown = FirstUnknownKey(root, "", asked)) {
      r.Fail(*unknown,
             "unknown key, or one this node's mode does not use (a typo? docs/operations.md "
             "lists the keys)");
    }
  }
  if (!r.ok()) return r.status();
  return c;
}

std::string EncodeNodeConfig(const NodeConfig& c) {
  toml::table node{{"name", c.name},
                   {"mode", c.mode == NodeMode::kValidator ? "validator" : "observer"},
                   {"data_dir", c.data_dir},
                   {"genesis", c.genesis_path},
                   {"log_level", c.log_level}};
  if (c.replica) node.insert("replica", static_cast<int64_t>(*c.replica));
  if (c.observer_id) node.insert("observer_id", static_cast<int64_t>(*c.observer_id));
  toml::table keys{{"identity", c.identity_key_path},
                   {"tls_cert", c.tls_cert_path},
                   {"tls_key", c.tls_key_path}};
  toml::table p2p;
  if (c.p2p_listen.port != 0) p2p.insert("listen", c.p2p_listen.ToString());
  if (!c.observers.empty()) {
    toml::array obs;
    for (const auto& o : c.observers) {
      obs.push_back(toml::table{{"id", static_cast<int64_t>(o.id)},
                                {"name", o.name},
                                {"tls_pin", Base64Encode(o.tls_pin)}});
    }
    p2p.insert("observers", std::move(obs));
  }
  toml::table api{{"listen", c.api_listen.ToString()}};
  if (c.api_tls) {
    api.insert("tls", toml::table{{"cert_chain", c.api_tls->cert_chain_path},
                                  {"key", c.api_tls->key_path}});
  }
  toml::table limits{{"mempool_txs_max", static_cast<int64_t>(c.limits.mempool_txs_max)},
                     {"mempool_bytes_max", static_cast<int64_t>(c.limits.mempool_bytes_max)},
                     {"api_connections_max", static_cast<int64_t>(c.limits.api_connections_max)},
                     {"api_body_bytes_max", static_cast<int64_t>(c.limits.api_body_bytes_max)},
                     {"peer_frame_bytes_max", static_cast<int64_t>(c.limits.peer_frame_bytes_max)},
                     {"verify_threads", static_cast<int64_t>(c.limits.verify_threads)}};
  toml::table backup{{"keep", static_cast<int64_t>(c.backup.keep)}};
  if (!c.backup.dir.empty()) backup.insert("dir", c.backup.dir);
  toml::table storage{
      {"cache_mb", static_cast<int64_t>(c.storage.cache_mb)},
      {"wal_mb", static_cast<int64_t>(c.storage.wal_mb)},
      {"bottom_compression", c.storage.zstd_bottom ? "zstd" : "lz4"},
      {"compaction_priority", c.storage.low_priority_compaction ? "low" : "normal"}};
  toml::table root{{"node", std::move(node)},     {"keys", std::move(keys)},
                   {"p2p", std::move(p2p)},       {"api", std::move(api)},
                   {"backup", std::move(backup)}, {"storage", std::move(storage)},
                   {"limits", std::move(limits)}};
  std::ostringstream os;
  os << "# Health Chain node configuration (docs/operations.md).\n" << root << "\n";
  return os.str();
}

}  // namespace hc::node
