#include "consensus/oset.h"

#include <map>

namespace hc::consensus {

NewViewSet ComputeNewViewSet(std::span<const ViewChange* const> view_changes,
                             const Hash32& genesis_hash, const ParentHashFn& parent_of) {
  NewViewSet out;
  out.stable_block_hash = genesis_hash;
  // min-s: the highest stable checkpoint. Its proof (validated by the caller) gives the block hash.
  for (const ViewChange* vc : view_changes) {
    if (vc->stable_seq > out.stable_seq && !vc->checkpoint_proof.empty()) {
      out.stable_seq = vc->stable_seq;
      out.stable_block_hash = vc->checkpoint_proof.front().block_hash;
      out.stable_source = vc;
    }
  }
  // Per seq above min-s, the certificate of the highest view (PBFT's selection rule).
  std::map<SeqNumber, const PreparedCertificate*> best;
  for (const ViewChange* vc : view_changes) {
    for (const PreparedCertificate& cert : vc->prepared) {
      const PrePrepare& pp = cert.pre_prepare;
      if (pp.seq <= out.stable_seq) continue;
      auto [it, inserted] = best.emplace(pp.seq, &cert);
      if (inserted) continue;
      const PrePrepare& cur = it->second->pre_prepare;
      if (pp.view > cur.view || (pp.view == cur.view && pp.block_hash < cur.block_hash)) {
        it->second = &cert;
      }
    }
  }
  if (best.empty()) return out;
  out.max_seq = best.rbegin()->first;
  // The longest prefix above min-s that is contiguous and hash-linked.
  Hash32 parent = out.stable_block_hash;
  SeqNumber next = out.stable_seq.Next();
  for (const auto& [seq, cert] : best) {
    if (seq != next) {
      out.stop = NewViewSet::Stop::kGap;
      return out;
    }
    const std::optional<Hash32> prev = parent_of(*cert);
    if (!prev || *prev != parent) {
      out.stop = NewViewSet::Stop::kBrokenLink;
      return out;
    }
    out.entries.push_back(cert);
    parent = cert->pre_prepare.block_hash;
    next = next.Next();
  }
  out.stop = NewViewSet::Stop::kNoCertificates;
  return out;
}

}  // namespace hc::consensus
