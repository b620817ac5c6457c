#include "crypto/tls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/secure_file.h"

namespace hc::crypto {
namespace {

// ---- OpenSSL plumbing ----

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtFree>;

// Drains this thread's OpenSSL error queue into one line, so that a failure here never leaks a
// stale error into an unrelated later call (SSL_get_error reads the same queue).
std::string DrainOpenSslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error reported" : out;
}

Status OpenSslFailure(const std::string& what) {
  return Internal(what + " failed: " + DrainOpenSslErrors());
}

// A PEM password callback that refuses: the default one would prompt on the terminal for an
// encrypted key, which a daemon must never do. Encrypted keys fail to load instead.
int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

BioPtr MemoryBio(std::string_view data) {
  HC_ASSERT_LE(data.size(), static_cast<size_t>(INT32_MAX));
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

Result<std::string> CommonNameOf(const X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return std::string();
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return InvalidArgument("certificate common name is not valid text");
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Status CheckCommonName(std::string_view cn) {
  if (cn.empty()) return InvalidArgument("TLS common name is empty");
  if (cn.size() > kTlsCommonNameMaxBytes) {
    return InvalidArgument("TLS common name is longer than " +
                           std::to_string(kTlsCommonNameMaxBytes) + " bytes");
  }
  for (const char c : cn) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return InvalidArgument("TLS common name holds a control character");
  }
  return Status::Ok();
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext) return OpenSslFailure(std::string("X509V3_EXT_conf_nid(") + OBJ_nid2sn(nid) + ")");
  if (X509_add_ext(cert, ext.get(), -1) != 1) return OpenSslFailure("X509_add_ext");
  return Status::Ok();
}

Result<X509Ptr> ParseCertPem(std::string_view pem) {
  if (pem.size() > kTlsPemFileMaxBytes) {
    return InvalidArgument("larger than " + std::to_string(kTlsPemFileMaxBytes) + " bytes");
  }
  BioPtr bio = MemoryBio(pem);
  if (!bio) return OpenSslFailure("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
  if (!cert) return InvalidArgument("no PEM certificate: " + DrainOpenSslErrors());
  return cert;
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslFailure("PEM_write_bio_X509");
  return BioContents(bio.get());
}

// The verify callback of MakeTlsContext. OpenSSL calls it for every check of the chain the peer
// presented, with `preverify_ok` = 0 when a check failed. Pinning replaces chain verification, so a
// leaf that is self-signed (or whose issuer is unknown) is accepted; every other failure stands,
// as does anything about certificates above the leaf.
int AcceptSelfSignedLeaf(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 1) return 1;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 0;
  switch (X509_STORE_CTX_get_error(store)) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      X509_STORE_CTX_set_error(store, X509_V_OK);
      return 1;
    default:
      return 0;
  }
}

}  // namespace

// Builds TlsIdentity objects (the constructor is private so that every instance has a matching
// key, certificate, pin and PEM).
class TlsIdentityBuilder {
 public:
  static Result<TlsIdentity> Make(PkeyPtr key, X509Ptr cert) {
    HC_ASSIGN_OR_RETURN(const TlsPin pin, TlsPinOfCertificate(cert.get()));
    HC_ASSIGN_OR_RETURN(std::string pem, CertToPem(cert.get()));
    HC_ASSIGN_OR_RETURN(std::string cn, CommonNameOf(cert.get()));
    return TlsIdentity(key.release(), cert.release(), pin, std::move(pem), std::move(cn));
  }
};

// ---- TlsIdentity ----

TlsIdentity::TlsIdentity(EVP_PKEY* key, X509* cert, TlsPin pin, std::string cert_pem,
                         std::string common_name)
    : key_(key),
      cert_(cert),
      pin_(pin),
      cert_pem_(std::move(cert_pem)),
      common_name_(std::move(common_name)) {}

TlsIdentity::TlsIdentity(TlsIdentity&& other) noexcept
    : key_(std::exchange(other.key_, nullptr)),
      cert_(std::exchange(other.cert_, nullptr)),
      pin_(other.pin_),
      cert_pem_(std::move(other.cert_pem_)),
      common_name_(std::move(other.common_name_)) {}

