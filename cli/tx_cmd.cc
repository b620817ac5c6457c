// hcctl tx <payload>: builds a TxBody from flags, signs it with --key and submits it to a node
// (POST /v1/tx), printing the receipt (DESIGN.md §1; proto/healthchain/v1/tx.proto).
//
// Exit codes: 0 the tx committed with status OK (an access GRANTED), or was accepted (no --wait),
// or --expect matched; 1 it committed with another status (DENIED, DUPLICATE, ...: recorded on
// the chain, but a negative answer); 2 it was not committed: bad flags, unreadable key, the node
// refused it or could not be reached, or the wait timed out.
#include <google/protobuf/util/json_util.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/keyfile.h"
#include "crypto/signer.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"

namespace hc::cli {
namespace {

namespace json = boost::json;
namespace pb = ::healthchain::v1;
namespace fs = std::filesystem;

// Flags of every payload; each subcommand binds the ones it uses.
struct TxOptions {
  // Common.
  std::string key;
  std::string node = "http://127.0.0.1:8000";
  std::string cacert;  // https nodes: the CA file (--cacert)
  std::string chain_id;
  std::string genesis;
  bool wait = false;
  bool json = false;
  bool dry_run = false;
  int timeout_ms = 30000;
  std::string expect;

  // Payload fields.
  std::string org_key, org_encryption_key, role, name, fhir_organization, reason;
  std::string policy_id, uri, document_sha256, document;
  std::string patient, patient_encryption_key, guardian;
  std::string consent_id, grantee, from = "-1m", until = "+365d", policy;
  std::vector<std::string> purposes, categories, record_ids;
  std::string record_id, category, ciphertext_sha256, file, description,
      content_type = "application/fhir+json";
  uint64_t size = 0;
  std::string purpose, justification;
  std::string claim_id, insurer, service_date, invoice, currency = "EUR";
  std::vector<std::string> items, evidence;
  std::string decision, note;
  int64_t approved_cents = 0;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Upper(std::string s) {
  for (char& c : s)
    c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ReadSmallFile(const std::string& path, size_t max_bytes, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::string data;
  *ok = false;
  if (!in) return data;
  data.resize(max_bytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  *ok = data.size() <= max_bytes;
  return data;
}

// A party's public keys: from an identity key file, a public export, or the Ed25519 key itself
// (base64 or hex).
struct PartyKeys {
  crypto::Ed25519PublicKey signing{};
  std::optional<crypto::X25519PublicKey> encryption;
};

Result<PartyKeys> ResolveParty(const std::string& flag, const std::string& arg) {
  if (arg.empty()) return InvalidArgument(flag + ": missing");
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) {
    bool ok = false;
    std::string text = ReadSmallFile(arg, crypto::kKeyFileMaxBytes, &ok);
    if (!ok)
      return InvalidArgument(flag + " " + arg + ": not a key file (unreadable or too large)");
    PartyKeys out;
    if (Result<crypto::PublicIdentity> pub = crypto::DecodePublicIdentityJson(text); pub.ok()) {
      out.signing = pub->signing_key;
      out.encryption = pub->encryption_key;
    } else if (Result<crypto::Identity> id = crypto::DecodeIdentityJson(text); id.ok()) {
      // Only the public half is used; the secret is wiped when `id` goes.
      out.signing = id->signing.public_key;
      out.encryption = id->encryption.public_key;
    } else {
      sodium_memzero(text.data(), text.size());
      return InvalidArgument(flag + " " + arg + ": not an identity or public identity file (" +
                             pub.status().message() + ")");
    }
    sodium_memzero(text.data(), text.size());
    return out;
  }
  Result<Bytes> raw = arg.size() == 64 ? HexDecode(arg) : Base64Decode(arg);
  if (!raw.ok() || raw->size() != 32) {
    return InvalidArgument(flag + " " + arg +
                           ": expected a key file, or an Ed25519 public key (base64 or hex)");
  }
  PartyKeys out;
  std::copy(raw->begin(), raw->end(), out.signing.begin());
  return out;
}

Result<crypto::X25519PublicKey> DecodeX25519(const std::string& flag, const std::string& arg) {
  Result<Bytes> raw = arg.size() == 64 ? HexDecode(arg) : Base64Decode(arg);
  if (!raw.ok() || raw->size() != 32) {
    return InvalidArgument(flag + " " + arg + ": expected an X25519 public key (base64 or hex)");
  }
  crypto::X25519PublicKey key{};
  std::copy(raw->begin(), raw->end(), key.begin());
  return key;
}

std::string AsBytesField(const crypto::Ed25519PublicKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}
template <size_t N>
std::string AsBytesField(const std::array<uint8_t, N>& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

// "now", "+365d"/"-10m" (s, m, h, d relative to now), Unix milliseconds, or RFC 3339
// ("2026-01-31", "2026-01-31T12:00:00Z", "2026-01-31T12:00:00.5+02:00").
Result<int64_t> ParseTime(const std::string& flag, const std::string& s, int64_t now_ms) {
  auto bad = [&] {
    return InvalidArgument(
        flag + " " + s +
        ": expected now, +/-N{s,m,h,d}, Unix ms or RFC 3339 (2026-01-31T12:00:00Z)");
  };
  if (s == "now") return now_ms;
  if (s.size() >= 3 && (s[0] == '+' || s[0] == '-') &&
      std::string("smhd").find(s.back()) != std::string::npos &&
      std::all_of(s.begin() + 1, s.end() - 1, ::isdigit)) {
    const int64_t n = std::stoll(s.substr(1, s.size() - 2));
    const int64_t unit = s.back() == 's'   ? 1000
                         : s.back() == 'm' ? 60'000
                         : s.back() == 'h' ? 3'600'000
                                           : 86'400'000;
    if (n > 100LL * 365 * 86'400'000 / unit) return bad();
    return now_ms + (s[0] == '+' ? 1 : -1) * n * unit;
  }
  if (!s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), ::isdigit))
    return std::stoll(s);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3 || consumed != 10)
    return bad();
  size_t pos = 10;
  int64_t frac_ms = 0;
  int64_t offset_s = 0;
  if (pos < s.size()) {
    if ((s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') ||
        std::sscanf(s.c_str() + pos + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &consumed) != 3 ||
        consumed != 8) {
      return bad();
    }
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      size_t end = pos + 1;
      int64_t scale = 100;
      while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) {
        frac_ms += (s[end] - '0') * scale;
        scale /= 10;
        ++end;
      }
      if (end == pos + 1) return bad();
      pos = end;
    }
    if (pos >= s.size()) return bad();
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh = 0, om = 0;
      if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d%n", &oh, &om, &consumed) != 2 || consumed != 5)
        return bad();
      offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
      pos += 6;
    } else {
      return bad();
    }
    if (pos != s.size()) return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const time_t t = ::timegm(&tm);
  return (static_cast<int64_t>(t) - offset_s) * 1000 + frac_ms;
}

Result<pb::Purpose> ParsePurpose(const std::string& flag, const std::string& s) {
  pb::Purpose p{};
  if (!pb::Purpose_Parse("PURPOSE_" + Upper(s), &p) || p == pb::PURPOSE_UNSPECIFIED) {
    return InvalidArgument(flag + " " + s +
                           ": expected TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH or PATRQT");
  }
  return p;
}

Result<pb::RecordCategory> ParseCategory(const std::string& flag, const std::string& s) {
  pb::RecordCategory c{};
  if (!pb::RecordCategory_Parse("RECORD_CATEGORY_" + Upper(s), &c) ||
      c == pb::RECORD_CATEGORY_UNSPECIFIED) {
    return InvalidArgument(flag + " " + s +
                           ": expected clinical-note, laboratory, imaging, medication, "
                           "discharge-summary, immunization, mental-health, substance-use, "
                           "genetic or billing");
  }
  return c;
}

Result<std::string> ParseSha256(const std::string& flag, const std::string& hex) {
  Result<Bytes> raw = HexDecode(hex);
  if (!raw.ok() || raw->size() != 32) {
    return InvalidArgument(flag + " " + hex + ": expected 64 hex digits (SHA-256)");
  }
  return std::string(raw->begin(), raw->end());
}

Result<std::string> HashFile(const std::string& flag, const std::string& path, uint64_t* size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument(flag + " " + path + ": cannot be read");
  crypto::Sha256Hasher hasher;
  std::vector<char> buf(1 << 16);
  uint64_t total = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<size_t>(in.gcount());
    if (got == 0) break;
    hasher.Update(ByteView(reinterpret_cast<const uint8_t*>(buf.data()), got));
    total += got;
  }
  if (in.bad()) return InvalidArgument(flag + " " + path + ": read error");
  *size = total;
  const Hash32 h = hasher.Final();
  return std::string(h.begin(), h.end());
}

