// A 4-validator in-memory chain with a claim story, for the provenance bundle tests (ledger and
// hcctl). Signatures are the fake signer's; verify with crypto::MakeFakeVerifier().
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/mem_store.h"
#include "tx_factory.h"

namespace hc::ledger::testing {

// TestGenesis() with validators v0..v3 (n = 4, f = 1, quorum 3).
inline Genesis FourValidatorGenesis() {
  Genesis g = TestGenesis();
  g.validators.clear();
  for (int i = 0; i < 4; ++i) {
    GenesisValidator v;
    v.id = "v" + std::to_string(i);
    v.key = KeyOf(v.id);
    v.tls_key_pin = crypto::Sha256(AsBytes("tls:" + v.id));
    v.address = "127.0.0.1:" + std::to_string(7000 + i);
    g.validators.push_back(v);
  }
  return g;
}

class ProvenanceChain {
 public:
  ProvenanceChain() : genesis_(FourValidatorGenesis()), verifier_(crypto::MakeFakeVerifier()) {
    auto l = Ledger::Open(std::make_unique<MemKvStore>(), genesis_, *verifier_);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
  }

  // Commits a block certified by validators 0, 1 and 2 (a quorum) in `view`.
  void Commit(std::vector<std::string> txs, uint64_t view = 0) {
    BlockParams p;
    p.chain_id = genesis_.chain_id;
    p.height = ledger_->height() + 1;
    p.prev_block_hash = ledger_->tip_hash();
    p.timestamp_ms = kT0 + static_cast<int64_t>(p.height) * 1000;
    p.view = view;
    p.log = ledger_->CurrentLogClaim();
    const auto block = BuildBlock(p, std::move(txs));
    std::vector<std::unique_ptr<crypto::Signer>> signers;
    std::vector<std::pair<uint32_t, const crypto::Signer*>> refs;
    for (uint32_t i = 0; i < 3; ++i) {
      signers.push_back(crypto::MakeFakeSigner(KeyOf("v" + std::to_string(i))));
      refs.emplace_back(i, signers.back().get());
    }
    auto r = ledger_->Commit(block, MakeCertificate(genesis_.chain_id, block, view, refs));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }

  // hospital h1 anchors r1, r2 for alice; alice consents to payment by i1; i1 accesses r1 for
  // payment (granted), h2 accesses r2 (denied: not in the story); h1 claims cl1 with evidence
  // r1, r2; i1 adjudicates; an empty block certifies it all.
  void ClaimStory() {
    Commit({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
            f.RegisterOrg("gov", "h2", pb::ORG_ROLE_HOSPITAL),
            f.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER), f.RegisterPolicy("gov", "bppc-1"),
            f.Enroll("h1", "alice")});
    Commit({f.Anchor("h1", "r1", "alice"), f.Anchor("h1", "r2", "alice")});
    TxFactory::GrantSpec pay;
    pay.id = "pay";
    pay.grantee = "i1";
    pay.purposes = {pb::PURPOSE_HPAYMT};
    Commit({f.Grant("alice", pay)});
    TxFactory::ClaimSpec s;
    s.evidence = {"r1", "r2"};
    Commit({f.Access("i1", "r1", pb::PURPOSE_HPAYMT), f.Access("h2", "r2"), f.Claim("h1", s)});
    Commit({f.Adjudicate("i1", "cl1")});
    Commit({});
  }

  Ledger& ledger() { return *ledger_; }
  const Genesis& genesis() const { return genesis_; }
  const crypto::Verifier& verifier() const { return *verifier_; }
  TxFactory f;

 private:
  Genesis genesis_;
  std::unique_ptr<crypto::Verifier> verifier_;
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace hc::ledger::testing
