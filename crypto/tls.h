// TLS identities of nodes and the TLS 1.3 context validators talk through (DESIGN.md §6).
//
// Every node has a TLS identity apart from its consensus key: an Ed25519 key and a self-signed
// X.509 v3 certificate whose common name is the node's name. Peers do not trust the certificate
// through a chain of authorities; they pin its key instead. The pin is SHA-256 of the certificate's
// DER SubjectPublicKeyInfo, the value the genesis file lists for each node. Pinning the key rather
// than the whole certificate lets an operator re-issue the certificate (new validity, new name)
// without touching genesis, as long as the key stays the same.
//
// The key is written as a PKCS#8 PEM file with mode 0600 and refused on load when group or others
// may read or write it (as ssh does for private keys); the certificate is a PEM file with mode
// 0644.
//
// MakeTlsContext builds the SSL_CTX both ends of a peer connection use: TLS 1.3 only, mutual
// authentication, no session resumption. Its verify callback accepts a self-signed certificate, so
// the handshake proves only that the peer holds the key of the certificate it presented; the caller
// MUST then compare TlsPinOfCertificate(peer certificate) with the pin it expects for that peer.
//
// The client API is different (MakeApiServerTlsContext and the functions after it): hospital
// systems, insurers and hcctl reach it the way they reach any HTTPS service, trusting the server
// through certificate authorities (a hospital's own CA or a public one) rather than pins. The node
// presents a certificate chain issued by such a CA, with a key of any type OpenSSL supports (RSA,
// ECDSA, Ed25519); clients check the chain against their CA file or the system store and check that
// the certificate names the host they dialled.
//
// All functions are thread-safe. A TlsIdentity is immutable after construction and may be shared
// between threads for reading.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"

namespace hc::crypto {

// SHA-256 of the DER SubjectPublicKeyInfo of a certificate.
using TlsPin = Hash32;

// A self-signed certificate for a pinned key has no reason to expire: rotating the key means a new
// pin in genesis anyway. 100 years, and backdated by a day so that a peer whose clock is somewhat
// behind the generating machine's does not see a certificate from the future.
inline constexpr int kTlsCertValidityDays = 36500;
inline constexpr long kTlsCertBackdateSeconds = 24 * 3600;
// X.520's upper bound for a common name.
inline constexpr size_t kTlsCommonNameMaxBytes = 64;
// An Ed25519 key or certificate PEM file is well under 2 KiB; anything bigger is not one and is
// refused before parsing.
inline constexpr size_t kTlsPemFileMaxBytes = 16 * 1024;

// A node's TLS key and certificate. Movable, not copyable.
class TlsIdentity {
 public:
  TlsIdentity(TlsIdentity&& other) noexcept;
  TlsIdentity& operator=(TlsIdentity&& other) noexcept;
  TlsIdentity(const TlsIdentity&) = delete;
  TlsIdentity& operator=(const TlsIdentity&) = delete;
  ~TlsIdentity();

  // The certificate's key pin (what peers and genesis know this node by).
  const TlsPin& pin() const { return pin_; }
  // The certificate as PEM (public; what SaveTlsIdentity writes to the certificate file).
  const std::string& cert_pem() const { return cert_pem_; }
  // The certificate's subject common name.
  const std::string& common_name() const { return common_name_; }

  // Borrowed OpenSSL handles, valid while this object lives. For MakeTlsContext and tests.
  EVP_PKEY* key() const { return key_; }
  X509* cert() const { return cert_; }

