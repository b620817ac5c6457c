// Provenance bundles: building them from a Ledger and verifying them offline
// (docs/spec/provenance.md; the P-rules are cited where they are checked).
#include "ledger/provenance.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/encoding.h"
#include "consensus/signing.h"
#include "crypto/merkle.h"
#include "crypto/merkle_json.h"
#include "healthchain/v1/block.pb.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/queries.h"
#include "ledger/tx.h"

namespace hc::ledger {
namespace {

namespace pb = ::healthchain::v1;
namespace json = boost::json;

// P7: at most this many entries in a bundle; a claim's story is far smaller.
constexpr size_t kBundleEntriesMax = 8192;

std::string B64(ByteView b) { return Base64Encode(b); }
std::string B64(std::string_view s) { return Base64Encode(AsBytes(s)); }

std::string ShortId(std::string_view key) { return IdentityId(AsBytes(key)).substr(0, 16); }

std::string PayloadName(const pb::TxBody& body) {
  switch (body.payload_case()) {
    case pb::TxBody::kRegisterOrg:
      return "register_org";
    case pb::TxBody::kSuspendOrg:
      return "suspend_org";
    case pb::TxBody::kEnrollPatient:
      return "enroll_patient";
    case pb::TxBody::kRegisterPolicy:
      return "register_policy";
    case pb::TxBody::kGrantConsent:
      return "grant_consent";
    case pb::TxBody::kRevokeConsent:
      return "revoke_consent";
    case pb::TxBody::kAnchorRecord:
      return "anchor_record";
    case pb::TxBody::kAccessRecord:
      return "access_record";
    case pb::TxBody::kBreakGlass:
      return "break_glass";
    case pb::TxBody::kSubmitClaim:
      return "submit_claim";
    case pb::TxBody::kAdjudicateClaim:
      return "adjudicate_claim";
    case pb::TxBody::kEraseRecord:
      return "erase_record";
    case pb::TxBody::kUpdateValidators:
      return "update_validators";
    case pb::TxBody::PAYLOAD_NOT_SET:
      break;
  }
  return "none";
}

// Decodes the SignedTx inside a log entry into its body. The body is parsed from the exact bytes
// the entry carries (W1); nothing is re-encoded.
bool ParseBody(const pb::LogEntry& entry, pb::TxBody* body) {
  pb::SignedTx signed_tx;
  return signed_tx.ParseFromString(entry.tx()) && body->ParseFromString(signed_tx.body());
}

// ---- Building ----

json::object Summary(const pb::LogEntry& entry) {
  json::object s;
  s["tx_id"] = HexEncode(TxIdOf(AsBytes(entry.tx())));
  pb::TxBody body;
  if (ParseBody(entry, &body)) {
    s["type"] = PayloadName(body);
    s["signer_id"] = IdentityId(AsBytes(body.signer()));
    s["created_ms"] = body.created_ms();
  }
  s["height"] = entry.height();
  s["index_in_block"] = entry.index();
  s["status"] = pb::TxStatus_Name(entry.receipt().status());
  s["rule"] = entry.receipt().rule();
  s["reason"] = entry.receipt().reason();
  return s;
}

json::object InclusionJson(const ProvedEntry& p, const Hash32& root) {
  json::object o;
  o["leafIdx"] = p.index;
  o["treeSize"] = p.tree_size;
  o["root"] = B64(root);
  o["leafHash"] = B64(p.leaf_hash);
  json::array proof;
  for (const Hash32& h : p.proof) proof.emplace_back(B64(h));
  o["proof"] = std::move(proof);
  return o;
}

Result<json::object> EntryJson(std::string_view kind, std::string_view subject,
                               const ProvedEntry& p, const CertifiedRoot& root) {
  if (!p.certified) {
    return FailedPrecondition("entry " + std::to_string(p.index) +
                              " is newer than the certified log (size " +
                              std::to_string(root.log_size) + "); retry after the next block");
  }
  json::object o;
  o["kind"] = kind;
  o["subject"] = subject;
  o["index"] = p.index;
  o["height"] = p.height;
  o["entry"] = B64(p.entry);
  o["summary"] = Summary(p.parsed);
  o["inclusion"] = InclusionJson(p, root.log_root);
  return o;
}

Result<json::object> Skeleton(const Ledger& ledger, std::string_view subject_kind,
                              std::string_view subject, const CertifiedRoot& root,
                              const std::optional<SinceRoot>& since) {
  if (root.height == 0) return FailedPrecondition("nothing is certified yet");
  pb::BlockHeader header;
  if (!header.ParseFromString(root.header)) {
    return Corruption("ledger store: the certified header does not parse");
  }
  json::object o;
  o["format"] = kProvenanceFormat;
  o["subject_kind"] = subject_kind;
  o["subject"] = subject;
  o["chain_id"] = ledger.genesis().chain_id;
  o["genesis_hash"] = B64(ledger.genesis_hash());
  json::object h;
  h["bytes"] = B64(root.header);
  h["height"] = header.height();
  h["timestamp_ms"] = header.timestamp_ms();
  h["exec_height"] = header.exec_height();
  h["log_size"] = header.log_size();
  h["log_root"] = B64(header.log_root());
  o["header"] = std::move(h);
  json::object c;
  c["height"] = root.certificate.height();
  c["view"] = root.certificate.view();
  c["block_hash"] = B64(root.certificate.block_hash());
  json::array sigs;
  for (const pb::CommitSignature& s : root.certificate.signatures()) {
    json::object so;
    so["replica"] = s.replica();
    so["signature"] = B64(s.signature());
    sigs.emplace_back(std::move(so));
  }
  c["signatures"] = std::move(sigs);
  o["certificate"] = std::move(c);
  if (since) {
    if (since->size > root.log_size) {
      return InvalidArgument("since_size " + std::to_string(since->size) +
                             " is larger than the certified log (" + std::to_string(root.log_size) +
                             ")");
    }
    const StoredLogNodes nodes = ledger.log_nodes();
    Hash32 root1{};
    if (since->root) {
      root1 = *since->root;
    } else {
      HC_ASSIGN_OR_RETURN(root1, crypto::RootAt(nodes, since->size));
    }
    HC_ASSIGN_OR_RETURN(std::vector<Hash32> proof,
                        crypto::ConsistencyProof(nodes, since->size, root.log_size));
    json::object k;
    k["size1"] = since->size;
    k["size2"] = root.log_size;
    k["root1"] = B64(root1);
    k["root2"] = B64(root.log_root);
    json::array pa;
    for (const Hash32& x : proof) pa.emplace_back(B64(x));
    k["proof"] = std::move(pa);
    o["consistency"] = std::move(k);
  }
  return o;
}

// ---- Verifying ----

// A failed check: the reason a verdict reports.
struct Invalid {
  std::string reason;
};

Result<const json::value*> Field(const json::object& o, std::string_view name,
                                 std::string_view where) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) {
    return InvalidArgument(std::string(where) + ": missing field \"" + std::string(name) + "\"");
  }
  return v;
}

