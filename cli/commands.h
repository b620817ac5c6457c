// hcctl's subcommands. Each Register* adds its subcommand to the app; the callback it installs
// stores the process exit code in *exit_code (0 success, 1 a negative answer such as an invalid
// proof, 2 unusable input or a failure).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace hc::cli {

// --cacert FILE, for every subcommand that talks to a node: the CA certificates an https:// node's
// certificate must chain to (cli/http_client.h). Without it the system's CA store is used.
inline CLI::Option* AddCaCertOption(CLI::App* cmd, std::string* ca_file) {
  return cmd->add_option("--cacert", *ca_file,
                         "PEM file of the CA certificate(s) that issued an https:// node's "
                         "certificate (default: the system's CA store)");
}

void RegisterKeygen(CLI::App& app, int* exit_code);
void RegisterProof(CLI::App& app, int* exit_code);
void RegisterVerifyChain(CLI::App& app, int* exit_code);
void RegisterVerify(CLI::App& app, int* exit_code);  // verify provenance
void RegisterNetwork(CLI::App& app, int* exit_code);
void RegisterTx(CLI::App& app, int* exit_code);
void RegisterStatus(CLI::App& app, int* exit_code);
void RegisterRecord(CLI::App& app, int* exit_code);

}  // namespace hc::cli
