#include "crypto/hash.h"

#include <gtest/gtest.h>

#include <string>

#include "common/encoding.h"

namespace hc::crypto {
namespace {

std::string Hex(const Hash32& h) { return HexEncode(h); }

// FIPS 180-2 / NIST CAVS known answers.
constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char k448Msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr char k448[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kMillionA[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(Hex(Sha256({})), kEmpty);
  EXPECT_EQ(Hex(Sha256(AsBytes("abc"))), kAbc);
  EXPECT_EQ(Hex(Sha256(AsBytes(k448Msg))), k448);
}

TEST(Sha256Test, HasherKnownAnswers) {
  Sha256Hasher h;
  EXPECT_EQ(Hex(h.Final()), kEmpty);
  EXPECT_EQ(Hex(h.Update("abc").Final()), kAbc);
  EXPECT_EQ(Hex(h.Update(std::string_view(k448Msg)).Final()), k448);
}

TEST(Sha256Test, MillionAInChunks) {
  Sha256Hasher h;
  // Chunks of a size that does not divide the 64-byte block, to cross block boundaries mid-update.
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.Update(chunk);
  EXPECT_EQ(Hex(h.Final()), kMillionA);
  // Byte at a time for part of it, then the rest.
  for (int i = 0; i < 1000; ++i) h.UpdateByte('a');
  for (int i = 0; i < 999; ++i) h.Update(chunk);
  EXPECT_EQ(Hex(h.Final()), kMillionA);
}

TEST(Sha256Test, SplitUpdatesEqualOneShot) {
  const std::string msg = k448Msg;
  for (size_t cut = 0; cut <= msg.size(); ++cut) {
    Sha256Hasher h;
    h.Update(std::string_view(msg).substr(0, cut)).Update(std::string_view(msg).substr(cut));
    EXPECT_EQ(Hex(h.Final()), k448) << "cut at " << cut;
  }
}

TEST(Sha256Test, OneHasherReusedForManyDigests) {
  Sha256Hasher h;
  for (int i = 0; i < 1000; ++i) {
    const std::string msg = "message " + std::to_string(i);
    EXPECT_EQ(h.Update(msg).Final(), Sha256(AsBytes(msg))) << i;
    // Interleave the known answers so any state leaking between digests shows up.
    if (i % 100 == 0) {
      EXPECT_EQ(Hex(h.Update("abc").Final()), kAbc);
    }
  }
}

TEST(Sha256Test, ResetDiscardsPartialInput) {
  Sha256Hasher h;
  h.Update("garbage");
  h.Reset();
  EXPECT_EQ(Hex(h.Update("abc").Final()), kAbc);
}

TEST(DomainHashTest, IsSha256OfDomainThenData) {
  const Bytes data = ToBytes("body");
  EXPECT_EQ(DomainHash("hc/txid/v1", data), Sha256(AsBytes("hc/txid/v1body")));
  EXPECT_EQ(DomainHash("", AsBytes("abc")), Sha256(AsBytes("abc")));
}

TEST(DomainHashTest, DiffersByDomain) {
  const Bytes data = ToBytes("the same bytes");
  EXPECT_NE(DomainHash("hc/txid/v1", data), DomainHash("hc/id/v1", data));
  EXPECT_NE(DomainHash("hc/txid/v1", data), DomainHash("hc/txid/v2", data));
  EXPECT_NE(DomainHash("hc/txid/v1", data), Sha256(data));
}

}  // namespace
}  // namespace hc::crypto
