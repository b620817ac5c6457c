// The payload store's rules (DESIGN.md §5; issue 6 "Encrypted payload store"), apart from HTTP so
// that they can be tested with a fake LedgerView. api/payload_routes.cc authenticates requests
// and maps these answers onto PUT/GET /v1/payloads.
//
// Rules, as implemented:
//   P1 Upload (PUT /v1/payloads/{record_id}). When the record is anchored, only its anchoring
//      hospital may upload, and the SHA-256 of the body must equal the anchored ciphertext_sha256
//      (409 conflict otherwise); an erased record takes no upload (409). When the record is not
//      anchored yet, an active hospital may upload ahead of its AnchorRecord: the upload is kept
//      as *pending* under (record id, uploader). Pending is not a flag that something must clear:
//      GET serves only the upload of the hospital the committed AnchorRecord names, and only when
//      its SHA-256 equals the anchored one, so a pending upload is served exactly when an
//      AnchorRecord by the same uploader with the same SHA-256 has committed. Uploads by other
//      hospitals for the same id (squatting) are never served and never block the real uploader.
//   P2 Wrapped keys (PUT /v1/payloads/{record_id}/keys/{recipient}): the record must be anchored
//      and not erased; the uploader must be the anchoring hospital or the patient (or the
//      patient's guardian); the recipient (hex Ed25519 identity key) must be the patient, the
//      guardian, or a registered org; the body is one sealed box of kWrappedKeySize bytes. Keys are
//      stored only once the record is anchored, so a squatter's pending upload can hold none.
//   P3 Download (GET /v1/payloads/{record_id}): served to
//        - the patient (or guardian) and the anchoring hospital, always (they hold the key anyway;
//          the hospital needs its own wrapped key to share the record, `hcctl record share`);
//        - an org whose most recent AccessRecord or BreakGlass for the record is committed with
//          status OK (GRANTED). The most recent attempt decides: after a revocation, a new
//          access that is DENIED also ends the org's right to download.
//      Everyone else gets the same 403 whether or not the record or the payload exists; the
//      decision reads only the ledger, never the payload store. Callers entitled by the rules above
//      get 404 not_found when this node holds no payload (or the record was erased: erasure is on
//      the ledger, visible to them anyway); grantees of an erased record get the uniform 403.
//   P4 Erasure: an EraseRecord committed with OK deletes the record's uploads, the ciphertexts no
//      other record references, and every wrapped key (OnCommittedBlock, fed by SubscribeCommits).
//      SweepErased does the same for erasures committed while this node was not subscribed.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "api/ledger_view.h"
#include "api/problem.h"
#include "common/bytes.h"
#include "ledger/payload_store.h"

namespace hc::api {

// Ciphertexts the payload store takes: the API's body ceiling (64 MiB).
inline constexpr size_t kPayloadBytesMax = size_t{64} << 20;

struct PayloadUploaded {
  Hash32 sha256{};
  bool pending = false;  // not anchored yet (P1)
};

struct PayloadDownload {
  std::string ciphertext;
  Hash32 sha256{};  // the anchored SHA-256 (the ciphertext was checked against it)
  std::optional<std::string> wrapped_key;  // the data key wrapped for the caller, when stored
};

struct Done {};

class PayloadService {
 public:
  explicit PayloadService(std::shared_ptr<LedgerView> view);

  ProblemOr<PayloadUploaded> PutCiphertext(const Caller& caller, std::string_view record_id,
                                           std::string_view body);
  // `recipient_hex`: the recipient's Ed25519 public key, 64 hex digits.
  ProblemOr<Done> PutWrappedKey(const Caller& caller, std::string_view record_id,
                                std::string_view recipient_hex, std::string_view body);
  ProblemOr<PayloadDownload> Get(const Caller& caller, std::string_view record_id);

  // P4: deletes what the block's committed, OK EraseRecords name. Errors are logged.
  void OnCommittedBlock(const CommittedBlockEvent& block);
  // P4 for erasures this node missed: deletes whatever it holds of erased records.
  Status SweepErased();

  ledger::PayloadStore& store() { return store_; }

 private:
  std::shared_ptr<LedgerView> view_;
  ledger::PayloadStore store_;
};

}  // namespace hc::api
