// A seeded generator of mixed ledger workloads: every payload kind, mostly valid, with a share of
// rejections of every kind (unknown signers, wrong roles, denied accesses, duplicates, replays,
// garbage bytes, bad signatures). Used by the property and crash tests and by the benchmark.
// Deterministic: the same seed gives the same txs. Signatures are the fake signer's.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tx_factory.h"

namespace hc::ledger::testing {

struct WorkloadOptions {
  int hospitals = 8;
  int insurers = 4;
  int initial_patients = 200;
  // Share of deliberately bad txs (garbage, bad signature, unknown signer, replay), in percent.
  int bad_percent = 5;
};

class Workload {
 public:
  explicit Workload(uint64_t seed, WorkloadOptions options = {}) : rng_(seed), options_(options) {}

  // The first block: orgs, a policy, the initial patients.
  std::vector<std::string> SetupTxs() {
    std::vector<std::string> txs;
    for (int i = 0; i < options_.hospitals; ++i) {
      txs.push_back(f_.RegisterOrg("gov", Hospital(i), pb::ORG_ROLE_HOSPITAL));
    }
    for (int i = 0; i < options_.insurers; ++i) {
      txs.push_back(f_.RegisterOrg("gov", Insurer(i), pb::ORG_ROLE_INSURER));
    }
    txs.push_back(f_.RegisterPolicy("gov", "bppc-1"));
    for (int i = 0; i < options_.initial_patients; ++i) txs.push_back(EnrollNext());
    return txs;
  }

  // `n` txs of every kind for a block at `time_ms`.
  std::vector<std::string> NextTxs(size_t n, int64_t time_ms) {
    now_ms_ = time_ms;
    std::vector<std::string> txs;
    txs.reserve(n);
    while (txs.size() < n) txs.push_back(NextTx());
    return txs;
  }

  TxFactory& factory() { return f_; }

 private:
  static std::string Hospital(int i) { return "hosp-" + std::to_string(i); }
  static std::string Insurer(int i) { return "ins-" + std::to_string(i); }
  static std::string Patient(int i) { return "pat-" + std::to_string(i); }

  int Pick(int n) {
    HC_ASSERT_GT(n, 0);  // a workload bug, not an input: callers check for an empty pool first
    return static_cast<int>(rng_() % static_cast<uint64_t>(n));
  }
  bool Percent(int p) { return Pick(100) < p; }

  std::string EnrollNext() {
    const int id = patients_++;
    // Half enrolled by a hospital, half by themselves.
    return (id % 2 == 0) ? f_.Enroll(Hospital(Pick(options_.hospitals)), Patient(id))
                         : f_.Enroll(Patient(id), Patient(id));
  }

  struct Record {
    std::string id;
    int patient;
    int hospital;
  };

  std::string NextTx() {
    if (Percent(options_.bad_percent)) return BadTx();
    const int roll = Pick(100);
    if (roll < 5) return EnrollNext();
    if (roll < 22 || records_.empty()) return Anchor();
    if (roll < 34) return Grant();
    if (roll < 62) return Access();
    if (roll < 64) return f_.BreakGlass(Hospital(Pick(options_.hospitals)), AnyRecord().id);
    if (roll < 76) return Claim();
    if (roll < 84) return Adjudicate();
    if (roll < 88 && consents_ > 0) {
      const int c = Pick(consents_);
      return f_.Revoke(Patient(consent_patient_[c]), "con-" + std::to_string(c));
    }
    if (roll < 89) {
      const Record& r = AnyRecord();
      return f_.Erase(Patient(r.patient), r.id);
    }
    return Access();
  }

  const Record& AnyRecord() { return records_[Pick(static_cast<int>(records_.size()))]; }

  std::string Anchor() {
    static constexpr pb::RecordCategory kCats[] = {
        pb::RECORD_CATEGORY_CLINICAL_NOTE, pb::RECORD_CATEGORY_LABORATORY,
        pb::RECORD_CATEGORY_IMAGING,       pb::RECORD_CATEGORY_MEDICATION,
        pb::RECORD_CATEGORY_MENTAL_HEALTH, pb::RECORD_CATEGORY_BILLING};
    Record r{"rec-" + std::to_string(records_.size()), Pick(patients_), Pick(options_.hospitals)};
    records_.push_back(r);
    return f_.Anchor(Hospital(r.hospital), r.id, Patient(r.patient), kCats[Pick(6)]);
  }

