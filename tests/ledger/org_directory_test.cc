// OrgDirectory: the org records held in memory in front of the store answer every "o" key of the
// state family, including the misses, and pass everything else to the store.
#include "ledger/org_directory.h"

#include <gtest/gtest.h>

#include "ledger/codec.h"
#include "ledger/mem_store.h"

namespace hc::ledger {
namespace {

std::string OrgKey(char c) { return keys::Org(std::string(32, c)); }

class OrgDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KvBatch b;
    b.Put(Cf::kState, OrgKey('a'), "org-a");
    b.Put(Cf::kState, OrgKey('b'), "org-b");
    b.Put(Cf::kState, keys::Patient(std::string(32, 'p')), "patient-p");
    b.Put(Cf::kIndex, OrgKey('i'), "not-an-org");  // an "o" key of another family
    ASSERT_TRUE(store_.Write(b, true).ok());
    ASSERT_TRUE(dir_.Load().ok());
  }
  MemKvStore store_;
  OrgDirectory dir_{store_};
};

TEST_F(OrgDirectoryTest, LoadHoldsExactlyTheStateFamilysOrgRecords) {
  EXPECT_EQ(dir_.size(), 2u);
  std::string v;
  ASSERT_TRUE(dir_.Get(Cf::kState, OrgKey('a'), &v).ok());
  EXPECT_EQ(v, "org-a");
  EXPECT_EQ(dir_.Get(Cf::kState, OrgKey('z'), &v).code(), StatusCode::kNotFound);
  // Other keys and families are the store's.
  ASSERT_TRUE(dir_.Get(Cf::kState, keys::Patient(std::string(32, 'p')), &v).ok());
  EXPECT_EQ(v, "patient-p");
  ASSERT_TRUE(dir_.Get(Cf::kIndex, OrgKey('i'), &v).ok());
  EXPECT_EQ(v, "not-an-org");
}

TEST_F(OrgDirectoryTest, AnswersFromMemoryUntilGivenTheWrittenBatch) {
  // Written to the store behind the directory's back: not seen, so org reads never reach the
  // store. Once the batch is applied (as the ledger does after each write), it is.
  KvBatch b;
  b.Put(Cf::kState, OrgKey('c'), "org-c");
  b.Put(Cf::kState, OrgKey('a'), "org-a-suspended");
  b.Delete(Cf::kState, OrgKey('b'));
  ASSERT_TRUE(store_.Write(b, true).ok());
  std::string v;
  EXPECT_EQ(dir_.Get(Cf::kState, OrgKey('c'), &v).code(), StatusCode::kNotFound);
  ASSERT_TRUE(dir_.Get(Cf::kState, OrgKey('b'), &v).ok());

  dir_.Apply(b);
  ASSERT_TRUE(dir_.Get(Cf::kState, OrgKey('c'), &v).ok());
  EXPECT_EQ(v, "org-c");
  ASSERT_TRUE(dir_.Get(Cf::kState, OrgKey('a'), &v).ok());
  EXPECT_EQ(v, "org-a-suspended");
  EXPECT_EQ(dir_.Get(Cf::kState, OrgKey('b'), &v).code(), StatusCode::kNotFound);
  EXPECT_EQ(dir_.size(), 2u);

  OrgDirectory reloaded(store_);  // and a load reads the same from the store
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.size(), 2u);
}

TEST_F(OrgDirectoryTest, GetManyAnswersOrgKeysInPlaceAndTheRestFromTheStore) {
  const std::string a = OrgKey('a'), z = OrgKey('z'), p = keys::Patient(std::string(32, 'p')),
                    q = keys::Patient(std::string(32, 'q'));
  std::vector<std::optional<std::string>> got;
  ASSERT_TRUE(dir_.GetMany(Cf::kState, {p, a, q, z}, &got).ok());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], "patient-p");
  EXPECT_EQ(got[1], "org-a");
  EXPECT_EQ(got[2], std::nullopt);
  EXPECT_EQ(got[3], std::nullopt);
  ASSERT_TRUE(dir_.GetMany(Cf::kIndex, {OrgKey('i')}, &got).ok());
  EXPECT_EQ(got[0], "not-an-org");
}

}  // namespace
}  // namespace hc::ledger
