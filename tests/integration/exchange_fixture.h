// Shared by the exchange integration tests: identities that sign txs and API requests, and a
// network fixture that builds, submits and signs through the real HTTP API.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "api/auth.h"
#include "common/encoding.h"
#include "crypto/ed25519.h"
#include "crypto/keyfile.h"
#include "crypto/signer.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/tx.h"
#include "network_fixture.h"

namespace hc::integration {

inline int64_t NowMs() {
  return std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A real Ed25519 identity: fresh, or loaded from a key file.
struct TestIdentity {
  TestIdentity() {
    auto kp = crypto::GenerateEd25519();
    key = kp.public_key;
    signer = crypto::MakeEd25519Signer(std::move(kp.secret_key));
  }
  explicit TestIdentity(const std::string& key_path) {
    auto id = crypto::LoadIdentity(key_path);
    EXPECT_TRUE(id.ok()) << key_path;
    key = id->signing.public_key;
    signer = crypto::MakeEd25519Signer(std::move(id->signing.secret_key));
  }
  std::string Key() const { return std::string(reinterpret_cast<const char*>(key.data()), 32); }
  std::string Hex() const { return HexEncode(key); }

  crypto::Ed25519PublicKey key{};
  std::unique_ptr<crypto::Signer> signer;
};

class ExchangeNetworkTest : public NetworkTest {
 protected:
  // A tx body of this chain signed by `who` (anything with `key`), with a fresh nonce.
  template <typename Who>
  ::healthchain::v1::TxBody Body(const Who& who) {
    ::healthchain::v1::TxBody b;
    b.set_chain_id(net_.genesis.chain_id);
    b.set_signer(std::string(reinterpret_cast<const char*>(who.key.data()), 32));
    std::string nonce(16, '\0');
    for (char& c : nonce) c = static_cast<char>(rng_());
    b.set_nonce(nonce);
    b.set_created_ms(NowMs());
    return b;
  }

  // Signs with `who.signer`, submits to `node`, waits for the commit; the receipt status as
  // "OK", "DENIED", ... ("" when not committed). The tx id in hex goes to *tx_id.
  template <typename Who>
  std::string Commit(const ::healthchain::v1::TxBody& body, const Who& who, size_t node = 0,
                     std::string* tx_id = nullptr) {
    const std::string tx = ledger::SignTx(body, *who.signer);
    if (tx_id != nullptr) *tx_id = TxMaker::IdOf(tx);
    HttpResult r = SubmitTx(Api(node), tx, true, Ms(15'000));
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return "";
    std::string status(r.json.at("receipt").at("status").as_string());
    if (status.rfind("TX_STATUS_", 0) == 0) status.erase(0, 10);
    return status;
  }

  // Anchors a laboratory record for `patient_key` (the ledger only sees its hash), signed by
  // `hospital`; the receipt status.
  template <typename Who>
  std::string CommitAnchor(const Who& hospital, const std::string& record_id,
                           const std::string& patient_key) {
    ::healthchain::v1::TxBody b = Body(hospital);
    auto* a = b.mutable_anchor_record();
    a->set_record_id(record_id);
    a->set_patient_key(patient_key);
    a->set_category(::healthchain::v1::RECORD_CATEGORY_LABORATORY);
    a->set_ciphertext_sha256(std::string(32, 'h'));
    a->set_ciphertext_size(100);
    a->set_description("Lipid panel");
    a->set_content_type("application/fhir+json");
    return Commit(b, hospital);
  }

  // The api/auth.h headers for a request signed by `signer`. Ed25519 is deterministic, so the
  // same request signed twice in one millisecond would be refused as a replay: every request gets
  // its own, strictly increasing timestamp.
  std::map<std::string, std::string> SignedHeaders(const crypto::Signer& signer,
                                                   const std::string& method,
                                                   const std::string& target,
                                                   const std::string& body) {
    last_ts_ = std::max(NowMs(), last_ts_ + 1);
    auto h = api::SignRequest(signer, method, target, last_ts_, AsBytes(body));
    return {{std::string(api::kHeaderKey), h.key},
            {std::string(api::kHeaderTimestamp), h.timestamp},
            {std::string(api::kHeaderSignature), h.signature}};
  }

  std::mt19937_64 rng_{std::random_device{}()};
  int64_t last_ts_ = 0;
};

}  // namespace hc::integration