Result<std::string> GetStr(const json::object& o, std::string_view name, std::string_view where) {
  HC_ASSIGN_OR_RETURN(const json::value* v, Field(o, name, where));
  if (!v->is_string()) {
    return InvalidArgument(std::string(where) + "." + std::string(name) + ": expected a string");
  }
  return std::string(v->as_string());
}

Result<uint64_t> GetNum(const json::object& o, std::string_view name, std::string_view where) {
  HC_ASSIGN_OR_RETURN(const json::value* v, Field(o, name, where));
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return InvalidArgument(std::string(where) + "." + std::string(name) +
                         ": expected a non-negative integer");
}

Result<std::string> GetB64(const json::object& o, std::string_view name, std::string_view where) {
  HC_ASSIGN_OR_RETURN(std::string s, GetStr(o, name, where));
  Result<Bytes> b = Base64Decode(s);
  if (!b.ok()) {
    return InvalidArgument(std::string(where) + "." + std::string(name) +
                           ": not base64: " + b.status().message());
  }
  return ToString(*b);
}

Result<const json::object*> GetObj(const json::object& o, std::string_view name,
                                   std::string_view where) {
  HC_ASSIGN_OR_RETURN(const json::value* v, Field(o, name, where));
  if (!v->is_object()) {
    return InvalidArgument(std::string(where) + "." + std::string(name) + ": expected an object");
  }
  return &v->as_object();
}

