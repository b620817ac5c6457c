#!/usr/bin/env bash
# Enforces DESIGN.md §7's layering: the PBFT replica is sans-IO, and only node/ owns threads and
# sockets. Exits non-zero, naming each offending line, when a module includes what it may not.
set -uo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
fail=0

check() {  # check DIR REGEX WHY
  local dir="$1" regex="$2" why="$3"
  [ -d "$root/$dir" ] || return 0
  local hits
  hits=$(grep -RnE --include='*.h' --include='*.cc' --include='*.cpp' "$regex" "$root/$dir" || true)
  if [ -n "$hits" ]; then
    echo "layering violation in $dir/ ($why):"
    echo "$hits" | sed "s|$root/||"
    fail=1
  fi
}

# consensus/ is a pure state machine: no IO, threads, clocks, storage or wire parsing.
check consensus '#include\s*[<"](boost/|asio|rocksdb/|thread[>"]|mutex[>"]|condition_variable[>"]|future[>"]|chrono[>"]|random[>"]|google/protobuf|.*\.pb\.h|proto/|ledger/|node/|api/)' \
  "the replica may include only common/ and crypto/ interfaces"
# common/ and crypto/ sit below everything.
check common '#include\s*[<"](boost/|rocksdb/|google/protobuf|.*\.pb\.h|crypto/|ledger/|consensus/|node/|api/)' \
  "common/ depends on nothing of ours"
check crypto '#include\s*[<"](boost/asio|boost/beast|rocksdb/|ledger/|consensus/|node/|api/)' \
  "crypto/ depends only on common/"
# Only the ledger owns RocksDB.
for d in common crypto consensus api cli; do
  check "$d" '#include\s*[<"]rocksdb/' "only ledger/ may use RocksDB"
done
# Only node/ (and api/, which node drives) may use sockets and threads.
for d in ledger consensus crypto; do
  check "$d" '#include\s*[<"](boost/asio|boost/beast|thread[>"])' "only node/ and api/ do IO and threads"
done

if [ "$fail" -eq 0 ]; then echo "layering: ok"; fi
exit "$fail"
