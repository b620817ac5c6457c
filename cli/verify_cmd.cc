// hcctl verify provenance BUNDLE --genesis FILE: checks a provenance bundle offline
// (docs/spec/provenance.md) with only the genesis validator keys, and prints the claim's story.
// Exit code 0: verified; 1: "invalid: <reason>"; 2: the bundle or the genesis could not be read.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "crypto/signer.h"
#include "ledger/genesis.h"
#include "ledger/provenance.h"

namespace hc::cli {
namespace {

struct VerifyProvenanceOptions {
  std::string bundle;
  std::string genesis;
  bool fake_signatures = false;
};

int RunVerifyProvenance(const VerifyProvenanceOptions& opts) {
  Result<ledger::Genesis> genesis = ledger::LoadGenesisFile(opts.genesis);
  if (!genesis.ok()) {
    std::fprintf(stderr, "hcctl verify provenance: genesis: %s\n",
                 genesis.status().message().c_str());
    return 2;
  }
  std::ifstream in(opts.bundle, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "hcctl verify provenance: cannot read %s\n", opts.bundle.c_str());
    return 2;
  }
  std::string text;
  {
    // Read at most one byte past the limit, so an oversized file is refused (P1) unread.
    text.resize(ledger::kProvenanceBundleBytesMax + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
  }
  std::unique_ptr<crypto::Verifier> verifier =
      opts.fake_signatures ? crypto::MakeFakeVerifier() : crypto::MakeEd25519Verifier();
  const ledger::ProvenanceVerdict v = ledger::VerifyProvenanceBundle(text, *genesis, *verifier);
  switch (v.outcome) {
    case ledger::ProvenanceVerdict::Outcome::kVerified:
      std::fputs(ledger::FormatProvenanceStory(v).c_str(), stdout);
      return 0;
    case ledger::ProvenanceVerdict::Outcome::kInvalid:
      std::printf("invalid: %s\n", v.reason.c_str());
      return 1;
    case ledger::ProvenanceVerdict::Outcome::kUnreadable:
      break;
  }
  std::fprintf(stderr, "hcctl verify provenance: %s: %s\n", opts.bundle.c_str(), v.reason.c_str());
  return 2;
}

}  // namespace

void RegisterVerify(CLI::App& app, int* exit_code) {
  CLI::App* verify = app.add_subcommand("verify", "Verify proofs offline");
  verify->require_subcommand(1);
  auto opts = std::make_shared<VerifyProvenanceOptions>();
  CLI::App* cmd = verify->add_subcommand(
      "provenance",
      "Verify a provenance bundle (GET /v1/claims/{id}/provenance or /v1/tx/{id}/proof) with only "
      "the genesis validator keys, and print the claim's story");
  cmd->add_option("bundle", opts->bundle, "The bundle (JSON)")->required();
  cmd->add_option("--genesis", opts->genesis, "The chain's genesis file")->required();
  cmd->add_flag("--insecure-fake-signatures", opts->fake_signatures,
                "Check the simulator's fake signatures instead of Ed25519 (test chains only)");
  cmd->callback([opts, exit_code] { *exit_code = RunVerifyProvenance(*opts); });
}

}  // namespace hc::cli
