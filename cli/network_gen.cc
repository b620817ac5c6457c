#include "cli/network_gen.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "crypto/keyfile.h"
#include "crypto/tls.h"
#include "node/config.h"

namespace hc::cli {
namespace {

namespace fs = std::filesystem;

std::string NodeName(bool validator, uint32_t index) {
  return (validator ? "validator-" : "observer-") + std::to_string(index);
}

// Writes a public file (mode 0644) and syncs it. Refuses to replace an existing file: the caller
// cleared the network first when overwriting.
Status WritePublicFile(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      return IoError(path + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return IoError(path + ": " + std::strerror(errno));
  return Status::Ok();
}

Status CheckSpec(const NetworkSpec& spec) {
  if (spec.validators == 0 || spec.validators > kNetworkValidatorsMax) {
    return InvalidArgument("validators: must be in [1, " + std::to_string(kNetworkValidatorsMax) +
                           "], got " + std::to_string(spec.validators));
  }
  if (spec.observers > kNetworkObserversMax) {
    return InvalidArgument("observers: at most " + std::to_string(kNetworkObserversMax));
  }
  if (spec.commissions == 0 || spec.commissions > kNetworkCommissionsMax) {
    return InvalidArgument("commissions: must be in [1, " + std::to_string(kNetworkCommissionsMax) +
                           "]");
  }
  if (spec.host.empty()) return InvalidArgument("host: must not be empty");
  const uint32_t nodes = spec.validators + spec.observers;
  const uint32_t p2p_end = uint32_t{spec.base_p2p_port} + nodes;  // one past the last port
  const uint32_t api_end = uint32_t{spec.base_api_port} + nodes;
  if (spec.base_p2p_port == 0 || spec.base_api_port == 0 || p2p_end > 65536 || api_end > 65536) {
    return InvalidArgument("ports: the p2p range starting at " +
                           std::to_string(spec.base_p2p_port) + " and the API range at " +
                           std::to_string(spec.base_api_port) + " must fit in [1, 65535] for " +
                           std::to_string(nodes) + " nodes");
  }
  if (spec.base_p2p_port < api_end && spec.base_api_port < p2p_end) {
    return InvalidArgument("ports: the p2p range [" + std::to_string(spec.base_p2p_port) + ", " +
                           std::to_string(p2p_end) + ") overlaps the API range [" +
                           std::to_string(spec.base_api_port) + ", " + std::to_string(api_end) +
                           ")");
  }
  return Status::Ok();
}

// True when out_dir holds anything this generator writes.
bool HoldsNetwork(const fs::path& out, std::string* what) {
  std::error_code ec;
  if (fs::exists(out / "genesis.json", ec)) {
    *what = (out / "genesis.json").string();
    return true;
  }
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("validator-", 0) == 0 || name.rfind("observer-", 0) == 0 ||
        (name.rfind("commission-", 0) == 0 && name.ends_with(".key.json"))) {
      *what = entry.path().string();
      return true;
    }
  }
  return false;
}

Status ClearNetwork(const fs::path& out) {
  std::error_code ec;
  std::vector<fs::path> doomed;
  if (fs::exists(out / "genesis.json", ec)) doomed.push_back(out / "genesis.json");
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("validator-", 0) == 0 || name.rfind("observer-", 0) == 0 ||
        (name.rfind("commission-", 0) == 0 && name.ends_with(".key.json"))) {
      doomed.push_back(entry.path());
    }
  }
  if (ec) return IoError(out.string() + ": " + ec.message());
  for (const fs::path& p : doomed) {
    fs::remove_all(p, ec);
    if (ec) return IoError(p.string() + ": " + ec.message());
  }
  return Status::Ok();
}

struct PendingNode {
  GeneratedNode info;
  crypto::Identity identity;
  std::optional<crypto::TlsIdentity> tls;
};

}  // namespace

