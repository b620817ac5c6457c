// hcctl proof: checks and makes RFC 9162 Merkle proofs (crypto/merkle.h) as JSON documents in the
// public test-vector format (crypto/merkle_json.h).
//
//   hcctl proof verify-inclusion FILE|-      valid (exit 0) / invalid: <reason> (exit 1)
//   hcctl proof verify-consistency FILE|-    unreadable input: message on stderr, exit 2
//   hcctl proof make-inclusion --entries FILE --index I [--size N]
//   hcctl proof make-consistency --entries FILE --size1 M [--size2 N]
//
// An entries file holds one entry per line: each line's bytes, without its '\n', are one leaf's
// input (so "a\n\nb\n" is the three entries "a", "" and "b", and a missing final newline changes
// nothing).
#include <sys/types.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/status.h"
#include "crypto/merkle.h"
#include "crypto/merkle_json.h"

namespace hc::cli {
namespace {

constexpr int kExitValid = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUnusable = 2;

// The make-* commands keep the whole tree in memory (64 bytes per entry): 2^24 entries is 1 GiB.
constexpr uint64_t kEntriesMax = uint64_t{1} << 24;

// Opens FILE, or stdin for "-". The returned closer leaves stdin open.
struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr && f != stdin) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

Result<FilePtr> OpenInput(const std::string& path) {
  if (path == "-") return FilePtr(stdin);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return IoError("cannot open " + path + ": " + std::strerror(errno));
  return FilePtr(f);
}

std::string InputName(const std::string& path) { return path == "-" ? "stdin" : path; }

// Reads all of FILE (or stdin), refusing more than max_bytes.
Result<std::string> ReadInput(const std::string& path, size_t max_bytes) {
  HC_ASSIGN_OR_RETURN(FilePtr f, OpenInput(path));
  std::string data;
  char buf[8192];
  while (true) {
    const size_t got = std::fread(buf, 1, sizeof(buf), f.get());
    data.append(buf, got);
    if (data.size() > max_bytes) {
      return InvalidArgument(InputName(path) + " is larger than " + std::to_string(max_bytes) +
                             " bytes");
    }
    if (got < sizeof(buf)) break;
  }
  if (std::ferror(f.get())) {
    return IoError("cannot read " + InputName(path) + ": " + std::strerror(errno));
  }
  return data;
}

// Builds the tree of an entries file, one leaf per line.
Result<std::unique_ptr<crypto::MemoryMerkleTree>> LoadEntries(const std::string& path) {
  HC_ASSIGN_OR_RETURN(FilePtr f, OpenInput(path));
  auto tree = std::make_unique<crypto::MemoryMerkleTree>();
  char* line = nullptr;
  size_t capacity = 0;
  Status status;
  errno = 0;
  while (true) {
    const ssize_t len = ::getline(&line, &capacity, f.get());
    if (len < 0) break;
    if (tree->size() == kEntriesMax) {
      status = ResourceExhausted(InputName(path) + " has more than " + std::to_string(kEntriesMax) +
                                 " entries");
      break;
    }
    size_t n = static_cast<size_t>(len);
    if (n > 0 && line[n - 1] == '\n') --n;
    tree->Append(crypto::LeafHash(ByteView(reinterpret_cast<const uint8_t*>(line), n)));
  }
  std::free(line);
  if (status.ok() && std::ferror(f.get())) {
    status = IoError("cannot read " + InputName(path) + ": " + std::strerror(errno));
  }
  if (!status.ok()) return status;
  return tree;
}

void PrintUnusable(const char* command, const Status& status) {
  std::fprintf(stderr, "hcctl proof %s: %s\n", command, status.message().c_str());
}

int PrintVerdict(const Status& verdict) {
  if (verdict.ok()) {
    std::printf("valid\n");
    return kExitValid;
  }
  std::printf("invalid: %s\n", verdict.message().c_str());
  return kExitInvalid;
}

int RunVerifyInclusion(const std::string& path) {
  constexpr const char* kCommand = "verify-inclusion";
  Result<std::string> text = ReadInput(path, crypto::kProofJsonBytesMax);
  if (!text.ok()) {
    PrintUnusable(kCommand, text.status());
    return kExitUnusable;
  }
  Result<crypto::InclusionProofDoc> doc = crypto::DecodeInclusionProofJson(*text);
  if (!doc.ok()) {
    PrintUnusable(kCommand, doc.status().WithContext(InputName(path)));
    return kExitUnusable;
  }
  return PrintVerdict(crypto::VerifyInclusionProofDoc(*doc));
}

int RunVerifyConsistency(const std::string& path) {
  constexpr const char* kCommand = "verify-consistency";
  Result<std::string> text = ReadInput(path, crypto::kProofJsonBytesMax);
  if (!text.ok()) {
    PrintUnusable(kCommand, text.status());
    return kExitUnusable;
  }
  Result<crypto::ConsistencyProofDoc> doc = crypto::DecodeConsistencyProofJson(*text);
  if (!doc.ok()) {
    PrintUnusable(kCommand, doc.status().WithContext(InputName(path)));
    return kExitUnusable;
  }
  return PrintVerdict(crypto::VerifyConsistencyProofDoc(*doc));
}

struct MakeInclusionOptions {
  std::string entries;
  uint64_t index = 0;
  uint64_t size = 0;
  bool has_size = false;
};

Result<std::string> MakeInclusion(const MakeInclusionOptions& opts) {
  HC_ASSIGN_OR_RETURN(std::unique_ptr<crypto::MemoryMerkleTree> tree, LoadEntries(opts.entries));
  const uint64_t size = opts.has_size ? opts.size : tree->size();
  if (size > tree->size()) {
    return InvalidArgument("--size " + std::to_string(size) + " but " + InputName(opts.entries) +
                           " has " + std::to_string(tree->size()) + " entries");
  }
  HC_ASSIGN_OR_RETURN(std::vector<Hash32> proof, crypto::InclusionProof(*tree, opts.index, size));
  HC_ASSIGN_OR_RETURN(Hash32 root, tree->RootAt(size));
  HC_ASSIGN_OR_RETURN(Hash32 leaf_hash, tree->PerfectNode(0, opts.index));
  return crypto::EncodeInclusionProofJson(
      crypto::MakeInclusionProofDoc(opts.index, size, leaf_hash, proof, root));
}

struct MakeConsistencyOptions {
  std::string entries;
  uint64_t size1 = 0;
  uint64_t size2 = 0;
  bool has_size2 = false;
};

Result<std::string> MakeConsistency(const MakeConsistencyOptions& opts) {
  HC_ASSIGN_OR_RETURN(std::unique_ptr<crypto::MemoryMerkleTree> tree, LoadEntries(opts.entries));
  const uint64_t size2 = opts.has_size2 ? opts.size2 : tree->size();
  if (size2 > tree->size()) {
    return InvalidArgument("--size2 " + std::to_string(size2) + " but " + InputName(opts.entries) +
                           " has " + std::to_string(tree->size()) + " entries");
  }
  HC_ASSIGN_OR_RETURN(std::vector<Hash32> proof,
                      crypto::ConsistencyProof(*tree, opts.size1, size2));
  HC_ASSIGN_OR_RETURN(Hash32 root1, tree->RootAt(opts.size1));
  HC_ASSIGN_OR_RETURN(Hash32 root2, tree->RootAt(size2));
  return crypto::EncodeConsistencyProofJson(
      crypto::MakeConsistencyProofDoc(opts.size1, size2, root1, root2, proof));
}

int PrintDocument(const char* command, const Result<std::string>& doc) {
  if (!doc.ok()) {
    PrintUnusable(command, doc.status());
    return kExitUnusable;
  }
  std::printf("%s\n", doc->c_str());
  return kExitValid;
}

}  // namespace

