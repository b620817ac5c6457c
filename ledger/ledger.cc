#include "ledger/ledger.h"

#include <charconv>
#include <cstring>
#include <span>
#include <utility>

#include "common/encoding.h"
#include "consensus/signing.h"
#include "crypto/hash.h"
#include "ledger/limits.h"

namespace hc::ledger {
namespace {

std::string HeightKeyName(Cf cf, const std::string& key, uint64_t height) {
  return DescribeKey(cf, key) + " (height " + std::to_string(height) + ")";
}

std::string Hex8(ByteView b) { return HexEncode(b.first(std::min<size_t>(8, b.size()))); }

Status CorruptAt(Cf cf, const std::string& key, uint64_t height, const std::string& what) {
  return Corruption("ledger store: " + HeightKeyName(cf, key, height) + ": " + what);
}

Hash32 ToHash(const std::string& s) {
  Hash32 h{};
  if (s.size() == h.size()) std::memcpy(h.data(), s.data(), h.size());
  return h;
}

Status Reject(std::string what) { return InvalidArgument("R23: " + std::move(what)); }

// A block header within R23's size bound that parses.
bool ParseHeader(std::string_view bytes, pb::BlockHeader* header) {
  return bytes.size() <= kBlockHeaderMaxBytes &&
         header->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// R23's first checks of a received block: its header parses and its txs are within the count.
Status ParseBlockShape(const pb::Block& block, pb::BlockHeader* header) {
  if (!ParseHeader(block.header(), header)) return Reject("block header does not parse");
  if (static_cast<size_t>(block.txs_size()) > kBlockTxsMax) {
    return Reject("block holds " + std::to_string(block.txs_size()) + " txs, over the limit");
  }
  return Status::Ok();
}

}  // namespace

// ---- Building blocks ----

Hash32 TxsRoot(const std::vector<std::string>& txs) {
  std::vector<Hash32> ids;
  ids.reserve(txs.size());
  for (const std::string& tx : txs) ids.push_back(TxIdOf(AsBytes(tx)));
  return TxsRootOfIds(ids);
}

Hash32 TxsRootOfIds(const std::vector<Hash32>& ids) {
  crypto::CompactRange range;
  for (const Hash32& id : ids) range.Append(crypto::LeafHash(id));
  return range.Root();
}

pb::Block BuildBlock(const BlockParams& p, std::vector<std::string> txs) {
  pb::BlockHeader h;
  h.set_chain_id(p.chain_id);
  h.set_height(p.height);
  h.set_prev_block_hash(p.prev_block_hash.data(), p.prev_block_hash.size());
  h.set_timestamp_ms(p.timestamp_ms);
  h.set_view(p.view);
  h.set_proposer(p.proposer);
  const Hash32 root = TxsRoot(txs);
  h.set_txs_root(root.data(), root.size());
  h.set_tx_count(static_cast<uint32_t>(txs.size()));
  h.set_exec_height(p.log.exec_height);
  h.set_log_size(p.log.log_size);
  h.set_log_root(p.log.log_root.data(), p.log.log_root.size());
  pb::Block block;
  block.set_header(Serialize(h));
  for (std::string& tx : txs) block.add_txs(std::move(tx));
  return block;
}

pb::CommitCertificate MakeCertificate(
    std::string_view chain_id, const pb::Block& block, uint64_t view,
    const std::vector<std::pair<uint32_t, const crypto::Signer*>>& signers) {
  pb::BlockHeader header;
  const bool parsed = header.ParseFromString(block.header());
  HC_ASSERT_MSG(parsed, "MakeCertificate needs a block with a valid header");
  const Hash32 hash = consensus::BlockHash(AsBytes(block.header()));
  const Bytes signed_bytes =
      consensus::VoteSignedBytes(chain_id, ViewNumber(view), SeqNumber(header.height()), hash);
  pb::CommitCertificate cert;
  cert.set_height(header.height());
  cert.set_view(view);
  cert.set_block_hash(hash.data(), hash.size());
  for (const auto& [replica, signer] : signers) {
    const crypto::Ed25519Signature sig = signer->Sign(consensus::kCommitDomain, signed_bytes);
    auto* s = cert.add_signatures();
    s->set_replica(replica);
    s->set_signature(sig.data(), sig.size());
  }
  return cert;
}

Status CheckCertificate(const pb::CommitCertificate& cert, uint64_t height,
                        const Hash32& block_hash, const Genesis& genesis,
                        const crypto::Verifier& verifier) {
  if (cert.height() != height) {
    return InvalidArgument("certificate is for height " + std::to_string(cert.height()) + ", not " +
                           std::to_string(height));
  }
  if (cert.block_hash().size() != kHashBytes || ToHash(cert.block_hash()) != block_hash) {
    return InvalidArgument("certificate's block hash does not match the block (" +
                           Hex8(AsBytes(cert.block_hash())) + " vs " + Hex8(block_hash) + ")");
  }
  if (static_cast<size_t>(cert.signatures_size()) > kCertificateSignaturesMax) {
    return InvalidArgument("certificate holds too many signatures");
  }
  consensus::CommitCertificate c;
  c.height = Height(cert.height());
  c.view = ViewNumber(cert.view());
  c.block_hash = block_hash;
  for (const pb::CommitSignature& s : cert.signatures()) {
    if (s.signature().size() != kSignatureBytes) {
      return InvalidArgument("certificate signature of replica " + std::to_string(s.replica()) +
                             " is " + std::to_string(s.signature().size()) + " bytes, not 64");
    }
    consensus::CommitSignature cs;
    cs.replica = ReplicaId(s.replica());
    std::memcpy(cs.signature.data(), s.signature().data(), kSignatureBytes);
    c.signatures.push_back(cs);
  }
  std::vector<consensus::PublicKey> keys;
  keys.reserve(genesis.validators.size());
  for (const GenesisValidator& v : genesis.validators) keys.push_back(v.key);
  const uint32_t f = consensus::MaxFaulty(static_cast<uint32_t>(keys.size()));
  return consensus::CheckCommitCertificate(c, genesis.chain_id, keys, f, verifier);
}

// ---- Ledger ----

Ledger::Ledger(std::unique_ptr<KvStore> store, const Genesis& genesis,
               const crypto::Verifier& verifier)
    : store_(std::move(store)),
      orgs_(*store_),
      genesis_(genesis),
      genesis_hash_(GenesisHash(genesis)),
      verifier_(verifier) {}

Result<std::unique_ptr<Ledger>> Ledger::Open(std::unique_ptr<KvStore> store, const Genesis& genesis,
                                             const crypto::Verifier& verifier,
                                             const OpenOptions& options) {
  HC_ASSERT(store != nullptr);
  std::unique_ptr<Ledger> ledger(new Ledger(std::move(store), genesis, verifier));
  std::string v;
  Status s = ledger->store_->Get(Cf::kBlocks, keys::kGenesis, &v);
  if (s.code() == StatusCode::kNotFound) {
    bool any = false;
    for (size_t i = 0; i < kCfCount && !any; ++i) {
      HC_RETURN_IF_ERROR(
          ledger->store_->Scan(static_cast<Cf>(i), "", "", [&](std::string_view, std::string_view) {
            any = true;
            return false;
          }));
    }
    if (any) {
      return Corruption("ledger store: " + DescribeKey(Cf::kBlocks, keys::kGenesis) +
                        ": missing, but the store is not empty");
    }
    HC_RETURN_IF_ERROR(ledger->Initialise());
  } else {
    HC_RETURN_IF_ERROR(s);
    lpb::GenesisRecord rec;
    HC_RETURN_IF_ERROR(ParseStored(v, &rec, Cf::kBlocks, keys::kGenesis));
    if (rec.chain_id() != genesis.chain_id || ToHash(rec.genesis_hash()) != ledger->genesis_hash_) {
      return FailedPrecondition("ledger store: " + DescribeKey(Cf::kBlocks, keys::kGenesis) +
                                ": the store was created from chain '" + rec.chain_id() +
                                "' genesis " + Hex8(AsBytes(rec.genesis_hash())) +
                                ", not from chain '" + genesis.chain_id + "' genesis " +
                                Hex8(ledger->genesis_hash_));
    }
  }
  HC_RETURN_IF_ERROR(ledger->VerifyTip());
  HC_RETURN_IF_ERROR(ledger->UpgradeStateFormat());
  if (genesis.txs.enabled()) HC_RETURN_IF_ERROR(ledger->LoadRecentTxIds(options.recent_ids_max));
  HC_RETURN_IF_ERROR(ledger->orgs_.Load());
  return ledger;
}

Status Ledger::LoadRecentTxIds(size_t ids_max) {
  // Walk back from the tip over the blocks at or after its horizon, as far as `ids_max` allows.
  // Every tx of a loaded block is held, not only those it indexed: a superset only sends more
  // checks to the tx index, while a missing id would let a replay through. The ids are read from
  // each block's receipts (R22: one per tx, in block order, each naming its tx's id), which are
  // smaller than the txs and need no hashing.
  const int64_t horizon = genesis_.txs.Horizon(tip_.timestamp_ms());
  uint64_t first = tip_.height() + 1;  // the lowest height loaded
  uint64_t ids = 0;
  int64_t not_held_until_ms = 0;      // the time of block first - 1
  std::vector<lpb::BlockInfo> infos;  // of the blocks loaded, newest first
  while (first > 1) {
    HC_ASSIGN_OR_RETURN(lpb::BlockInfo info, InfoAt(first - 1));
    if (info.timestamp_ms() < horizon || ids + info.tx_count() > ids_max) {
      not_held_until_ms = info.timestamp_ms();
      break;
    }
    ids += info.tx_count();
    infos.push_back(std::move(info));
    --first;
  }
  recent_ = std::make_unique<RecentTxIds>(first - 1, not_held_until_ms);
  lpb::BlockReceipts group;
  pb::Receipt receipt;
  for (uint64_t h = first; h <= tip_.height(); ++h) {
    const lpb::BlockInfo& info = infos[tip_.height() - h];
    std::vector<uint64_t> keys;
    keys.reserve(info.tx_count());
    if (info.tx_count() > 0) {
      HC_RETURN_IF_ERROR(ReadReceipts(h, info, &group));
      for (const std::string& r : group.receipts()) {
        if (!receipt.ParseFromString(r) || receipt.tx_id().size() != kHashBytes) {
          return CorruptAt(Cf::kEntries, keys::EntriesGroup(info.first_entry()), h,
                           "a receipt does not name a tx id");
        }
        keys.push_back(RecentTxIds::KeyOf(AsBytes(receipt.tx_id())));
      }
    }
    recent_->AddBlock(h, info.timestamp_ms(), std::move(keys),
                      genesis_.txs.Horizon(info.timestamp_ms()));
  }
  return Status::Ok();
}

Status Ledger::UpgradeStateFormat() {
  HC_ASSIGN_OR_RETURN(const int format, StoredStateFormat(*store_));
  if (format == keys::kStateFormatCurrent) return Status::Ok();
  if (format > keys::kStateFormatCurrent) {
    return FailedPrecondition("ledger store: " + DescribeKey(Cf::kState, keys::kStateFormat) +
                              " is '" + std::to_string(format) +
                              "'; this version reads state formats 1 to " +
                              std::to_string(keys::kStateFormatCurrent));
  }
  // Formats 1 (no marker) and 2 listed a patient's consents to a grantee as the index family's
  // keys "c" patient grantee id, in id order; format 3 keeps them only in the pair records ("g"),
  // which format 2 already has and format 1 builds from each run of those keys. The keys are
  // removed in batches of whole runs, each run's pair record (format 1) in the same batch, and
  // the scan starts again after each batch at the first key it did not take (the keys before it
  // are gone): an upgrade cut short leaves a store whose remaining keys are exactly the runs not
  // yet done, and is finished at the next open. The marker is written last.
  const bool build_pairs = format == 1;
  StateUpgrade upgrade;
  upgrade.from_format = format;
  constexpr size_t kBatchKeys = 50'000;
  const std::string prefix = keys::PatientConsentPrefix("");
  std::string resume = prefix;
  for (;;) {
    KvBatch batch;
    std::string pair;  // the current run's PatientGranteePrefix
    lpb::ConsentIds ids;
    std::string bad_key;
    size_t keys_in_batch = 0;
    bool more = false;  // stopped at a run boundary with keys left
    auto end_run = [&] {
      if (pair.empty()) return;
      if (build_pairs) {
        const std::string_view p(pair);  // "c" patient grantee
        batch.Put(Cf::kState, keys::PairConsents(p.substr(1, kKeyBytes), p.substr(1 + kKeyBytes)),
                  Serialize(ids));
        ++upgrade.consent_pairs_built;
      }
      ids.Clear();
    };
    HC_RETURN_IF_ERROR(store_->Scan(
        Cf::kIndex, resume, PrefixEnd(prefix), [&](std::string_view k, std::string_view) {
          if (k.size() <= keys::kPatientGranteePrefixBytes) {
            bad_key = DescribeKey(Cf::kIndex, k);
            return false;
          }
          const std::string_view run = k.substr(0, keys::kPatientGranteePrefixBytes);
          if (run != pair) {
            end_run();
            if (keys_in_batch >= kBatchKeys) {
              more = true;
              resume.assign(k);
              return false;
            }
            pair.assign(run);
          }
          ids.add_consent_ids(std::string(k.substr(keys::kPatientGranteePrefixBytes)));
          batch.Delete(Cf::kIndex, std::string(k));
          ++keys_in_batch;
          return true;
        }));
    if (!bad_key.empty()) {
      return Corruption("ledger store: " + bad_key + ": not a patient-grantee consent key");
    }
    if (!more) end_run();
    upgrade.index_keys_removed += keys_in_batch;
    if (!more) {
      batch.Put(Cf::kState, std::string(keys::kStateFormat),
                std::to_string(keys::kStateFormatCurrent));
    }
    HC_RETURN_IF_ERROR(store_->Write(batch, /*sync=*/true));
    if (!more) break;
  }
  state_upgrade_ = upgrade;
  return Status::Ok();
}

Result<int> StoredStateFormat(const KvReader& store) {
  std::string format;
  Status s = store.Get(Cf::kState, keys::kStateFormat, &format);
  if (s.code() == StatusCode::kNotFound) return 1;
  HC_RETURN_IF_ERROR(s);
  int n = 0;
  const char* end = format.data() + format.size();
  const auto parsed = std::from_chars(format.data(), end, n);
  if (parsed.ec != std::errc() || parsed.ptr != end || n < 1) {
    return FailedPrecondition("ledger store: " + DescribeKey(Cf::kState, keys::kStateFormat) +
                              " is '" + format + "', not a state format");
  }
  return n;
}

Result<KvBatch> OlderStateFormatWrites(const KvReader& state, int format) {
  if (format != 1 && format != 2) {
    return InvalidArgument("no older state format " + std::to_string(format));
  }
  KvBatch batch;
  std::string bad_key;
  lpb::ConsentIds ids;
  const std::string prefix(keys::kPairConsentsPrefix);
  HC_RETURN_IF_ERROR(
      state.ScanPrefix(Cf::kState, prefix, [&](std::string_view k, std::string_view v) {
        const std::optional<keys::PairKey> pair = keys::ParsePairConsents(k);
        if (!pair || !ids.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          bad_key = DescribeKey(Cf::kState, k);
          return false;
        }
        for (const std::string& id : ids.consent_ids()) {
          batch.Put(Cf::kIndex, keys::PatientConsent(pair->patient, pair->grantee, id), "");
        }
        if (format == 1) batch.Delete(Cf::kState, std::string(k));
        return true;
      }));
  if (!bad_key.empty()) return Corruption("ledger store: " + bad_key + ": malformed consent pair");
  if (format == 1) {
    batch.Delete(Cf::kState, std::string(keys::kStateFormat));
  } else {
    batch.Put(Cf::kState, std::string(keys::kStateFormat), std::to_string(format));
  }
  return batch;
}

Status Ledger::ReadReceipts(uint64_t h, const lpb::BlockInfo& info,
                            lpb::BlockReceipts* group) const {
  const std::string gkey = keys::EntriesGroup(info.first_entry());
  std::string gv;
  Status gs = store_->Get(Cf::kEntries, gkey, &gv);
  if (!gs.ok()) return CorruptAt(Cf::kEntries, gkey, h, gs.message());
  HC_RETURN_IF_ERROR(ParseStored(gv, group, Cf::kEntries, gkey));
  if (group->height() != h || group->receipts_size() != static_cast<int>(info.tx_count())) {
    return CorruptAt(Cf::kEntries, gkey, h, "receipts do not match the block");
  }
  return Status::Ok();
}

Status Ledger::Initialise() {
  KvBatch batch = GenesisStateWrites(genesis_);
  lpb::GenesisRecord rec;
  rec.set_chain_id(genesis_.chain_id);
  rec.set_genesis_hash(genesis_hash_.data(), genesis_hash_.size());
  batch.Put(Cf::kBlocks, std::string(keys::kGenesis), Serialize(rec));
  return store_->Write(batch, /*sync=*/true);
}

Hash32 Ledger::tip_hash() const { return HashOf(tip_); }

Hash32 Ledger::HashOf(const lpb::ChainTip& tip) const {
  return tip.height() == 0 ? genesis_hash_ : ToHash(tip.block_hash());
}

Status Ledger::VerifyTip() {
  // R25: the tip must check out before the node uses the store.
  std::string v;
  Status s = store_->Get(Cf::kBlocks, keys::kTip, &v);
  lpb::ChainTip tip;
  if (s.code() == StatusCode::kNotFound) {
    tip.set_height(0);
    tip.set_timestamp_ms(genesis_.genesis_time_ms);
    const Hash32 empty = crypto::EmptyRoot();
    tip.set_log_root(empty.data(), empty.size());
  } else {
    HC_RETURN_IF_ERROR(s);
    HC_RETURN_IF_ERROR(ParseStored(v, &tip, Cf::kBlocks, keys::kTip));
  }
  const uint64_t h = tip.height();
  if (h > 0) {
    const std::string bkey = keys::Block(h);
    Result<pb::Block> block = BlockAt(h);
    if (!block.ok()) return CorruptAt(Cf::kBlocks, bkey, h, block.status().message());
    pb::BlockHeader header;
    if (!header.ParseFromString(block->header())) {
      return CorruptAt(Cf::kBlocks, bkey, h, "the header does not parse");
    }
    const Hash32 hash = consensus::BlockHash(AsBytes(block->header()));
    if (tip.block_hash().size() != kHashBytes || hash != ToHash(tip.block_hash())) {
      return CorruptAt(Cf::kBlocks, bkey, h,
                       "block hash " + Hex8(hash) + " does not match the tip's " +
                           Hex8(AsBytes(tip.block_hash())));
    }
    if (header.height() != h) {
      return CorruptAt(Cf::kBlocks, bkey, h,
                       "header says height " + std::to_string(header.height()));
    }
    std::vector<std::string> txs(block->txs().begin(), block->txs().end());
    if (header.tx_count() != txs.size() || ToHash(header.txs_root()) != TxsRoot(txs)) {
      return CorruptAt(Cf::kBlocks, bkey, h, "the txs do not match the header's txs_root");
    }
    Hash32 prev = genesis_hash_;
    if (h > 1) {
      Result<pb::Block> parent = BlockAt(h - 1);
      if (!parent.ok()) {
        return CorruptAt(Cf::kBlocks, keys::Block(h - 1), h - 1, parent.status().message());
      }
      prev = consensus::BlockHash(AsBytes(parent->header()));
    }
    if (ToHash(header.prev_block_hash()) != prev) {
      return CorruptAt(Cf::kBlocks, bkey, h,
                       "prev_block_hash " + Hex8(AsBytes(header.prev_block_hash())) +
                           " does not match the hash of block " + std::to_string(h - 1) + " (" +
                           Hex8(prev) + ")");
    }
    Result<lpb::BlockInfo> info = InfoAt(h);
    if (!info.ok()) return CorruptAt(Cf::kBlocks, keys::BlockInfo(h), h, info.status().message());
    if (ToHash(info->block_hash()) != hash || info->log_size() != tip.log_size() ||
        info->log_root() != tip.log_root() || info->tx_count() != txs.size() ||
        info->first_entry() + info->tx_count() != tip.log_size()) {
      return CorruptAt(Cf::kBlocks, keys::BlockInfo(h), h, "block info disagrees with the tip");
    }
    Result<pb::CommitCertificate> cert = CertificateAt(h);
    if (!cert.ok()) return CorruptAt(Cf::kCerts, keys::Cert(h), h, cert.status().message());
    Status cs = CheckCertificate(*cert, h, hash, genesis_, verifier_);
    if (!cs.ok()) return CorruptAt(Cf::kCerts, keys::Cert(h), h, cs.message());
    // The tip block's entries must be the log's last leaves.
    StoredLogNodes nodes(*store_, tip.log_size());
    if (!txs.empty()) {
      lpb::BlockReceipts group;
      HC_RETURN_IF_ERROR(ReadReceipts(h, *info, &group));
      for (size_t i = 0; i < txs.size(); ++i) {
        const std::string entry = EncodeLogEntry(txs[i], h, static_cast<uint32_t>(i),
                                                 group.receipts(static_cast<int>(i)));
        Result<Hash32> leaf = nodes.PerfectNode(0, info->first_entry() + i);
        if (!leaf.ok()) return leaf.status();
        if (*leaf != crypto::LeafHash(AsBytes(entry))) {
          return CorruptAt(Cf::kEntries, keys::EntriesGroup(info->first_entry()), h,
                           "entry " + std::to_string(i) + " does not match its Merkle leaf");
        }
      }
    }
  }
  // The log over the stored nodes must have the tip's root.
  Result<crypto::CompactRange> range =
      crypto::CompactRange::Load(StoredLogNodes(*store_, tip.log_size()), tip.log_size());
  if (!range.ok()) return range.status();
  if (range->Root() != ToHash(tip.log_root())) {
    return Corruption("ledger store: " + DescribeKey(Cf::kLogNodes, "") + ": the log root over " +
                      "the stored Merkle nodes (" + Hex8(range->Root()) +
                      ") is not the tip's log root (" + Hex8(AsBytes(tip.log_root())) + ")");
  }
  std::string count;
  s = store_->Get(Cf::kState, keys::kEntryCount, &count);
  const uint64_t entries = s.ok() && count.size() == 8 ? GetU64(count) : 0;
  if ((!s.ok() && s.code() != StatusCode::kNotFound) || (s.ok() && count.size() != 8) ||
      entries != tip.log_size()) {
    return Corruption("ledger store: " + DescribeKey(Cf::kState, keys::kEntryCount) +
                      ": the state's entry count is not the tip's log size " +
                      std::to_string(tip.log_size()));
  }
  // Nothing past the tip: batches are atomic, so a block beyond it means tampering.
  std::string next;
  s = store_->Get(Cf::kBlocks, keys::Block(h + 1), &next);
  if (s.ok()) {
    return CorruptAt(Cf::kBlocks, keys::Block(h + 1), h + 1, "a block past the tip is stored");
  }
  if (s.code() != StatusCode::kNotFound) return s;
  tip_ = std::move(tip);
  range_ = std::move(range).value();
  return Status::Ok();
}

Result<LogClaim> Ledger::LogClaimAt(uint64_t h) const { return LogClaimIn(*store_, tip_, h); }

Result<LogClaim> Ledger::LogClaimIn(const KvReader& kv, const lpb::ChainTip& end,
                                    uint64_t h) const {
  LogClaim claim;
  claim.exec_height = h;
  if (h == 0) {
    claim.log_root = crypto::EmptyRoot();
    return claim;
  }
  if (h > end.height()) {
    return FailedPrecondition("the ledger has executed up to height " +
                              std::to_string(end.height()) + ", not " + std::to_string(h));
  }
  HC_ASSIGN_OR_RETURN(lpb::BlockInfo info, InfoIn(kv, h));
  claim.log_size = info.log_size();
  claim.log_root = ToHash(info.log_root());
  return claim;
}

LogClaim Ledger::CurrentLogClaim() const {
  return LogClaim{height(), range_.size(), range_.Root()};
}

Status Ledger::CheckLogClaim(uint64_t exec_height, uint64_t log_size, ByteView log_root) const {
  return CheckLogClaimIn(*store_, tip_, exec_height, log_size, log_root);
}

Status Ledger::CheckLogClaimIn(const KvReader& kv, const lpb::ChainTip& end, uint64_t exec_height,
                               uint64_t log_size, ByteView log_root) const {
  HC_ASSIGN_OR_RETURN(LogClaim mine, LogClaimIn(kv, end, exec_height));
  if (log_size != mine.log_size) {
    return Reject("header claims log size " + std::to_string(log_size) + " after height " +
                  std::to_string(exec_height) + ", the ledger's is " +
                  std::to_string(mine.log_size));
  }
  if (log_root.size() != kHashBytes || ToHash(ToString(log_root)) != mine.log_root) {
    return Reject("header's log root after height " + std::to_string(exec_height) +
                  " does not match the ledger's");
  }
  return Status::Ok();
}

Result<CommittedBlock> Ledger::Commit(const pb::Block& block,
                                      const pb::CommitCertificate& certificate,
                                      const crypto::Verifier* tx_verifier) {
  pb::BlockHeader header;
  HC_RETURN_IF_ERROR(ParseBlockShape(block, &header));
  std::vector<std::string> txs(block.txs().begin(), block.txs().end());
  return Commit(block.header(), certificate,
                PrepareBlock(header.height(), header.timestamp_ms(), std::move(txs),
                             genesis_.chain_id, tx_verifier ? *tx_verifier : verifier_));
}

Result<CommittedBlock> Ledger::Commit(std::string_view header_bytes,
                                      const pb::CommitCertificate& certificate,
                                      ExecutableBlock prepared) {
  return CommitPrepared(header_bytes, certificate, std::move(prepared), nullptr, nullptr);
}

namespace {

// R26: the signatures of an attested block are taken as valid; the attested log decides.
class AttestedSignatures final : public crypto::Verifier {
 public:
  bool Verify(const crypto::Ed25519PublicKey&, std::string_view, ByteView,
              ByteView) const override {
    return true;
  }
};

}  // namespace

Result<LogClaim> Ledger::AttestedLog(uint64_t h, const Attestation& attestation) const {
  auto refuse = [](std::string what) { return InvalidArgument("R26: " + std::move(what)); };
  if (attestation.certificate == nullptr) return refuse("no certificate");
  pb::BlockHeader header;
  if (!ParseHeader(attestation.header, &header))
    return refuse("the attesting header does not parse");
  if (header.chain_id() != genesis_.chain_id) {
    return refuse("the attesting header is for chain '" + header.chain_id() + "'");
  }
  if (header.exec_height() != h || header.height() <= h) {
    return refuse("the header at height " + std::to_string(header.height()) +
                  " claims the log after " + std::to_string(header.exec_height()) + ", not after " +
                  std::to_string(h));
  }
  if (header.log_root().size() != kHashBytes) {
    return refuse("the attested log root is not 32 bytes");
  }
  const Hash32 hash = consensus::BlockHash(AsBytes(attestation.header));
  Status cs =
      CheckCertificate(*attestation.certificate, header.height(), hash, genesis_, verifier_);
  if (!cs.ok()) return refuse("the attesting certificate: " + cs.message());
  return LogClaim{h, header.log_size(), ToHash(header.log_root())};
}

Result<CommittedBlock> Ledger::CommitAttested(const pb::Block& block,
                                              const pb::CommitCertificate& certificate,
                                              const Attestation& attestation,
                                              const crypto::Verifier* tx_verifier) {
  HC_ASSIGN_OR_RETURN(const RunBlock b, RunBlockOf(block, certificate));
  CommittedRun run =
      CommitAttestedRun(std::span(&b, 1), attestation, tx_verifier ? *tx_verifier : verifier_);
  if (!run.status.ok()) return run.status;
  return std::move(run.blocks.front());
}

Status Ledger::CheckCertified(std::string_view header_bytes,
                              const pb::CommitCertificate& certificate) const {
  pb::BlockHeader header;
  if (!ParseHeader(header_bytes, &header)) return Reject("block header does not parse");
  return CheckBlockCertificate(certificate, header.height(),
                               consensus::BlockHash(AsBytes(header_bytes)));
}

Status Ledger::CheckBlockCertificate(const pb::CommitCertificate& certificate, uint64_t height,
                                     const Hash32& hash) const {
  Status cs = CheckCertificate(certificate, height, hash, genesis_, verifier_);
  if (!cs.ok()) return Reject("commit certificate: " + cs.message());
  return Status::Ok();
}

Result<Ledger::RunBlock> Ledger::RunBlockOf(const pb::Block& block,
                                            const pb::CommitCertificate& certificate) const {
  pb::BlockHeader header;
  HC_RETURN_IF_ERROR(ParseBlockShape(block, &header));
  return RunBlock{block.header(), &certificate,
                  [&block, h = header.height(), t = header.timestamp_ms(),
                   chain = &genesis_.chain_id](const crypto::Verifier& v) {
                    std::vector<std::string> txs(block.txs().begin(), block.txs().end());
                    return PrepareBlock(h, t, std::move(txs), *chain, v);
                  }};
}

Ledger::CommittedRun Ledger::CommitAttestedRun(std::span<const RunBlock> run,
                                               const Attestation& attestation,
                                               const crypto::Verifier& tx_verifier) {
  CommittedRun out;
  if (run.empty()) return out;
  if (!broken_.ok()) {
    out.status = Broken();
    return out;
  }
  for (const RunBlock& b : run) {
    if (b.certificate == nullptr || !b.prepare) {
      out.status = InvalidArgument("R26: a block of the run has no certificate or txs");
      return out;
    }
  }
  // Blocks [0, checked_until) are committed with every signature checked; a block the attested
  // pass refused for a reason no signature changes (R23: its header, txs or certificate) is
  // refused again with that reason, without checking its signatures.
  size_t checked_until = run.size();
  Status refused;
  pb::BlockHeader last;
  Result<LogClaim> expected = InvalidArgument("R26: the run's last header does not parse");
  if (ParseHeader(run.back().header, &last)) expected = AttestedLog(last.height(), attestation);
  if (expected.ok()) {
    static const AttestedSignatures kAttested;
    // Each block executes over the writes of those before it; the run is written in one batch.
    StateOverlay view(orgs_);
    const KvReader& kv = run.size() == 1 ? static_cast<const KvReader&>(orgs_) : view;
    lpb::ChainTip end = tip_;
    crypto::CompactRange end_range = range_;
    std::vector<CommittedBlock> staged_blocks;
    staged_blocks.reserve(run.size());
    for (size_t i = 0; i < run.size(); ++i) {
      const bool is_last = i + 1 == run.size();
      bool mismatch = false;
      Result<Staged> staged =
          Stage(kv, end, end_range, run[i].header, *run[i].certificate, run[i].prepare(kAttested),
                is_last ? &*expected : nullptr, &mismatch);
      if (!staged.ok()) {
        // A different log — the attested one, or one a header of the run claims — means some
        // tx's signature fails (R4): check them all. Anything else is this block's own fault,
        // whatever its signatures.
        if (!mismatch) {
          checked_until = i;
          refused = staged.status();
        }
        break;
      }
      staged->out.signatures_attested = true;
      // The next blocks of the run rule replays out against this one's ids too; dropped again
      // below if the run is not written.
      NoteIndexed(staged->tip.height(), staged->tip.timestamp_ms(),
                  std::move(staged->indexed_keys));
      staged_blocks.push_back(std::move(staged->out));
      end = std::move(staged->tip);
      end_range = std::move(staged->range);
      KvBatch& batch = staged->batch;
      if (run.size() > 1) {  // the next blocks read this one's writes through the view
        for (KvWrite& w : batch.writes) {
          if (w.value) {
            view.Put(w.cf, std::move(w.key), std::move(*w.value));
          } else {
            view.Delete(w.cf, std::move(w.key));
          }
        }
        if (is_last) batch = view.TakeWrites();
      }
      if (is_last) {
        out.status = WriteStaged(batch, std::move(end), std::move(end_range));
        if (out.status.ok()) {
          out.blocks = std::move(staged_blocks);
        } else if (recent_ != nullptr) {
          recent_->DropAbove(tip_.height());
        }
        return out;
      }
    }
    if (recent_ != nullptr) recent_->DropAbove(tip_.height());
  }
  for (size_t i = 0; i < checked_until; ++i) {
    // The certificate first: no signature is checked for txs that no quorum certified.
    Status certified = CheckCertified(run[i].header, *run[i].certificate);
    if (!certified.ok()) {
      out.status = certified;
      return out;
    }
    Result<CommittedBlock> r = CommitPrepared(run[i].header, *run[i].certificate,
                                              run[i].prepare(tx_verifier), nullptr, nullptr);
    if (!r.ok()) {
      out.status = r.status();
      return out;
    }
    out.blocks.push_back(std::move(r).value());
  }
  out.status = refused;
  return out;
}

Result<CommittedBlock> Ledger::CommitPrepared(std::string_view header_bytes,
                                              const pb::CommitCertificate& certificate,
                                              ExecutableBlock prepared, const LogClaim* expected,
                                              bool* mismatch) {
  if (!broken_.ok()) return Broken();
  HC_ASSIGN_OR_RETURN(Staged staged, Stage(orgs_, tip_, range_, header_bytes, certificate,
                                           std::move(prepared), expected, mismatch));
  const uint64_t height = staged.tip.height();
  const int64_t time_ms = staged.tip.timestamp_ms();
  HC_RETURN_IF_ERROR(WriteStaged(staged.batch, std::move(staged.tip), std::move(staged.range)));
  NoteIndexed(height, time_ms, std::move(staged.indexed_keys));
  return std::move(staged.out);
}

void Ledger::NoteIndexed(uint64_t height, int64_t timestamp_ms, std::vector<uint64_t> keys) {
  if (recent_ == nullptr) return;
  recent_->AddBlock(height, timestamp_ms, std::move(keys), genesis_.txs.Horizon(timestamp_ms));
}

Status Ledger::Broken() const {
  return FailedPrecondition("ledger: an earlier commit failed (" + broken_.ToString() +
                            "); re-open the store");
}

Status Ledger::WriteStaged(const KvBatch& batch, lpb::ChainTip tip, crypto::CompactRange range) {
  Status ws = store_->Write(batch, /*sync=*/true);
  if (!ws.ok()) {
    broken_ = ws;
    return ws;
  }
  orgs_.Apply(batch);
  tip_ = std::move(tip);
  range_ = std::move(range);
  return Status::Ok();
}

Result<Ledger::Staged> Ledger::Stage(const KvReader& kv, const lpb::ChainTip& end,
                                     const crypto::CompactRange& end_range,
                                     std::string_view header_bytes,
                                     const pb::CommitCertificate& certificate,
                                     ExecutableBlock prepared, const LogClaim* expected,
                                     bool* mismatch) const {
  // R23: the block must extend the chain's end (the tip, or the run staged before it).
  pb::BlockHeader header;
  if (!ParseHeader(header_bytes, &header)) return Reject("block header does not parse");
  const uint64_t h = header.height();
  if (header.chain_id() != genesis_.chain_id) {
    return Reject("block is for chain '" + header.chain_id() + "'");
  }
  if (h != end.height() + 1) {
    return Reject("block height " + std::to_string(h) + " does not follow the tip " +
                  std::to_string(end.height()));
  }
  if (ToHash(header.prev_block_hash()) != HashOf(end) ||
      header.prev_block_hash().size() != kHashBytes) {
    return Reject("prev_block_hash does not match the tip's hash");
  }
  if (header.timestamp_ms() < end.timestamp_ms()) {
    return Reject("timestamp " + std::to_string(header.timestamp_ms()) +
                  " ms goes back before the tip's " + std::to_string(end.timestamp_ms()));
  }
  const size_t tx_count = prepared.txs.size();
  if (tx_count > kBlockTxsMax || header.tx_count() != static_cast<uint32_t>(tx_count)) {
    return Reject("tx_count " + std::to_string(header.tx_count()) + " but the block holds " +
                  std::to_string(tx_count) + " txs");
  }
  if (prepared.height != h || prepared.timestamp_ms != header.timestamp_ms()) {
    return InvalidArgument("the prepared txs are not this block's");
  }
  size_t total = header_bytes.size();
  std::vector<std::string_view> tx_bytes;
  tx_bytes.reserve(tx_count);
  crypto::CompactRange txs_range;
  for (const BlockTx& tx : prepared.txs) {
    total += tx.bytes.size();
    tx_bytes.push_back(tx.bytes);
    txs_range.Append(crypto::LeafHash(tx.tx_id));
  }
  if (total > kBlockMaxBytes) return Reject("block is over the size limit");
  if (header.txs_root().size() != kHashBytes || ToHash(header.txs_root()) != txs_range.Root()) {
    return Reject("txs_root does not match the block's txs");
  }
  if (header.exec_height() >= h) {
    return Reject("exec_height " + std::to_string(header.exec_height()) +
                  " must be below the block's height");
  }
  Status claim =
      CheckLogClaimIn(kv, end, header.exec_height(), header.log_size(), AsBytes(header.log_root()));
  if (!claim.ok()) {
    // A claim on a block of the run being staged (past the stored tip) is checked against a log
    // executed without signatures; a claim on a stored block is the block's own fault.
    if (mismatch != nullptr && header.exec_height() > tip_.height()) *mismatch = true;
    return claim;
  }
  if (!header.state_root().empty()) return Reject("state_root is reserved and must be empty");
  const Hash32 hash = consensus::BlockHash(AsBytes(header_bytes));
  HC_RETURN_IF_ERROR(CheckBlockCertificate(certificate, h, hash));

  HC_ASSIGN_OR_RETURN(ExecutionResult exec,
                      Execute(prepared, kv, ReplayContext{genesis_.txs, recent_.get()}));
  if (exec.first_entry != end_range.size()) {
    return Corruption("ledger store: " + DescribeKey(Cf::kState, keys::kEntryCount) +
                      ": the state counts " + std::to_string(exec.first_entry) +
                      " entries, the log holds " + std::to_string(end_range.size()));
  }
  Staged staged;
  staged.range = end_range;
  KvBatch& batch = staged.batch;
  batch.writes.reserve(exec.leaf_hashes.size() / 4 + exec.writes.writes.size() + 64);
  HC_RETURN_IF_ERROR(AppendLeaves(kv, exec.leaf_hashes, &staged.range, &batch));
  const crypto::CompactRange& range = staged.range;
  const Hash32 root = range.Root();
  if (expected != nullptr && (range.size() != expected->log_size || root != expected->log_root)) {
    *mismatch = true;
    return Reject("the block does not yield the attested log");
  }
  lpb::BlockInfo info;
  info.set_height(h);
  info.set_block_hash(hash.data(), hash.size());
  info.set_timestamp_ms(header.timestamp_ms());
  info.set_first_entry(exec.first_entry);
  info.set_tx_count(static_cast<uint32_t>(tx_count));
  info.set_log_size(range.size());
  info.set_log_root(root.data(), root.size());
  lpb::ChainTip& tip = staged.tip;
  tip.set_height(h);
  tip.set_block_hash(hash.data(), hash.size());
  tip.set_log_size(range.size());
  tip.set_log_root(root.data(), root.size());
  tip.set_timestamp_ms(header.timestamp_ms());
  batch.Put(Cf::kBlocks, keys::Block(h), EncodeBlock(header_bytes, tx_bytes));
  batch.Put(Cf::kBlocks, keys::BlockInfo(h), Serialize(info));
  batch.Put(Cf::kBlocks, std::string(keys::kTip), Serialize(tip));
  batch.Put(Cf::kCerts, keys::Cert(h), Serialize(certificate));
  if (tx_count > 0) {
    lpb::BlockReceipts group;
    group.set_height(h);
    for (const std::string& r : exec.receipt_bytes) group.add_receipts(r);
    batch.Put(Cf::kEntries, keys::EntriesGroup(exec.first_entry), Serialize(group));
  }
  if (recent_ != nullptr) {
    for (const KvWrite& w : exec.writes.writes) {
      if (w.cf == Cf::kTxIndex && w.value) {
        staged.indexed_keys.push_back(RecentTxIds::KeyOf(AsBytes(w.key)));
      }
    }
  }
  batch.Append(std::move(exec.writes));
  CommittedBlock& out = staged.out;
  out.height = h;
  out.block_hash = hash;
  out.log_size = range.size();
  out.log_root = root;
  out.execution = std::move(exec);
  return staged;
}

Result<pb::Block> Ledger::BlockAt(uint64_t h) const {
  const std::string key = keys::Block(h);
  std::string v;
  Status s = store_->Get(Cf::kBlocks, key, &v);
  if (s.code() == StatusCode::kNotFound) {
    return NotFound("no block at height " + std::to_string(h));
  }
  HC_RETURN_IF_ERROR(s);
  pb::Block block;
  HC_RETURN_IF_ERROR(ParseStored(v, &block, Cf::kBlocks, key));
  return block;
}

Result<pb::CommitCertificate> Ledger::CertificateAt(uint64_t h) const {
  const std::string key = keys::Cert(h);
  std::string v;
  Status s = store_->Get(Cf::kCerts, key, &v);
  if (s.code() == StatusCode::kNotFound) {
    return NotFound("no certificate at height " + std::to_string(h));
  }
  HC_RETURN_IF_ERROR(s);
  pb::CommitCertificate cert;
  HC_RETURN_IF_ERROR(ParseStored(v, &cert, Cf::kCerts, key));
  return cert;
}

Result<lpb::BlockInfo> Ledger::InfoAt(uint64_t h) const { return InfoIn(*store_, h); }

Result<lpb::BlockInfo> Ledger::InfoIn(const KvReader& kv, uint64_t h) {
  const std::string key = keys::BlockInfo(h);
  std::string v;
  Status s = kv.Get(Cf::kBlocks, key, &v);
  if (s.code() == StatusCode::kNotFound) {
    return NotFound("no block info at height " + std::to_string(h));
  }
  HC_RETURN_IF_ERROR(s);
  lpb::BlockInfo info;
  HC_RETURN_IF_ERROR(ParseStored(v, &info, Cf::kBlocks, key));
  return info;
}

Result<std::pair<uint64_t, uint32_t>> Ledger::EntryPosition(uint64_t index) const {
  if (index >= range_.size()) {
    return NotFound("log entry " + std::to_string(index) + " is past the log's size " +
                    std::to_string(range_.size()));
  }
  std::string key, v;
  Status s = store_->SeekAtOrBefore(Cf::kEntries, keys::EntriesGroup(index), &key, &v);
  if (s.code() == StatusCode::kNotFound || (s.ok() && key.size() != 8)) {
    return Corruption("ledger store: entries: no receipts group holds entry " +
                      std::to_string(index));
  }
  HC_RETURN_IF_ERROR(s);
  lpb::BlockReceipts group;
  HC_RETURN_IF_ERROR(ParseStored(v, &group, Cf::kEntries, key));
  const uint64_t offset = index - GetU64(key);
  if (offset >= static_cast<uint64_t>(group.receipts_size())) {
    return Corruption("ledger store: " + DescribeKey(Cf::kEntries, key) + ": entry " +
                      std::to_string(index) + " is not in the group");
  }
  return std::make_pair(group.height(), static_cast<uint32_t>(offset));
}

Result<std::string> Ledger::EntryAt(uint64_t index) const {
  HC_ASSIGN_OR_RETURN(auto pos, EntryPosition(index));
  std::string key, v;
  HC_RETURN_IF_ERROR(store_->SeekAtOrBefore(Cf::kEntries, keys::EntriesGroup(index), &key, &v));
  lpb::BlockReceipts group;
  HC_RETURN_IF_ERROR(ParseStored(v, &group, Cf::kEntries, key));
  HC_ASSIGN_OR_RETURN(pb::Block block, BlockAt(pos.first));
  if (pos.second >= static_cast<uint32_t>(block.txs_size())) {
    return Corruption("ledger store: " + DescribeKey(Cf::kBlocks, keys::Block(pos.first)) +
                      ": block has fewer txs than receipts");
  }
  return EncodeLogEntry(block.txs(static_cast<int>(pos.second)), pos.first, pos.second,
                        group.receipts(static_cast<int>(pos.second)));
}

}  // namespace hc::ledger