 private:
  friend class TlsIdentityBuilder;
  TlsIdentity(EVP_PKEY* key, X509* cert, TlsPin pin, std::string cert_pem, std::string common_name);

  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  TlsPin pin_{};
  std::string cert_pem_;
  std::string common_name_;
};

// A fresh Ed25519 key from the OS random source and a self-signed X.509 v3 certificate for it:
// subject = issuer = CN=`common_name`, a random 159-bit serial number, valid from
// kTlsCertBackdateSeconds ago for kTlsCertValidityDays, basicConstraints CA:FALSE, keyUsage
// digitalSignature, extendedKeyUsage serverAuth and clientAuth. Returns kInvalidArgument when
// `common_name` is empty, longer than kTlsCommonNameMaxBytes or holds control characters, and
// kInternal when OpenSSL fails.
Result<TlsIdentity> GenerateTlsIdentity(std::string_view common_name);

// Writes the key (PKCS#8 PEM, mode 0600) to `key_path` and the certificate (PEM, mode 0644) to
// `cert_path`, each atomically: a temporary file beside it, synced, moved into place, and the
// directory synced. Returns kAlreadyExists, naming the path, when either file exists and
// `overwrite` is false (nothing is written then); kIoError when the OS refuses, naming the path. On
// failure no partial file is left at either path.
Status SaveTlsIdentity(const TlsIdentity& identity, const std::string& key_path,
                       const std::string& cert_path, bool overwrite = false);

// Reads a key and its certificate. Returns:
//   kPermissionDenied when group or others may read or write the key file (mode & 077), naming the
//     path and its mode (nothing is read from it in that case);
//   kNotFound / kIoError when a file cannot be opened or read;
//   kInvalidArgument when a file is not what it should be: too large, not PEM, an encrypted key, a
//     key that is not Ed25519, or a certificate whose key is not the key in `key_path`; the message
//     names the path.
Result<TlsIdentity> LoadTlsIdentity(const std::string& key_path, const std::string& cert_path);

// The pin of a PEM certificate (for tools that build genesis files from certificate files).
// Returns kInvalidArgument when `cert_pem` holds no certificate.
Result<TlsPin> TlsPinFromCertPem(std::string_view cert_pem);

// The pin of a certificate, e.g. the one a peer presented (SSL_get0_peer_certificate). Returns
// kInternal only when OpenSSL cannot encode the certificate's key.
Result<TlsPin> TlsPinOfCertificate(const X509* cert);

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// A context for both the client and the server end of a peer connection: TLS 1.3 only; this
// identity's certificate and key; SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, so that each
// end must present a certificate and prove it holds its key; a verify callback that accepts a
// self-signed leaf (chain errors at depth 0 only; expiry and other errors still fail); no session
// tickets or cache (every connection is a full handshake, so the peer certificate is always
// present). Returns kInternal when OpenSSL fails.
Result<SslCtxPtr> MakeTlsContext(const TlsIdentity& identity);

// ---- The client API's TLS (certificate authorities, not pins) ----

// A certificate chain file holds the server certificate and its intermediates, a few KiB each.
inline constexpr size_t kApiTlsChainFileMaxBytes = 256 * 1024;
inline constexpr size_t kApiTlsChainCertsMax = 16;
// A CA file may be a whole bundle (/etc/ssl/certs/ca-certificates.crt is about 200 KiB).
inline constexpr size_t kApiTlsCaFileMaxBytes = 4 * 1024 * 1024;

// The server context of the client API: TLS 1.2 at least, TLS 1.3 when the client offers it
// (OpenSSL always picks the highest version both ends support); TLS 1.2 only with ECDHE and AEAD
// cipher suites and without renegotiation. Clients are not asked for a certificate: they
// authenticate by signed requests (api/auth.h). `cert_chain_path` is a PEM file with the server
// certificate first, then its intermediates (the root may be left out); `key_path` is the
// certificate's unencrypted PEM private key, which group and others must not be able to access.
// Returns, naming the file:
//   kNotFound / kIoError when a file cannot be opened or read;
//   kPermissionDenied when group or others may read or write the key file;
//   kInvalidArgument when a file is not what it should be: too large, no PEM certificate, a damaged
//     certificate, more than kApiTlsChainCertsMax certificates, an encrypted or unparseable key,
//     or a key that is not the first certificate's;
//   kInternal when OpenSSL fails otherwise.
Result<SslCtxPtr> MakeApiServerTlsContext(const std::string& cert_chain_path,
                                          const std::string& key_path);

// A client context for the client API: TLS 1.2 at least, the server's certificate chain verified
// against the PEM certificates in `ca_file`, or against the system's store (OpenSSL's default
// paths, which honour SSL_CERT_FILE and SSL_CERT_DIR) when `ca_file` is empty. Call
// SetApiTlsServerName on each connection so the certificate is also checked to name the server.
// Returns kNotFound / kIoError / kInvalidArgument (no PEM certificate, too large) naming `ca_file`,
// and kInternal when OpenSSL fails.
Result<SslCtxPtr> MakeApiClientTlsContext(const std::string& ca_file);

// Before the handshake of a client connection: the server's certificate must name `host` (a DNS
// name, matched against its subjectAltName DNS entries, wildcards only as a whole left-most label;
// or an IP address literal, matched against its IP entries), and a DNS name is sent as SNI.
// kInvalidArgument for an empty host; kInternal when OpenSSL fails.
Status SetApiTlsServerName(SSL* ssl, const std::string& host);

// Why the server's certificate was not accepted in a finished or failed handshake ("unable to get
// local issuer certificate", "hostname mismatch", ...), or "" when it was verified.
std::string TlsVerifyFailure(const SSL* ssl);

// What an operator needs to know about the server certificate of the client API (the leaf, the
// first certificate of the chain): to log it at start and after a reload, and to export its expiry
// as a metric.
struct ApiTlsCertificateInfo {
  std::string subject;       // RFC 2253, e.g. "CN=node1.hospital.example,O=St Mary"
  std::string issuer;        // RFC 2253
  std::string serial_hex;    // upper-case hex, as `openssl x509 -serial` prints it
  int64_t not_before_s = 0;  // Unix seconds
  int64_t not_after_s = 0;   // Unix seconds: the certificate's expiry
};

// The server certificate of `ctx` (as MakeApiServerTlsContext builds it). kFailedPrecondition
// when `ctx` holds no certificate; kInternal when OpenSSL cannot read its names or dates.
Result<ApiTlsCertificateInfo> ApiTlsCertificateOf(const SSL_CTX* ctx);

// The first certificate of the PEM chain file `cert_chain_path` (for tools and tests that look at
// the files rather than a context). Errors as MakeApiServerTlsContext's for the chain file.
Result<ApiTlsCertificateInfo> ReadApiTlsCertificate(const std::string& cert_chain_path);

}  // namespace hc::crypto
