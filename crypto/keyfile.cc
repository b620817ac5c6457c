#include "crypto/keyfile.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <system_error>
#include <utility>

#include "common/assert.h"
#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/secure_file.h"

namespace hc::crypto {
namespace {

namespace json = boost::json;

constexpr int kBase64Variant = sodium_base64_VARIANT_ORIGINAL;

// A fixed-size secret on the stack, wiped when it goes out of scope.
template <size_t N>
class SecretBuffer {
 public:
  SecretBuffer() { sodium_memzero(bytes_.data(), N); }
  ~SecretBuffer() { sodium_memzero(bytes_.data(), N); }
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  uint8_t* data() { return bytes_.data(); }
  ByteView view() const { return ByteView(bytes_.data(), N); }

 private:
  std::array<uint8_t, N> bytes_;
};

// ---- JSON text ----
//
// The key file is written by hand rather than through boost::json::serialize so that the secret
// fields only ever live in one buffer we control and wipe: `out` is reserved up front and must not
// reallocate (a reallocation would leave a copy in freed memory). Base64 needs no JSON escaping.

constexpr size_t kJsonReserveBytes = 1024;
static_assert(kJsonReserveBytes <= kKeyFileMaxBytes);

void AppendSecretBase64(std::string& out, ByteView secret) {
  char buf[128];
  HC_ASSERT_LE(sodium_base64_encoded_len(secret.size(), kBase64Variant), sizeof(buf));
  sodium_bin2base64(buf, sizeof(buf), secret.data(), secret.size(), kBase64Variant);
  out.append(buf);
  sodium_memzero(buf, sizeof(buf));
}

void AppendField(std::string& out, std::string_view name, std::string_view value, bool last) {
  out += "  \"";
  out += name;
  out += "\": \"";
  out += value;
  out += last ? "\"\n" : "\",\n";
}

// Decodes canonical base64 of exactly `size` bytes straight into `out` (a secret buffer), without
// the intermediate copies a generic decoder would leave behind. On failure `out` is wiped.
Status DecodeSecretBase64(std::string_view field, std::string_view b64, uint8_t* out, size_t size) {
  const size_t expected_chars = sodium_base64_encoded_len(size, kBase64Variant) - 1;
  auto fail = [&](const std::string& why) {
    sodium_memzero(out, size);
    return InvalidArgument(std::string(field) + ": " + why);
  };
  if (b64.size() != expected_chars) {
    return fail("expected base64 of " + std::to_string(size) + " bytes (" +
                std::to_string(expected_chars) + " characters), got " + std::to_string(b64.size()) +
                " characters");
  }
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out, size, b64.data(), b64.size(), nullptr, &len, &end, kBase64Variant) !=
          0 ||
      end != b64.data() + b64.size() || len != size) {
    return fail("invalid base64");
  }
  // Reject non-canonical encodings (non-zero unused bits), as common/encoding does for public data.
  char again[128];
  HC_ASSERT_LE(expected_chars + 1, sizeof(again));
  sodium_bin2base64(again, sizeof(again), out, size, kBase64Variant);
  const bool canonical = sodium_memcmp(again, b64.data(), expected_chars) == 0;
  sodium_memzero(again, sizeof(again));
  if (!canonical) return fail("non-canonical base64");
  return Status::Ok();
}

// Boost.JSON copies every string it parses into the value's storage, and keeps a parse stack. Both
// live in this arena, which is wiped when parsing is done, so the secret fields leave no copy in
// the heap. Key files are at most kKeyFileMaxBytes, well within the arena; anything that did not
// fit would spill into the heap (still correct, only not wiped).
struct ParseArena {
  unsigned char stack[kKeyFileMaxBytes];
  unsigned char values[4 * kKeyFileMaxBytes];
  ~ParseArena() { sodium_memzero(this, sizeof(*this)); }
};

template <typename T, typename Fn>
Result<T> WithParsedObject(std::string_view text, Fn&& fn) {
  if (text.size() > kKeyFileMaxBytes) {
    return InvalidArgument("larger than " + std::to_string(kKeyFileMaxBytes) + " bytes");
  }
  auto arena = std::make_unique<ParseArena>();
  json::monotonic_resource values(arena->values, sizeof(arena->values));
  json::parser parser(json::storage_ptr(), json::parse_options(), arena->stack,
                      sizeof(arena->stack));
  parser.reset(json::storage_ptr(&values));
  json::error_code ec;
  parser.write(text.data(), text.size(), ec);
  if (ec) return InvalidArgument("not valid JSON: " + ec.message());
  const json::value root = parser.release();
  if (!root.is_object()) return InvalidArgument("not a JSON object");
  return fn(root.get_object());
}