// ---- One builder per payload: fills the payload of `body` from the flags. ----

using Builder = std::function<Status(const TxOptions&, int64_t now_ms, pb::TxBody*)>;

Status BuildRegisterOrg(const TxOptions& o, int64_t, pb::TxBody* body) {
  HC_ASSIGN_OR_RETURN(PartyKeys org, ResolveParty("--org-key", o.org_key));
  if (!o.org_encryption_key.empty()) {
    HC_ASSIGN_OR_RETURN(org.encryption, DecodeX25519("--org-encryption-key", o.org_encryption_key));
  }
  if (!org.encryption) {
    return InvalidArgument("--org-key " + o.org_key +
                           ": a bare key has no encryption key; pass the org's key or public "
                           "identity file, or --org-encryption-key");
  }
  pb::OrgRole role;
  if (!pb::OrgRole_Parse("ORG_ROLE_" + Upper(o.role), &role) || role == pb::ORG_ROLE_UNSPECIFIED) {
    return InvalidArgument("--role " + o.role + ": expected hospital, insurer or commission");
  }
  pb::RegisterOrg* p = body->mutable_register_org();
  p->set_org_key(AsBytesField(org.signing));
  p->set_encryption_key(AsBytesField(*org.encryption));
  p->set_role(role);
  p->set_name(o.name);
  p->set_fhir_organization(o.fhir_organization);
  return Status::Ok();
}

