// Helpers for the ledger tests: named identities, tx builders and a chain that executes blocks on
// a MemKvStore. Signatures use the fake signer (crypto/signer.h) unless a test needs real Ed25519.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "crypto/signer.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/codec.h"
#include "ledger/genesis.h"
#include "ledger/ledger.h"
#include "ledger/mem_store.h"
#include "ledger/state_machine.h"
#include "ledger/tx.h"
#include "tx_factory.h"

namespace hc::ledger::testing {

namespace pb = ::healthchain::v1;

// Executes blocks of txs directly on a MemKvStore (no block store): the state machine alone.
class StateChain {
 public:
  StateChain() : verifier_(crypto::MakeFakeVerifier()) {
    EXPECT_TRUE(store_.Write(GenesisStateWrites(TestGenesis()), true).ok());
  }

  std::vector<pb::Receipt> Run(const std::vector<std::string>& txs, int64_t time_ms = 0) {
    if (time_ms == 0) time_ms = now_ms_;
    now_ms_ = time_ms;
    ExecutableBlock block = PrepareBlock(++height_, time_ms, txs, kChainId, *verifier_);
    Result<ExecutionResult> r = Execute(block, store_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    EXPECT_TRUE(store_.Write(r->writes, true).ok());
    last_ = std::move(r).value();
    return last_.receipts;
  }
  pb::Receipt Run1(const std::string& tx, int64_t time_ms = 0) {
    auto r = Run({tx}, time_ms);
    return r.empty() ? pb::Receipt() : r[0];
  }
  // Runs txs that must all succeed.
  void Setup(const std::vector<std::string>& txs, int64_t time_ms = 0) {
    for (const auto& r : Run(txs, time_ms)) {
      ASSERT_EQ(r.status(), pb::TX_STATUS_OK) << r.reason();
    }
  }

  // The standard world: hospitals h1, h2, insurer i1, policy bppc-1, patients alice (by h1) and
  // bob (self-enrolled), record r1 (alice, LABORATORY) anchored by h1.
  void StandardWorld(TxFactory& f) {
    Setup({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
           f.RegisterOrg("gov", "h2", pb::ORG_ROLE_HOSPITAL),
           f.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER), f.RegisterPolicy("gov", "bppc-1"),
           f.Enroll("h1", "alice"), f.Enroll("bob", "bob")},
          kT0);
    Setup({f.Anchor("h1", "r1", "alice")}, kT0 + 1000);
  }

  MemKvStore& store() { return store_; }
  const ExecutionResult& last() const { return last_; }
  uint64_t height() const { return height_; }
  int64_t now_ms() const { return now_ms_; }
  const crypto::Verifier& verifier() const { return *verifier_; }

 private:
  MemKvStore store_;
  std::unique_ptr<crypto::Verifier> verifier_;
  uint64_t height_ = 0;
  int64_t now_ms_ = kT0;
  ExecutionResult last_;
};

// A digest of every key and value of the state-bearing column families.
inline Hash32 StateDigest(const MemKvStore& store) {
  crypto::Sha256Hasher h;
  for (Cf cf : {Cf::kTxIndex, Cf::kState, Cf::kIndex}) {
    for (const auto& [k, v] : store.table(cf)) {
      std::string rec;
      rec.push_back(static_cast<char>(cf));
      PutU32(&rec, static_cast<uint32_t>(k.size()));
      rec += k;
      PutU32(&rec, static_cast<uint32_t>(v.size()));
      rec += v;
      h.Update(rec);
    }
  }
  return h.Final();
}

// A KvStore that forwards to a store owned elsewhere, so a test can re-open a Ledger on the same
// MemKvStore (which a Ledger would otherwise own).
class BorrowedStore final : public KvStore {
 public:
  explicit BorrowedStore(KvStore& store) : store_(store) {}
  Status Get(Cf cf, std::string_view key, std::string* value) const override {
    return store_.Get(cf, key, value);
  }
  Status Scan(Cf cf, std::string_view start, std::string_view end,
              const KvScanFn& fn) const override {
    return store_.Scan(cf, start, end, fn);
  }
  Status SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                        std::string* value) const override {
    return store_.SeekAtOrBefore(cf, key, found_key, value);
  }
  Status Write(const KvBatch& batch, bool sync) override { return store_.Write(batch, sync); }

 private:
  KvStore& store_;
};

// A fresh empty directory under the test temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "hc-ledger-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Commits a block of txs; the block must check out.
inline CommittedBlock CommitTxs(Ledger& ledger, std::vector<std::string> txs,
                                int64_t timestamp_ms = 0) {
  pb::Block block = NextBlock(ledger, std::move(txs), timestamp_ms);
  Result<CommittedBlock> r = ledger.Commit(block, Certify(block));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : CommittedBlock{};
}

}  // namespace hc::ledger::testing