TlsIdentity& TlsIdentity::operator=(TlsIdentity&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(key_);
    X509_free(cert_);
    key_ = std::exchange(other.key_, nullptr);
    cert_ = std::exchange(other.cert_, nullptr);
    pin_ = other.pin_;
    cert_pem_ = std::move(other.cert_pem_);
    common_name_ = std::move(other.common_name_);
  }
  return *this;
}

TlsIdentity::~TlsIdentity() {
  // EVP_PKEY_free wipes the Ed25519 private key (OpenSSL cleanses key material on free).
  EVP_PKEY_free(key_);
  X509_free(cert_);
}

// ---- Generation ----

Result<TlsIdentity> GenerateTlsIdentity(std::string_view common_name) {
  HC_RETURN_IF_ERROR(CheckCommonName(common_name));
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return OpenSslFailure("EVP_PKEY_Q_keygen(ED25519)");

  X509Ptr cert(X509_new());
  if (!cert) return OpenSslFailure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpenSslFailure("X509_set_version");

  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 159 random bits are both.
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslFailure("serial number");
  }

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kTlsCertBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kTlsCertValidityDays, 0, nullptr) ==
          nullptr) {
    return OpenSslFailure("certificate validity");
  }

  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(common_name);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    return OpenSslFailure("X509_NAME_add_entry_by_txt(CN)");
  }
  if (X509_set_issuer_name(cert.get(), name) != 1) return OpenSslFailure("X509_set_issuer_name");
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return OpenSslFailure("X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  HC_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  HC_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  HC_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
  HC_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));

  // Ed25519 signs the message itself: no separate digest (hence nullptr).
  if (X509_sign(cert.get(), key.get(), nullptr) <= 0) return OpenSslFailure("X509_sign");
  return TlsIdentityBuilder::Make(std::move(key), std::move(cert));
}

// ---- Files ----

Status SaveTlsIdentity(const TlsIdentity& identity, const std::string& key_path,
                       const std::string& cert_path, bool overwrite) {
  HC_ASSERT(identity.key() != nullptr);
  if (key_path == cert_path) return InvalidArgument("key and certificate paths are the same");
  if (!overwrite) {
    struct stat st;
    for (const std::string* path : {&key_path, &cert_path}) {
      if (::lstat(path->c_str(), &st) == 0) {
        return AlreadyExists(*path + ": already exists; refusing to overwrite it");
      }
    }
  }

  // The key PEM goes through OpenSSL's secure-heap BIO, whose buffer is cleansed when freed, and
  // one std::string that is wiped after the write.
  std::string key_pem;
  ScopedWipe wipe(&key_pem);
  {
    BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), identity.key(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
      return OpenSslFailure("PEM_write_bio_PrivateKey");
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    if (len <= 0) return OpenSslFailure("BIO_get_mem_data");
    key_pem.reserve(static_cast<size_t>(len));
    key_pem.assign(data, static_cast<size_t>(len));
  }

  HC_RETURN_IF_ERROR(WriteFileAtomically(key_path, key_pem, 0600, overwrite));
  Status cert_status = WriteFileAtomically(cert_path, identity.cert_pem(), 0644, overwrite);
  if (!cert_status.ok()) {
    // A key without its certificate is no identity; do not leave half of one behind when this call
    // created it.
    if (!overwrite) ::unlink(key_path.c_str());
    return cert_status;
  }
  return Status::Ok();
}

