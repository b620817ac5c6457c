// hcctl keygen: creates an identity key file (Ed25519 + X25519) and prints its public half.
// hcctl tls-keygen: creates a node's TLS key and self-signed certificate and prints the pin that
// goes into genesis, so each operator can make their keys on the machine that uses them.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/tls.h"

namespace hc::cli {
namespace {

struct KeygenOptions {
  std::string out;
  std::string public_out;
  bool force = false;
};

int RunKeygen(const KeygenOptions& opts) {
  if (!opts.public_out.empty() && opts.public_out == opts.out) {
    std::fprintf(stderr, "hcctl keygen: --public-out must differ from --out\n");
    return 2;
  }
  const crypto::Identity identity = crypto::GenerateIdentity();
  const crypto::PublicIdentity pub = crypto::ToPublic(identity);
  if (Status s = crypto::SaveIdentity(identity, opts.out, opts.force); !s.ok()) {
    std::fprintf(stderr, "hcctl keygen: %s%s\n", s.message().c_str(),
                 s.code() == StatusCode::kAlreadyExists ? " (pass --force to replace it)" : "");
    return 2;
  }
  if (!opts.public_out.empty()) {
    if (Status s = crypto::SavePublicIdentity(pub, opts.public_out, opts.force); !s.ok()) {
      std::fprintf(stderr,
                   "hcctl keygen: identity written to %s, but the public export failed: %s\n",
                   opts.out.c_str(), s.message().c_str());
      return 2;
    }
  }
  std::printf("key_file: %s\n", opts.out.c_str());
  if (!opts.public_out.empty()) std::printf("public_file: %s\n", opts.public_out.c_str());
  std::printf("id: %s\n", crypto::IdentityIdHex(pub.signing_key).c_str());
  std::printf("ed25519_public: %s\n", Base64Encode(pub.signing_key).c_str());
  std::printf("x25519_public: %s\n", Base64Encode(pub.encryption_key).c_str());
  return 0;
}

struct TlsKeygenOptions {
  std::string key_out;
  std::string cert_out;
  std::string name;
  bool force = false;
};

int RunTlsKeygen(const TlsKeygenOptions& opts) {
  auto tls = crypto::GenerateTlsIdentity(opts.name);
  if (!tls.ok()) {
    std::fprintf(stderr, "hcctl tls-keygen: %s\n", tls.status().message().c_str());
    return 2;
  }
  if (Status s = crypto::SaveTlsIdentity(*tls, opts.key_out, opts.cert_out, opts.force); !s.ok()) {
    std::fprintf(stderr, "hcctl tls-keygen: %s%s\n", s.message().c_str(),
                 s.code() == StatusCode::kAlreadyExists ? " (pass --force to replace it)" : "");
    return 2;
  }
  std::printf("tls_key: %s\n", opts.key_out.c_str());
  std::printf("tls_cert: %s\n", opts.cert_out.c_str());
  // The pin genesis carries for this node (validators[].tls_key_pin) or a validator's config
  // carries for an observer ([[p2p.observers]] tls_pin).
  std::printf("tls_key_pin: %s\n", Base64Encode(tls->pin()).c_str());
  return 0;
}

}  // namespace

void RegisterKeygen(CLI::App& app, int* exit_code) {
  {
    auto opts = std::make_shared<TlsKeygenOptions>();
    CLI::App* cmd = app.add_subcommand(
        "tls-keygen",
        "Create a node's TLS key (Ed25519, mode 0600) and self-signed certificate; print its pin");
    cmd->add_option("--key-out", opts->key_out, "TLS key file to create (tls.key.pem)")->required();
    cmd->add_option("--cert-out", opts->cert_out, "Certificate file to create (tls.crt.pem)")
        ->required();
    cmd->add_option("--name", opts->name, "The node's name (certificate common name)")->required();
    cmd->add_flag("--force", opts->force, "Replace existing files");
    cmd->callback([opts, exit_code] { *exit_code = RunTlsKeygen(*opts); });
  }
  // Owned by the callback: CLI11 keeps the pointers bound below for as long as the app lives.
  auto opts = std::make_shared<KeygenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "keygen",
      "Create an identity key file (Ed25519 signing + X25519 encryption keys, mode 0600)");
  cmd->add_option("--out", opts->out, "Key file to create")->required();
  cmd->add_option("--public-out", opts->public_out,
                  "Also write the public keys (and id) as JSON to this file (mode 0644)");
  cmd->add_flag("--force", opts->force, "Replace existing files");
  cmd->callback([opts, exit_code] { *exit_code = RunKeygen(*opts); });
}

}  // namespace hc::cli
