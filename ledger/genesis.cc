#include "ledger/genesis.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <set>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger/tx.h"

namespace hc::ledger {
namespace {

namespace json = boost::json;

Status FieldError(std::string_view field, std::string what) {
  return InvalidArgument("genesis: " + std::string(field) + ": " + std::move(what));
}

Status CheckKnownFields(const json::object& o, std::string_view where,
                        std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    const std::string_view k = kv.key();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      return FieldError(std::string(where) + (where.empty() ? "" : ".") + std::string(k),
                        "unknown field");
    }
  }
  return Status::Ok();
}

Result<const json::value*> Require(const json::object& o, std::string_view field,
                                   std::string_view path) {
  const json::value* v = o.if_contains(field);
  if (v == nullptr) return FieldError(path, "missing");
  return v;
}

Result<std::string> GetString(const json::object& o, std::string_view field, std::string path,
                              size_t min_bytes, size_t max_bytes) {
  HC_ASSIGN_OR_RETURN(const json::value* v, Require(o, field, path));
  if (!v->is_string()) return FieldError(path, "must be a string");
  const json::string& s = v->get_string();
  if (s.size() < min_bytes || s.size() > max_bytes) {
    return FieldError(path, "must be " + std::to_string(min_bytes) + ".." +
                                std::to_string(max_bytes) + " bytes long");
  }
  return std::string(s.data(), s.size());
}

Result<std::string> GetOptionalString(const json::object& o, std::string_view field,
                                      std::string path, size_t max_bytes) {
  if (!o.contains(field)) return std::string();
  return GetString(o, field, std::move(path), 0, max_bytes);
}

Result<int64_t> GetInt(const json::object& o, std::string_view field, const std::string& path,
                       int64_t min, int64_t max) {
  HC_ASSIGN_OR_RETURN(const json::value* v, Require(o, field, path));
  int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v->get_uint64());
  } else {
    return FieldError(path, "must be an integer");
  }
  if (n < min || n > max) {
    return FieldError(path, "must be in " + std::to_string(min) + ".." + std::to_string(max) +
                                ", got " + std::to_string(n));
  }
  return n;
}

template <size_t N>
Result<std::array<uint8_t, N>> GetKey(const json::object& o, std::string_view field,
                                      const std::string& path) {
  HC_ASSIGN_OR_RETURN(std::string b64, GetString(o, field, path, 1, 1024));
  Result<Bytes> raw = Base64DecodeSized(b64, N, path);
  if (!raw.ok()) return FieldError(path, raw.status().message());
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), raw->data(), N);
  return out;
}

bool IsPrintableId(std::string_view s) {
  return !s.empty() && s.size() <= kIdMaxChars &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// "host:port" with a non-empty host and a port in 1..65535.
bool IsAddress(std::string_view a) {
  const size_t colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= a.size()) return false;
  const std::string_view port = a.substr(colon + 1);
  if (port.size() > 5) return false;
  uint32_t n = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n < 1 || n > 65535) return false;
  return std::all_of(a.begin(), a.begin() + colon, [](char c) { return c > 0x20 && c < 0x7f; });
}