Status BuildSuspendOrg(const TxOptions& o, int64_t, pb::TxBody* body) {
  HC_ASSIGN_OR_RETURN(PartyKeys org, ResolveParty("--org-key", o.org_key));
  pb::SuspendOrg* p = body->mutable_suspend_org();
  p->set_org_key(AsBytesField(org.signing));
  p->set_reason(o.reason);
  return Status::Ok();
}

Status BuildRegisterPolicy(const TxOptions& o, int64_t, pb::TxBody* body) {
  std::string digest;
  if (!o.document.empty()) {
    uint64_t size = 0;
    HC_ASSIGN_OR_RETURN(digest, HashFile("--document", o.document, &size));
  } else if (!o.document_sha256.empty()) {
    HC_ASSIGN_OR_RETURN(digest, ParseSha256("--document-sha256", o.document_sha256));
  } else {
    return InvalidArgument("one of --document FILE or --document-sha256 HEX is required");
  }
  pb::RegisterPolicy* p = body->mutable_register_policy();
  p->set_policy_id(o.policy_id);
  p->set_uri(o.uri);
  p->set_document_sha256(digest);
  return Status::Ok();
}

Status BuildEnrollPatient(const TxOptions& o, int64_t, pb::TxBody* body) {
  HC_ASSIGN_OR_RETURN(PartyKeys patient, ResolveParty("--patient", o.patient));
  if (!o.patient_encryption_key.empty()) {
    HC_ASSIGN_OR_RETURN(patient.encryption,
                        DecodeX25519("--patient-encryption-key", o.patient_encryption_key));
  }
  if (!patient.encryption) {
    return InvalidArgument("--patient " + o.patient +
                           ": a bare key has no encryption key; pass the patient's key or public "
                           "identity file, or --patient-encryption-key");
  }
  pb::EnrollPatient* p = body->mutable_enroll_patient();
  p->set_patient_key(AsBytesField(patient.signing));
  p->set_encryption_key(AsBytesField(*patient.encryption));
  if (!o.guardian.empty()) {
    HC_ASSIGN_OR_RETURN(PartyKeys guardian, ResolveParty("--guardian", o.guardian));
    p->set_guardian_key(AsBytesField(guardian.signing));
  }
  return Status::Ok();
}

