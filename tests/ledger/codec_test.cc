// The ledger's encodings (ledger/codec.h): log entries and stored messages.
#include "ledger/codec.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/merkle.h"
#include "healthchain/v1/tx.pb.h"

namespace hc::ledger {
namespace {

pb::Receipt SomeReceipt() {
  pb::Receipt r;
  r.set_tx_id(std::string(32, '\x07'));
  r.set_status(pb::TX_STATUS_DENIED);
  r.set_deny_reason(pb::DENY_REASON_EXPIRED);
  r.set_rule("R15");
  r.set_reason("R15: consent 'c-1' expired");
  r.set_related_id("c-1");
  return r;
}

struct EntryCase {
  std::string tx;
  uint64_t height;
  uint32_t index;
};

// Zero-valued scalars (omitted), an empty tx (omitted), lengths and values that need multi-byte
// varints.
const EntryCase kCases[] = {
    {"\x0a\x03"
     "abc",
     1, 0},
    {std::string(300, 'x'), 70000, 129},
    {"", 5, 2},
    {std::string(70000, '\x01'), uint64_t{1} << 40, 0xffffffffu},
    {"t", 0, 0},
};

TEST(CodecTest, APairKeyParsesBackIntoItsPatientAndGrantee) {
  const std::string patient(kKeyBytes, 'p'), grantee(kKeyBytes, 'g');
  const std::string key = keys::PairConsents(patient, grantee);
  const std::optional<keys::PairKey> pair = keys::ParsePairConsents(key);
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(pair->patient, patient);
  EXPECT_EQ(pair->grantee, grantee);
  EXPECT_FALSE(keys::ParsePairConsents(key.substr(0, key.size() - 1)));                 // short
  EXPECT_FALSE(keys::ParsePairConsents(key + "x"));                                     // long
  EXPECT_FALSE(keys::ParsePairConsents(keys::PatientGranteePrefix(patient, grantee)));  // "c"
  EXPECT_FALSE(keys::ParsePairConsents(""));
}

TEST(CodecTest, LogEntryIsTheCanonicalProtobufEncoding) {
  const std::string receipt = Serialize(SomeReceipt());
  for (const EntryCase& c : kCases) {
    const std::string entry = EncodeLogEntry(c.tx, c.height, c.index, receipt);
    pb::LogEntry parsed;
    ASSERT_TRUE(parsed.ParseFromString(entry));
    EXPECT_EQ(parsed.tx(), c.tx);
    EXPECT_EQ(parsed.height(), c.height);
    EXPECT_EQ(parsed.index(), c.index);
    EXPECT_EQ(Serialize(parsed.receipt()), receipt);
    // Field order and omitted zeros are what protobuf itself writes.
    EXPECT_EQ(Serialize(parsed), entry) << c.tx.size() << "/" << c.height << "/" << c.index;
  }
}

TEST(CodecTest, StreamedLeafHashEqualsTheHashOfTheEncodedEntry) {
  const std::string receipt = Serialize(SomeReceipt());
  for (const EntryCase& c : kCases) {
    EXPECT_EQ(LogEntryLeafHash(c.tx, c.height, c.index, receipt),
              crypto::LeafHash(AsBytes(EncodeLogEntry(c.tx, c.height, c.index, receipt))));
  }
  // Every input is covered: changing any of them changes the hash.
  const EntryCase& c = kCases[1];
  const Hash32 h = LogEntryLeafHash(c.tx, c.height, c.index, receipt);
  EXPECT_NE(h, LogEntryLeafHash(c.tx + "y", c.height, c.index, receipt));
  EXPECT_NE(h, LogEntryLeafHash(c.tx, c.height + 1, c.index, receipt));
  EXPECT_NE(h, LogEntryLeafHash(c.tx, c.height, c.index + 1, receipt));
  EXPECT_NE(h, LogEntryLeafHash(c.tx, c.height, c.index, receipt + "z"));
}

TEST(CodecTest, SerializeWritesExactlyTheMessage) {
  const pb::Receipt r = SomeReceipt();
  const std::string bytes = Serialize(r);
  EXPECT_EQ(bytes, r.SerializeAsString());
  EXPECT_EQ(Serialize(pb::Receipt()), "");
}

TEST(CodecTest, EncodedBlockIsTheProtobufEncodingOfTheBlock) {
  const std::vector<std::vector<std::string>> cases = {
      {}, {""}, {"a", std::string(200, 'b'), ""}, {std::string(70000, 'c')}};
  for (const std::string& header : {std::string(), std::string("h"), std::string(300, 'h')}) {
    for (const auto& txs : cases) {
      pb::Block block;
      block.set_header(header);
      for (const std::string& tx : txs) block.add_txs(tx);
      const std::vector<std::string_view> views(txs.begin(), txs.end());
      EXPECT_EQ(EncodeBlock(header, views), block.SerializeAsString())
          << header.size() << " / " << txs.size();
    }
  }
}

}  // namespace
}  // namespace hc::ledger
