#include "crypto/keyfile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "tests/temp_dir_test.h"

namespace hc::crypto {
namespace {

namespace fs = std::filesystem;

class KeyFileTest : public ::hc::test::TempDirTest {
 protected:
  // Writes `text` as a 0600 file, as a key file would be.
  std::string WriteKeyFile(const std::string& name, const std::string& text) {
    std::string path = Path(name);
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0600);
    return path;
  }

  // A valid key file's text with `field`'s value replaced by `value` (a raw JSON value).
  static std::string WithField(const Identity& id, const std::string& field,
                               const std::string& value) {
    std::string text = EncodeIdentityJson(id);
    const std::string key = "\"" + field + "\": ";
    const size_t at = text.find(key);
    HC_ASSERT(at != std::string::npos);
    const size_t start = at + key.size();
    const size_t end = text.find_first_of(",\n", start);
    return text.replace(start, end - start, value);
  }
};

void ExpectSameIdentity(const Identity& a, const Identity& b) {
  EXPECT_EQ(a.signing.public_key, b.signing.public_key);
  EXPECT_EQ(Bytes(a.signing.secret_key.seed().begin(), a.signing.secret_key.seed().end()),
            Bytes(b.signing.secret_key.seed().begin(), b.signing.secret_key.seed().end()));
  EXPECT_EQ(a.encryption.public_key, b.encryption.public_key);
  EXPECT_EQ(Bytes(a.encryption.secret_key.bytes().begin(), a.encryption.secret_key.bytes().end()),
            Bytes(b.encryption.secret_key.bytes().begin(), b.encryption.secret_key.bytes().end()));
}

TEST_F(KeyFileTest, SaveLoadRoundTripWithMode0600) {
  const Identity id = GenerateIdentity();
  const std::string path = Path("node.key");
  ASSERT_TRUE(SaveIdentity(id, path).ok());
  EXPECT_EQ(Mode(path), 0600u);
  auto loaded = LoadIdentity(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSameIdentity(*loaded, id);
  // The loaded keys work: sign and verify.
  const Ed25519Signature sig = Ed25519Sign(loaded->signing.secret_key, ToBytes("m"));
  EXPECT_TRUE(Ed25519Verify(id.signing.public_key, ToBytes("m"), sig));
  // No temporary file is left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1);
}

TEST_F(KeyFileTest, Mode0600EvenUnderAPermissiveUmask) {
  const mode_t old = ::umask(0);
  const std::string path = Path("k");
  const Status s = SaveIdentity(GenerateIdentity(), path);
  ::umask(old);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Mode(path), 0600u);
}

TEST_F(KeyFileTest, FileFormat) {
  const Identity id = GenerateIdentity();
  const std::string path = Path("k");
  ASSERT_TRUE(SaveIdentity(id, path).ok());
  const std::string text = Read(path);
  EXPECT_NE(text.find("\"version\": 1"), std::string::npos);
  EXPECT_NE(text.find("\"type\": \"healthchain-identity\""), std::string::npos);
  EXPECT_NE(text.find("\"ed25519_public\": \"" + Base64Encode(id.signing.public_key) + "\""),
            std::string::npos);
  EXPECT_NE(text.find("\"ed25519_seed\": \"" + Base64Encode(id.signing.secret_key.seed()) + "\""),
            std::string::npos);
  EXPECT_NE(text.find("\"x25519_public\": \"" + Base64Encode(id.encryption.public_key) + "\""),
            std::string::npos);
  EXPECT_NE(
      text.find("\"x25519_secret\": \"" + Base64Encode(id.encryption.secret_key.bytes()) + "\""),
      std::string::npos);
}

TEST_F(KeyFileTest, GroupOrWorldAccessibleFileIsRefused) {
  const std::string path = Path("k");
  ASSERT_TRUE(SaveIdentity(GenerateIdentity(), path).ok());
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602, 0620, 0610, 0601, 0666}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto r = LoadIdentity(path);
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << std::oct << mode;
    // Like ssh, the message names the file and its mode.
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(r.status().message().find(octal), std::string::npos) << r.status().message();
  }
  // Owner-only modes are fine (0400 for a read-only key).
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(LoadIdentity(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(LoadIdentity(path).ok());
}

TEST_F(KeyFileTest, RefusesToOverwriteWithoutForce) {
  const Identity first = GenerateIdentity();
  const std::string path = Path("k");
  ASSERT_TRUE(SaveIdentity(first, path).ok());
  const Status s = SaveIdentity(GenerateIdentity(), path);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  ExpectSameIdentity(*LoadIdentity(path), first);  // untouched

  const Identity second = GenerateIdentity();
  ASSERT_TRUE(SaveIdentity(second, path, /*overwrite=*/true).ok());
  EXPECT_EQ(Mode(path), 0600u);
  ExpectSameIdentity(*LoadIdentity(path), second);
}

TEST_F(KeyFileTest, MissingDirectoryIsAnIoError) {
  const Status s = SaveIdentity(GenerateIdentity(), Path("no/such/dir/k"));
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("no/such/dir/k"), std::string::npos) << s.message();
}