Status BuildGrantConsent(const TxOptions& o, int64_t now_ms, pb::TxBody* body) {
  HC_ASSIGN_OR_RETURN(PartyKeys patient, ResolveParty("--patient", o.patient));
  HC_ASSIGN_OR_RETURN(PartyKeys grantee, ResolveParty("--grantee", o.grantee));
  pb::GrantConsent* p = body->mutable_grant_consent();
  p->set_consent_id(o.consent_id);
  p->set_patient_key(AsBytesField(patient.signing));
  p->set_grantee_key(AsBytesField(grantee.signing));
  if (o.purposes.empty()) return InvalidArgument("--purpose: at least one purpose is required");
  for (const std::string& s : o.purposes) {
    HC_ASSIGN_OR_RETURN(pb::Purpose purpose, ParsePurpose("--purpose", s));
    p->add_purposes(purpose);
  }
  for (const std::string& s : o.categories) {
    HC_ASSIGN_OR_RETURN(pb::RecordCategory c, ParseCategory("--category", s));
    p->mutable_scope()->add_categories(c);
  }
  for (const std::string& r : o.record_ids) p->mutable_scope()->add_record_ids(r);
  if (o.categories.empty() && o.record_ids.empty()) {
    return InvalidArgument("the consent's scope is empty: give --category and/or --record-id");
  }
  HC_ASSIGN_OR_RETURN(int64_t from, ParseTime("--from", o.from, now_ms));
  HC_ASSIGN_OR_RETURN(int64_t until, ParseTime("--until", o.until, now_ms));
  if (until <= from) return InvalidArgument("--until must be later than --from");
  p->set_valid_from_ms(from);
  p->set_valid_until_ms(until);
  p->set_policy_id(o.policy);
  return Status::Ok();
}

Status BuildRevokeConsent(const TxOptions& o, int64_t, pb::TxBody* body) {
  pb::RevokeConsent* p = body->mutable_revoke_consent();
  p->set_consent_id(o.consent_id);
  p->set_reason(o.reason);
  return Status::Ok();
}

Status BuildAnchorRecord(const TxOptions& o, int64_t, pb::TxBody* body) {
  HC_ASSIGN_OR_RETURN(PartyKeys patient, ResolveParty("--patient", o.patient));
  HC_ASSIGN_OR_RETURN(pb::RecordCategory category, ParseCategory("--category", o.category));
  std::string digest;
  uint64_t size = o.size;
  if (!o.file.empty()) {
    uint64_t file_size = 0;
    HC_ASSIGN_OR_RETURN(digest, HashFile("--file", o.file, &file_size));
    if (size == 0) size = file_size;
  } else if (!o.ciphertext_sha256.empty()) {
    HC_ASSIGN_OR_RETURN(digest, ParseSha256("--ciphertext-sha256", o.ciphertext_sha256));
  } else {
    return InvalidArgument("one of --file CIPHERTEXT or --ciphertext-sha256 HEX is required");
  }
  if (size == 0) return InvalidArgument("--size: the ciphertext size in bytes is required (≥ 1)");
  pb::AnchorRecord* p = body->mutable_anchor_record();
  p->set_record_id(o.record_id);
  p->set_patient_key(AsBytesField(patient.signing));
  p->set_category(category);
  p->set_ciphertext_sha256(digest);
  p->set_ciphertext_size(size);
  p->set_description(o.description);
  p->set_content_type(o.content_type);
  return Status::Ok();
}

Status BuildAccessRecord(const TxOptions& o, int64_t, pb::TxBody* body) {
  HC_ASSIGN_OR_RETURN(pb::Purpose purpose, ParsePurpose("--purpose", o.purpose));
  pb::AccessRecord* p = body->mutable_access_record();
  p->set_record_id(o.record_id);
  p->set_purpose(purpose);
  p->set_consent_id(o.consent_id);
  return Status::Ok();
}

Status BuildBreakGlass(const TxOptions& o, int64_t, pb::TxBody* body) {
  HC_ASSIGN_OR_RETURN(pb::Purpose purpose,
                      ParsePurpose("--purpose", o.purpose.empty() ? "ETREAT" : o.purpose));
  pb::BreakGlass* p = body->mutable_break_glass();
  p->set_record_id(o.record_id);
  p->set_purpose(purpose);
  p->set_justification(o.justification);
  return Status::Ok();
}