Result<TlsIdentity> LoadTlsIdentity(const std::string& key_path, const std::string& cert_path) {
  std::string key_pem;
  ScopedWipe wipe(&key_pem);
  HC_RETURN_IF_ERROR(ReadSmallFile(key_path, "TLS key file", kTlsPemFileMaxBytes,
                                   /*private_file=*/true, &key_pem));
  PkeyPtr key;
  {
    BioPtr bio = MemoryBio(key_pem);
    if (!bio) return OpenSslFailure("BIO_new_mem_buf");
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  }
  if (!key) {
    return InvalidArgument("TLS key file " + key_path +
                           ": not an unencrypted PEM private key: " + DrainOpenSslErrors());
  }
  if (EVP_PKEY_is_a(key.get(), "ED25519") != 1) {
    return InvalidArgument("TLS key file " + key_path + ": the key is " +
                           EVP_PKEY_get0_type_name(key.get()) + ", not Ed25519");
  }

  std::string cert_pem;
  HC_RETURN_IF_ERROR(
      ReadSmallFile(cert_path, "TLS certificate file", kTlsPemFileMaxBytes, false, &cert_pem));
  auto cert = ParseCertPem(cert_pem);
  if (!cert.ok()) {
    return cert.status().WithContext("TLS certificate file " + cert_path);
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("TLS certificate file " + cert_path + ": its key is not the key in " +
                           key_path);
  }
  return TlsIdentityBuilder::Make(std::move(key), std::move(cert).value());
}

// ---- Pins ----

Result<TlsPin> TlsPinOfCertificate(const X509* cert) {
  HC_ASSERT(cert != nullptr);
  const X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
  if (spki == nullptr) return OpenSslFailure("X509_get_X509_PUBKEY");
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(spki, &der);
  if (len <= 0) return OpenSslFailure("i2d_X509_PUBKEY");
  const TlsPin pin = Sha256(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return pin;
}

Result<TlsPin> TlsPinFromCertPem(std::string_view cert_pem) {
  HC_ASSIGN_OR_RETURN(const X509Ptr cert, ParseCertPem(cert_pem));
  return TlsPinOfCertificate(cert.get());
}

// ---- SSL_CTX ----

void SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

Result<SslCtxPtr> MakeTlsContext(const TlsIdentity& identity) {
  HC_ASSERT(identity.key() != nullptr && identity.cert() != nullptr);
  SslCtxPtr ctx(SSL_CTX_new_ex(nullptr, nullptr, TLS_method()));
  if (!ctx) return OpenSslFailure("SSL_CTX_new_ex");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1) {
    return OpenSslFailure("SSL_CTX_set_{min,max}_proto_version(TLS 1.3)");
  }
  if (SSL_CTX_use_certificate(c, identity.cert()) != 1) {
    return OpenSslFailure("SSL_CTX_use_certificate");
  }
  if (SSL_CTX_use_PrivateKey(c, identity.key()) != 1)
    return OpenSslFailure("SSL_CTX_use_PrivateKey");
  if (SSL_CTX_check_private_key(c) != 1) return OpenSslFailure("SSL_CTX_check_private_key");
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, AcceptSelfSignedLeaf);
  // A resumed session skips the certificate exchange; pinning wants every handshake to carry it,
  // and peer connections are few and long-lived, so resumption buys nothing.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
  if (SSL_CTX_set_num_tickets(c, 0) != 1) return OpenSslFailure("SSL_CTX_set_num_tickets");
  return ctx;
}

// ---- The client API's TLS ----

namespace {

// Mozilla's "intermediate" TLS 1.2 suites without the finite-field DHE ones: forward secrecy and
// AEAD only. TLS 1.3 suites are configured apart (SSL_CTX_set_ciphersuites) and keep OpenSSL's
// defaults, all of which are AEAD.
constexpr const char* kApiTls12CipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Every PEM certificate in `pem`, in order. `what` names the file in errors. Reading stops at the
// first PEM block that is not a certificate header it can find; running out of input ends the
// loop with PEM_R_NO_START_LINE, and any other error means a damaged certificate.
Result<std::vector<X509Ptr>> ParseCertificates(std::string_view pem, const std::string& what,
                                               size_t max_certs) {
  BioPtr bio = MemoryBio(pem);
  if (!bio) return OpenSslFailure("BIO_new_mem_buf");
  std::vector<X509Ptr> certs;
  ERR_clear_error();
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
    if (!cert) break;
    certs.push_back(std::move(cert));
    if (certs.size() > max_certs) {
      ERR_clear_error();
      return InvalidArgument(what + ": more than " + std::to_string(max_certs) + " certificates");
    }
  }
  const unsigned long err = ERR_peek_last_error();
  const bool at_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (certs.empty()) {
    return InvalidArgument(
        what + ": no PEM certificate (\"-----BEGIN CERTIFICATE-----\"): " + DrainOpenSslErrors());
  }
  if (!at_end) {
    return InvalidArgument(what + ": certificate " + std::to_string(certs.size() + 1) +
                           " is damaged: " + DrainOpenSslErrors());
  }
  ERR_clear_error();
  return certs;
}