TEST_F(KeyFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadIdentity(Path("absent")).status().code(), StatusCode::kNotFound);
}

TEST_F(KeyFileTest, DirectoryIsNotAKeyFile) {
  EXPECT_EQ(LoadIdentity(dir_).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyFileTest, CorruptJsonIsRefused) {
  const Identity id = GenerateIdentity();
  const std::string good = EncodeIdentityJson(id);
  for (const std::string& text :
       {std::string(), std::string("not json"), good.substr(0, good.size() / 2),
        std::string("[1,2,3]"), std::string("null"), good + "{}", std::string(5000, ' ')}) {
    auto r = LoadIdentity(WriteKeyFile("k", text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  }
}

TEST_F(KeyFileTest, EveryFieldIsValidated) {
  const Identity id = GenerateIdentity();
  const Identity other = GenerateIdentity();
  struct Case {
    std::string field;
    std::string value;
  };
  const std::string short_b64 = "\"" + Base64Encode(Bytes(31, 7)) + "\"";
  const std::string long_b64 = "\"" + Base64Encode(Bytes(33, 7)) + "\"";
  const std::vector<Case> cases = {
      {"version", "2"},
      {"version", "\"1\""},
      {"version", "1.0"},
      {"type", "\"healthchain-public-identity\""},
      {"type", "7"},
      {"ed25519_public", short_b64},
      {"ed25519_public", long_b64},
      {"ed25519_public", "\"!!not base64!!\""},
      {"ed25519_public", "\"" + Base64Encode(other.signing.public_key) + "\""},
      {"ed25519_seed", short_b64},
      {"ed25519_seed", long_b64},
      {"ed25519_seed", "\"" + std::string(43, '*') + "=\""},
      {"ed25519_seed", "\"" + Base64Encode(other.signing.secret_key.seed()) + "\""},
      {"ed25519_seed", "null"},
      {"x25519_public", short_b64},
      {"x25519_public", "\"" + Base64Encode(other.encryption.public_key) + "\""},
      {"x25519_secret", long_b64},
      {"x25519_secret", "\"" + Base64Encode(other.encryption.secret_key.bytes()) + "\""},
      {"x25519_secret", "[]"},
  };
  for (const Case& c : cases) {
    auto r = LoadIdentity(WriteKeyFile("k", WithField(id, c.field, c.value)));
    ASSERT_FALSE(r.ok()) << c.field << " = " << c.value;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    // The message names the field at fault, and the file.
    const bool names_field = r.status().message().find(c.field) != std::string::npos;
    EXPECT_TRUE(names_field) << c.field << ": " << r.status().message();
  }
}

TEST_F(KeyFileTest, NonCanonicalBase64Refused) {
  const Identity id = GenerateIdentity();
  // The last symbol of 32 bytes' base64 carries 2 unused bits; setting one keeps the decoded bytes
  // but makes the encoding non-canonical.
  std::string seed = Base64Encode(id.signing.secret_key.seed());
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const size_t last = seed.size() - 2;  // before the single '='
  seed[last] = kAlphabet[kAlphabet.find(seed[last]) | 1];
  if (seed == Base64Encode(id.signing.secret_key.seed())) {
    seed[last] = kAlphabet[kAlphabet.find(seed[last]) | 2];
  }
  auto r = DecodeIdentityJson(WithField(id, "ed25519_seed", "\"" + seed + "\""));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ed25519_seed"), std::string::npos);
}

TEST_F(KeyFileTest, MissingAndUnknownFieldsRefused) {
  const Identity id = GenerateIdentity();
  const std::string good = EncodeIdentityJson(id);
  for (const std::string field :
       {"version", "type", "ed25519_public", "ed25519_seed", "x25519_public", "x25519_secret"}) {
    // Rename the field so it is missing (and the new name unknown): either is refused, naming it.
    std::string text = good;
    text.replace(text.find("\"" + field + "\""), field.size() + 2, "\"" + field + "_x\"");
    auto r = DecodeIdentityJson(text);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  }
}

TEST_F(KeyFileTest, EncodeDecodeRoundTrip) {
  const Identity id = GenerateIdentity();
  std::string text = EncodeIdentityJson(id);
  auto decoded = DecodeIdentityJson(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameIdentity(*decoded, id);
}

TEST_F(KeyFileTest, IdentityId) {
  const Identity id = GenerateIdentity();
  const Hash32 expected = Sha256(AsBytes("hc/id/v1" + ToString(id.signing.public_key)));
  EXPECT_EQ(IdentityId(id.signing.public_key), expected);
  EXPECT_EQ(IdentityIdHex(id.signing.public_key), HexEncode(expected));
  EXPECT_EQ(IdentityIdHex(id.signing.public_key).size(), 64u);
}

TEST_F(KeyFileTest, PublicExportRoundTrip) {
  const Identity id = GenerateIdentity();
  const PublicIdentity pub = ToPublic(id);
  const std::string path = Path("node.pub.json");
  ASSERT_TRUE(SavePublicIdentity(pub, path).ok());
  EXPECT_EQ(Mode(path), 0644u);
  const std::string text = Read(path);
  EXPECT_EQ(text.find("seed"), std::string::npos);
  EXPECT_EQ(text.find("secret"), std::string::npos);
  EXPECT_NE(text.find(IdentityIdHex(pub.signing_key)), std::string::npos);
  auto loaded = LoadPublicIdentity(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->signing_key, pub.signing_key);
  EXPECT_EQ(loaded->encryption_key, pub.encryption_key);
  EXPECT_EQ(SavePublicIdentity(pub, path).code(), StatusCode::kAlreadyExists);
  // A private key file is not a public one, and vice versa.
  ASSERT_TRUE(SaveIdentity(id, Path("k")).ok());
  EXPECT_FALSE(LoadPublicIdentity(Path("k")).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_FALSE(LoadIdentity(path).ok());
}

TEST_F(KeyFileTest, PublicExportValidated) {
  const PublicIdentity pub = ToPublic(GenerateIdentity());
  const std::string good = EncodePublicIdentityJson(pub);
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  // Wrong id.
  const std::string other_id = IdentityIdHex(GenerateEd25519().public_key);
  auto r = DecodePublicIdentityJson(replace(IdentityIdHex(pub.signing_key), other_id));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("id"), std::string::npos);
  // A small-order Ed25519 key (the identity point) and a low-order X25519 key.
  Ed25519PublicKey small{};
  small[0] = 1;
  r = DecodePublicIdentityJson(replace(Base64Encode(pub.signing_key), Base64Encode(small)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ed25519_public"), std::string::npos);
  r = DecodePublicIdentityJson(
      replace(Base64Encode(pub.encryption_key), Base64Encode(Bytes(32, 0))));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("x25519_public"), std::string::npos);
}

}  // namespace
}  // namespace hc::crypto
