// Identities and their key files.
//
// An Identity is what every participant (commission, hospital, insurer, validator, patient) holds:
// an Ed25519 key pair to sign transactions and an X25519 key pair to receive wrapped data keys
// (DESIGN.md §1, §5). It is stored as a small JSON file with base64 fields:
//
//   {"version": 1, "type": "healthchain-identity",
//    "ed25519_public": "...", "ed25519_seed": "...", "x25519_public": "...", "x25519_secret":
//    "..."}
//
// Like an ssh private key, the file must be readable by its owner only: SaveIdentity creates it
// with mode 0600, and LoadIdentity refuses a file that group or others can read or write. The
// public half can be exported on its own ("type": "healthchain-public-identity") for genesis files
// and peers; it carries the identity id as well.
//
// All functions are thread-safe. Secret bytes pass only through buffers that are wiped after use
// (the JSON text included); the public keys and ids are not secret.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/box.h"
#include "crypto/ed25519.h"

namespace hc::crypto {

inline constexpr int kKeyFileVersion = 1;
inline constexpr std::string_view kIdentityFileType = "healthchain-identity";
inline constexpr std::string_view kPublicIdentityFileType = "healthchain-public-identity";
// A key file is a few hundred bytes; anything bigger is not one, and is refused before parsing.
inline constexpr size_t kKeyFileMaxBytes = 4096;
// The domain of identity ids: id = SHA-256("hc/id/v1" || ed25519 public key).
inline constexpr std::string_view kIdentityIdDomain = "hc/id/v1";

// Not copyable (it holds secrets), only movable.
struct Identity {
  Ed25519KeyPair signing;
  X25519KeyPair encryption;
};

struct PublicIdentity {
  Ed25519PublicKey signing_key{};
  X25519PublicKey encryption_key{};
};

// A fresh identity from the OS random source.
Identity GenerateIdentity();

PublicIdentity ToPublic(const Identity& identity);

// The identity (patient, org, validator) id: SHA-256("hc/id/v1" || ed25519 public key). Patients
// are pseudonymous on the ledger: this id is all it knows of them (DESIGN.md §1).
Hash32 IdentityId(const Ed25519PublicKey& signing_key);
// The same id as lower-case hex, as printed by hcctl and shown in the API.
std::string IdentityIdHex(const Ed25519PublicKey& signing_key);

// Writes `identity` to `path` atomically: a temporary file beside it created with mode 0600,
// synced, then moved into place, and the directory synced. Returns kAlreadyExists when `path`
// exists and `overwrite` is false (checked atomically: a file that appears meanwhile is not
// replaced), kIoError when the OS refuses (missing directory, no permission, disk full), naming the
// path. On failure no partial file is left at `path`.
Status SaveIdentity(const Identity& identity, const std::string& path, bool overwrite = false);

// Reads and validates an identity key file. Returns:
//   kPermissionDenied when group or others may read or write the file (mode & 077), naming the
//     path and its mode (nothing is read in that case);
//   kInvalidArgument when the file is not a key file: too large, not JSON, wrong version or type,
//     a missing or unknown field, bad base64, a wrong size, or a public key that does not match its
//     secret; the message names the path and the field;
//   kNotFound / kIoError when the file cannot be opened or read.
Result<Identity> LoadIdentity(const std::string& path);

// The key file JSON of `identity` (what SaveIdentity writes) and its strict parser (what
// LoadIdentity applies after the mode check). The encoder's result holds secrets: the caller wipes
// it (sodium_memzero) when done. Exposed for tests and fuzzing.
std::string EncodeIdentityJson(const Identity& identity);
Result<Identity> DecodeIdentityJson(std::string_view json);

// The public export: {"version": 1, "type": "healthchain-public-identity", "id": "<hex>",
// "ed25519_public": "...", "x25519_public": "..."}. Decode checks that "id" matches the key.
std::string EncodePublicIdentityJson(const PublicIdentity& identity);
Result<PublicIdentity> DecodePublicIdentityJson(std::string_view json);

// Like SaveIdentity, with mode 0644: the file holds no secret.
Status SavePublicIdentity(const PublicIdentity& identity, const std::string& path,
                          bool overwrite = false);
// Reads a public export (no mode check); errors as LoadIdentity's.
Result<PublicIdentity> LoadPublicIdentity(const std::string& path);

}  // namespace hc::crypto
