// crypto/tls: node TLS identities, pins and the TLS 1.3 mutual-authentication context; the client
// API's CA-verified contexts (MakeApiServerTlsContext, MakeApiClientTlsContext) with certificates
// made at test time (tests/tls_test_pki.h).
#include "crypto/tls.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "crypto/hash.h"
#include "tests/temp_dir_test.h"
#include "tests/tls_test_pki.h"

namespace hc::crypto {
namespace {

namespace fs = std::filesystem;

struct BnFreeForTest {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using BnPtrForTest = std::unique_ptr<BIGNUM, BnFreeForTest>;

class TlsTest : public ::hc::test::TempDirTest {
 protected:
  static void Write(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
  }

  TlsIdentity Generate(const std::string& cn) {
    auto id = GenerateTlsIdentity(cn);
    HC_ASSERT(id.ok());
    return std::move(id).value();
  }
};

TEST_F(TlsTest, GenerateSaveLoadRoundTripKeepsThePin) {
  const TlsIdentity id = Generate("validator-1");
  EXPECT_EQ(id.common_name(), "validator-1");
  ASSERT_TRUE(SaveTlsIdentity(id, Path("tls.key"), Path("tls.crt")).ok());
  EXPECT_EQ(Mode(Path("tls.key")), 0600u);
  EXPECT_EQ(Mode(Path("tls.crt")), 0644u);
  // No temporary files are left behind.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 2u);

  auto loaded = LoadTlsIdentity(Path("tls.key"), Path("tls.crt"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->pin(), id.pin());
  EXPECT_EQ(loaded->cert_pem(), id.cert_pem());
  EXPECT_EQ(loaded->common_name(), "validator-1");
  EXPECT_EQ(EVP_PKEY_eq(loaded->key(), id.key()), 1);

  // The pin from the certificate file equals the identity's, before and after the round trip.
  auto from_pem = TlsPinFromCertPem(Read(Path("tls.crt")));
  ASSERT_TRUE(from_pem.ok());
  EXPECT_EQ(*from_pem, id.pin());
}

TEST_F(TlsTest, PinIsSha256OfTheDerSubjectPublicKeyInfo) {
  const TlsIdentity id = Generate("n");
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(id.key(), &der);
  ASSERT_GT(len, 0);
  const Hash32 expected = Sha256(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  EXPECT_EQ(id.pin(), expected);
  // Ed25519 SPKI is 44 bytes: the algorithm identifier and the 32-byte key.
  EXPECT_EQ(len, 44);
  // Distinct keys, distinct pins.
  EXPECT_NE(Generate("n").pin(), id.pin());
}

TEST_F(TlsTest, CertificateIsSelfSignedV3WithLongValidity) {
  const TlsIdentity id = Generate("validator-7");
  X509* cert = id.cert();
  EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)), 0);
  EXPECT_EQ(X509_verify(cert, id.key()), 1);
  EXPECT_EQ(EVP_PKEY_is_a(X509_get0_pubkey(cert), "ED25519"), 1);
  time_t in_99_years = std::time(nullptr) + 99ll * 365 * 24 * 3600;
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(cert), &in_99_years), 0);
  time_t now = std::time(nullptr);
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(cert), &now), 0);
  // Not a CA, and usable as a client and as a server certificate.
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 1);
}

TEST_F(TlsTest, RejectsBadCommonNames) {
  EXPECT_EQ(GenerateTlsIdentity("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateTlsIdentity(std::string(65, 'a')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateTlsIdentity("a\nb").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(GenerateTlsIdentity(std::string(64, 'a')).ok());
}

TEST_F(TlsTest, LoadRefusesAKeyReadableByGroupOrOthers) {
  const TlsIdentity id = Generate("n");
  ASSERT_TRUE(SaveTlsIdentity(id, Path("tls.key"), Path("tls.crt")).ok());
  for (const mode_t mode : {0640, 0604, 0660, 0620}) {
    ASSERT_EQ(::chmod(Path("tls.key").c_str(), mode), 0);
    auto loaded = LoadTlsIdentity(Path("tls.key"), Path("tls.crt"));
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), StatusCode::kPermissionDenied);
    EXPECT_NE(loaded.status().message().find(Path("tls.key")), std::string::npos);
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(loaded.status().message().find(octal), std::string::npos)
        << loaded.status().message();
  }
  ASSERT_EQ(::chmod(Path("tls.key").c_str(), 0400), 0);
  EXPECT_TRUE(LoadTlsIdentity(Path("tls.key"), Path("tls.crt")).ok());
}

