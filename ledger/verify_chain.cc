#include "ledger/verify_chain.h"

#include "common/encoding.h"
#include "crypto/hash.h"
#include "ledger/codec.h"
#include "ledger/ledger.h"

namespace hc::ledger {
namespace {

std::string StatusText(const pb::Receipt& r) {
  std::string s = pb::TxStatus_Name(r.status());
  if (s.starts_with("TX_STATUS_")) s.erase(0, 10);
  return s + " (" + r.rule() + ")";
}

// Reads a stored value; `found` false when absent.
Status ReadRaw(const KvReader& kv, Cf cf, const std::string& key, std::string* v, bool* found) {
  Status s = kv.Get(cf, key, v);
  *found = s.ok();
  if (s.code() == StatusCode::kNotFound) return Status::Ok();
  return s;
}

// Digest and count of a column family.
Status DigestCf(const KvReader& kv, Cf cf, Hash32* digest, uint64_t* count) {
  crypto::Sha256Hasher h;
  *count = 0;
  HC_RETURN_IF_ERROR(kv.Scan(cf, "", "", [&](std::string_view k, std::string_view v) {
    std::string lens;
    PutU32(&lens, static_cast<uint32_t>(k.size()));
    PutU32(&lens, static_cast<uint32_t>(v.size()));
    h.Update(lens).Update(k).Update(v);
    ++*count;
    return true;
  }));
  *digest = h.Final();
  return Status::Ok();
}

// Names the first key where two column families differ (only called once they do).
Result<std::string> FirstDifference(const KvReader& stored, const KvReader& replay, Cf cf) {
  std::string found;
  Status inner;
  HC_RETURN_IF_ERROR(stored.Scan(cf, "", "", [&](std::string_view k, std::string_view v) {
    std::string other;
    Status s = replay.Get(cf, k, &other);
    if (s.code() == StatusCode::kNotFound) {
      found = DescribeKey(cf, k) + ": stored, but the replay does not write it";
      return false;
    }
    if (!s.ok()) {
      inner = s;
      return false;
    }
    if (other != v) {
      found = DescribeKey(cf, k) + ": stored value differs from the replay's";
      return false;
    }
    return true;
  }));
  HC_RETURN_IF_ERROR(inner);
  if (!found.empty()) return found;
  HC_RETURN_IF_ERROR(replay.Scan(cf, "", "", [&](std::string_view k, std::string_view) {
    std::string other;
    if (stored.Get(cf, k, &other).code() == StatusCode::kNotFound) {
      found = DescribeKey(cf, k) + ": written by the replay, missing from the store";
      return false;
    }
    return true;
  }));
  if (found.empty()) found = std::string(CfName(cf)) + ": contents differ";
  return found;
}

}  // namespace

Result<ChainReport> VerifyChain(const KvReader& stored, const Genesis& genesis,
                                const crypto::Verifier& verifier, std::unique_ptr<KvStore> scratch,
                                const std::function<void(uint64_t)>& progress) {
  ChainReport report;
  auto fail = [&](uint64_t h, std::string what) {
    report.fault_height = h;
    report.fault = (h > 0 ? "height " + std::to_string(h) + ": " : std::string()) + std::move(what);
    return report;
  };
  // The genesis record.
  std::string v;
  bool found = false;
  HC_RETURN_IF_ERROR(ReadRaw(stored, Cf::kBlocks, std::string(keys::kGenesis), &v, &found));
  if (!found) return fail(0, "blocks/genesis: missing: not a ledger store");
  lpb::GenesisRecord rec;
  if (!rec.ParseFromString(v)) return fail(0, "blocks/genesis: does not parse");
  if (rec.chain_id() != genesis.chain_id ||
      rec.genesis_hash() != std::string(AsStr(GenesisHash(genesis)))) {
    return fail(0, "blocks/genesis: the store was created from chain '" + rec.chain_id() +
                       "' with another genesis than the one given");
  }
  lpb::ChainTip tip;
  HC_RETURN_IF_ERROR(ReadRaw(stored, Cf::kBlocks, std::string(keys::kTip), &v, &found));
  if (found && !tip.ParseFromString(v)) return fail(0, "blocks/tip: does not parse");

  HC_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> replay,
                      Ledger::Open(std::move(scratch), genesis, verifier));
  for (uint64_t h = 1;; ++h) {
    std::string block_bytes;
    HC_RETURN_IF_ERROR(ReadRaw(stored, Cf::kBlocks, keys::Block(h), &block_bytes, &found));
    if (!found) break;
    pb::Block block;
    if (!block.ParseFromString(block_bytes)) {
      return fail(h, DescribeKey(Cf::kBlocks, keys::Block(h)) + ": does not parse");
    }
    std::string cert_bytes;
    HC_RETURN_IF_ERROR(ReadRaw(stored, Cf::kCerts, keys::Cert(h), &cert_bytes, &found));
    if (!found) return fail(h, DescribeKey(Cf::kCerts, keys::Cert(h)) + ": certificate missing");
    pb::CommitCertificate cert;
    if (!cert.ParseFromString(cert_bytes)) {
      return fail(h, DescribeKey(Cf::kCerts, keys::Cert(h)) + ": does not parse");
    }
    Result<CommittedBlock> done = replay->Commit(block, cert);
    if (!done.ok()) {
      if (done.status().code() != StatusCode::kInvalidArgument) return done.status();
      return fail(h, done.status().message());
    }
    // Receipts: the stored ones must be the re-executed ones.
    const ExecutionResult& exec = done->execution;
    if (!exec.receipts.empty()) {
      const std::string gkey = keys::EntriesGroup(exec.first_entry);
      HC_RETURN_IF_ERROR(ReadRaw(stored, Cf::kEntries, gkey, &v, &found));
      lpb::BlockReceipts group;
      if (!found || !group.ParseFromString(v) ||
          group.receipts_size() != static_cast<int>(exec.receipts.size()) || group.height() != h) {
        return fail(h, DescribeKey(Cf::kEntries, gkey) + ": receipts missing or malformed");
      }
      for (size_t i = 0; i < exec.receipts.size(); ++i) {
        if (group.receipts(static_cast<int>(i)) != exec.receipt_bytes[i]) {
          pb::Receipt mine;
          const bool parsed = mine.ParseFromString(group.receipts(static_cast<int>(i)));
          return fail(h, "receipt " + std::to_string(i) + " differs: stored " +
                             (parsed ? StatusText(mine) : std::string("(unparseable)")) +
                             ", re-executed " + StatusText(exec.receipts[i]));
        }
      }
    }
    for (const pb::Receipt& r : exec.receipts) ++report.receipts_by_status[r.status()];
    // Block info: hash and log after the block.
    HC_RETURN_IF_ERROR(ReadRaw(stored, Cf::kBlocks, keys::BlockInfo(h), &v, &found));
    lpb::BlockInfo info;
    if (!found || !info.ParseFromString(v)) {
      return fail(h, DescribeKey(Cf::kBlocks, keys::BlockInfo(h)) + ": missing or malformed");
    }
    if (info.log_size() != done->log_size ||
        info.log_root() != std::string(AsStr(done->log_root))) {
      return fail(h, DescribeKey(Cf::kBlocks, keys::BlockInfo(h)) + ": stored log (size " +
                         std::to_string(info.log_size()) + ") differs from the replay's (size " +
                         std::to_string(done->log_size) + ")");
    }
    report.txs += exec.receipts.size();
    if (progress) progress(h);
  }
  report.height = replay->height();
  report.log_size = replay->log_size();
  report.log_root = replay->log_root();
  report.tip_hash = replay->tip_hash();
  if (tip.height() != report.height ||
      (report.height > 0 && tip.block_hash() != std::string(AsStr(report.tip_hash)))) {
    return fail(report.height,
                "blocks/tip: the stored tip (height " + std::to_string(tip.height()) +
                    ") is not the last block (height " + std::to_string(report.height) + ")");
  }
  // A store no current node has opened may be of an older state format: compare it with what a
  // node of that format would have written (the replay, written back in that format).
  Result<int> format = StoredStateFormat(stored);
  if (!format.ok()) {
    if (format.status().code() != StatusCode::kFailedPrecondition) return format.status();
    return fail(report.height, format.status().message());
  }
  report.state_format = *format;
  if (*format > keys::kStateFormatCurrent) {
    return fail(report.height, DescribeKey(Cf::kState, keys::kStateFormat) + ": format " +
                                   std::to_string(*format) + ", newer than this version's (" +
                                   std::to_string(keys::kStateFormatCurrent) + ")");
  }
  if (*format < keys::kStateFormatCurrent) {
    HC_ASSIGN_OR_RETURN(KvBatch older, OlderStateFormatWrites(replay->reader(), *format));
    HC_RETURN_IF_ERROR(replay->store().Write(older, /*sync=*/false));
  }
  for (Cf cf : {Cf::kBlocks, Cf::kCerts, Cf::kTxIndex, Cf::kEntries, Cf::kLogNodes, Cf::kState,
                Cf::kIndex}) {
    Hash32 a{}, b{};
    uint64_t na = 0, nb = 0;
    HC_RETURN_IF_ERROR(DigestCf(stored, cf, &a, &na));
    HC_RETURN_IF_ERROR(DigestCf(replay->reader(), cf, &b, &nb));
    if (a != b || na != nb) {
      HC_ASSIGN_OR_RETURN(std::string where, FirstDifference(stored, replay->reader(), cf));
      return fail(report.height, where);
    }
  }
  return report;
}

}  // namespace hc::ledger
