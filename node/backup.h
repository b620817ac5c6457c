// Online backups of a running node (docs/operations.md "Backups").
//
// A backup is a RocksDB checkpoint of the node's whole database, checked before it is kept: it is
// opened as a ledger (the open-time checks of docs/spec/ledger-rules.md R25: hash chain, the tip's
// certificate, the log root), and only then renamed from `.partial-*` to its final name
// `h<height, 12 digits>-<UTC time>`, so a directory with a final name is always a complete,
// checked database. Restoring one is: stop the node, replace <data_dir>/db by the backup's `db`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/signer.h"
#include "ledger/genesis.h"
#include "ledger/rocks_store.h"

namespace hc::node {

struct BackupResult {
  std::string path;  // <dir>/h<height>-<time>; the database is its `db` subdirectory
  uint64_t height = 0;
  Hash32 tip_hash{};
  uint64_t bytes = 0;                // size of the backup's files
  std::vector<std::string> removed;  // older backups deleted to keep `keep`
};

// Writes a backup of `store` (a live database) under `dir` (created if missing), then deletes the
// oldest backups beyond the newest `keep` and any `.partial-*` left by an interrupted backup.
// `now_ms` (Unix milliseconds) names it. On error nothing is left under a final name.
Result<BackupResult> WriteBackup(ledger::RocksKvStore& store, const ledger::Genesis& genesis,
                                 const crypto::Verifier& verifier, const std::string& dir,
                                 uint32_t keep, int64_t now_ms);

// The backups under `dir`, oldest first (by height, then time); empty when there are none.
std::vector<std::string> ListBackups(const std::string& dir);

}  // namespace hc::node
