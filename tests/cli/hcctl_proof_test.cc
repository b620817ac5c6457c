// hcctl proof, run as a child process: proofs the library makes verify through the CLI, every
// mutation is `invalid: ...` with exit 1, and unreadable input exits 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/merkle.h"
#include "crypto/merkle_json.h"
#include "tests/cli/run_process.h"

namespace hc::crypto {
namespace {

using test::ProcessResult;
using test::RunProcess;

class HcctlProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hcctl_proof_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    // 13 entries, one per line; leaves are the LeafHash of each line's bytes.
    for (int i = 0; i < 13; ++i) entries_.push_back("entry " + std::to_string(i * i));
    for (const std::string& e : entries_) tree_.Append(LeafHash(AsBytes(e)));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  static ProcessResult Hcctl(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), HCCTL_PATH);
    return RunProcess(args, stdin_data);
  }

  InclusionProofDoc Inclusion(uint64_t index, uint64_t size) {
    return MakeInclusionProofDoc(index, size, *tree_.PerfectNode(0, index),
                                 *InclusionProof(tree_, index, size), *tree_.RootAt(size));
  }
  ConsistencyProofDoc Consistency(uint64_t size1, uint64_t size2) {
    return MakeConsistencyProofDoc(size1, size2, *tree_.RootAt(size1), *tree_.RootAt(size2),
                                   *ConsistencyProof(tree_, size1, size2));
  }

  ProcessResult VerifyInclusionFile(const InclusionProofDoc& doc) {
    return Hcctl(
        {"proof", "verify-inclusion", Write("inclusion.json", EncodeInclusionProofJson(doc))});
  }
  ProcessResult VerifyConsistencyFile(const ConsistencyProofDoc& doc) {
    return Hcctl({"proof", "verify-consistency",
                  Write("consistency.json", EncodeConsistencyProofJson(doc))});
  }

  std::filesystem::path dir_;
  std::vector<std::string> entries_;
  MemoryMerkleTree tree_;
};

void ExpectValid(const ProcessResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "valid\n");
}

void ExpectInvalid(const ProcessResult& r, const std::string& reason = "") {
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.out.starts_with("invalid: ")) << r.out;
  if (!reason.empty()) {
    EXPECT_EQ(r.out, "invalid: " + reason + "\n");
  }
}

void ExpectUnusable(const ProcessResult& r, const std::string& err_part) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(err_part), std::string::npos) << r.err;
}

Bytes Flip(Bytes b, size_t byte = 7) {
  b[byte] ^= 0x10;
  return b;
}

TEST_F(HcctlProofTest, InclusionProofsVerify) {
  for (uint64_t size : {1, 2, 5, 8, 13}) {
    for (uint64_t index : {uint64_t{0}, size / 2, size - 1}) {
      SCOPED_TRACE(std::to_string(index) + " of " + std::to_string(size));
      ExpectValid(VerifyInclusionFile(Inclusion(index, size)));
    }
  }
}

TEST_F(HcctlProofTest, InclusionMutationsAreInvalid) {
  const InclusionProofDoc good = Inclusion(5, 13);
  ASSERT_EQ(good.proof.size(), 4u);
  for (size_t i = 0; i < good.proof.size(); ++i) {
    InclusionProofDoc bad = good;
    bad.proof[i] = Flip(bad.proof[i]);
    ExpectInvalid(VerifyInclusionFile(bad), "root mismatch");
  }
  InclusionProofDoc bad = good;
  bad.leaf_hash = Flip(bad.leaf_hash);
  ExpectInvalid(VerifyInclusionFile(bad), "root mismatch");
  bad = good;
  bad.root = Flip(bad.root);
  ExpectInvalid(VerifyInclusionFile(bad), "root mismatch");
  bad = good;
  bad.leaf_index = 4;
  ExpectInvalid(VerifyInclusionFile(bad));
  bad.leaf_index = 13;
  ExpectInvalid(VerifyInclusionFile(bad), "leaf index 13 >= tree size 13");
  // Wrong sizes. RFC 9162 proofs bind the size only through the path's shape: leaf 5 has the same
  // path in trees of 12, 13 and 16 leaves, so those are indistinguishable (merkle_test covers
  // this); sizes whose shape differs must fail.
  bad = good;
  bad.tree_size = 6;
  ExpectInvalid(VerifyInclusionFile(bad), "proof has 2 extra hashes");
  const InclusionProofDoc last = Inclusion(12, 13);
  bad = last;
  bad.tree_size = 14;
  ExpectInvalid(VerifyInclusionFile(bad));
  bad.tree_size = 12;
  ExpectInvalid(VerifyInclusionFile(bad), "leaf index 12 >= tree size 12");
  bad = good;
  bad.proof.push_back(good.root);
  ExpectInvalid(VerifyInclusionFile(bad), "proof has 1 extra hash");
  bad = good;
  bad.proof.pop_back();
  ExpectInvalid(VerifyInclusionFile(bad), "proof too short: 3 hashes, expected 4");
  bad = good;
  bad.proof[1].pop_back();
  ExpectInvalid(VerifyInclusionFile(bad), "proof[1] is 31 bytes, not 32");
}