Status BuildSubmitClaim(const TxOptions& o, int64_t, pb::TxBody* body) {
  HC_ASSIGN_OR_RETURN(PartyKeys patient, ResolveParty("--patient", o.patient));
  HC_ASSIGN_OR_RETURN(PartyKeys insurer, ResolveParty("--insurer", o.insurer));
  pb::SubmitClaim* p = body->mutable_submit_claim();
  p->set_claim_id(o.claim_id);
  p->set_patient_key(AsBytesField(patient.signing));
  p->set_insurer_key(AsBytesField(insurer.signing));
  int y = 0, m = 0, d = 0, n = 0;
  if (std::sscanf(o.service_date.c_str(), "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
      o.service_date.size() != 10 || m < 1 || m > 12 || d < 1 || d > 31) {
    return InvalidArgument("--service-date " + o.service_date + ": expected YYYY-MM-DD");
  }
  p->set_service_date(o.service_date);
  if (o.items.empty()) return InvalidArgument("--item CODE:QTY:CENTS: at least one is required");
  for (const std::string& item : o.items) {
    const size_t a = item.find(':');
    const size_t b = a == std::string::npos ? a : item.find(':', a + 1);
    auto digits = [](const std::string& s) {
      return !s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), ::isdigit);
    };
    if (b == std::string::npos || a == 0 || !digits(item.substr(a + 1, b - a - 1)) ||
        !digits(item.substr(b + 1))) {
      return InvalidArgument("--item " + item + ": expected CODE:QTY:CENTS, e.g. 99213:1:12500");
    }
    const int64_t qty = std::stoll(item.substr(a + 1, b - a - 1));
    if (qty < 1 || qty > 0xFFFFFFFF) return InvalidArgument("--item " + item + ": QTY must be ≥ 1");
    pb::ClaimItem* ci = p->add_items();
    ci->set_code(item.substr(0, a));
    ci->set_quantity(static_cast<uint32_t>(qty));
    ci->set_unit_price_cents(std::stoll(item.substr(b + 1)));
  }
  p->set_invoice_number(o.invoice);
  for (const std::string& e : o.evidence) p->add_evidence_record_ids(e);
  p->set_currency(o.currency);
  return Status::Ok();
}

Status BuildAdjudicateClaim(const TxOptions& o, int64_t, pb::TxBody* body) {
  pb::ClaimDecision decision{};
  if (!pb::ClaimDecision_Parse("CLAIM_DECISION_" + Upper(o.decision), &decision) ||
      decision == pb::CLAIM_DECISION_UNSPECIFIED) {
    return InvalidArgument("--decision " + o.decision + ": expected approved, partial or rejected");
  }
  pb::AdjudicateClaim* p = body->mutable_adjudicate_claim();
  p->set_claim_id(o.claim_id);
  p->set_decision(decision);
  p->set_approved_cents(o.approved_cents);
  p->set_note(o.note);
  return Status::Ok();
}

Status BuildEraseRecord(const TxOptions& o, int64_t, pb::TxBody* body) {
  pb::EraseRecord* p = body->mutable_erase_record();
  p->set_record_id(o.record_id);
  p->set_reason(o.reason);
  return Status::Ok();
}

// ---- Submission and receipts ----