Status CheckKnownFields(const json::object& o, std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    const std::string_view key(kv.key().data(), kv.key().size());
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return InvalidArgument("unknown field \"" + std::string(key) + "\"");
    }
  }
  return Status::Ok();
}

Result<std::string_view> GetString(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return InvalidArgument("missing field \"" + std::string(name) + "\"");
  if (!v->is_string()) return InvalidArgument(std::string(name) + ": must be a string");
  return std::string_view(v->get_string().data(), v->get_string().size());
}

Status CheckHeader(const json::object& o, std::string_view type) {
  const json::value* version = o.if_contains("version");
  if (version == nullptr) return InvalidArgument("missing field \"version\"");
  if (!version->is_int64() || version->get_int64() != kKeyFileVersion) {
    return InvalidArgument("version: unsupported (expected " + std::to_string(kKeyFileVersion) +
                           ")");
  }
  HC_ASSIGN_OR_RETURN(const std::string_view got, GetString(o, "type"));
  if (got != type) {
    return InvalidArgument("type: expected \"" + std::string(type) + "\", got \"" +
                           std::string(got) + "\"");
  }
  return Status::Ok();
}

template <size_t N>
Result<std::array<uint8_t, N>> GetPublicBytes(const json::object& o, std::string_view name) {
  HC_ASSIGN_OR_RETURN(const std::string_view b64, GetString(o, name));
  HC_ASSIGN_OR_RETURN(const Bytes raw, Base64DecodeSized(b64, N, name));
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), raw.data(), N);
  return out;
}

// True when `pk` is an X25519 key a sealed box can be made for. Every low-order point (the only
// ones for which crypto_box_seal fails) gives an all-zero product with a clamped scalar, which
// crypto_scalarmult reports as an error; the scalar itself does not matter.
bool IsUsableX25519PublicKey(const X25519PublicKey& pk) {
  std::array<uint8_t, crypto_scalarmult_SCALARBYTES> scalar{};
  scalar[0] = 9;
  std::array<uint8_t, crypto_scalarmult_BYTES> product;
  return crypto_scalarmult(product.data(), scalar.data(), pk.data()) == 0;
}

}  // namespace

// ---- Identities ----

Identity GenerateIdentity() { return Identity{GenerateEd25519(), GenerateX25519()}; }

PublicIdentity ToPublic(const Identity& identity) {
  return PublicIdentity{identity.signing.public_key, identity.encryption.public_key};
}

Hash32 IdentityId(const Ed25519PublicKey& signing_key) {
  return DomainHash(kIdentityIdDomain, signing_key);
}

std::string IdentityIdHex(const Ed25519PublicKey& signing_key) {
  return HexEncode(IdentityId(signing_key));
}

std::string EncodeIdentityJson(const Identity& identity) {
  std::string out;
  out.reserve(kJsonReserveBytes);
  const size_t capacity = out.capacity();
  out += "{\n  \"version\": " + std::to_string(kKeyFileVersion) + ",\n";
  AppendField(out, "type", kIdentityFileType, false);
  AppendField(out, "ed25519_public", Base64Encode(identity.signing.public_key), false);
  out += "  \"ed25519_seed\": \"";
  AppendSecretBase64(out, identity.signing.secret_key.seed());
  out += "\",\n";
  AppendField(out, "x25519_public", Base64Encode(identity.encryption.public_key), false);
  out += "  \"x25519_secret\": \"";
  AppendSecretBase64(out, identity.encryption.secret_key.bytes());
  out += "\"\n}\n";
  HC_ASSERT_EQ(out.capacity(), capacity);  // no reallocation left a copy of the secrets behind
  return out;
}

