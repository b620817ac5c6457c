#include "crypto/hash.h"

#include <openssl/evp.h>

#include "common/assert.h"

namespace hc::crypto {

// The EVP_MD_CTX is allocated once and reinitialised per digest: EVP_DigestInit_ex on an existing
// context with the same EVP_MD skips the allocation and method lookup that a one-shot EVP_Digest
// pays every time (DESIGN.md §8). The EVP_MD is fetched once per process for the same reason
// (EVP_sha256() would go through the implicit-fetch path on each init under OpenSSL 3).
struct Sha256Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

namespace {

const EVP_MD* Sha256Md() {
  // Fetched once and never freed: the provider lives for the whole process.
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    HC_ASSERT_MSG(fetched != nullptr, "OpenSSL has no SHA256 implementation");
    return fetched;
  }();
  return md;
}

}  // namespace

Sha256Hasher::Sha256Hasher() : impl_(new Impl) {
  impl_->ctx = EVP_MD_CTX_new();
  // Allocation failure of a few hundred bytes at start-up is not a recoverable condition.
  HC_ASSERT_MSG(impl_->ctx != nullptr, "EVP_MD_CTX_new failed");
  Reset();
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(impl_->ctx);
  delete impl_;
}

void Sha256Hasher::Reset() {
  const int rc = EVP_DigestInit_ex(impl_->ctx, Sha256Md(), nullptr);
  HC_ASSERT_EQ(rc, 1);
}

Sha256Hasher& Sha256Hasher::Update(ByteView data) {
  if (!data.empty()) {
    const int rc = EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
    HC_ASSERT_EQ(rc, 1);
  }
  return *this;
}

Hash32 Sha256Hasher::Final() {
  Hash32 out;
  unsigned int len = 0;
  const int rc = EVP_DigestFinal_ex(impl_->ctx, out.data(), &len);
  HC_ASSERT_EQ(rc, 1);
  HC_ASSERT_EQ(len, 32u);
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
