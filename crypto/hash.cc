#include "crypto/hash.h"

// The low-level SHA-256 interface is deprecated in OpenSSL 3 in favour of EVP, but it is kept,
// supported and runs the same SHA-NI/AVX code. EVP costs an allocation per digest here: under
// OpenSSL 3.0, re-initialising an EVP_MD_CTX frees and re-creates the provider's context, and
// that malloc/free pair was 4-14 % of the allocations of the node's busiest threads (each tx is
// hashed several times per node: its id, the block's txs root, the log leaf).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "common/assert.h"

namespace hc::crypto {

struct Sha256Hasher::Impl {
  SHA256_CTX ctx;
};

Sha256Hasher::Sha256Hasher() : impl_(new Impl) { Reset(); }

Sha256Hasher::~Sha256Hasher() { delete impl_; }

void Sha256Hasher::Reset() {
  const int rc = SHA256_Init(&impl_->ctx);
  HC_ASSERT_EQ(rc, 1);
}

Sha256Hasher& Sha256Hasher::Update(ByteView data) {
  if (!data.empty()) {
    const int rc = SHA256_Update(&impl_->ctx, data.data(), data.size());
    HC_ASSERT_EQ(rc, 1);
  }
  return *this;
}

Hash32 Sha256Hasher::Final() {
  Hash32 out;
  static_assert(sizeof(out) == SHA256_DIGEST_LENGTH);
  const int rc = SHA256_Final(out.data(), &impl_->ctx);
  HC_ASSERT_EQ(rc, 1);
  Reset();
  return out;
}

namespace {

Sha256Hasher& ThreadHasher() {
  thread_local Sha256Hasher hasher;
  return hasher;
}

}  // namespace

Hash32 Sha256(ByteView data) {
  Sha256Hasher& h = ThreadHasher();
  // The thread's hasher is always between digests here: Final() resets it, and only these two
  // functions use it.
  return h.Update(data).Final();
}

Hash32 DomainHash(std::string_view domain, ByteView data) {
  return ThreadHasher().Update(domain).Update(data).Final();
}

}  // namespace hc::crypto