Result<Genesis> FromJson(const json::value& root) {
  if (!root.is_object()) return FieldError("(root)", "must be a JSON object");
  const json::object& o = root.get_object();
  HC_RETURN_IF_ERROR(CheckKnownFields(
      o, "",
      {"version", "chain_id", "genesis_time_ms", "validators", "commissions", "consensus", "txs"}));
  Genesis g;
  HC_ASSIGN_OR_RETURN(int64_t version, GetInt(o, "version", "version", 1, 1));
  (void)version;
  HC_ASSIGN_OR_RETURN(g.chain_id, GetString(o, "chain_id", "chain_id", 1, kChainIdMaxChars));
  if (!IsPrintableId(g.chain_id)) {
    return FieldError("chain_id", "must be printable ASCII without spaces");
  }
  HC_ASSIGN_OR_RETURN(g.genesis_time_ms,
                      GetInt(o, "genesis_time_ms", "genesis_time_ms", 0, INT64_MAX));

  HC_ASSIGN_OR_RETURN(const json::value* vals, Require(o, "validators", "validators"));
  if (!vals->is_array()) return FieldError("validators", "must be an array");
  const json::array& va = vals->get_array();
  if (va.empty() || va.size() > kGenesisValidatorsMax) {
    return FieldError("validators", "must hold 1..256 validators");
  }
  std::set<std::string> ids;
  std::set<crypto::Ed25519PublicKey> vkeys;
  for (size_t i = 0; i < va.size(); ++i) {
    const std::string path = "validators[" + std::to_string(i) + "]";
    if (!va[i].is_object()) return FieldError(path, "must be an object");
    const json::object& vo = va[i].get_object();
    HC_RETURN_IF_ERROR(CheckKnownFields(vo, path, {"id", "ed25519_key", "tls_key_pin", "address"}));
    GenesisValidator v;
    HC_ASSIGN_OR_RETURN(v.id, GetString(vo, "id", path + ".id", 1, kIdMaxChars));
    if (!IsPrintableId(v.id)) return FieldError(path + ".id", "must be printable ASCII");
    if (!ids.insert(v.id).second) return FieldError(path + ".id", "duplicate id '" + v.id + "'");
    HC_ASSIGN_OR_RETURN(v.key, GetKey<32>(vo, "ed25519_key", path + ".ed25519_key"));
    if (!vkeys.insert(v.key).second) return FieldError(path + ".ed25519_key", "duplicate key");
    HC_ASSIGN_OR_RETURN(v.tls_key_pin, GetKey<32>(vo, "tls_key_pin", path + ".tls_key_pin"));
    HC_ASSIGN_OR_RETURN(v.address,
                        GetString(vo, "address", path + ".address", 3, kAddressMaxBytes));
    if (!IsAddress(v.address)) return FieldError(path + ".address", "must be host:port");
    g.validators.push_back(std::move(v));
  }

  HC_ASSIGN_OR_RETURN(const json::value* coms, Require(o, "commissions", "commissions"));
  if (!coms->is_array()) return FieldError("commissions", "must be an array");
  const json::array& ca = coms->get_array();
  if (ca.empty() || ca.size() > kGenesisCommissionsMax) {
    return FieldError("commissions", "must hold 1..256 founding commissions");
  }
  std::set<crypto::Ed25519PublicKey> ckeys;
  for (size_t i = 0; i < ca.size(); ++i) {
    const std::string path = "commissions[" + std::to_string(i) + "]";
    if (!ca[i].is_object()) return FieldError(path, "must be an object");
    const json::object& co = ca[i].get_object();
    HC_RETURN_IF_ERROR(
        CheckKnownFields(co, path, {"name", "ed25519_key", "x25519_key", "fhir_organization"}));
    GenesisCommission c;
    HC_ASSIGN_OR_RETURN(c.name, GetString(co, "name", path + ".name", 1, kOrgNameMaxBytes));
    HC_ASSIGN_OR_RETURN(c.key, GetKey<32>(co, "ed25519_key", path + ".ed25519_key"));
    if (!ckeys.insert(c.key).second) return FieldError(path + ".ed25519_key", "duplicate key");
    HC_ASSIGN_OR_RETURN(c.encryption_key, GetKey<32>(co, "x25519_key", path + ".x25519_key"));
    HC_ASSIGN_OR_RETURN(c.fhir_organization,
                        GetOptionalString(co, "fhir_organization", path + ".fhir_organization",
                                          kFhirOrganizationMaxBytes));
    g.commissions.push_back(std::move(c));
  }

  HC_ASSIGN_OR_RETURN(const json::value* cons, Require(o, "consensus", "consensus"));
  if (!cons->is_object()) return FieldError("consensus", "must be an object");
  const json::object& cp = cons->get_object();
  HC_RETURN_IF_ERROR(CheckKnownFields(cp, "consensus",
                                      {"batch_txs_max", "batch_bytes_max", "batch_delay_ms",
                                       "window", "checkpoint_interval", "view_change_timeout_ms"}));
  auto param = [&](std::string_view name, int64_t min, int64_t max) -> Result<uint32_t> {
    HC_ASSIGN_OR_RETURN(int64_t n, GetInt(cp, name, "consensus." + std::string(name), min, max));
    return static_cast<uint32_t>(n);
  };
  HC_ASSIGN_OR_RETURN(g.consensus.batch_txs_max, param("batch_txs_max", 1, kBlockTxsMax));
  HC_ASSIGN_OR_RETURN(g.consensus.batch_bytes_max,
                      param("batch_bytes_max", kSignedTxMaxBytes, kBlockMaxBytes));
  HC_ASSIGN_OR_RETURN(g.consensus.batch_delay_ms, param("batch_delay_ms", 0, 60'000));
  HC_ASSIGN_OR_RETURN(g.consensus.window, param("window", 1, 1024));
  HC_ASSIGN_OR_RETURN(g.consensus.checkpoint_interval, param("checkpoint_interval", 1, 1'000'000));
  HC_ASSIGN_OR_RETURN(g.consensus.view_change_timeout_ms,
                      param("view_change_timeout_ms", 10, 3'600'000));
  // The replica's window moves one checkpoint at a time and must hold two of them, so the next
  // checkpoint can be collected while the window is full (docs/spec/pbft.md).
  const uint32_t w = g.consensus.window;
  const uint32_t ci = g.consensus.checkpoint_interval;
  if (w % ci != 0 || w < 2 * ci || w > 256) {
    return InvalidArgument("genesis: consensus.window: " + std::to_string(w) +
                           " must be a multiple of consensus.checkpoint_interval (" +
                           std::to_string(ci) + "), at least twice it, and at most 256");
  }

  if (auto txs = o.find("txs"); txs != o.end()) {
    if (!txs->value().is_object()) return FieldError("txs", "must be an object");
    const json::object& to = txs->value().get_object();
    HC_RETURN_IF_ERROR(CheckKnownFields(to, "txs", {"max_age_ms", "max_future_ms"}));
    // At least a minute each way: clients sign a moment before they submit, and clocks drift.
    constexpr int64_t kWeek = 7 * 86'400'000LL;
    HC_ASSIGN_OR_RETURN(g.txs.max_age_ms,
                        GetInt(to, "max_age_ms", "txs.max_age_ms", 60'000, kWeek));
    HC_ASSIGN_OR_RETURN(g.txs.max_future_ms,
                        GetInt(to, "max_future_ms", "txs.max_future_ms", 60'000, kWeek));
  }
  return g;
}

void PutLen(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

}  // namespace

Result<Genesis> ParseGenesis(std::string_view text) {
  if (text.size() > kGenesisFileMaxBytes) {
    return FieldError("(file)", "over " + std::to_string(kGenesisFileMaxBytes) + " bytes");
  }
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return FieldError("(file)", "not valid JSON: " + ec.message());
  return FromJson(root);
}

Result<Genesis> LoadGenesisFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return IoError("genesis: cannot open " + path);
  std::string text;
  char buf[8192];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
    if (text.size() > kGenesisFileMaxBytes) {
      std::fclose(f);
      return FieldError("(file)",
                        path + " is over " + std::to_string(kGenesisFileMaxBytes) + " bytes");
    }
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return IoError("genesis: cannot read " + path);
  Result<Genesis> g = ParseGenesis(text);
  if (!g.ok()) return g.status().WithContext(path);
  return g;
}

std::string GenesisToJson(const Genesis& g) {
  json::object o;
  o["version"] = 1;
  o["chain_id"] = g.chain_id;
  o["genesis_time_ms"] = g.genesis_time_ms;
  json::array va;
  for (const GenesisValidator& v : g.validators) {
    json::object vo;
    vo["id"] = v.id;
    vo["ed25519_key"] = Base64Encode(v.key);
    vo["tls_key_pin"] = Base64Encode(v.tls_key_pin);
    vo["address"] = v.address;
    va.push_back(std::move(vo));
  }
  o["validators"] = std::move(va);
  json::array ca;
  for (const GenesisCommission& c : g.commissions) {
    json::object co;
    co["name"] = c.name;
    co["ed25519_key"] = Base64Encode(c.key);
    co["x25519_key"] = Base64Encode(c.encryption_key);
    if (!c.fhir_organization.empty()) co["fhir_organization"] = c.fhir_organization;
    ca.push_back(std::move(co));
  }
  o["commissions"] = std::move(ca);
  json::object cp;
  cp["batch_txs_max"] = g.consensus.batch_txs_max;
  cp["batch_bytes_max"] = g.consensus.batch_bytes_max;
  cp["batch_delay_ms"] = g.consensus.batch_delay_ms;
  cp["window"] = g.consensus.window;
  cp["checkpoint_interval"] = g.consensus.checkpoint_interval;
  cp["view_change_timeout_ms"] = g.consensus.view_change_timeout_ms;
  o["consensus"] = std::move(cp);
  if (g.txs.enabled()) {
    json::object to;
    to["max_age_ms"] = g.txs.max_age_ms;
    to["max_future_ms"] = g.txs.max_future_ms;
    o["txs"] = std::move(to);
  }
  return json::serialize(o);
}

Hash32 GenesisHash(const Genesis& g) {
  std::string b;
  PutU32(&b, 1);  // layout version
  PutLen(&b, g.chain_id);
  PutU64(&b, static_cast<uint64_t>(g.genesis_time_ms));
  PutU32(&b, static_cast<uint32_t>(g.validators.size()));
  for (const GenesisValidator& v : g.validators) {
    PutLen(&b, v.id);
    b.append(AsStr(ByteView(v.key)));
    b.append(AsStr(v.tls_key_pin));
    PutLen(&b, v.address);
  }
  PutU32(&b, static_cast<uint32_t>(g.commissions.size()));
  for (const GenesisCommission& c : g.commissions) {
    PutLen(&b, c.name);
    b.append(AsStr(ByteView(c.key)));
    b.append(AsStr(ByteView(c.encryption_key)));
    PutLen(&b, c.fhir_organization);
  }
  for (uint32_t p :
       {g.consensus.batch_txs_max, g.consensus.batch_bytes_max, g.consensus.batch_delay_ms,
        g.consensus.window, g.consensus.checkpoint_interval, g.consensus.view_change_timeout_ms}) {
    PutU32(&b, p);
  }
  if (g.txs.enabled()) {  // absent, the bytes are those of the chains made before it
    b.append("txs");
    PutU64(&b, static_cast<uint64_t>(g.txs.max_age_ms));
    PutU64(&b, static_cast<uint64_t>(g.txs.max_future_ms));
  }
  return crypto::DomainHash(kGenesisDomain, AsBytes(b));
}

KvBatch GenesisStateWrites(const Genesis& g) {
  KvBatch batch;
  for (const GenesisCommission& c : g.commissions) {
    lpb::OrgState org;
    org.set_key(c.key.data(), c.key.size());
    org.set_encryption_key(c.encryption_key.data(), c.encryption_key.size());
    org.set_role(pb::ORG_ROLE_COMMISSION);
    org.set_name(c.name);
    org.set_fhir_organization(c.fhir_organization);
    org.set_registered_height(0);
    batch.Put(Cf::kState, keys::Org(AsStr(ByteView(c.key))), Serialize(org));
  }
  batch.Put(Cf::kState, std::string(keys::kStateFormat), std::to_string(keys::kStateFormatCurrent));
  return batch;
}

}  // namespace hc::ledger