Result<const json::array*> GetArr(const json::object& o, std::string_view name,
                                  std::string_view where) {
  HC_ASSIGN_OR_RETURN(const json::value* v, Field(o, name, where));
  if (!v->is_array()) {
    return InvalidArgument(std::string(where) + "." + std::string(name) + ": expected an array");
  }
  return &v->as_array();
}

std::string Iso(int64_t ms) { return FormatUtc(ms, "%Y-%m-%dT%H:%M:%SZ"); }

std::string Purposes(const pb::GrantConsent& g) {
  std::string out;
  for (int p : g.purposes()) {
    if (!out.empty()) out += ", ";
    out += pb::Purpose_Name(static_cast<pb::Purpose>(p));
  }
  return out;
}

// One decoded, proved entry.
struct VerifiedEntry {
  std::string kind;
  std::string subject;
  uint64_t index = 0;
  pb::LogEntry log;
  pb::TxBody body;
};

// P8: the label a bundle gives an entry must be what its payload is.
bool KindMatches(std::string_view kind, const pb::TxBody& body) {
  switch (body.payload_case()) {
    case pb::TxBody::kAnchorRecord:
      return kind == "record_anchor";
    case pb::TxBody::kGrantConsent:
      return kind == "consent_grant";
    case pb::TxBody::kRevokeConsent:
      return kind == "consent_revoke";
    case pb::TxBody::kAccessRecord:
    case pb::TxBody::kBreakGlass:
      return kind == "access";
    case pb::TxBody::kSubmitClaim:
      return kind == "claim";
    case pb::TxBody::kAdjudicateClaim:
      return kind == "adjudication";
    default:
      return kind == "tx";
  }
}

std::string StoryText(const VerifiedEntry& e) {
  const pb::TxBody& b = e.body;
  const std::string when = "at height " + std::to_string(e.log.height()) + " (signed " +
                           Iso(b.created_ms()) + " by the signer's clock)";
  const std::string outcome =
      pb::TxStatus_Name(e.log.receipt().status()) + " under " + e.log.receipt().rule();
  switch (b.payload_case()) {
    case pb::TxBody::kAnchorRecord: {
      const auto& p = b.anchor_record();
      return "record '" + p.record_id() + "' (" + pb::RecordCategory_Name(p.category()) + ", \"" +
             p.description() + "\", sha256 " + HexEncode(AsBytes(p.ciphertext_sha256())) +
             ") of patient " + ShortId(p.patient_key()) + " anchored by " + ShortId(b.signer()) +
             " " + when;
    }
    case pb::TxBody::kGrantConsent: {
      const auto& p = b.grant_consent();
      return "consent '" + p.consent_id() + "' given by " + ShortId(b.signer()) + " for patient " +
             ShortId(p.patient_key()) + " to " + ShortId(p.grantee_key()) + " for " + Purposes(p) +
             ", valid " + Iso(p.valid_from_ms()) + " to " + Iso(p.valid_until_ms()) + ", policy '" +
             p.policy_id() + "', " + when;
    }
    case pb::TxBody::kRevokeConsent:
      return "consent '" + b.revoke_consent().consent_id() + "' revoked by " + ShortId(b.signer()) +
             " " + when;
    case pb::TxBody::kAccessRecord:
      return "record '" + b.access_record().record_id() + "' accessed by " + ShortId(b.signer()) +
             " for " + pb::Purpose_Name(b.access_record().purpose()) + ": " + outcome + " " + when;
    case pb::TxBody::kBreakGlass:
      return "BREAK-GLASS access to record '" + b.break_glass().record_id() + "' by " +
             ShortId(b.signer()) + " (\"" + b.break_glass().justification() + "\"): " + outcome +
             " " + when;
    case pb::TxBody::kSubmitClaim: {
      const auto& p = b.submit_claim();
      int64_t total = 0;
      for (const auto& it : p.items()) {
        total += static_cast<int64_t>(it.quantity()) * it.unit_price_cents();
      }
      std::string evidence;
      for (const auto& r : p.evidence_record_ids()) evidence += (evidence.empty() ? "" : ", ") + r;
      return "claim '" + p.claim_id() + "' submitted by " + ShortId(b.signer()) + " to insurer " +
             ShortId(p.insurer_key()) + " for patient " + ShortId(p.patient_key()) + ": service " +
             p.service_date() + ", invoice '" + p.invoice_number() + "', " + std::to_string(total) +
             " cents " + p.currency() + ", evidence [" + evidence + "] " + when;
    }
    case pb::TxBody::kAdjudicateClaim: {
      const auto& p = b.adjudicate_claim();
      return "claim '" + p.claim_id() + "' adjudicated by " + ShortId(b.signer()) + ": " +
             pb::ClaimDecision_Name(p.decision()) + ", " + std::to_string(p.approved_cents()) +
             " cents approved " + when;
    }
    default:
      return PayloadName(b) + " by " + ShortId(b.signer()) + ": " + outcome + " " + when;
  }
}

