#include "common/encoding.h"

#include <gtest/gtest.h>

namespace hc {
namespace {

TEST(HexTest, RoundTripAndCase) {
  Bytes data = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexEncode(data), "0001abff");
  EXPECT_EQ(HexDecode("0001abff").value(), data);
  EXPECT_EQ(HexDecode("0001ABFF").value(), data);
  EXPECT_EQ(HexDecode("").value(), Bytes{});
}

TEST(HexTest, RejectsMalformedInput) {
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
  EXPECT_FALSE(HexDecode("00 1").ok());
  EXPECT_FALSE(HexDecode("0g").ok());
}

// RFC 4648 §10 test vectors.
TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(ToString(*decoded), plain);
  }
}

TEST(Base64Test, StandardAlphabetNotUrlSafe) {
  Bytes data = {0xfb, 0xff, 0xfe};
  EXPECT_EQ(Base64Encode(data), "+//+");
  EXPECT_FALSE(Base64Decode("-__-").ok());
}

TEST(Base64Test, RejectsMalformedInput) {
  EXPECT_FALSE(Base64Decode("Zg").ok());        // missing padding
  EXPECT_FALSE(Base64Decode("Zg=").ok());       // short padding
  EXPECT_FALSE(Base64Decode("Zm9v!").ok());     // bad character
  EXPECT_FALSE(Base64Decode("Zm 9v").ok());     // whitespace
  EXPECT_FALSE(Base64Decode("Zh==").ok());      // non-canonical trailing bits
  EXPECT_FALSE(Base64Decode("Zg==Zg==").ok());  // data after padding
}

TEST(Base64Test, SizedDecodeNamesTheField) {
  auto r = Base64DecodeSized("Zm9v", 32, "root");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "root: expected 32 bytes, got 3");
  EXPECT_TRUE(Base64DecodeSized("Zm9v", 3, "x").ok());
}

}  // namespace
}  // namespace hc
