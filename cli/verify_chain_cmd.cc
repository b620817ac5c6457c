// hcctl verify-chain: re-checks a node's whole database offline (ledger/verify_chain.h) and prints
// a summary or the first fault. Exit code 0: the chain verified; 1: a fault was found; 2: the
// database or the genesis file could not be used.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/encoding.h"
#include "crypto/signer.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/codec.h"
#include "ledger/genesis.h"
#include "ledger/mem_store.h"
#include "ledger/rocks_store.h"
#include "ledger/verify_chain.h"

namespace hc::cli {
namespace {

struct VerifyChainOptions {
  std::string data;
  std::string genesis;
  std::string scratch;
  bool fake_signatures = false;
  bool quiet = false;
};

int RunVerifyChain(const VerifyChainOptions& opts) {
  Result<ledger::Genesis> genesis = ledger::LoadGenesisFile(opts.genesis);
  if (!genesis.ok()) {
    std::fprintf(stderr, "hcctl verify-chain: %s\n", genesis.status().message().c_str());
    return 2;
  }
  ledger::RocksOptions ro;
  ro.create_if_missing = false;
  // A node keeps its database in <data_dir>/db; accept the data_dir of a node's config as well.
  std::string db_dir = opts.data;
  if (std::filesystem::exists(std::filesystem::path(db_dir) / "db" / "CURRENT")) {
    db_dir = (std::filesystem::path(db_dir) / "db").string();
  }
  Result<std::unique_ptr<ledger::RocksKvStore>> stored = ledger::RocksKvStore::Open(db_dir, ro);
  if (!stored.ok()) {
    std::fprintf(stderr, "hcctl verify-chain: cannot open %s: %s\n", opts.data.c_str(),
                 stored.status().message().c_str());
    return 2;
  }
  // The replay's state goes to memory, or to a scratch RocksDB for chains too large for it.
  std::unique_ptr<ledger::KvStore> scratch;
  if (opts.scratch.empty()) {
    scratch = std::make_unique<ledger::MemKvStore>();
  } else {
    Result<std::unique_ptr<ledger::RocksKvStore>> s = ledger::RocksKvStore::Open(opts.scratch);
    if (!s.ok()) {
      std::fprintf(stderr, "hcctl verify-chain: scratch %s: %s\n", opts.scratch.c_str(),
                   s.status().message().c_str());
      return 2;
    }
    scratch = std::move(s).value();
  }
  // The simulator and tests sign with the fake signer (crypto/signer.h); real chains never do.
  std::unique_ptr<crypto::Verifier> verifier =
      opts.fake_signatures ? crypto::MakeFakeVerifier() : crypto::MakeEd25519Verifier();
  const auto start = std::chrono::steady_clock::now();
  auto progress = [&](uint64_t h) {
    if (!opts.quiet && h % 10000 == 0)
      std::fprintf(stderr, "verified height %llu\n", static_cast<unsigned long long>(h));
  };
  Result<ledger::ChainReport> report =
      ledger::VerifyChain(**stored, *genesis, *verifier, std::move(scratch), progress);
  if (!report.ok()) {
    std::fprintf(stderr, "hcctl verify-chain: %s\n", report.status().ToString().c_str());
    return 2;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!report->fault.empty()) {
    std::printf("FAULT: %s\n", report->fault.c_str());
    return 1;
  }
  std::printf("chain_id: %s\n", genesis->chain_id.c_str());
  std::printf("height: %llu\n", static_cast<unsigned long long>(report->height));
  std::printf("tip_hash: %s\n", HexEncode(report->tip_hash).c_str());
  std::printf("txs: %llu\n", static_cast<unsigned long long>(report->txs));
  std::printf("log_size: %llu\n", static_cast<unsigned long long>(report->log_size));
  std::printf("log_root: %s\n", HexEncode(report->log_root).c_str());
  std::printf("state_format: %d%s\n", report->state_format,
              report->state_format < ledger::keys::kStateFormatCurrent
                  ? " (older than this version's: compared as a node of that format writes it)"
                  : "");
  for (const auto& [status, count] : report->receipts_by_status) {
    std::printf(
        "receipts_%s: %llu\n",
        ::healthchain::v1::TxStatus_Name(static_cast<::healthchain::v1::TxStatus>(status)).c_str(),
        static_cast<unsigned long long>(count));
  }
  std::printf(
      "result: OK (hash chain, %llu certificates, log roots and re-execution verified in "
      "%.1f s)\n",
      static_cast<unsigned long long>(report->height), secs);
  return 0;
}

}  // namespace

void RegisterVerifyChain(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<VerifyChainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "verify-chain",
      "Re-check a node's database offline: hash chain, every commit certificate against the "
      "genesis validators, log roots, and re-execution of every block");
  cmd->add_option("--data", opts->data,
                  "The node's data directory (data_dir in its config) or its RocksDB directory")
      ->required();
  cmd->add_option("--genesis", opts->genesis, "The chain's genesis file")->required();
  cmd->add_option("--scratch", opts->scratch,
                  "Directory for the replay's state (default: memory); must be new or empty");
  cmd->add_flag("--insecure-fake-signatures", opts->fake_signatures,
                "Check the simulator's fake signatures instead of Ed25519 (test chains only)");
  cmd->add_flag("--quiet", opts->quiet, "No progress lines");
  cmd->callback([opts, exit_code] { *exit_code = RunVerifyChain(*opts); });
}

}  // namespace hc::cli