// P10: the entries are exactly the claim's story.
Status CheckClaimStory(const std::string& claim_id, const std::vector<VerifiedEntry>& entries) {
  const VerifiedEntry* claim = nullptr;
  for (const auto& e : entries) {
    if (e.kind != "claim") continue;
    if (claim != nullptr) return InvalidArgument("more than one claim entry");
    claim = &e;
  }
  if (claim == nullptr) return InvalidArgument("the bundle holds no claim entry");
  const pb::SubmitClaim& c = claim->body.submit_claim();
  if (c.claim_id() != claim_id) {
    return InvalidArgument("the claim entry is claim '" + c.claim_id() + "', not '" + claim_id +
                           "'");
  }
  const std::string& hospital = claim->body.signer();
  const std::set<std::string> evidence(c.evidence_record_ids().begin(),
                                       c.evidence_record_ids().end());
  std::map<std::string, uint64_t> anchored;  // record id -> anchor index
  const VerifiedEntry* grant = nullptr;
  const VerifiedEntry* revoke = nullptr;
  const VerifiedEntry* adjudication = nullptr;
  for (const auto& e : entries) {
    const std::string at = "entry " + std::to_string(e.index) + ": ";
    if (e.kind == "record_anchor") {
      const auto& p = e.body.anchor_record();
      if (!evidence.contains(p.record_id())) {
        return InvalidArgument(at + "record '" + p.record_id() + "' is not evidence of the claim");
      }
      if (anchored.contains(p.record_id())) {
        return InvalidArgument(at + "record '" + p.record_id() + "' anchored twice");
      }
      if (e.body.signer() != hospital) {
        return InvalidArgument(at + "record '" + p.record_id() +
                               "' was not anchored by the claiming hospital");
      }
      if (p.patient_key() != c.patient_key()) {
        return InvalidArgument(at + "record '" + p.record_id() + "' is another patient's");
      }
      if (e.index > claim->index) {
        return InvalidArgument(at + "record '" + p.record_id() + "' anchored after the claim");
      }
      anchored[p.record_id()] = e.index;
    } else if (e.kind == "consent_grant") {
      if (grant != nullptr) return InvalidArgument(at + "more than one consent grant");
      const auto& g = e.body.grant_consent();
      if (g.patient_key() != c.patient_key()) {
        return InvalidArgument(at + "the consent is another patient's");
      }
      if (g.grantee_key() != c.insurer_key()) {
        return InvalidArgument(at + "the consent is not given to the claim's insurer");
      }
      if (std::find(g.purposes().begin(), g.purposes().end(), pb::PURPOSE_HPAYMT) ==
          g.purposes().end()) {
        return InvalidArgument(at + "the consent does not cover payment (HPAYMT)");
      }
      if (e.index > claim->index) return InvalidArgument(at + "consent granted after the claim");
      grant = &e;
    } else if (e.kind == "consent_revoke") {
      if (revoke != nullptr) return InvalidArgument(at + "more than one consent revocation");
      revoke = &e;
    } else if (e.kind == "access") {
      const std::string& record = e.body.has_access_record() ? e.body.access_record().record_id()
                                                             : e.body.break_glass().record_id();
      if (!evidence.contains(record)) {
        return InvalidArgument(at + "an access to '" + record + "', which is not evidence");
      }
    } else if (e.kind == "adjudication") {
      if (adjudication != nullptr) return InvalidArgument(at + "more than one adjudication");
      if (e.body.adjudicate_claim().claim_id() != claim_id) {
        return InvalidArgument(at + "the adjudication is of claim '" +
                               e.body.adjudicate_claim().claim_id() + "'");
      }
      if (e.body.signer() != c.insurer_key()) {
        return InvalidArgument(at + "the adjudication is not by the claim's insurer");
      }
      if (e.index < claim->index) return InvalidArgument(at + "adjudicated before the claim");
      adjudication = &e;
    } else if (e.kind != "claim") {
      return InvalidArgument(at + "a " + e.kind + " entry has no place in a claim's story");
    }
  }
  for (const std::string& r : evidence) {
    if (!anchored.contains(r)) {
      return InvalidArgument("evidence record '" + r + "' has no anchor entry");
    }
  }
  for (const auto& e : entries) {
    if (e.kind != "access") continue;
    const std::string& record = e.body.has_access_record() ? e.body.access_record().record_id()
                                                           : e.body.break_glass().record_id();
    if (e.index < anchored[record]) {
      return InvalidArgument("entry " + std::to_string(e.index) + ": access before the anchor");
    }
  }
  if (grant == nullptr) return InvalidArgument("the bundle holds no payment consent grant");
  if (revoke != nullptr &&
      revoke->body.revoke_consent().consent_id() != grant->body.grant_consent().consent_id()) {
    return InvalidArgument("the revocation is of another consent");
  }
  return Status::Ok();
}

