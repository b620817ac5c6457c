// hcctl network new: generates a local network (cli/network_gen.h) and prints where it went.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/network_gen.h"

namespace hc::cli {
namespace {

struct NetworkNewOptions {
  NetworkSpec spec;
  std::string out;
  int base_port = 7000;
};

int RunNetworkNew(NetworkNewOptions opts) {
  opts.spec.base_p2p_port = static_cast<uint16_t>(opts.base_port);
  opts.spec.base_api_port = static_cast<uint16_t>(opts.base_port + 1000);
  GeneratedNetwork net;
  if (Status s = GenerateNetwork(opts.spec, opts.out, &net); !s.ok()) {
    std::fprintf(stderr, "hcctl network new: %s%s\n", s.message().c_str(),
                 s.code() == StatusCode::kAlreadyExists ? " (pass --force to replace it)" : "");
    return 2;
  }
  std::printf("genesis: %s\n", net.genesis_path.c_str());
  std::printf("chain_id: %s\n", opts.spec.chain_id.c_str());
  for (const std::string& k : net.commission_key_paths)
    std::printf("commission_key: %s\n", k.c_str());
  for (const GeneratedNode& n : net.nodes) {
    std::printf("%s: config %s  p2p %s  api http://%s  id %s\n", n.name.c_str(),
                n.config_path.c_str(), n.p2p_address.c_str(), n.api_address.c_str(),
                n.identity_id.c_str());
  }
  return 0;
}

}  // namespace

void RegisterNetwork(CLI::App& app, int* exit_code) {
  CLI::App* network = app.add_subcommand("network", "Generate networks");
  network->require_subcommand(1);
  auto opts = std::make_shared<NetworkNewOptions>();
  CLI::App* cmd = network->add_subcommand(
      "new", "Keys, TLS certificates, genesis and a config per node, on loopback ports");
  cmd->add_option("--validators", opts->spec.validators, "Number of validators (n = 3f+1)")
      ->required()
      ->check(CLI::Range(1u, kNetworkValidatorsMax));
  cmd->add_option("--observers", opts->spec.observers, "Number of observers")
      ->check(CLI::Range(0u, kNetworkObserversMax))
      ->capture_default_str();
  cmd->add_option("--commissions", opts->spec.commissions, "Number of commission identities")
      ->check(CLI::Range(1u, kNetworkCommissionsMax))
      ->capture_default_str();
  cmd->add_option("--out", opts->out, "Directory to create the network in")->required();
  cmd->add_option("--chain-id", opts->spec.chain_id, "Chain id")->capture_default_str();
  cmd->add_option("--host", opts->spec.host, "Address every node listens on and is reached at")
      ->capture_default_str();
  cmd->add_option("--base-port", opts->base_port,
                  "Node k listens on P+k for peers and P+1000+k for the API")
      ->check(CLI::Range(1, 64000))
      ->capture_default_str();
  cmd->add_option("--batch-delay-ms", opts->spec.consensus.batch_delay_ms,
                  "Consensus: close a block after this long")
      ->capture_default_str();
  cmd->add_option("--view-change-timeout-ms", opts->spec.consensus.view_change_timeout_ms,
                  "Consensus: view-change timeout")
      ->capture_default_str();
  cmd->add_option("--tx-max-age-ms", opts->spec.txs.max_age_ms,
                  "Txs: refuse a tx signed longer than this before its block (0: no lifetime)")
      ->check(CLI::Range(int64_t{0}, int64_t{7} * 86'400'000))
      ->capture_default_str();
  cmd->add_option("--tx-max-future-ms", opts->spec.txs.max_future_ms,
                  "Txs: refuse a tx signed longer than this after its block (signers' clocks)")
      ->check(CLI::Range(int64_t{0}, int64_t{7} * 86'400'000))
      ->capture_default_str();
  cmd->add_option("--log-level", opts->spec.log_level, "log_level written to every node.toml")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd->add_flag("--force", opts->spec.overwrite,
                "Replace an existing network in --out (its nodes' data is deleted)");
  cmd->callback([opts, exit_code] { *exit_code = RunNetworkNew(*opts); });
}

}  // namespace hc::cli