std::string Text(const json::value* v) {
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

// Strips a proto enum prefix the server may or may not send ("TX_STATUS_OK" -> "OK").
std::string Short(std::string s, std::string_view prefix) {
  if (s.rfind(prefix, 0) == 0) s.erase(0, prefix.size());
  return s;
}

// Prints a committed answer; returns the receipt status ("OK", "DENIED", ...).
std::string PrintCommitted(const json::object& o, bool is_access) {
  const json::object empty;
  const json::value* rv = o.if_contains("receipt");
  const json::object& r = rv != nullptr && rv->is_object() ? rv->as_object() : empty;
  const std::string status = Short(Text(r.if_contains("status")), "TX_STATUS_");
  std::string shown = status;
  if (is_access && status == "OK") shown = "OK (GRANTED)";
  const std::string deny = Short(Text(r.if_contains("deny_reason")), "DENY_REASON_");
  if (!deny.empty() && deny != "UNSPECIFIED") shown += " (" + deny + ")";
  std::printf("status:   %s\n", shown.c_str());
  if (auto s = Text(r.if_contains("reason")); !s.empty()) std::printf("reason:   %s\n", s.c_str());
  if (auto s = Text(r.if_contains("rule")); !s.empty()) std::printf("rule:     %s\n", s.c_str());
  if (auto s = Text(r.if_contains("related_id")); !s.empty())
    std::printf("related:  %s\n", s.c_str());
  if (Text(r.if_contains("flagged")) == "true")
    std::printf("flagged:  yes (queued for commission review)\n");
  std::printf("height:   %s (index %s)\n", Text(o.if_contains("height")).c_str(),
              Text(o.if_contains("index")).c_str());
  std::printf("tx_id:    %s\n", Text(o.if_contains("tx_id")).c_str());
  return status;
}

Result<std::string> ChainIdFromNode(const NodeUrl& url, int timeout_ms) {
  HC_ASSIGN_OR_RETURN(HttpResponse res, HttpRequest(url, "GET", "/v1/status", "", "",
                                                    std::chrono::milliseconds(timeout_ms)));
  if (res.status != 200) return Unavailable("GET /v1/status: " + DescribeProblem(res));
  boost::system::error_code ec;
  json::value v = json::parse(res.body, ec);
  if (ec || !v.is_object() || v.as_object().if_contains("chain_id") == nullptr ||
      !v.as_object().at("chain_id").is_string()) {
    return InvalidArgument("GET /v1/status: no chain_id in the node's answer");
  }
  return std::string(v.as_object().at("chain_id").as_string());
}

int RunTx(const std::string& cmd, const Builder& build, const TxOptions& o) {
  const std::string who = "hcctl tx " + cmd;
  auto fail = [&](const std::string& msg) {
    std::fprintf(stderr, "%s: %s\n", who.c_str(), msg.c_str());
    return 2;
  };
  if (!o.chain_id.empty() && !o.genesis.empty())
    return fail("give --chain-id or --genesis, not both");
  if (!o.expect.empty() && !o.wait) return fail("--expect needs --wait");

  const int64_t now_ms = NowMs();
  pb::TxBody body;
  if (Status s = build(o, now_ms, &body); !s.ok()) return fail(s.message());
  if (Status s = ledger::ValidatePayload(body); !s.ok()) return fail(s.message());

  Result<crypto::Identity> identity = crypto::LoadIdentity(o.key);
  if (!identity.ok()) return fail("--key: " + identity.status().message());
  const crypto::Ed25519PublicKey signer_key = identity->signing.public_key;
  std::unique_ptr<crypto::Signer> signer =
      crypto::MakeEd25519Signer(std::move(identity->signing.secret_key));

  std::optional<NodeUrl> url;
  if (!o.dry_run) {
    Result<NodeUrl> u = ParseNodeUrl(o.node, o.cacert);
    if (!u.ok()) return fail(u.status().message());
    url = *u;
  }
  std::string chain_id = o.chain_id;
  if (!o.genesis.empty()) {
    Result<ledger::Genesis> g = ledger::LoadGenesisFile(o.genesis);
    if (!g.ok()) return fail("--genesis: " + g.status().message());
    chain_id = g->chain_id;
  }
  if (chain_id.empty()) {
    if (o.dry_run) return fail("--dry-run needs --chain-id or --genesis");
    Result<std::string> c = ChainIdFromNode(*url, o.timeout_ms);
    if (!c.ok()) return fail(c.status().message());
    chain_id = *c;
  }

  body.set_chain_id(chain_id);
  body.set_signer(AsBytesField(signer_key));
  std::string nonce(16, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  body.set_nonce(nonce);
  body.set_created_ms(now_ms);
  const std::string signed_tx = ledger::SignTx(body, *signer);
  const std::string tx_id = HexEncode(ledger::TxIdOf(AsBytes(signed_tx)));

  if (o.dry_run) {
    std::string body_json;
    google::protobuf::util::JsonPrintOptions jo;
    jo.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(body, &body_json, jo);
    std::printf("tx_id: %s\n", tx_id.c_str());
    std::printf("signer: %s\n", crypto::IdentityIdHex(signer_key).c_str());
    std::printf("body: %s\n", body_json.c_str());
    std::printf("tx: %s\n", Base64Encode(AsBytes(signed_tx)).c_str());
    return 0;
  }

  json::object req;
  req["tx"] = Base64Encode(AsBytes(signed_tx));
  Result<HttpResponse> res =
      HttpRequest(*url, "POST", o.wait ? "/v1/tx?wait=commit" : "/v1/tx", json::serialize(req),
                  "application/json", std::chrono::milliseconds(o.timeout_ms));
  if (!res.ok())
    return fail(res.status().message() + " (tx " + tx_id + " may or may not have been accepted)");
  if (res->status >= 400) {
    if (o.json) std::printf("%s\n", res->body.c_str());
    return fail("refused: " + DescribeProblem(*res) + " (tx " + tx_id + ")");
  }
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec || !v.is_object())
    return fail("the node's answer is not JSON: " + res->body.substr(0, 200));
  if (o.json) std::printf("%s\n", res->body.c_str());
  const json::object& obj = v.as_object();
  if (obj.if_contains("receipt") == nullptr) {
    // 202: accepted into the mempool, not committed yet.
    if (!o.json) {
      std::printf("status:   %s (accepted; not committed yet)\n",
                  Text(obj.if_contains("status")).c_str());
      std::printf("tx_id:    %s\n", Text(obj.if_contains("tx_id")).c_str());
    }
    if (o.wait) return fail("the node answered without a receipt although --wait was given");
    return 0;
  }
  std::string status;
  if (o.json) {
    status = Short(Text(obj.at("receipt").as_object().if_contains("status")), "TX_STATUS_");
  } else {
    status = PrintCommitted(obj, body.has_access_record());
  }
  if (!o.expect.empty()) {
    std::string want = Upper(o.expect);
    if (want == "GRANTED") want = "OK";
    if (status == want) return 0;
    std::fflush(stdout);  // the receipt first, then why it is not the one expected
    std::fprintf(stderr, "%s: expected %s, got %s\n", who.c_str(), o.expect.c_str(),
                 status.c_str());
    return 1;
  }
  return status == "OK" ? 0 : 1;
}

struct PayloadCommand {
  const char* name;
  const char* help;
  Builder build;
  std::function<void(CLI::App*, TxOptions*)> flags;
};

}  // namespace

