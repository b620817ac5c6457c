#include "consensus/metrics.h"

namespace hc::consensus {

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kUnknownSender:
      return "unknown_sender";
    case DropReason::kSenderMismatch:
      return "sender_mismatch";
    case DropReason::kBadSignature:
      return "bad_signature";
    case DropReason::kTooLarge:
      return "too_large";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kBadDigest:
      return "bad_digest";
    case DropReason::kOutsideWindow:
      return "outside_window";
    case DropReason::kStaleView:
      return "stale_view";
    case DropReason::kFutureView:
      return "future_view";
    case DropReason::kNotPrimary:
      return "not_primary";
    case DropReason::kConflictingPrePrepare:
      return "conflicting_pre_prepare";
    case DropReason::kConflictingVote:
      return "conflicting_vote";
    case DropReason::kDuplicate:
      return "duplicate";
    case DropReason::kBadParent:
      return "bad_parent";
    case DropReason::kBadTimestamp:
      return "bad_timestamp";
    case DropReason::kBadExecState:
      return "bad_exec_state";
    case DropReason::kBadTxs:
      return "bad_txs";
    case DropReason::kBadCheckpointProof:
      return "bad_checkpoint_proof";
    case DropReason::kBadPreparedCertificate:
      return "bad_prepared_certificate";
    case DropReason::kBadCommitCertificate:
      return "bad_commit_certificate";
    case DropReason::kBadNewView:
      return "bad_new_view";
    case DropReason::kAlreadyCommitted:
      return "already_committed";
    case DropReason::kBufferFull:
      return "buffer_full";
    case DropReason::kUnexpected:
      return "unexpected";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

}  // namespace hc::consensus
