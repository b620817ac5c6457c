// SHA-256 and domain-separated hashing.
//
// Hashing goes through OpenSSL's EVP with a reused context (SHA-NI; DESIGN.md §8: a one-shot call
// costs about as much again as hashing 300 bytes). Sha256Hasher is not thread-safe; the free
// functions use a thread_local hasher and are safe from any thread.
#pragma once

#include <string_view>

#include "common/bytes.h"

namespace hc::crypto {

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  // Starts a new digest (called by the constructor and by Final).
  void Reset();
  Sha256Hasher& Update(ByteView data);
  Sha256Hasher& Update(std::string_view data) { return Update(AsBytes(data)); }
  Sha256Hasher& UpdateByte(uint8_t b) { return Update(ByteView(&b, 1)); }
  // Returns the digest of everything since the last Reset and resets.
  Hash32 Final();

 private:
  struct Impl;
  Impl* impl_;
};

Hash32 Sha256(ByteView data);

// SHA-256(domain || data). Domains are ASCII tags such as "hc/txid/v1" (docs/spec/wire.md); they
// keep a hash computed for one purpose from ever matching one computed for another.
Hash32 DomainHash(std::string_view domain, ByteView data);

}  // namespace hc::crypto
