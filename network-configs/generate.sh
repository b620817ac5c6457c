#!/usr/bin/env bash
# Generates a working copy of one of the example networks, with fresh keys, outside the source
# tree: network-configs/generate.sh local-4|local-7 [OUT_DIR] [extra hcctl network new flags]
# (default OUT_DIR: var/<name>). The files checked in beside this script document the layout only;
# their keys were discarded when they were generated.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: network-configs/generate.sh local-4|local-7 [OUT_DIR] [flags...]}
out=${2:-var/$name}
shift $(( $# >= 2 ? 2 : 1 ))
case "$name" in
  local-4) validators=4; base_port=7000 ;;
  local-7) validators=7; base_port=7100 ;;
  *) echo "unknown network $name (local-4 or local-7)" >&2; exit 2 ;;
esac
HCCTL=${HCCTL:-build/release/cli/hcctl}
[ -x "$HCCTL" ] || { echo "$HCCTL missing: cmake --preset release && cmake --build --preset release --target hcctl" >&2; exit 2; }
exec "$HCCTL" network new --validators "$validators" --observers 1 --out "$out" \
  --chain-id "healthchain-$name" --base-port "$base_port" "$@"
