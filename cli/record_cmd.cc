// hcctl record put | share | get: the encrypted payload flow of DESIGN.md §5 from the client side.
//
//   put    encrypts FILE under a fresh data key (XChaCha20-Poly1305, the record id as associated
//          data), uploads the ciphertext (PUT /v1/payloads/{id}, pending until anchored), anchors
//          its SHA-256 (AnchorRecord, waiting for the commit), then stores the data key wrapped for
//          the patient and for the uploading hospital itself.
//   share  fetches the caller's own wrapped key (as the patient or the anchoring hospital),
//          unwraps it and stores it re-wrapped for a grantee's X25519 key.
//   get    fetches the ciphertext and the caller's wrapped key with a signed request, checks the
//          ciphertext against the anchored SHA-256, unwraps, decrypts and writes the plaintext.
//
// Requests to /v1/payloads are signed as api/auth.h specifies. Exit codes: 0 done; 1 the node
// refused (403, a DENIED anchor, a hash mismatch); 2 bad input or a failure.
#include <sodium.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "api/auth.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/encoding.h"
#include "crypto/box.h"
#include "crypto/hash.h"
#include "crypto/keyfile.h"
#include "crypto/signer.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/tx.h"

namespace hc::cli {
namespace {

namespace json = boost::json;
namespace pb = ::healthchain::v1;

struct RecordOptions {
  std::string file, patient, category, record_id, key, node = "http://127.0.0.1:8000", cacert;
  std::string description, content_type = "application/fhir+json", to, out;
  int timeout_ms = 30000;
};

// A refusal by the node or the ledger (exit 1), apart from unusable input or failures (exit 2).
struct Refused {
  std::string message;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The signature headers of api/auth.h, made by the server library's own SignRequest so client
// and server can never disagree on the signed bytes.
std::vector<std::pair<std::string, std::string>> SignedHeaders(const crypto::Signer& signer,
                                                               const std::string& method,
                                                               const std::string& target,
                                                               const std::string& body) {
  const api::SignedRequestHeaders h =
      api::SignRequest(signer, method, target, NowMs(), AsBytes(body));
  return {{std::string(api::kHeaderKey), h.key},
          {std::string(api::kHeaderTimestamp), h.timestamp},
          {std::string(api::kHeaderSignature), h.signature}};
}

class Client {
 public:
  Client(NodeUrl url, const crypto::Signer& signer, int timeout_ms)
      : url_(std::move(url)), signer_(signer), timeout_(timeout_ms) {}

  Result<HttpResponse> Signed(const std::string& method, const std::string& target,
                              const std::string& body, const std::string& content_type) {
    HttpRequestOptions o;
    o.headers = SignedHeaders(signer_, method, url_.prefix + target, body);
    o.response_body_max = (size_t{64} << 20) + (size_t{1} << 20);
    return HttpRequest(url_, method, target, body, content_type, timeout_, o);
  }
  Result<HttpResponse> Plain(const std::string& method, const std::string& target,
                             const std::string& body) {
    return HttpRequest(url_, method, target, body, "application/json", timeout_);
  }