Status GenerateNetwork(const NetworkSpec& spec, const std::string& out_dir,
                       GeneratedNetwork* result) {
  HC_RETURN_IF_ERROR(CheckSpec(spec));
  const fs::path out(out_dir);

  // Everything is generated and validated in memory before the first file is written.
  ledger::Genesis genesis;
  genesis.chain_id = spec.chain_id;
  genesis.genesis_time_ms = spec.genesis_time_ms != 0
                                ? spec.genesis_time_ms
                                : std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
  genesis.consensus = spec.consensus;
  genesis.txs = spec.txs;

  std::vector<PendingNode> nodes;
  const uint32_t total = spec.validators + spec.observers;
  nodes.reserve(total);
  for (uint32_t n = 0; n < total; ++n) {
    const bool validator = n < spec.validators;
    const uint32_t index = validator ? n : n - spec.validators;
    PendingNode p;
    p.info.name = NodeName(validator, index);
    p.info.validator = validator;
    p.info.id = validator ? index : kObserverIdBase + index;
    p.info.dir = (out / p.info.name).string();
    p.info.config_path = (out / p.info.name / "node.toml").string();
    p.info.p2p_address =
        node::HostPort{spec.host, static_cast<uint16_t>(spec.base_p2p_port + n)}.ToString();
    p.info.api_address =
        node::HostPort{spec.host, static_cast<uint16_t>(spec.base_api_port + n)}.ToString();
    p.identity = crypto::GenerateIdentity();
    p.info.identity_id = crypto::IdentityIdHex(p.identity.signing.public_key);
    Result<crypto::TlsIdentity> tls = crypto::GenerateTlsIdentity(p.info.name);
    if (!tls.ok()) return tls.status();
    p.tls.emplace(std::move(tls).value());
    if (validator) {
      ledger::GenesisValidator v;
      v.id = p.info.name;
      v.key = p.identity.signing.public_key;
      v.tls_key_pin = p.tls->pin();
      v.address = p.info.p2p_address;
      genesis.validators.push_back(std::move(v));
    }
    nodes.push_back(std::move(p));
  }

  std::vector<crypto::Identity> commissions;
  for (uint32_t k = 0; k < spec.commissions; ++k) {
    crypto::Identity id = crypto::GenerateIdentity();
    ledger::GenesisCommission c;
    c.name = spec.commissions == 1 ? "Health Commission" : "Health Commission " + std::to_string(k);
    c.key = id.signing.public_key;
    c.encryption_key = id.encryption.public_key;
    genesis.commissions.push_back(std::move(c));
    commissions.push_back(std::move(id));
  }

  const std::string genesis_json = GenesisToJson(genesis);
  if (Result<ledger::Genesis> check = ledger::ParseGenesis(genesis_json); !check.ok()) {
    return check.status();  // names the field ("genesis: consensus.window: ...")
  }

  std::vector<node::ObserverPeer> observer_peers;
  for (const PendingNode& p : nodes) {
    if (p.info.validator) continue;
    node::ObserverPeer o;
    o.id = p.info.id;
    o.name = p.info.name;
    o.tls_pin.assign(p.tls->pin().begin(), p.tls->pin().end());
    observer_peers.push_back(std::move(o));
  }

  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return IoError(out_dir + ": " + ec.message());
  std::string existing;
  if (HoldsNetwork(out, &existing)) {
    if (!spec.overwrite) {
      return AlreadyExists(out_dir + " already holds a network (" + existing + ")");
    }
    HC_RETURN_IF_ERROR(ClearNetwork(out));
  }

  GeneratedNetwork generated;
  generated.genesis_path = (out / "genesis.json").string();
  HC_RETURN_IF_ERROR(WritePublicFile(generated.genesis_path, genesis_json));
  for (uint32_t k = 0; k < spec.commissions; ++k) {
    const std::string path = (out / ("commission-" + std::to_string(k) + ".key.json")).string();
    HC_RETURN_IF_ERROR(crypto::SaveIdentity(commissions[k], path));
    generated.commission_key_paths.push_back(path);
  }
  for (const PendingNode& p : nodes) {
    fs::create_directories(p.info.dir, ec);
    if (ec) return IoError(p.info.dir + ": " + ec.message());
    const fs::path dir(p.info.dir);
    HC_RETURN_IF_ERROR(crypto::SaveIdentity(p.identity, (dir / "identity.key.json").string()));
    HC_RETURN_IF_ERROR(crypto::SaveTlsIdentity(*p.tls, (dir / "tls.key.pem").string(),
                                               (dir / "tls.crt.pem").string()));
    node::NodeConfig c;
    c.name = p.info.name;
    c.mode = p.info.validator ? node::NodeMode::kValidator : node::NodeMode::kObserver;
    if (p.info.validator) {
      c.replica = p.info.id;
      c.observers = observer_peers;
    } else {
      c.observer_id = p.info.id;
    }
    c.data_dir = "data";
    c.genesis_path = "../genesis.json";
    c.log_level = spec.log_level;
    c.identity_key_path = "identity.key.json";
    c.tls_cert_path = "tls.crt.pem";
    c.tls_key_path = "tls.key.pem";
    Result<node::HostPort> p2p = node::ParseHostPort(p.info.p2p_address);
    Result<node::HostPort> api = node::ParseHostPort(p.info.api_address);
    if (!p2p.ok()) return p2p.status();
    if (!api.ok()) return api.status();
    c.p2p_listen = *p2p;
    c.api_listen = *api;
    HC_RETURN_IF_ERROR(WritePublicFile(p.info.config_path, node::EncodeNodeConfig(c)));
    generated.nodes.push_back(p.info);
  }
  if (result != nullptr) *result = std::move(generated);
  return Status::Ok();
}

}  // namespace hc::cli