TEST_F(HcctlProofTest, ConsistencyProofsVerify) {
  for (auto [size1, size2] : {std::pair{0, 13}, {1, 13}, {4, 13}, {7, 13}, {13, 13}, {3, 5}}) {
    SCOPED_TRACE(std::to_string(size1) + " -> " + std::to_string(size2));
    ExpectValid(VerifyConsistencyFile(Consistency(size1, size2)));
  }
}

TEST_F(HcctlProofTest, ConsistencyMutationsAreInvalid) {
  const ConsistencyProofDoc good = Consistency(6, 13);
  ASSERT_FALSE(good.proof.empty());
  for (size_t i = 0; i < good.proof.size(); ++i) {
    ConsistencyProofDoc bad = good;
    bad.proof[i] = Flip(bad.proof[i]);
    ExpectInvalid(VerifyConsistencyFile(bad));
  }
  ConsistencyProofDoc bad = good;
  bad.root1 = Flip(bad.root1);
  ExpectInvalid(VerifyConsistencyFile(bad), "root1 mismatch");
  bad = good;
  bad.root2 = Flip(bad.root2);
  ExpectInvalid(VerifyConsistencyFile(bad), "root2 mismatch");
  bad = good;
  std::swap(bad.root1, bad.root2);
  ExpectInvalid(VerifyConsistencyFile(bad));
  bad = good;
  std::swap(bad.size1, bad.size2);
  ExpectInvalid(VerifyConsistencyFile(bad), "size1 13 > size2 6");
  // Wrong sizes whose proof shape differs (6 -> 12 and 6 -> 14 share the shape of 6 -> 13).
  for (uint64_t size1 : {5, 7}) {
    bad = good;
    bad.size1 = size1;
    ExpectInvalid(VerifyConsistencyFile(bad));
  }
  for (uint64_t size2 : {7, 8}) {
    bad = good;
    bad.size2 = size2;
    ExpectInvalid(VerifyConsistencyFile(bad));
  }
  bad = good;
  bad.proof.push_back(good.root2);
  ExpectInvalid(VerifyConsistencyFile(bad), "proof has 1 extra hash");
  bad = good;
  bad.proof.pop_back();
  ExpectInvalid(VerifyConsistencyFile(bad));
  bad = good;
  bad.proof.clear();
  ExpectInvalid(VerifyConsistencyFile(bad));
}

TEST_F(HcctlProofTest, UnreadableInputExitsTwo) {
  ExpectUnusable(Hcctl({"proof", "verify-inclusion", (dir_ / "missing.json").string()}),
                 "No such file or directory");
  ExpectUnusable(Hcctl({"proof", "verify-inclusion", dir_.string()}), "cannot read");
  ExpectUnusable(Hcctl({"proof", "verify-inclusion", Write("garbage", "\x01\x02 not json")}),
                 "not JSON");
  ExpectUnusable(Hcctl({"proof", "verify-consistency", Write("empty", "")}), "not JSON");
  ExpectUnusable(Hcctl({"proof", "verify-inclusion", Write("array", "[]")}), "not a JSON object");

  const std::string good = EncodeInclusionProofJson(Inclusion(2, 8));
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  ExpectUnusable(
      Hcctl({"proof", "verify-inclusion", Write("f", replaced("\"treeSize\"", "\"size\""))}),
      "missing field \"treeSize\"");
  ExpectUnusable(Hcctl({"proof", "verify-inclusion",
                        Write("f", replaced("\"leafIdx\":2", "\"leafIdx\":\"2\""))}),
                 "field \"leafIdx\": expected a non-negative integer");
  ExpectUnusable(
      Hcctl({"proof", "verify-inclusion", Write("f", replaced("\"leafIdx\":2", "\"leafIdx\":-2"))}),
      "field \"leafIdx\": expected a non-negative integer");
  ExpectUnusable(
      Hcctl({"proof", "verify-inclusion", Write("f", replaced("\"root\":\"", "\"root\":\"*"))}),
      "field \"root\": base64");
  ExpectUnusable(
      Hcctl({"proof", "verify-inclusion", Write("f", replaced("\"proof\":[", "\"proof\":{"))}),
      "not JSON");
  // The right document for the other command is missing its fields.
  ExpectUnusable(Hcctl({"proof", "verify-consistency", Write("f", good)}),
                 "missing field \"size1\"");
  ExpectUnusable(Hcctl({"proof", "verify-inclusion", Write("big", std::string(100000, ' '))}),
                 "larger than");
  // A missing FILE argument is a usage error.
  EXPECT_EQ(Hcctl({"proof", "verify-inclusion"}).exit_code, 2);
  EXPECT_EQ(Hcctl({"proof"}).exit_code, 2);
}