Result<std::string> NameText(const X509_NAME* name, const char* what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return OpenSslFailure("BIO_new");
  // XN_FLAG_RFC2253 without ASN1_STRFLGS_ESC_MSB: names with non-ASCII letters print as UTF-8
  // rather than as escaped bytes.
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return OpenSslFailure(std::string("X509_NAME_print_ex(") + what + ")");
  }
  return BioContents(bio.get());
}

// An ASN1 time (UTCTime or GeneralizedTime, always UTC in a certificate) as Unix seconds.
Result<int64_t> UnixSeconds(const ASN1_TIME* t, const char* what) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return OpenSslFailure(std::string("ASN1_TIME_to_tm(") + what + ")");
  }
  return static_cast<int64_t>(::timegm(&tm));
}

Result<ApiTlsCertificateInfo> CertificateInfo(const X509* cert) {
  ApiTlsCertificateInfo info;
  HC_ASSIGN_OR_RETURN(info.subject, NameText(X509_get_subject_name(cert), "subject"));
  HC_ASSIGN_OR_RETURN(info.issuer, NameText(X509_get_issuer_name(cert), "issuer"));
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!serial) return OpenSslFailure("ASN1_INTEGER_to_BN(serial)");
  char* hex = BN_bn2hex(serial.get());
  if (hex == nullptr) return OpenSslFailure("BN_bn2hex(serial)");
  info.serial_hex = hex;
  OPENSSL_free(hex);
  HC_ASSIGN_OR_RETURN(info.not_before_s, UnixSeconds(X509_get0_notBefore(cert), "notBefore"));
  HC_ASSIGN_OR_RETURN(info.not_after_s, UnixSeconds(X509_get0_notAfter(cert), "notAfter"));
  return info;
}

}  // namespace

Result<SslCtxPtr> MakeApiServerTlsContext(const std::string& cert_chain_path,
                                          const std::string& key_path) {
  const std::string chain_what = "API TLS certificate chain file " + cert_chain_path;
  const std::string key_what = "API TLS key file " + key_path;
  std::string chain_pem;
  HC_RETURN_IF_ERROR(ReadSmallFile(cert_chain_path, "API TLS certificate chain file",
                                   kApiTlsChainFileMaxBytes, /*private_file=*/false, &chain_pem));
  HC_ASSIGN_OR_RETURN(std::vector<X509Ptr> chain,
                      ParseCertificates(chain_pem, chain_what, kApiTlsChainCertsMax));

  std::string key_pem;
  ScopedWipe wipe(&key_pem);
  HC_RETURN_IF_ERROR(ReadSmallFile(key_path, "API TLS key file", kTlsPemFileMaxBytes,
                                   /*private_file=*/true, &key_pem));
  // A daemon cannot ask for a passphrase (NoPassword refuses); say so rather than report a
  // decryption failure.
  // PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") and traditional ("Proc-Type: 4,ENCRYPTED") forms.
  if (key_pem.find("-----BEGIN ENCRYPTED") != std::string::npos ||
      key_pem.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
    return InvalidArgument(key_what +
                           ": the key is encrypted with a passphrase, which the node cannot ask "
                           "for; store it unencrypted with mode 0600 (openssl pkey -in KEY -out "
                           "KEY.plain)");
  }
  PkeyPtr key;
  {
    BioPtr bio = MemoryBio(key_pem);
    if (!bio) return OpenSslFailure("BIO_new_mem_buf");
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  }
  if (!key) return InvalidArgument(key_what + ": not a PEM private key: " + DrainOpenSslErrors());
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument(chain_what + ": the first certificate's key is not the key in " +
                           key_path +
                           " (the server certificate must come first, then its intermediates)");
  }

  SslCtxPtr ctx(SSL_CTX_new_ex(nullptr, nullptr, TLS_server_method()));
  if (!ctx) return OpenSslFailure("SSL_CTX_new_ex");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) {
    return OpenSslFailure("SSL_CTX_set_min_proto_version(TLS 1.2)");
  }
  if (SSL_CTX_set_cipher_list(c, kApiTls12CipherList) != 1) {
    return OpenSslFailure("SSL_CTX_set_cipher_list");
  }
  // Client-initiated renegotiation (TLS 1.2) costs the server a handshake per request of a client
  // that asks for it again and again; nothing needs it.
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
  // Idle keep-alive connections (up to api_connections_max) then hold no read or write buffers.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  if (SSL_CTX_use_certificate(c, chain.front().get()) != 1) {
    return InvalidArgument(chain_what +
                           ": the server certificate is not usable: " + DrainOpenSslErrors());
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(c, chain[i].get()) != 1) {
      return InvalidArgument(chain_what + ": certificate " + std::to_string(i + 1) +
                             " is not usable: " + DrainOpenSslErrors());
    }
  }
  if (SSL_CTX_use_PrivateKey(c, key.get()) != 1) {
    return InvalidArgument(key_what + ": the key is not usable: " + DrainOpenSslErrors());
  }
  if (SSL_CTX_check_private_key(c) != 1) return OpenSslFailure("SSL_CTX_check_private_key");
  return ctx;
}