  std::string Grant() {
    const Record& r = AnyRecord();
    TxFactory::GrantSpec s;
    s.id = "con-" + std::to_string(consents_++);
    consent_patient_.push_back(r.patient);
    s.patient = Patient(r.patient);
    const bool insurer = Percent(40);
    s.grantee = insurer ? Insurer(Pick(options_.insurers)) : Hospital(Pick(options_.hospitals));
    s.purposes = insurer ? std::vector<pb::Purpose>{pb::PURPOSE_HPAYMT}
                         : std::vector<pb::Purpose>{pb::PURPOSE_TREAT};
    s.categories = {pb::RECORD_CATEGORY_LABORATORY, pb::RECORD_CATEGORY_CLINICAL_NOTE,
                    pb::RECORD_CATEGORY_IMAGING};
    if (Percent(30)) s.record_ids = {r.id};
    s.from = now_ms_ - kDay;
    s.until = now_ms_ + (Percent(90) ? 365 * kDay : 1000);  // some expire soon
    return f_.Grant(Percent(97) ? s.patient : Patient(Pick(patients_)), s);
  }

  std::string Access() {
    const Record& r = AnyRecord();
    const bool insurer = Percent(30);
    static constexpr pb::Purpose kPurposes[] = {pb::PURPOSE_TREAT, pb::PURPOSE_HPAYMT,
                                                pb::PURPOSE_HRESCH};
    const pb::Purpose p = insurer ? pb::PURPOSE_HPAYMT : kPurposes[Pick(3)];
    return f_.Access(
        insurer ? Insurer(Pick(options_.insurers)) : Hospital(Pick(options_.hospitals)), r.id, p);
  }

  std::string Claim() {
    const Record& r = AnyRecord();
    TxFactory::ClaimSpec s;
    s.id = "clm-" + std::to_string(claims_++);
    s.patient = Patient(r.patient);
    s.insurer = Insurer(Pick(options_.insurers));
    s.evidence = {r.id};
    // Mostly distinct invoices; every tenth reuses an earlier one (a duplicate claim).
    s.invoice = "INV-" + std::to_string(Percent(10) && claims_ > 1 ? Pick(claims_) : claims_);
    claim_insurer_.push_back(s.insurer);
    return f_.Claim(Hospital(r.hospital), s);
  }

  std::string Adjudicate() {
    if (claims_ == 0) return Access();
    const int c = Pick(claims_);
    return f_.Adjudicate(claim_insurer_[c], "clm-" + std::to_string(c), pb::CLAIM_DECISION_REJECTED,
                         0);
  }

  std::string BadTx() {
    switch (Pick(5)) {
      case 0:
        return "garbage-" + std::to_string(rng_());
      case 1: {  // a bad signature
        if (records_.empty()) return "garbage";
        pb::SignedTx st;
        if (!st.ParseFromString(f_.Access(Hospital(0), AnyRecord().id))) return "garbage";
        std::string sig = st.signature();
        sig[3] ^= 0x10;
        st.set_signature(sig);
        return st.SerializeAsString();
      }
      case 2:
        return f_.Anchor("stranger-" + std::to_string(Pick(1000)), "x", Patient(0));
      case 3: {  // a replay of an earlier tx
        if (replayable_.empty()) return "garbage";
        return replayable_[Pick(static_cast<int>(replayable_.size()))];
      }
      default: {
        if (records_.empty()) return "garbage";
        std::string tx = f_.Access(Insurer(0), AnyRecord().id, pb::PURPOSE_HPAYMT);
        if (replayable_.size() < 64) replayable_.push_back(tx);
        return tx;
      }
    }
  }

  std::mt19937_64 rng_;
  WorkloadOptions options_;
  TxFactory f_;
  int64_t now_ms_ = kT0;
  int patients_ = 0;
  int consents_ = 0;
  int claims_ = 0;
  std::vector<Record> records_;
  std::vector<int> consent_patient_;
  std::vector<std::string> claim_insurer_;
  std::vector<std::string> replayable_;
};

}  // namespace hc::ledger::testing