Result<Identity> DecodeIdentityJson(std::string_view text) {
  internal::EnsureSodiumInit();
  return WithParsedObject<Identity>(text, [](const json::object& o) -> Result<Identity> {
    HC_RETURN_IF_ERROR(CheckKnownFields(o, {"version", "type", "ed25519_public", "ed25519_seed",
                                            "x25519_public", "x25519_secret"}));
    HC_RETURN_IF_ERROR(CheckHeader(o, kIdentityFileType));

    HC_ASSIGN_OR_RETURN(const auto ed_public,
                        GetPublicBytes<kEd25519PublicKeySize>(o, "ed25519_public"));
    HC_ASSIGN_OR_RETURN(const std::string_view seed_b64, GetString(o, "ed25519_seed"));
    SecretBuffer<kEd25519SeedSize> seed;
    HC_RETURN_IF_ERROR(DecodeSecretBase64("ed25519_seed", seed_b64, seed.data(), kEd25519SeedSize));
    HC_ASSIGN_OR_RETURN(Ed25519KeyPair signing, Ed25519FromSeed(seed.view()));
    if (signing.public_key != ed_public) {
      return InvalidArgument("ed25519_public: does not match the key derived from ed25519_seed");
    }

    HC_ASSIGN_OR_RETURN(const auto x_public,
                        GetPublicBytes<kX25519PublicKeySize>(o, "x25519_public"));
    HC_ASSIGN_OR_RETURN(const std::string_view secret_b64, GetString(o, "x25519_secret"));
    SecretBuffer<kX25519SecretKeySize> secret;
    HC_RETURN_IF_ERROR(
        DecodeSecretBase64("x25519_secret", secret_b64, secret.data(), kX25519SecretKeySize));
    HC_ASSIGN_OR_RETURN(X25519KeyPair encryption, X25519FromSecret(secret.view()));
    if (encryption.public_key != x_public) {
      return InvalidArgument("x25519_public: does not match the key derived from x25519_secret");
    }
    return Identity{std::move(signing), std::move(encryption)};
  });
}

std::string EncodePublicIdentityJson(const PublicIdentity& identity) {
  std::string out = "{\n  \"version\": " + std::to_string(kKeyFileVersion) + ",\n";
  AppendField(out, "type", kPublicIdentityFileType, false);
  AppendField(out, "id", IdentityIdHex(identity.signing_key), false);
  AppendField(out, "ed25519_public", Base64Encode(identity.signing_key), false);
  AppendField(out, "x25519_public", Base64Encode(identity.encryption_key), true);
  out += "}\n";
  return out;
}

Result<PublicIdentity> DecodePublicIdentityJson(std::string_view text) {
  internal::EnsureSodiumInit();
  return WithParsedObject<PublicIdentity>(
      text, [](const json::object& o) -> Result<PublicIdentity> {
        HC_RETURN_IF_ERROR(
            CheckKnownFields(o, {"version", "type", "id", "ed25519_public", "x25519_public"}));
        HC_RETURN_IF_ERROR(CheckHeader(o, kPublicIdentityFileType));
        PublicIdentity out;
        HC_ASSIGN_OR_RETURN(out.signing_key,
                            GetPublicBytes<kEd25519PublicKeySize>(o, "ed25519_public"));
        // Without a secret to derive it from, the key itself is checked: on the curve, canonical,
        // not of small order (the keys Ed25519Verify would reject anyway).
        if (crypto_core_ed25519_is_valid_point(out.signing_key.data()) != 1) {
          return InvalidArgument("ed25519_public: not a valid Ed25519 public key");
        }
        HC_ASSIGN_OR_RETURN(out.encryption_key,
                            GetPublicBytes<kX25519PublicKeySize>(o, "x25519_public"));
        if (!IsUsableX25519PublicKey(out.encryption_key)) {
          return InvalidArgument("x25519_public: not a usable X25519 public key (low order)");
        }
        HC_ASSIGN_OR_RETURN(const std::string_view id, GetString(o, "id"));
        if (id != IdentityIdHex(out.signing_key)) {
          return InvalidArgument("id: does not match ed25519_public (expected " +
                                 IdentityIdHex(out.signing_key) + ")");
        }
        return out;
      });
}

Status SaveIdentity(const Identity& identity, const std::string& path, bool overwrite) {
  std::string text = EncodeIdentityJson(identity);
  ScopedWipe wipe(&text);
  return WriteFileAtomically(path, text, 0600, overwrite);
}

Result<Identity> LoadIdentity(const std::string& path) {
  std::string text;
  ScopedWipe wipe(&text);
  HC_RETURN_IF_ERROR(
      ReadSmallFile(path, "key file", kKeyFileMaxBytes, /*private_file=*/true, &text));
  Result<Identity> identity = DecodeIdentityJson(text);
  if (!identity.ok()) return identity.status().WithContext("key file " + path);
  return identity;
}

Status SavePublicIdentity(const PublicIdentity& identity, const std::string& path, bool overwrite) {
  return WriteFileAtomically(path, EncodePublicIdentityJson(identity), 0644, overwrite);
}

Result<PublicIdentity> LoadPublicIdentity(const std::string& path) {
  std::string text;
  HC_RETURN_IF_ERROR(
      ReadSmallFile(path, "key file", kKeyFileMaxBytes, /*private_file=*/false, &text));
  Result<PublicIdentity> identity = DecodePublicIdentityJson(text);
  if (!identity.ok()) return identity.status().WithContext("public key file " + path);
  return identity;
}

}  // namespace hc::crypto