Result<SslCtxPtr> MakeApiClientTlsContext(const std::string& ca_file) {
  SslCtxPtr ctx(SSL_CTX_new_ex(nullptr, nullptr, TLS_client_method()));
  if (!ctx) return OpenSslFailure("SSL_CTX_new_ex");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) {
    return OpenSslFailure("SSL_CTX_set_min_proto_version(TLS 1.2)");
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(c) != 1) {
      return OpenSslFailure("SSL_CTX_set_default_verify_paths");
    }
    return ctx;
  }
  std::string pem;
  HC_RETURN_IF_ERROR(
      ReadSmallFile(ca_file, "CA file", kApiTlsCaFileMaxBytes, /*private_file=*/false, &pem));
  HC_ASSIGN_OR_RETURN(
      std::vector<X509Ptr> cas,
      ParseCertificates(pem, "CA file " + ca_file, std::numeric_limits<size_t>::max()));
  X509_STORE* store = SSL_CTX_get_cert_store(c);
  for (const X509Ptr& ca : cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) return OpenSslFailure("X509_STORE_add_cert");
  }
  return ctx;
}

Status SetApiTlsServerName(SSL* ssl, const std::string& host) {
  HC_ASSERT(ssl != nullptr);
  if (host.empty()) return InvalidArgument("empty TLS server name");
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  // An address literal is checked against the certificate's IP entries and never sent as SNI
  // (RFC 6066 §3 allows host names only).
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1) return Status::Ok();
  ERR_clear_error();
  if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1) {
    return OpenSslFailure("X509_VERIFY_PARAM_set1_host");
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return OpenSslFailure("SSL_set_tlsext_host_name");
  }
  return Status::Ok();
}

std::string TlsVerifyFailure(const SSL* ssl) {
  HC_ASSERT(ssl != nullptr);
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return "";
  return X509_verify_cert_error_string(result);
}

Result<ApiTlsCertificateInfo> ApiTlsCertificateOf(const SSL_CTX* ctx) {
  const X509* cert = ctx != nullptr ? SSL_CTX_get0_certificate(ctx) : nullptr;
  if (cert == nullptr) return FailedPrecondition("the TLS context has no server certificate");
  return CertificateInfo(cert);
}

Result<ApiTlsCertificateInfo> ReadApiTlsCertificate(const std::string& cert_chain_path) {
  std::string chain_pem;
  HC_RETURN_IF_ERROR(ReadSmallFile(cert_chain_path, "API TLS certificate chain file",
                                   kApiTlsChainFileMaxBytes, /*private_file=*/false, &chain_pem));
  HC_ASSIGN_OR_RETURN(
      std::vector<X509Ptr> chain,
      ParseCertificates(chain_pem, "API TLS certificate chain file " + cert_chain_path,
                        kApiTlsChainCertsMax));
  return CertificateInfo(chain.front().get());
}

}  // namespace hc::crypto
