#!/usr/bin/env bash
# The main job. Today Health Chain has its foundation (crypto, the RFC 9162 verifiable log and the
# wire schema) but no node yet, so this runs the part of the mission that exists, for real:
#   1. bootstrap the Debian packages and build hcctl (release preset);
#   2. create identities for a hospital, an insurer and a patient (0600 key files under var/demo);
#   3. append a few events to a verifiable log and prove one event's inclusion and the log's
#      append-only growth, the way an insurer will check a claim's history offline;
#   4. show that a tampered proof is refused.
# The 4-validator network arrives with the node (issue 5); this script will start it then.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "${HC_JOBS:-2}" --target hcctl
HCCTL=build/release/cli/hcctl
DEMO=var/demo
mkdir -p "$DEMO"

echo
echo "== identities (Ed25519 for signing, X25519 for key wrapping; files are 0600) =="
for who in hospital insurer patient; do
  if [ ! -f "$DEMO/$who.key.json" ]; then
    "$HCCTL" keygen --out "$DEMO/$who.key.json" >"$DEMO/$who.pub.txt"
  fi
  echo "$who: $(grep "^id" "$DEMO/$who.pub.txt")"
done

echo
echo "== a verifiable log of events (RFC 9162 Merkle tree) =="
cat >"$DEMO/entries.txt" <<'ENTRIES'
RegisterOrg hospital St Mary
RegisterOrg insurer Northwind Health
EnrollPatient p-1
GrantConsent p-1 -> St Mary TREAT
AnchorRecord r-1 discharge summary sha256=...
AccessRecord r-1 by St Mary TREAT GRANTED
GrantConsent p-1 -> Northwind HPAYMT
SubmitClaim c-1 by St Mary to Northwind
ENTRIES
wc -l <"$DEMO/entries.txt" | xargs echo "entries:"

echo
echo "== inclusion proof: the claim (entry 7) is in the log of 8 entries =="
"$HCCTL" proof make-inclusion --entries "$DEMO/entries.txt" --index 7 >"$DEMO/inclusion.json"
cat "$DEMO/inclusion.json"; echo
printf 'verify-inclusion: '; "$HCCTL" proof verify-inclusion "$DEMO/inclusion.json"

echo
echo "== consistency proof: the log of 5 entries is a prefix of the log of 8 =="
"$HCCTL" proof make-consistency --entries "$DEMO/entries.txt" --size1 5 >"$DEMO/consistency.json"
printf 'verify-consistency: '; "$HCCTL" proof verify-consistency "$DEMO/consistency.json"

echo
echo "== tampering is detected: the same proof claimed for entry 6 =="
sed 's/"leafIdx":7/"leafIdx":6/' "$DEMO/inclusion.json" >"$DEMO/tampered.json"
printf 'verify-inclusion: '
if "$HCCTL" proof verify-inclusion "$DEMO/tampered.json"; then
  echo "ERROR: a tampered proof verified" >&2
  exit 1
fi

echo
echo "Foundation demo complete. The validator network is not built yet (see README, 'Status')."
