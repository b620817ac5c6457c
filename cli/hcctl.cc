// hcctl: the Health Chain operator and client tool.
#include <sodium.h>

#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "hcctl: libsodium failed to initialise\n");
    return 2;
  }
  CLI::App app{"hcctl: Health Chain operator and client tool"};
  app.require_subcommand(1);
  int exit_code = 0;
  hc::cli::RegisterKeygen(app, &exit_code);
  hc::cli::RegisterProof(app, &exit_code);
  hc::cli::RegisterVerifyChain(app, &exit_code);
  hc::cli::RegisterVerify(app, &exit_code);
  hc::cli::RegisterNetwork(app, &exit_code);
  hc::cli::RegisterTx(app, &exit_code);
  hc::cli::RegisterStatus(app, &exit_code);
  hc::cli::RegisterRecord(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports parse errors by exception; this is the edge where it arises.
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