TEST_F(HcctlProofTest, DashReadsStdin) {
  ExpectValid(Hcctl({"proof", "verify-inclusion", "-"}, EncodeInclusionProofJson(Inclusion(3, 9))));
  ExpectValid(
      Hcctl({"proof", "verify-consistency", "-"}, EncodeConsistencyProofJson(Consistency(3, 9))));
  InclusionProofDoc bad = Inclusion(3, 9);
  bad.root = Flip(bad.root);
  ExpectInvalid(Hcctl({"proof", "verify-inclusion", "-"}, EncodeInclusionProofJson(bad)),
                "root mismatch");
  ExpectUnusable(Hcctl({"proof", "verify-inclusion", "-"}, "nope"), "stdin: not JSON");
}

TEST_F(HcctlProofTest, PublicTestVectorsVerifyAsPublished) {
  // transparency-dev/merkle testdata/inclusion/1: happy path, "trailing garbage" (an empty
  // string in the proof) and "leafIdx - 1" (wrapped to 2^64 - 1).
  const std::string happy =
      R"({"leafIdx":0,"treeSize":8,"root":"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",)"
      R"("leafHash":"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=","proof":[)"
      R"("lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",)"
      R"("Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",)"
      R"("a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="],"desc":"happy path","wantErr":false})";
  ExpectValid(Hcctl({"proof", "verify-inclusion", Write("v.json", happy)}));
  std::string garbage = happy;
  garbage.replace(garbage.find("\"],"), 3, "\",\"\"],");
  ExpectInvalid(Hcctl({"proof", "verify-inclusion", Write("v.json", garbage)}),
                "proof[3] is 0 bytes, not 32");
  std::string wrapped = happy;
  wrapped.replace(wrapped.find("\"leafIdx\":0"), 11, "\"leafIdx\":18446744073709551615");
  ExpectInvalid(Hcctl({"proof", "verify-inclusion", Write("v.json", wrapped)}),
                "leaf index 18446744073709551615 >= tree size 8");
  // testdata/consistency/0/happy-path.json: equal sizes, "proof": null.
  ExpectValid(
      Hcctl({"proof", "verify-consistency", "-"},
            R"({"size1":1,"size2":1,"root1":"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",)"
            R"("root2":"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=","proof":null,)"
            R"("desc":"happy path","wantErr":false})"));
}

TEST_F(HcctlProofTest, MadeProofsVerify) {
  std::string lines;
  for (const std::string& e : entries_) lines += e + "\n";
  const std::string entries = Write("entries.txt", lines);

  ProcessResult made = Hcctl({"proof", "make-inclusion", "--entries", entries, "--index", "6"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(made.out, EncodeInclusionProofJson(Inclusion(6, 13)) + "\n");
  ExpectValid(Hcctl({"proof", "verify-inclusion", "-"}, made.out));

  made = Hcctl({"proof", "make-inclusion", "--entries", entries, "--index", "2", "--size", "5"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(made.out, EncodeInclusionProofJson(Inclusion(2, 5)) + "\n");
  ExpectValid(Hcctl({"proof", "verify-inclusion", Write("made.json", made.out)}));

  made = Hcctl({"proof", "make-consistency", "--entries", entries, "--size1", "5"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(made.out, EncodeConsistencyProofJson(Consistency(5, 13)) + "\n");
  ExpectValid(Hcctl({"proof", "verify-consistency", "-"}, made.out));

  made =
      Hcctl({"proof", "make-consistency", "--entries", "-", "--size1", "3", "--size2", "7"}, lines);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(made.out, EncodeConsistencyProofJson(Consistency(3, 7)) + "\n");
  ExpectValid(Hcctl({"proof", "verify-consistency", "-"}, made.out));

  // Without a final newline the last line still counts; an empty line is an empty entry.
  lines.pop_back();
  made = Hcctl({"proof", "make-inclusion", "--entries", Write("e2.txt", lines), "--index", "12"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(made.out, EncodeInclusionProofJson(Inclusion(12, 13)) + "\n");
  made =
      Hcctl({"proof", "make-inclusion", "--entries", Write("e3.txt", "a\n\nb\n"), "--index", "1"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  Result<InclusionProofDoc> doc = DecodeInclusionProofJson(made.out);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->tree_size, 3u);
  const Hash32 empty_leaf = LeafHash(ByteView());
  EXPECT_EQ(doc->leaf_hash, Bytes(empty_leaf.begin(), empty_leaf.end()));

  // Impossible requests exit 2 with a reason.
  ExpectUnusable(Hcctl({"proof", "make-inclusion", "--entries", entries, "--index", "13"}),
                 "leaf index 13 >= tree size 13");
  ExpectUnusable(
      Hcctl({"proof", "make-inclusion", "--entries", entries, "--index", "0", "--size", "14"}),
      "--size 14 but");
  ExpectUnusable(
      Hcctl({"proof", "make-consistency", "--entries", entries, "--size1", "9", "--size2", "8"}),
      "size1 9 > size2 8");
  ExpectUnusable(
      Hcctl({"proof", "make-consistency", "--entries", (dir_ / "nope").string(), "--size1", "1"}),
      "No such file or directory");
  EXPECT_EQ(Hcctl({"proof", "make-inclusion", "--entries", entries, "--index", "-1"}).exit_code, 2);
  EXPECT_EQ(Hcctl({"proof", "make-inclusion", "--entries", entries}).exit_code, 2);
}

}  // namespace
}  // namespace hc::crypto