TEST_F(TlsTest, SaveRefusesToOverwriteUnlessAsked) {
  const TlsIdentity a = Generate("a");
  const TlsIdentity b = Generate("b");
  ASSERT_TRUE(SaveTlsIdentity(a, Path("tls.key"), Path("tls.crt")).ok());
  const Status again = SaveTlsIdentity(b, Path("tls.key"), Path("tls.crt"));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(LoadTlsIdentity(Path("tls.key"), Path("tls.crt"))->pin(), a.pin());
  // An existing certificate alone also stops a non-overwriting save, and the key is not written.
  EXPECT_EQ(SaveTlsIdentity(b, Path("other.key"), Path("tls.crt")).code(),
            StatusCode::kAlreadyExists);
  EXPECT_FALSE(fs::exists(Path("other.key")));

  ASSERT_TRUE(SaveTlsIdentity(b, Path("tls.key"), Path("tls.crt"), /*overwrite=*/true).ok());
  EXPECT_EQ(LoadTlsIdentity(Path("tls.key"), Path("tls.crt"))->pin(), b.pin());
  EXPECT_EQ(Mode(Path("tls.key")), 0600u);

  EXPECT_EQ(SaveTlsIdentity(a, Path("missing/tls.key"), Path("missing/tls.crt")).code(),
            StatusCode::kIoError);
}

