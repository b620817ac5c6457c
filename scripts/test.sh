#!/usr/bin/env bash
# Installs what the build needs, builds (release preset), and runs every test with ctest.
# Exits non-zero on any failure. Usage: scripts/test.sh [extra ctest args, e.g. -R merkle]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
preset="${HC_PRESET:-release}"
if [[ "$preset" == tsan ]]; then
  export TSAN_OPTIONS="${TSAN_OPTIONS:-suppressions=$PWD/scripts/tsan.supp second_deadlock_stack=1}"
fi
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "${HC_JOBS:-2}"
ctest --preset "$preset" -j "${HC_JOBS:-2}" --timeout 900 "$@"
