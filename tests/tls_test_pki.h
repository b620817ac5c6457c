// TEST-ONLY certificate authorities and server certificates for the client API's TLS tests, made
// with OpenSSL at test time and written into the test's own temporary directory. No key made here
// is ever committed or used outside a test.
//
// Header-only; users link OpenSSL (through hc_crypto). Failures are reported as an empty
// TestPki::ok() / nullptr results so that a test fails with an assertion instead of a crash.
#pragma once

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace hc::test {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using TestPkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using TestCert = std::unique_ptr<X509, X509Deleter>;

// A key and its certificate: a CA (root or intermediate) or a server.
struct TestCredential {
  TestPkey key;
  TestCert cert;
};

// A fresh ECDSA P-256 key, or RSA-2048 with `rsa`.
inline TestPkey MakeTestKey(bool rsa = false) {
  return TestPkey(rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
}

namespace internal {

inline bool AddTestExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named CN=`cn`, signed by `issuer` (self-signed when null), valid from
// `valid_from_s` to `valid_until_s` seconds from now, with the given extensions (nid, value).
inline TestCert MakeTestCert(EVP_PKEY* key, const std::string& cn, const TestCredential* issuer,
                             long valid_from_s, long valid_until_s,
                             const std::vector<std::pair<int, std::string>>& extensions) {
  static long serial = 1000;
  TestCert cert(X509_new());
  if (!cert) return nullptr;
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(x), valid_from_s);
  X509_gmtime_adj(X509_getm_notAfter(x), valid_until_s);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  for (const auto& [nid, value] : extensions) {
    if (!AddTestExtension(x, issuer_cert, nid, value.c_str())) return nullptr;
  }
  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key.get() : key;
  if (X509_sign(x, signing_key, EVP_sha256()) <= 0) return nullptr;
  return cert;
}

}  // namespace internal

// A CA: self-signed root when `issuer` is null, otherwise an intermediate signed by `issuer`.
inline TestCredential MakeTestCa(const std::string& cn, const TestCredential* issuer = nullptr) {
  TestCredential ca;
  ca.key = MakeTestKey();
  if (!ca.key) return ca;
  ca.cert = internal::MakeTestCert(ca.key.get(), cn, issuer, -3600, 30L * 24 * 3600,
                                   {{NID_basic_constraints, "critical,CA:TRUE"},
                                    {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                    {NID_subject_key_identifier, "hash"}});
  return ca;
}

// A server certificate issued by `issuer` for `san` (an OpenSSL subjectAltName value, e.g.
// "IP:127.0.0.1,DNS:localhost"), valid from `valid_from_s` to `valid_until_s` seconds from now.
inline TestCredential MakeTestServer(const TestCredential& issuer,
                                     const std::string& san = "IP:127.0.0.1,DNS:localhost",
                                     bool rsa = false, long valid_from_s = -3600,
                                     long valid_until_s = 30L * 24 * 3600,
                                     const std::string& cn = "healthchain test server") {
  TestCredential server;
  server.key = MakeTestKey(rsa);
  if (!server.key) return server;
  server.cert = internal::MakeTestCert(server.key.get(), cn, &issuer, valid_from_s, valid_until_s,
                                       {{NID_basic_constraints, "critical,CA:FALSE"},
                                        {NID_key_usage, "critical,digitalSignature"},
                                        {NID_ext_key_usage, "serverAuth"},
                                        {NID_subject_alt_name, san}});
  return server;
}

inline std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len > 0 ? len : 0));
  BIO_free(bio);
  return out;
}

// PKCS#8 PEM, unencrypted; or encrypted with `passphrase` when it is not empty.
inline std::string KeyPem(EVP_PKEY* key, const std::string& passphrase = "") {
  BIO* bio = BIO_new(BIO_s_mem());
  if (passphrase.empty()) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), passphrase.data(),
                                  static_cast<int>(passphrase.size()), nullptr, nullptr);
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len > 0 ? len : 0));
  BIO_free(bio);
  return out;
}