TEST_F(TlsTest, LoadRejectsMismatchedMissingAndMalformedFiles) {
  const TlsIdentity a = Generate("a");
  const TlsIdentity b = Generate("b");
  ASSERT_TRUE(SaveTlsIdentity(a, Path("a.key"), Path("a.crt")).ok());
  ASSERT_TRUE(SaveTlsIdentity(b, Path("b.key"), Path("b.crt")).ok());

  auto mismatched = LoadTlsIdentity(Path("a.key"), Path("b.crt"));
  EXPECT_EQ(mismatched.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mismatched.status().message().find(Path("b.crt")), std::string::npos);

  EXPECT_EQ(LoadTlsIdentity(Path("none.key"), Path("a.crt")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(LoadTlsIdentity(Path("a.key"), Path("none.crt")).status().code(),
            StatusCode::kNotFound);

  Write(Path("garbage.key"), "not a key\n", 0600);
  EXPECT_EQ(LoadTlsIdentity(Path("garbage.key"), Path("a.crt")).status().code(),
            StatusCode::kInvalidArgument);
  Write(Path("garbage.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        0644);
  EXPECT_EQ(LoadTlsIdentity(Path("a.key"), Path("garbage.crt")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TlsPinFromCertPem("garbage").status().code(), StatusCode::kInvalidArgument);

  Write(Path("huge.key"), std::string(kTlsPemFileMaxBytes + 1, 'A'), 0600);
  EXPECT_EQ(LoadTlsIdentity(Path("huge.key"), Path("a.crt")).status().code(),
            StatusCode::kInvalidArgument);

  // A key of another type is refused by name.
  EVP_PKEY* ec_key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec_key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, ec_key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  Write(Path("ec.key"), std::string(data, static_cast<size_t>(len)), 0600);
  BIO_free(bio);
  EVP_PKEY_free(ec_key);
  auto ec = LoadTlsIdentity(Path("ec.key"), Path("a.crt"));
  EXPECT_EQ(ec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ec.status().message().find("not Ed25519"), std::string::npos) << ec.status().message();
}

// Drives a client and a server SSL through a memory BIO pair until both finish or one fails.
// Returns true when both completed the handshake.
bool Handshake(SSL* client, SSL* server) {
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  HC_ASSERT(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) == 1);
  SSL_set_bio(client, client_bio, client_bio);
  SSL_set_bio(server, server_bio, server_bio);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  bool client_done = false;
  bool server_done = false;
  for (int i = 0; i < 100 && !(client_done && server_done); ++i) {
    for (auto [ssl, done] : {std::pair{client, &client_done}, std::pair{server, &server_done}}) {
      if (*done) continue;
      const int rc = SSL_do_handshake(ssl);
      if (rc == 1) {
        *done = true;
        continue;
      }
      const int err = SSL_get_error(ssl, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return false;
    }
  }
  // In TLS 1.3 the server checks the client's certificate after the client has finished; a
  // refusal reaches the client as an alert on its next read.
  if (!(client_done && server_done)) return false;
  char byte;
  const int rc = SSL_read(client, &byte, 1);
  return rc <= 0 && SSL_get_error(client, rc) == SSL_ERROR_WANT_READ;
}

TEST_F(TlsTest, ContextNegotiatesTls13WithMutualAuthenticationAndPinsMatch) {
  const TlsIdentity a = Generate("a");
  const TlsIdentity b = Generate("b");
  auto ctx_a = MakeTlsContext(a);
  auto ctx_b = MakeTlsContext(b);
  ASSERT_TRUE(ctx_a.ok() && ctx_b.ok());
  SSL* client = SSL_new(ctx_a->get());
  SSL* server = SSL_new(ctx_b->get());
  ASSERT_TRUE(Handshake(client, server));
  EXPECT_EQ(SSL_version(client), TLS1_3_VERSION);
  EXPECT_EQ(SSL_version(server), TLS1_3_VERSION);
  // Each end sees the other's certificate, and its pin is the other's identity pin.
  EXPECT_EQ(*TlsPinOfCertificate(SSL_get0_peer_certificate(client)), b.pin());
  EXPECT_EQ(*TlsPinOfCertificate(SSL_get0_peer_certificate(server)), a.pin());
  SSL_free(client);
  SSL_free(server);
}

TEST_F(TlsTest, ContextRefusesAClientWithoutCertificateAndOlderTls) {
  const TlsIdentity b = Generate("b");
  auto ctx_b = MakeTlsContext(b);
  ASSERT_TRUE(ctx_b.ok());

  // A client that presents no certificate.
  SSL_CTX* anonymous = SSL_CTX_new(TLS_method());
  SSL_CTX_set_verify(anonymous, SSL_VERIFY_NONE, nullptr);
  SSL* client = SSL_new(anonymous);
  SSL* server = SSL_new(ctx_b->get());
  EXPECT_FALSE(Handshake(client, server));
  SSL_free(client);
  SSL_free(server);

  // A client limited to TLS 1.2 (with a certificate).
  const TlsIdentity a = Generate("a");
  auto ctx_a = MakeTlsContext(a);
  ASSERT_TRUE(ctx_a.ok());
  client = SSL_new(ctx_a->get());
  ASSERT_EQ(SSL_set_min_proto_version(client, TLS1_2_VERSION), 1);
  ASSERT_EQ(SSL_set_max_proto_version(client, TLS1_2_VERSION), 1);
  server = SSL_new(ctx_b->get());
  EXPECT_FALSE(Handshake(client, server));
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(anonymous);
  ERR_clear_error();
}

// ---- The client API's TLS ----

class ApiTlsTest : public TlsTest {
 protected:
  void SetUp() override {
    TlsTest::SetUp();
    pki_ = test::WriteTestPki(dir_, /*with_intermediate=*/true);
    ASSERT_TRUE(pki_.ok());
  }

  // A handshake of a client trusting `ca_file` and expecting `name` with a server loaded from the
  // test PKI; the client's verify failure ("" when verified) in *why.
  bool Connect(const std::string& ca_file, const std::string& name, int max_version = 0,
               std::string* why = nullptr, int* version = nullptr) {
    auto server_ctx = MakeApiServerTlsContext(pki_.chain_path, pki_.key_path);
    auto client_ctx = MakeApiClientTlsContext(ca_file);
    EXPECT_TRUE(server_ctx.ok()) << server_ctx.status().ToString();
    EXPECT_TRUE(client_ctx.ok()) << client_ctx.status().ToString();
    if (!server_ctx.ok() || !client_ctx.ok()) return false;
    SSL* client = SSL_new(client_ctx->get());
    SSL* server = SSL_new(server_ctx->get());
    if (max_version != 0) SSL_set_max_proto_version(client, max_version);
    EXPECT_TRUE(SetApiTlsServerName(client, name).ok());
    const bool ok = Handshake(client, server);
    if (why != nullptr) *why = TlsVerifyFailure(client);
    if (version != nullptr) *version = SSL_version(client);
    SSL_free(client);
    SSL_free(server);
    ERR_clear_error();
    return ok;
  }

  test::TestPki pki_;
};

TEST_F(ApiTlsTest, ServerSendsItsChainAndPrefersTls13) {
  int version = 0;
  std::string why;
  EXPECT_TRUE(Connect(pki_.ca_path, "127.0.0.1", 0, &why, &version)) << why;
  EXPECT_EQ(version, TLS1_3_VERSION);
  EXPECT_TRUE(Connect(pki_.ca_path, "localhost", TLS1_2_VERSION, &why, &version)) << why;
  EXPECT_EQ(version, TLS1_2_VERSION);
}

TEST_F(ApiTlsTest, ClientChecksTheIssuerAndTheName) {
  std::string why;
  EXPECT_FALSE(Connect(pki_.ca_path, "example.org", 0, &why));
  EXPECT_EQ(why, "hostname mismatch");
  EXPECT_FALSE(Connect(pki_.ca_path, "127.0.0.2", 0, &why));
  EXPECT_EQ(why, "IP address mismatch");
  // A CA file with another root.
  fs::create_directories(Path("other"));
  const test::TestPki other = test::WriteTestPki(Path("other"));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(Connect(other.ca_path, "127.0.0.1", 0, &why));
  EXPECT_EQ(why, "unable to get local issuer certificate");
  // The system store does not know the test root either.
  EXPECT_FALSE(Connect("", "127.0.0.1", 0, &why));
  EXPECT_FALSE(why.empty());
}

TEST_F(ApiTlsTest, ServerContextRefusesBadFilesNamingThem) {
  auto refused = [](const std::string& chain, const std::string& key) {
    auto ctx = MakeApiServerTlsContext(chain, key);
    EXPECT_FALSE(ctx.ok());
    return ctx.ok() ? Status::Ok() : ctx.status();
  };
  // Missing files.
  Status st = refused(Path("absent.pem"), pki_.key_path);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find(Path("absent.pem")), std::string::npos) << st.message();
  st = refused(pki_.chain_path, Path("absent.key.pem"));
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find(Path("absent.key.pem")), std::string::npos) << st.message();

  // A key that group or others may read.
  ASSERT_EQ(::chmod(pki_.key_path.c_str(), 0640), 0);
  st = refused(pki_.chain_path, pki_.key_path);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("chmod 600 " + pki_.key_path), std::string::npos) << st.message();
  ASSERT_EQ(::chmod(pki_.key_path.c_str(), 0600), 0);

  // A chain file that holds no certificate.
  Write(Path("empty.pem"), "not a certificate\n", 0644);
  st = refused(Path("empty.pem"), pki_.key_path);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(Path("empty.pem") + ": no PEM certificate"), std::string::npos)
      << st.message();

  // A damaged second certificate.
  const std::string chain = Read(pki_.chain_path);
  const size_t second = chain.find("-----BEGIN CERTIFICATE-----", 10);
  ASSERT_NE(second, std::string::npos);
  Write(Path("damaged.pem"), chain.substr(0, second + 40) + "!!!!" + chain.substr(second + 44),
        0644);
  st = refused(Path("damaged.pem"), pki_.key_path);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("certificate 2 is damaged"), std::string::npos) << st.message();

  // The key of another certificate; and the intermediate's certificate first.
  const test::TestPkey other = test::MakeTestKey();
  Write(Path("other.key.pem"), test::KeyPem(other.get()), 0600);
  st = refused(pki_.chain_path, Path("other.key.pem"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("is not the key in " + Path("other.key.pem")), std::string::npos)
      << st.message();
  Write(Path("reversed.pem"), chain.substr(second) + chain.substr(0, second), 0644);
  st = refused(Path("reversed.pem"), pki_.key_path);
  EXPECT_NE(st.message().find("the server certificate must come first"), std::string::npos)
      << st.message();

  // An encrypted key.
  Write(Path("encrypted.key.pem"), test::KeyPem(other.get(), "secret passphrase"), 0600);
  st = refused(pki_.chain_path, Path("encrypted.key.pem"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("encrypted"), std::string::npos) << st.message();

  // Not a key at all.
  Write(Path("garbage.key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        0600);
  st = refused(pki_.chain_path, Path("garbage.key.pem"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(Path("garbage.key.pem") + ": not a PEM private key"),
            std::string::npos)
      << st.message();
}

TEST_F(ApiTlsTest, ClientContextRefusesABadCaFileNamingIt) {
  auto ctx = MakeApiClientTlsContext(Path("absent-ca.pem"));
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kNotFound);
  EXPECT_NE(ctx.status().message().find(Path("absent-ca.pem")), std::string::npos);
  Write(Path("notca.pem"), "hello\n", 0644);
  ctx = MakeApiClientTlsContext(Path("notca.pem"));
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ctx.status().message().find("CA file " + Path("notca.pem") + ": no PEM certificate"),
            std::string::npos)
      << ctx.status().message();
}

// The expiry the node exports (hc_node_api_tls_cert_expiry_timestamp_seconds) and warns about is
// the leaf's notAfter, read from the context the API serves and from the chain file alike; both
// ASN.1 forms (UTCTime up to 2049, GeneralizedTime from 2050) convert to the same Unix seconds.
TEST_F(ApiTlsTest, CertificateInfoGivesTheLeafsNotAfterAndNames) {
  struct Case {
    long valid_until_s;
    const char* cn;
  };
  const Case cases[] = {
      {10L * 24 * 3600 + 123, "renewed in ten days"},
      {-60, "expired a minute ago"},
      {40L * 365 * 24 * 3600, "valid past 2050"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.cn);
    const std::string chain = Path("leaf" + std::to_string(n) + ".chain.pem");
    const std::string key = Path("leaf" + std::to_string(n++) + ".key.pem");
    test::TestCert cert;
    const int64_t before = ::time(nullptr);
    ASSERT_TRUE(test::WriteTestServerFiles(pki_, chain, key, c.valid_until_s, c.cn, &cert));
    const int64_t after = ::time(nullptr);
    BnPtrForTest serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    char* hex = BN_bn2hex(serial.get());
    const std::string serial_hex = hex;
    OPENSSL_free(hex);

    auto ctx = MakeApiServerTlsContext(chain, key);
    ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
    auto from_ctx = ApiTlsCertificateOf(ctx->get());
    ASSERT_TRUE(from_ctx.ok()) << from_ctx.status().ToString();
    auto from_file = ReadApiTlsCertificate(chain);
    ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
    for (const ApiTlsCertificateInfo& info : {from_ctx.value(), from_file.value()}) {
      EXPECT_GE(info.not_after_s, before + c.valid_until_s);
      EXPECT_LE(info.not_after_s, after + c.valid_until_s);
      EXPECT_GE(info.not_before_s, before - 3600);
      EXPECT_LE(info.not_before_s, after - 3600);
      EXPECT_EQ(info.subject, std::string("CN=") + c.cn);
      EXPECT_EQ(info.issuer, "CN=healthchain test intermediate CA");
      EXPECT_EQ(info.serial_hex, serial_hex);
    }
  }
}

TEST_F(ApiTlsTest, CertificateInfoRefusesWhatHoldsNoCertificate) {
  auto info = ReadApiTlsCertificate(Path("absent.chain.pem"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kNotFound);
  EXPECT_NE(info.status().message().find(Path("absent.chain.pem")), std::string::npos);
  info = ReadApiTlsCertificate(pki_.key_path);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(info.status().message().find(pki_.key_path + ": no PEM certificate"), std::string::npos)
      << info.status().message();
  SslCtxPtr empty(SSL_CTX_new(TLS_server_method()));
  ASSERT_NE(empty, nullptr);
  info = ApiTlsCertificateOf(empty.get());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hc::crypto