Status Verify(const json::object& doc, const Genesis& genesis, const crypto::Verifier& verifier,
              ProvenanceVerdict* out) {
  // P2: the subject.
  HC_ASSIGN_OR_RETURN(out->subject_kind, GetStr(doc, "subject_kind", "bundle"));
  HC_ASSIGN_OR_RETURN(out->subject, GetStr(doc, "subject", "bundle"));
  if (out->subject_kind != "claim" && out->subject_kind != "tx") {
    return InvalidArgument("subject_kind '" + out->subject_kind + "' is neither claim nor tx");
  }
  // P3: the chain.
  HC_ASSIGN_OR_RETURN(std::string chain_id, GetStr(doc, "chain_id", "bundle"));
  if (chain_id != genesis.chain_id) {
    return InvalidArgument("chain id '" + chain_id + "' is not the genesis chain id '" +
                           genesis.chain_id + "'");
  }
  HC_ASSIGN_OR_RETURN(std::string genesis_hash, GetB64(doc, "genesis_hash", "bundle"));
  const Hash32 want_genesis = GenesisHash(genesis);
  if (genesis_hash != AsStringView(want_genesis)) {
    return InvalidArgument("the bundle's genesis hash is not the given genesis's");
  }
  // P4: the header, hashed as carried.
  HC_ASSIGN_OR_RETURN(const json::object* hj, GetObj(doc, "header", "bundle"));
  HC_ASSIGN_OR_RETURN(std::string header_bytes, GetB64(*hj, "bytes", "header"));
  pb::BlockHeader header;
  if (!header.ParseFromString(header_bytes)) {
    return InvalidArgument("header: the bytes are not a BlockHeader");
  }
  if (header.chain_id() != genesis.chain_id) {
    return InvalidArgument("header: chain id '" + header.chain_id() + "' is not the genesis's");
  }
  if (header.log_root().size() != 32) {
    return InvalidArgument("header: log_root is not 32 bytes");
  }
  const Hash32 log_root = ToHash32(AsBytes(header.log_root()));
  HC_ASSIGN_OR_RETURN(uint64_t j_height, GetNum(*hj, "height", "header"));
  HC_ASSIGN_OR_RETURN(uint64_t j_exec, GetNum(*hj, "exec_height", "header"));
  HC_ASSIGN_OR_RETURN(uint64_t j_size, GetNum(*hj, "log_size", "header"));
  HC_ASSIGN_OR_RETURN(std::string j_root, GetB64(*hj, "log_root", "header"));
  if (j_height != header.height() || j_exec != header.exec_height() ||
      j_size != header.log_size() || j_root != header.log_root()) {
    return InvalidArgument("header: the decoded fields differ from the header bytes");
  }
  const Hash32 block_hash = consensus::BlockHash(AsBytes(header_bytes));
  // P5: the commit certificate, against the genesis validators only.
  HC_ASSIGN_OR_RETURN(const json::object* cj, GetObj(doc, "certificate", "bundle"));
  pb::CommitCertificate cert;
  HC_ASSIGN_OR_RETURN(uint64_t c_height, GetNum(*cj, "height", "certificate"));
  HC_ASSIGN_OR_RETURN(uint64_t c_view, GetNum(*cj, "view", "certificate"));
  HC_ASSIGN_OR_RETURN(std::string c_hash, GetB64(*cj, "block_hash", "certificate"));
  cert.set_height(c_height);
  cert.set_view(c_view);
  cert.set_block_hash(c_hash);
  HC_ASSIGN_OR_RETURN(const json::array* sigs, GetArr(*cj, "signatures", "certificate"));
  if (sigs->size() > genesis.validators.size()) {
    return InvalidArgument("certificate: more signatures than validators");
  }
  for (const json::value& sv : *sigs) {
    if (!sv.is_object()) return InvalidArgument("certificate.signatures: expected objects");
    HC_ASSIGN_OR_RETURN(uint64_t replica, GetNum(sv.as_object(), "replica", "signature"));
    HC_ASSIGN_OR_RETURN(std::string sig, GetB64(sv.as_object(), "signature", "signature"));
    if (replica >= genesis.validators.size()) {
      return InvalidArgument("certificate: replica " + std::to_string(replica) +
                             " is not a genesis validator");
    }
    pb::CommitSignature* s = cert.add_signatures();
    s->set_replica(static_cast<uint32_t>(replica));
    s->set_signature(sig);
  }
  // The certificate's view need not equal header.view (a view change re-proposes a block in a
  // later view); every COMMIT signature binds the certificate's one view (W5), so swapping it
  // breaks them all.
  if (Status s = CheckCertificate(cert, header.height(), block_hash, genesis, verifier); !s.ok()) {
    return InvalidArgument("certificate: " + s.message());
  }
  out->certified_height = header.height();
  out->log_size = header.log_size();
  out->log_root = log_root;
  // P7: every entry, its leaf hash and its inclusion proof against the certified root.
  HC_ASSIGN_OR_RETURN(const json::array* ej, GetArr(doc, "entries", "bundle"));
  if (ej->empty()) return InvalidArgument("the bundle holds no entries");
  if (ej->size() > kBundleEntriesMax) return InvalidArgument("too many entries");
  std::vector<VerifiedEntry> entries;
  for (size_t i = 0; i < ej->size(); ++i) {
    const std::string where = "entries[" + std::to_string(i) + "]";
    if (!(*ej)[i].is_object()) return InvalidArgument(where + ": expected an object");
    const json::object& eo = (*ej)[i].as_object();
    VerifiedEntry e;
    HC_ASSIGN_OR_RETURN(e.kind, GetStr(eo, "kind", where));
    HC_ASSIGN_OR_RETURN(e.subject, GetStr(eo, "subject", where));
    HC_ASSIGN_OR_RETURN(e.index, GetNum(eo, "index", where));
    HC_ASSIGN_OR_RETURN(uint64_t height, GetNum(eo, "height", where));
    HC_ASSIGN_OR_RETURN(std::string bytes, GetB64(eo, "entry", where));
    HC_ASSIGN_OR_RETURN(const json::object* inc, GetObj(eo, "inclusion", where));
    Result<crypto::InclusionProofDoc> doc_r =
        crypto::DecodeInclusionProofJson(json::serialize(*inc));
    if (!doc_r.ok()) return InvalidArgument(where + ".inclusion: " + doc_r.status().message());
    const crypto::InclusionProofDoc& proof = *doc_r;
    const Hash32 leaf = crypto::LeafHash(AsBytes(bytes));
    if (proof.leaf_hash != Bytes(leaf.begin(), leaf.end())) {
      return InvalidArgument(where + ": the entry bytes do not hash to the proof's leafHash");
    }
    if (proof.leaf_index != e.index) {
      return InvalidArgument(where + ": leafIdx " + std::to_string(proof.leaf_index) +
                             " is not the entry's index " + std::to_string(e.index));
    }
    if (proof.tree_size != header.log_size() ||
        proof.root != Bytes(log_root.begin(), log_root.end())) {
      return InvalidArgument(where + ": the proof is not against the certified header's log");
    }
    if (Status s = crypto::VerifyInclusionProofDoc(proof); !s.ok()) {
      return InvalidArgument(where + ": inclusion proof: " + s.message());
    }
    if (!entries.empty() && e.index <= entries.back().index) {
      return InvalidArgument(where + ": entries are not in strictly increasing log order");
    }
    // P8: the entry decodes, and is what its label says.
    if (!e.log.ParseFromString(bytes) || !ParseBody(e.log, &e.body)) {
      return InvalidArgument(where + ": the entry bytes do not decode as a LogEntry");
    }
    if (e.log.height() != height || e.log.height() > header.exec_height()) {
      return InvalidArgument(where + ": the entry's height does not match");
    }
    if (e.body.chain_id() != genesis.chain_id) {
      return InvalidArgument(where + ": the tx is for another chain");
    }
    if (e.log.receipt().tx_id() != AsStringView(TxIdOf(AsBytes(e.log.tx())))) {
      return InvalidArgument(where + ": the receipt is for another tx");
    }
    if (!KindMatches(e.kind, e.body) && out->subject_kind == "claim") {
      return InvalidArgument(where + ": labelled " + e.kind + " but the tx is " +
                             PayloadName(e.body));
    }
    if (out->subject_kind == "claim" && e.log.receipt().status() != pb::TX_STATUS_OK) {
      return InvalidArgument(where + ": the tx was not applied (" +
                             pb::TxStatus_Name(e.log.receipt().status()) + ")");
    }
    entries.push_back(std::move(e));
  }
  // P9: the consistency proof from the client's earlier root.
  if (const json::value* kv = doc.if_contains("consistency"); kv != nullptr && !kv->is_null()) {
    if (!kv->is_object()) return InvalidArgument("consistency: expected an object");
    Result<crypto::ConsistencyProofDoc> k =
        crypto::DecodeConsistencyProofJson(json::serialize(*kv));
    if (!k.ok()) return InvalidArgument("consistency: " + k.status().message());
    if (k->size2 != header.log_size() || k->root2 != Bytes(log_root.begin(), log_root.end())) {
      return InvalidArgument("consistency: the proof does not end at the certified root");
    }
    if (Status s = crypto::VerifyConsistencyProofDoc(*k); !s.ok()) {
      return InvalidArgument("consistency proof: " + s.message());
    }
    out->consistency_checked = true;
    out->since_size = k->size1;
  }
  // P10 / P11: the entries are the subject's story.
  if (out->subject_kind == "claim") {
    HC_RETURN_IF_ERROR(CheckClaimStory(out->subject, entries));
  } else {
    if (entries.size() != 1) return InvalidArgument("a tx bundle holds exactly one entry");
    if (HexEncode(TxIdOf(AsBytes(entries[0].log.tx()))) != out->subject) {
      return InvalidArgument("the entry is not tx " + out->subject);
    }
  }
  for (const auto& e : entries) {
    out->story.push_back({e.kind, e.index, e.log.height(), StoryText(e)});
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> BuildClaimProvenanceBundle(const Ledger& ledger, std::string_view claim_id,
                                               const std::optional<SinceRoot>& since) {
  HC_ASSIGN_OR_RETURN(ClaimProvenance p, ClaimProvenanceOf(ledger, claim_id));
  HC_ASSIGN_OR_RETURN(json::object doc, Skeleton(ledger, "claim", claim_id, p.root, since));
  json::array entries;
  for (const ProvenanceItem& item : p.items) {
    HC_ASSIGN_OR_RETURN(json::object e,
                        EntryJson(ProvenanceKindName(item.kind), item.subject, item.entry, p.root));
    entries.emplace_back(std::move(e));
  }
  doc["entries"] = std::move(entries);
  doc["truncated"] = p.truncated;
  return json::serialize(doc);
}

Result<std::string> BuildTxProofBundle(const Ledger& ledger, const Hash32& tx_id,
                                       const std::optional<SinceRoot>& since) {
  HC_ASSIGN_OR_RETURN(TxAnswer a, TxById(ledger, tx_id));
  const std::string id = HexEncode(tx_id);
  HC_ASSIGN_OR_RETURN(json::object doc, Skeleton(ledger, "tx", id, a.root, since));
  json::array entries;
  HC_ASSIGN_OR_RETURN(json::object e, EntryJson("tx", id, a.entry, a.root));
  entries.emplace_back(std::move(e));
  doc["entries"] = std::move(entries);
  doc["truncated"] = false;
  return json::serialize(doc);
}

ProvenanceVerdict VerifyProvenanceBundle(std::string_view bundle_json, const Genesis& genesis,
                                         const crypto::Verifier& verifier) {
  ProvenanceVerdict v;
  // P1: a JSON object of this format, within the size limit; otherwise it is not a bundle.
  if (bundle_json.size() > kProvenanceBundleBytesMax) {
    v.reason = "the bundle is " + std::to_string(bundle_json.size()) + " bytes, larger than " +
               std::to_string(kProvenanceBundleBytesMax);
    return v;
  }
  boost::system::error_code ec;
  json::value doc = json::parse(bundle_json, ec);
  if (ec) {
    v.reason = "not JSON: " + ec.message();
    return v;
  }
  const json::value* format = doc.is_object() ? doc.as_object().if_contains("format") : nullptr;
  if (format == nullptr || !format->is_string() || format->as_string() != kProvenanceFormat) {
    v.reason = "not a provenance bundle (format is not \"" + std::string(kProvenanceFormat) + "\")";
    return v;
  }
  if (Status s = Verify(doc.as_object(), genesis, verifier, &v); !s.ok()) {
    v.outcome = ProvenanceVerdict::Outcome::kInvalid;
    v.reason = s.message();
    v.story.clear();
    return v;
  }
  v.outcome = ProvenanceVerdict::Outcome::kVerified;
  return v;
}

std::string FormatProvenanceStory(const ProvenanceVerdict& v) {
  std::string out = v.subject_kind + " " + v.subject + "\n";
  out += "certified by the commit certificate of block " + std::to_string(v.certified_height) +
         ": log size " + std::to_string(v.log_size) + ", root " + HexEncode(v.log_root) + "\n";
  if (v.consistency_checked) {
    out += "the log of size " + std::to_string(v.since_size) +
           " you named is a prefix of it (consistency proof checked)\n";
  }
  for (const ProvenanceStoryLine& line : v.story) {
    out += "  [" + std::to_string(line.index) + "] " + line.kind + ": " + line.text + "\n";
  }
  out += "verified\n";
  return out;
}

}  // namespace hc::ledger