void RegisterTx(CLI::App& app, int* exit_code) {
  CLI::App* tx =
      app.add_subcommand("tx", "Build, sign and submit a transaction; print its receipt");
  tx->require_subcommand(1);
  auto o = std::make_shared<TxOptions>();
  auto req = [](CLI::Option* opt) { return opt->required(); };

  const std::vector<PayloadCommand> commands = {
      {"register-org", "Commission: register a hospital, insurer or commission", BuildRegisterOrg,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--org-key", t->org_key,
                           "The org's key or public identity file, or its Ed25519 key"));
         c->add_option("--org-encryption-key", t->org_encryption_key,
                       "X25519 key (base64/hex) when --org-key is a bare key");
         req(c->add_option("--role", t->role, "hospital | insurer | commission"));
         req(c->add_option("--name", t->name, "Display name"));
         c->add_option("--fhir-organization", t->fhir_organization, "FHIR Organization identifier");
       }},
      {"suspend-org", "Commission: suspend an org", BuildSuspendOrg,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--org-key", t->org_key, "The org's key file or Ed25519 key"));
         req(c->add_option("--reason", t->reason, "Why (shown in the audit trail)"));
       }},
      {"register-policy", "Commission: register a consent policy document", BuildRegisterPolicy,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--policy-id", t->policy_id, "Policy id"));
         req(c->add_option("--uri", t->uri, "Where the document is published"));
         c->add_option("--document", t->document, "The document file (hashed here)");
         c->add_option("--document-sha256", t->document_sha256, "Or its SHA-256 (hex)");
       }},
      {"enroll-patient", "Hospital or patient: enroll a patient (pseudonymous)", BuildEnrollPatient,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--patient", t->patient, "The patient's key or public identity file"));
         c->add_option("--patient-encryption-key", t->patient_encryption_key,
                       "X25519 key when --patient is a bare key");
         c->add_option("--guardian", t->guardian, "An enrolled patient who may act for this one");
       }},
      {"grant-consent", "Patient: grant an org access for purposes and a scope", BuildGrantConsent,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--consent-id", t->consent_id, "Consent id (unique)"));
         req(c->add_option("--patient", t->patient, "The patient (key file or key)"));
         req(c->add_option("--grantee", t->grantee, "The org allowed (key file or key)"));
         req(c->add_option("--purpose", t->purposes, "TREAT,HPAYMT,... (repeat or comma-separate)")
                 ->delimiter(','));
         c->add_option("--category", t->categories,
                       "Record categories covered (repeat or comma-separate)")
             ->delimiter(',');
         c->add_option("--record-id", t->record_ids, "Records covered (repeat or comma-separate)")
             ->delimiter(',');
         c->add_option("--from", t->from, "Start: now, -1m, Unix ms or RFC 3339")
             ->capture_default_str();
         c->add_option("--until", t->until, "End: +365d, Unix ms or RFC 3339")
             ->capture_default_str();
         req(c->add_option("--policy", t->policy, "The registered policy id consented under"));
       }},
      {"revoke-consent", "Patient: revoke a consent", BuildRevokeConsent,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--consent-id", t->consent_id, "Consent id"));
         c->add_option("--reason", t->reason, "Why");
       }},
      {"anchor-record", "Hospital: anchor an encrypted record by hash", BuildAnchorRecord,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--record-id", t->record_id, "Record id (unique)"));
         req(c->add_option("--patient", t->patient, "The patient (key file or key)"));
         req(c->add_option("--category", t->category,
                           "clinical-note, laboratory, discharge-summary, ..."));
         c->add_option("--ciphertext-sha256", t->ciphertext_sha256,
                       "SHA-256 of the ciphertext (hex)");
         c->add_option("--file", t->file, "Or the ciphertext file (hashed here; gives --size)");
         c->add_option("--size", t->size, "Ciphertext size in bytes");
         c->add_option("--description", t->description, "Non-clinical label");
         c->add_option("--content-type", t->content_type, "MIME type of the plaintext")
             ->capture_default_str();
       }},
      {"access-record", "Hospital or insurer: access a record (GRANTED or DENIED, both recorded)",
       BuildAccessRecord,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--record-id", t->record_id, "Record id"));
         req(c->add_option("--purpose", t->purpose, "TREAT, HPAYMT, ..."));
         c->add_option("--consent-id", t->consent_id, "Optional consent hint");
       }},
      {"break-glass", "Hospital: emergency access without consent (flagged for review)",
       BuildBreakGlass,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--record-id", t->record_id, "Record id"));
         req(c->add_option("--justification", t->justification, "Why (required)"));
         c->add_option("--purpose", t->purpose, "Must be ETREAT (the default)");
       }},
      {"submit-claim", "Hospital: submit a claim to an insurer", BuildSubmitClaim,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--claim-id", t->claim_id, "Claim id (unique)"));
         req(c->add_option("--patient", t->patient, "The patient (key file or key)"));
         req(c->add_option("--insurer", t->insurer, "The insurer (key file or key)"));
         req(c->add_option("--service-date", t->service_date, "YYYY-MM-DD"));
         req(c->add_option("--item", t->items, "CODE:QTY:CENTS (repeat)"));
         req(c->add_option("--invoice", t->invoice, "Invoice number"));
         req(c->add_option("--evidence", t->evidence, "Evidence record id (repeat)"));
         c->add_option("--currency", t->currency, "ISO 4217")->capture_default_str();
       }},
      {"adjudicate-claim", "Insurer: decide a claim", BuildAdjudicateClaim,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--claim-id", t->claim_id, "Claim id"));
         req(c->add_option("--decision", t->decision, "approved | partial | rejected"));
         c->add_option("--approved-cents", t->approved_cents, "Amount approved");
         c->add_option("--note", t->note, "Note");
       }},
      {"erase-record", "Patient (or anchoring hospital): crypto-shred a record", BuildEraseRecord,
       [req](CLI::App* c, TxOptions* t) {
         req(c->add_option("--record-id", t->record_id, "Record id"));
         c->add_option("--reason", t->reason, "Why");
       }},
  };

  for (const PayloadCommand& pc : commands) {
    CLI::App* c = tx->add_subcommand(pc.name, pc.help);
    c->add_option("--key", o->key, "The signer's identity key file (0600)")->required();
    c->add_option("--node", o->node, "The node's API URL")->capture_default_str();
    AddCaCertOption(c, &o->cacert);
    c->add_option("--chain-id", o->chain_id, "Chain id (default: asked from the node)");
    c->add_option("--genesis", o->genesis, "Take the chain id from this genesis file");
    c->add_flag("--wait", o->wait, "Wait until committed and print the receipt");
    c->add_option("--expect", o->expect,
                  "With --wait: exit 0 iff the receipt status is this (OK, GRANTED, DENIED, ...)");
    c->add_flag("--json", o->json, "Print the node's JSON answer");
    c->add_flag("--dry-run", o->dry_run, "Print the signed tx (base64) and its body; send nothing");
    c->add_option("--timeout-ms", o->timeout_ms, "Give up after this long")
        ->check(CLI::Range(1, 600000))
        ->capture_default_str();
    pc.flags(c, o.get());
    const std::string name = pc.name;
    Builder build = pc.build;
    c->callback([o, exit_code, name, build] { *exit_code = RunTx(name, build, *o); });
  }
}

}  // namespace hc::cli
