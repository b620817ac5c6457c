// Signer and Verifier: the seams through which consensus and the ledger sign and check, so the
// deterministic simulator can swap in a fast fake (STYLE.md: every source of nondeterminism behind
// a small interface).
//
// Every signature covers `domain || message`, where the domain is a tag such as "hc/tx/v1" or
// "hc/pbft/v1/prepare" (docs/spec/wire.md): a signature made for one purpose never verifies for
// another.
#pragma once

#include <memory>
#include <string_view>

#include "common/bytes.h"
#include "crypto/ed25519.h"

namespace hc::crypto {

class Signer {
 public:
  virtual ~Signer() = default;
  virtual const Ed25519PublicKey& public_key() const = 0;
  // Signs domain || message. Thread-safe.
  virtual Ed25519Signature Sign(std::string_view domain, ByteView message) const = 0;
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  // True iff `signature` is `key`'s signature over domain || message. Thread-safe.
  virtual bool Verify(const Ed25519PublicKey& key, std::string_view domain, ByteView message,
                      ByteView signature) const = 0;
};

// Real Ed25519 (libsodium).
std::unique_ptr<Signer> MakeEd25519Signer(Ed25519SecretKey secret_key);
std::unique_ptr<Verifier> MakeEd25519Verifier();

// The simulator's fake: deterministic, about 100x cheaper than Ed25519, and only as strong as a
// keyed hash whose key is public (anyone who knows the public key can forge). A fake signature
// never verifies under the real verifier and vice versa, so a test cannot mix them by accident.
std::unique_ptr<Signer> MakeFakeSigner(const Ed25519PublicKey& identity);
std::unique_ptr<Verifier> MakeFakeVerifier();

}  // namespace hc::crypto