 private:
  NodeUrl url_;
  const crypto::Signer& signer_;
  std::chrono::milliseconds timeout_;
};

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = std::move(ss).str();
  if (s.size() > max_bytes) {
    return InvalidArgument(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return s;
}

Status WriteFile(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IoError(tmp + ": cannot create");
    ::chmod(tmp.c_str(), 0600);  // a plaintext health record: owner only
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return IoError(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return IoError(path + ": rename failed");
  return Status::Ok();
}

// A public identity from a public export, or the public half of an identity file.
Result<crypto::PublicIdentity> LoadAnyPublic(const std::string& path) {
  Result<crypto::PublicIdentity> p = crypto::LoadPublicIdentity(path);
  if (p.ok()) return p;
  Result<crypto::Identity> full = crypto::LoadIdentity(path);
  if (!full.ok()) return p.status();
  return crypto::ToPublic(*full);
}

std::string Upper(std::string s) {
  for (char& c : s) {
    c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

Result<std::string> ChainId(Client& c) {
  HC_ASSIGN_OR_RETURN(HttpResponse res, c.Plain("GET", "/v1/status", ""));
  boost::system::error_code ec;
  json::value v = json::parse(res.body, ec);
  if (res.status != 200 || ec || !v.is_object() || !v.as_object().contains("chain_id") ||
      !v.as_object().at("chain_id").is_string()) {
    return Unavailable("GET /v1/status: " + DescribeProblem(res));
  }
  return std::string(v.as_object().at("chain_id").as_string());
}

// Why an answer is not a success: a refusal (4xx) or a failure.
Status Answer(const HttpResponse& res, const std::string& what) {
  if (res.status >= 200 && res.status < 300) return Status::Ok();
  if (res.status >= 400 && res.status < 500) {
    return PermissionDenied(what + ": " + DescribeProblem(res));
  }
  return Unavailable(what + ": " + DescribeProblem(res));
}

int Exit(const std::string& who, const Status& s) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "%s: %s\n", who.c_str(), s.message().c_str());
  return s.code() == StatusCode::kPermissionDenied ? 1 : 2;
}

Status PutKey(Client& c, const std::string& record_id, const crypto::Ed25519PublicKey& recipient,
              ByteView wrapped) {
  const std::string target = "/v1/payloads/" + record_id + "/keys/" + HexEncode(recipient);
  HC_ASSIGN_OR_RETURN(HttpResponse res,
                      c.Signed("PUT", target, ToString(wrapped), "application/octet-stream"));
  return Answer(res, "PUT " + target);
}

struct Fetched {
  std::string ciphertext;
  Hash32 sha256{};  // the anchored hash the ciphertext was checked against
  std::string wrapped;
};

// The anchored SHA-256 from the ledger's record view (GET /v1/records/{id}) when the node serves
// it, else the payload answer's X-HC-Ciphertext-SHA256.
std::optional<std::string> AnchoredShaFromRecords(Client& c, const std::string& record_id) {
  Result<HttpResponse> res = c.Signed("GET", "/v1/records/" + record_id, "", "");
  if (!res.ok() || res->status != 200) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object* o = &v.as_object();
  if (const auto* r = o->if_contains("record"); r != nullptr && r->is_object()) o = &r->as_object();
  const auto* h = o->if_contains("ciphertext_sha256");
  if (h == nullptr || !h->is_string()) return std::nullopt;
  return std::string(h->as_string());
}

Result<Fetched> Fetch(Client& c, const std::string& record_id) {
  const std::string target = "/v1/payloads/" + record_id;
  HC_ASSIGN_OR_RETURN(HttpResponse res, c.Signed("GET", target, "", ""));
  HC_RETURN_IF_ERROR(Answer(res, "GET " + target));
  std::string expected_hex = res.Header("X-HC-Ciphertext-SHA256");
  if (std::optional<std::string> anchored = AnchoredShaFromRecords(c, record_id)) {
    expected_hex = *anchored;
  }
  Result<Bytes> expected = HexDecode(expected_hex);
  if (!expected.ok() || expected->size() != 32) {
    return InvalidArgument("GET " + target +
                           ": no anchored SHA-256 to check the ciphertext against");
  }
  Fetched f;
  f.sha256 = ToHash32(*expected);
  if (crypto::Sha256(AsBytes(res.body)) != f.sha256) {
    return PermissionDenied("GET " + target + ": the ciphertext does not match the anchored " +
                            "SHA-256 " + expected_hex + "; refusing to decrypt it");
  }
  f.ciphertext = std::move(res.body);
  const std::string wrapped_b64 = res.Header("X-HC-Wrapped-Key");
  if (wrapped_b64.empty()) {
    return PermissionDenied(
        "GET " + target +
        ": the node holds no data key wrapped for you; ask "
        "the patient or the anchoring hospital to share it (hcctl record share)");
  }
  HC_ASSIGN_OR_RETURN(Bytes wrapped, Base64Decode(wrapped_b64));
  f.wrapped = ToString(wrapped);
  return f;
}

Status RunPut(const RecordOptions& o) {
  HC_ASSIGN_OR_RETURN(NodeUrl url, ParseNodeUrl(o.node, o.cacert));
  HC_ASSIGN_OR_RETURN(crypto::Identity me, crypto::LoadIdentity(o.key));
  HC_ASSIGN_OR_RETURN(crypto::PublicIdentity patient, LoadAnyPublic(o.patient));
  pb::RecordCategory category;
  if (!pb::RecordCategory_Parse("RECORD_CATEGORY_" + Upper(o.category), &category) ||
      category == pb::RECORD_CATEGORY_UNSPECIFIED) {
    return InvalidArgument("--category " + o.category + ": unknown record category");
  }
  HC_ASSIGN_OR_RETURN(std::string plaintext, ReadFile(o.file, size_t{64} << 20));
  const crypto::X25519PublicKey my_x = me.encryption.public_key;
  const crypto::Ed25519PublicKey my_key = me.signing.public_key;
  auto signer = crypto::MakeEd25519Signer(std::move(me.signing.secret_key));
  Client c(url, *signer, o.timeout_ms);

  // The record id as associated data: a ciphertext cannot be replayed under another record.
  crypto::EncryptedPayload enc =
      crypto::EncryptWithFreshKey(AsBytes(plaintext), AsBytes(o.record_id));
  sodium_memzero(plaintext.data(), plaintext.size());
  const Bytes blob = enc.sealed.Encode();
  if (blob.size() > (size_t{64} << 20))
    return InvalidArgument(o.file + ": too large for a payload");
  const Hash32 sha = crypto::Sha256(blob);
  HC_ASSIGN_OR_RETURN(Bytes for_patient, crypto::WrapDataKey(enc.key, patient.encryption_key));
  HC_ASSIGN_OR_RETURN(Bytes for_me, crypto::WrapDataKey(enc.key, my_x));

  // 1. Upload (pending until the anchor commits).
  const std::string target = "/v1/payloads/" + o.record_id;
  HC_ASSIGN_OR_RETURN(HttpResponse up,
                      c.Signed("PUT", target, ToString(blob), "application/octet-stream"));
  HC_RETURN_IF_ERROR(Answer(up, "PUT " + target));

  // 2. Anchor its hash and wait for the commit.
  HC_ASSIGN_OR_RETURN(std::string chain_id, ChainId(c));
  pb::TxBody body;
  body.set_chain_id(chain_id);
  body.set_signer(std::string(reinterpret_cast<const char*>(my_key.data()), my_key.size()));
  std::string nonce(16, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  body.set_nonce(nonce);
  body.set_created_ms(NowMs());
  pb::AnchorRecord* a = body.mutable_anchor_record();
  a->set_record_id(o.record_id);
  a->set_patient_key(std::string(reinterpret_cast<const char*>(patient.signing_key.data()),
                                 patient.signing_key.size()));
  a->set_category(category);
  a->set_ciphertext_sha256(std::string(reinterpret_cast<const char*>(sha.data()), sha.size()));
  a->set_ciphertext_size(blob.size());
  a->set_description(o.description.empty() ? "Record " + o.record_id : o.description);
  a->set_content_type(o.content_type);
  HC_RETURN_IF_ERROR(ledger::ValidatePayload(body));
  const std::string tx = ledger::SignTx(body, *signer);
  json::object req;
  req["tx"] = Base64Encode(AsBytes(tx));
  HC_ASSIGN_OR_RETURN(HttpResponse sent,
                      c.Plain("POST", "/v1/tx?wait=commit", json::serialize(req)));
  HC_RETURN_IF_ERROR(Answer(sent, "POST /v1/tx (AnchorRecord)"));
  boost::system::error_code ec;
  json::value v = json::parse(sent.body, ec);
  std::string status;
  if (!ec && v.is_object()) {
    if (const auto* r = v.as_object().if_contains("receipt"); r != nullptr && r->is_object()) {
      if (const auto* s = r->as_object().if_contains("status"); s != nullptr && s->is_string()) {
        status = std::string(s->as_string());
      }
    }
  }
  if (status != "OK" && status != "TX_STATUS_OK") {
    return PermissionDenied("AnchorRecord was not applied: " + sent.body.substr(0, 500));
  }

  // 3. The data key, wrapped for the patient and for this hospital.
  HC_RETURN_IF_ERROR(PutKey(c, o.record_id, patient.signing_key, for_patient));
  HC_RETURN_IF_ERROR(PutKey(c, o.record_id, my_key, for_me));
  std::printf("record_id:         %s\n", o.record_id.c_str());
  std::printf("ciphertext_sha256: %s\n", HexEncode(sha).c_str());
  std::printf("ciphertext_size:   %zu\n", blob.size());
  std::printf("tx_id:             %s\n", HexEncode(ledger::TxIdOf(AsBytes(tx))).c_str());
  return Status::Ok();
}

Status RunShare(const RecordOptions& o) {
  HC_ASSIGN_OR_RETURN(NodeUrl url, ParseNodeUrl(o.node, o.cacert));
  HC_ASSIGN_OR_RETURN(crypto::Identity me, crypto::LoadIdentity(o.key));
  HC_ASSIGN_OR_RETURN(crypto::PublicIdentity to, LoadAnyPublic(o.to));
  auto signer = crypto::MakeEd25519Signer(std::move(me.signing.secret_key));
  Client c(url, *signer, o.timeout_ms);
  HC_ASSIGN_OR_RETURN(Fetched f, Fetch(c, o.record_id));
  Result<crypto::DataKey> key = crypto::UnwrapDataKey(AsBytes(f.wrapped), me.encryption);
  if (!key.ok())
    return PermissionDenied("your wrapped key does not open: " + key.status().message());
  HC_ASSIGN_OR_RETURN(Bytes wrapped, crypto::WrapDataKey(*key, to.encryption_key));
  HC_RETURN_IF_ERROR(PutKey(c, o.record_id, to.signing_key, wrapped));
  std::printf("shared %s with %s\n", o.record_id.c_str(),
              crypto::IdentityIdHex(to.signing_key).c_str());
  return Status::Ok();
}

Status RunGet(const RecordOptions& o) {
  HC_ASSIGN_OR_RETURN(NodeUrl url, ParseNodeUrl(o.node, o.cacert));
  HC_ASSIGN_OR_RETURN(crypto::Identity me, crypto::LoadIdentity(o.key));
  auto signer = crypto::MakeEd25519Signer(std::move(me.signing.secret_key));
  Client c(url, *signer, o.timeout_ms);
  HC_ASSIGN_OR_RETURN(Fetched f, Fetch(c, o.record_id));
  Result<crypto::DataKey> key = crypto::UnwrapDataKey(AsBytes(f.wrapped), me.encryption);
  if (!key.ok())
    return PermissionDenied("your wrapped key does not open: " + key.status().message());
  HC_ASSIGN_OR_RETURN(crypto::Sealed sealed, crypto::Sealed::Decode(AsBytes(f.ciphertext)));
  Result<Bytes> plain = crypto::Decrypt(*key, sealed, AsBytes(o.record_id));
  if (!plain.ok())
    return PermissionDenied("the payload does not decrypt: " + plain.status().message());
  Status s = WriteFile(o.out, AsStringView(*plain));
  sodium_memzero(plain->data(), plain->size());
  HC_RETURN_IF_ERROR(s);
  std::printf("record_id:         %s\n", o.record_id.c_str());
  std::printf("ciphertext_sha256: %s (checked)\n", HexEncode(f.sha256).c_str());
  std::printf("written:           %s\n", o.out.c_str());
  return Status::Ok();
}

}  // namespace

void RegisterRecord(CLI::App& app, int* exit_code) {
  CLI::App* record = app.add_subcommand("record", "Encrypted record payloads: put, share, get");
  record->require_subcommand(1);
  auto o = std::make_shared<RecordOptions>();
  auto common = [o](CLI::App* c) {
    c->add_option("--record-id", o->record_id, "Record id")->required();
    c->add_option("--key", o->key, "Your identity key file")->required();
    c->add_option("--node", o->node, "Node API URL (http://host:port or https://host:port)");
    AddCaCertOption(c, &o->cacert);
    c->add_option("--timeout-ms", o->timeout_ms, "Per-request timeout");
  };

  CLI::App* put = record->add_subcommand(
      "put", "Hospital: encrypt FILE, upload it, anchor its hash and wrap the key for the patient");
  put->add_option("file", o->file, "The plaintext record")->required();
  put->add_option("--patient", o->patient, "The patient's identity or public identity file")
      ->required();
  put->add_option("--category", o->category, "Record category (laboratory, imaging, ...)")
      ->required();
  put->add_option("--description", o->description, "Non-clinical label for the audit trail");
  put->add_option("--content-type", o->content_type, "MIME type of the plaintext");
  common(put);
  put->callback([o, exit_code] { *exit_code = Exit("hcctl record put", RunPut(*o)); });

  CLI::App* share = record->add_subcommand(
      "share", "Patient or anchoring hospital: re-wrap the record's data key for a grantee");
  share->add_option("--to", o->to, "The grantee's public identity file")->required();
  common(share);
  share->callback([o, exit_code] { *exit_code = Exit("hcctl record share", RunShare(*o)); });

  CLI::App* get = record->add_subcommand(
      "get", "Fetch, check against the anchored hash, unwrap and decrypt a record");
  get->add_option("--out", o->out, "Where to write the plaintext")->required();
  common(get);
  get->callback([o, exit_code] { *exit_code = Exit("hcctl record get", RunGet(*o)); });
}

}  // namespace hc::cli