inline bool WriteTestFile(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  return ::chmod(path.c_str(), mode) == 0;
}

// The files a node's [api.tls] and a client need, written into `dir`:
//   ca.crt.pem            the root CA's certificate (what clients trust; --cacert)
//   api.chain.pem         the server certificate, then the intermediate CA's when there is one
//   api.key.pem           the server's key (0600)
struct TestPki {
  std::string ca_path;
  std::string chain_path;
  std::string key_path;
  // What issued the server certificate (the intermediate CA when there is one, else the root),
  // and the intermediate's PEM ("" without one): WriteTestServerFiles issues more under them.
  std::shared_ptr<const TestCredential> issuer;
  std::string intermediate_pem;
  bool ok() const { return !ca_path.empty(); }
};

// A root CA, optionally an intermediate CA under it, and a server certificate for 127.0.0.1 and
// localhost issued by the last of them. Empty paths when anything failed.
inline TestPki WriteTestPki(const std::string& dir, bool with_intermediate = false,
                            bool rsa_server = false) {
  TestPki pki;
  // Each PKI's root has its own name: a client trusting another test root must not even find a
  // candidate issuer ("unable to get local issuer certificate", not a signature failure).
  static int roots = 0;
  TestCredential root = MakeTestCa("healthchain test root CA " + std::to_string(++roots));
  if (!root.cert) return pki;
  TestCredential intermediate;
  if (with_intermediate) {
    intermediate = MakeTestCa("healthchain test intermediate CA", &root);
    if (!intermediate.cert) return pki;
  }
  const TestCredential server = MakeTestServer(with_intermediate ? intermediate : root,
                                               "IP:127.0.0.1,DNS:localhost", rsa_server);
  if (!server.cert) return pki;
  std::string chain = CertPem(server.cert.get());
  if (with_intermediate) chain += CertPem(intermediate.cert.get());
  const std::string ca = dir + "/ca.crt.pem";
  const std::string chain_path = dir + "/api.chain.pem";
  const std::string key = dir + "/api.key.pem";
  if (!WriteTestFile(ca, CertPem(root.cert.get()), 0644) ||
      !WriteTestFile(chain_path, chain, 0644) ||
      !WriteTestFile(key, KeyPem(server.key.get()), 0600)) {
    return pki;
  }
  pki.ca_path = ca;
  pki.chain_path = chain_path;
  pki.key_path = key;
  pki.intermediate_pem = with_intermediate ? CertPem(intermediate.cert.get()) : "";
  pki.issuer =
      std::make_shared<const TestCredential>(std::move(with_intermediate ? intermediate : root));
  return pki;
}

// Another server certificate (CN=`cn`, for 127.0.0.1 and localhost, valid from an hour ago until
// `valid_until_s` seconds from now) with a fresh key, issued by the CA that issued `pki`'s, written
// as a chain (with `pki`'s intermediate) to `chain_path` and its key (0600) to `key_path`: what an
// operator's renewal leaves on disk. Its X509 in *cert when `cert` is not null. False on failure.
inline bool WriteTestServerFiles(const TestPki& pki, const std::string& chain_path,
                                 const std::string& key_path, long valid_until_s,
                                 const std::string& cn = "healthchain renewed test server",
                                 TestCert* cert = nullptr) {
  if (pki.issuer == nullptr) return false;
  TestCredential server = MakeTestServer(*pki.issuer, "IP:127.0.0.1,DNS:localhost",
                                         /*rsa=*/false, -3600, valid_until_s, cn);
  if (!server.cert) return false;
  if (!WriteTestFile(chain_path, CertPem(server.cert.get()) + pki.intermediate_pem, 0644) ||
      !WriteTestFile(key_path, KeyPem(server.key.get()), 0600)) {
    return false;
  }
  if (cert != nullptr) *cert = std::move(server.cert);
  return true;
}

}  // namespace hc::test
