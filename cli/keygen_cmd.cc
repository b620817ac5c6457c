// hcctl keygen: creates an identity key file (Ed25519 + X25519) and prints its public half.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/encoding.h"
#include "crypto/keyfile.h"

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

}  // namespace

void RegisterKeygen(CLI::App& app, int* exit_code) {
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
