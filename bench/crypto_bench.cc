// Microbenchmarks of the crypto primitives on the transaction hot path (DESIGN.md §8: signature
// checks dominate; hashing must go through reused EVP contexts).
//
//   build/<dir>/bench/crypto_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/box.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/signer.h"

namespace hc::crypto {
namespace {

constexpr size_t kTxBytes = 300;  // a typical signed tx (DESIGN.md §8)

Bytes Payload(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 31 + 7);
  return b;
}

void BM_Ed25519Sign(benchmark::State& state) {
  const Ed25519KeyPair kp = GenerateEd25519();
  const Bytes msg = Payload(kTxBytes);
  for (auto _ : state) benchmark::DoNotOptimize(Ed25519Sign(kp.secret_key, msg));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Sign);

void BM_Ed25519Verify(benchmark::State& state) {
  const Ed25519KeyPair kp = GenerateEd25519();
  const Bytes msg = Payload(kTxBytes);
  const Ed25519Signature sig = Ed25519Sign(kp.secret_key, msg);
  for (auto _ : state) {
    const bool ok = Ed25519Verify(kp.public_key, msg, sig);
    if (!ok) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Verify);

// Through the Verifier seam, with the domain concatenation the ledger pays.
void BM_Ed25519VerifierDomain(benchmark::State& state) {
  Ed25519KeyPair kp = GenerateEd25519();
  const Ed25519PublicKey public_key = kp.public_key;
  auto signer = MakeEd25519Signer(std::move(kp.secret_key));
  auto verifier = MakeEd25519Verifier();
  const Bytes msg = Payload(kTxBytes);
  const Ed25519Signature sig = signer->Sign("hc/tx/v1", msg);
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifier->Verify(public_key, "hc/tx/v1", msg, sig));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519VerifierDomain);

void BM_FakeVerify(benchmark::State& state) {
  const Ed25519PublicKey pk = GenerateEd25519().public_key;
  auto signer = MakeFakeSigner(pk);
  auto verifier = MakeFakeVerifier();
  const Bytes msg = Payload(kTxBytes);
  const Ed25519Signature sig = signer->Sign("hc/tx/v1", msg);
  for (auto _ : state) benchmark::DoNotOptimize(verifier->Verify(pk, "hc/tx/v1", msg, sig));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FakeVerify);

void BM_Sha256_300B_ReusedHasher(benchmark::State& state) {
  Sha256Hasher hasher;
  const Bytes msg = Payload(kTxBytes);
  for (auto _ : state) benchmark::DoNotOptimize(hasher.Update(msg).Final());
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}
BENCHMARK(BM_Sha256_300B_ReusedHasher);

// What Sha256() / DomainHash() cost: the thread-local reused hasher.
void BM_Sha256_300B_FreeFunction(benchmark::State& state) {
  const Bytes msg = Payload(kTxBytes);
  for (auto _ : state) benchmark::DoNotOptimize(Sha256(msg));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}
BENCHMARK(BM_Sha256_300B_FreeFunction);

// The pattern the reused hasher replaces: OpenSSL's one-shot EVP_Digest with EVP_sha256().
void BM_Sha256_300B_OneShotEvp(benchmark::State& state) {
  const Bytes msg = Payload(kTxBytes);
  Hash32 out;
  for (auto _ : state) {
    unsigned int len = 0;
    EVP_Digest(msg.data(), msg.size(), out.data(), &len, EVP_sha256(), nullptr);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}
BENCHMARK(BM_Sha256_300B_OneShotEvp);

void BM_Sha256_300B_Libsodium(benchmark::State& state) {
  internal::EnsureSodiumInit();
  const Bytes msg = Payload(kTxBytes);
  Hash32 out;
  for (auto _ : state) {
    crypto_hash_sha256(out.data(), msg.data(), msg.size());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}
BENCHMARK(BM_Sha256_300B_Libsodium);

void BM_AeadEncrypt_4KiB(benchmark::State& state) {
  const DataKey key = DataKey::Generate();
  const Bytes plaintext = Payload(4096);
  for (auto _ : state) benchmark::DoNotOptimize(Encrypt(key, plaintext));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(plaintext.size()));
}
BENCHMARK(BM_AeadEncrypt_4KiB);

void BM_AeadDecrypt_4KiB(benchmark::State& state) {
  const DataKey key = DataKey::Generate();
  const Sealed sealed = Encrypt(key, Payload(4096));
  for (auto _ : state) benchmark::DoNotOptimize(Decrypt(key, sealed));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 4096);
}
BENCHMARK(BM_AeadDecrypt_4KiB);

void BM_SealedBoxWrap(benchmark::State& state) {
  const X25519KeyPair recipient = GenerateX25519();
  const DataKey key = DataKey::Generate();
  for (auto _ : state) benchmark::DoNotOptimize(WrapDataKey(key, recipient.public_key));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SealedBoxWrap);

void BM_SealedBoxUnwrap(benchmark::State& state) {
  const X25519KeyPair recipient = GenerateX25519();
  const DataKey key = DataKey::Generate();
  const Bytes wrapped = *WrapDataKey(key, recipient.public_key);
  for (auto _ : state) benchmark::DoNotOptimize(UnwrapDataKey(wrapped, recipient));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SealedBoxUnwrap);

}  // namespace
}  // namespace hc::crypto