void RegisterProof(CLI::App& app, int* exit_code) {
  CLI::App* proof = app.add_subcommand(
      "proof", "Verify or make RFC 9162 Merkle inclusion and consistency proofs (JSON)");
  proof->require_subcommand(1);

  // CLI11 keeps pointers to the option storage for as long as the app lives; the callbacks own it.
  auto inclusion_path = std::make_shared<std::string>();
  CLI::App* verify_inclusion = proof->add_subcommand(
      "verify-inclusion",
      "Check an inclusion proof JSON: `valid` (exit 0), `invalid: <reason>` (1), unreadable (2)");
  verify_inclusion->add_option("FILE", *inclusion_path, "Proof JSON file, or - for stdin")
      ->required();
  verify_inclusion->callback(
      [inclusion_path, exit_code] { *exit_code = RunVerifyInclusion(*inclusion_path); });

  auto consistency_path = std::make_shared<std::string>();
  CLI::App* verify_consistency = proof->add_subcommand(
      "verify-consistency",
      "Check a consistency proof JSON: `valid` (exit 0), `invalid: <reason>` (1), unreadable (2)");
  verify_consistency->add_option("FILE", *consistency_path, "Proof JSON file, or - for stdin")
      ->required();
  verify_consistency->callback(
      [consistency_path, exit_code] { *exit_code = RunVerifyConsistency(*consistency_path); });

  auto inclusion = std::make_shared<MakeInclusionOptions>();
  CLI::App* make_inclusion = proof->add_subcommand(
      "make-inclusion", "Print the inclusion proof JSON of one entry of an entries file");
  make_inclusion
      ->add_option("--entries", inclusion->entries,
                   "Entries file, one entry per line (- for stdin)")
      ->required();
  make_inclusion->add_option("--index", inclusion->index, "Leaf index (0-based)")->required();
  CLI::Option* size_opt = make_inclusion->add_option(
      "--size", inclusion->size, "Tree size to prove against (default: all entries)");
  make_inclusion->callback([inclusion, size_opt, exit_code] {
    inclusion->has_size = size_opt->count() > 0;
    *exit_code = PrintDocument("make-inclusion", MakeInclusion(*inclusion));
  });

  auto consistency = std::make_shared<MakeConsistencyOptions>();
  CLI::App* make_consistency = proof->add_subcommand(
      "make-consistency",
      "Print the consistency proof JSON between two sizes of an entries file's log");
  make_consistency
      ->add_option("--entries", consistency->entries,
                   "Entries file, one entry per line (- for stdin)")
      ->required();
  make_consistency->add_option("--size1", consistency->size1, "Old tree size")->required();
  CLI::Option* size2_opt = make_consistency->add_option("--size2", consistency->size2,
                                                        "New tree size (default: all entries)");
  make_consistency->callback([consistency, size2_opt, exit_code] {
    consistency->has_size2 = size2_opt->count() > 0;
    *exit_code = PrintDocument("make-consistency", MakeConsistency(*consistency));
  });
}

}  // namespace hc::cli
