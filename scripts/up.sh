#!/usr/bin/env bash
# The main job: a Health Chain network on this machine, and the mission played through its API.
#
#   1. bootstrap the Debian packages, build hcctl and the node daemon (release preset);
#   2. generate a network of 4 validators and 1 observer under var/local-4 (reused when present);
#   3. start the 5 nodes in the background (logs: var/local-4/<node>/node.log) and wait until they
#      agree on a height;
#   4. play a scenario through the API, printing every step and its receipt: a commission
#      registers two hospitals, an insurer and a consent policy; a patient enrolls; hospital A
#      encrypts a record, uploads the ciphertext and anchors its hash; consent, access (GRANTED),
#      the record fetched and decrypted by hospital B, the insurer DENIED and refused the record,
#      break-glass, a claim, its duplicate, adjudication, revocation; then every node's head hash
#      is compared;
#   5. take an online backup of the observer (SIGUSR1) while the network runs;
#   6. stop the nodes cleanly and re-verify the observer's copy of the chain and the backup offline.
#
# Usage: scripts/up.sh [--keep-running | --detach] [--reset] [--no-build]
#        scripts/up.sh --stop
#   --keep-running  after the scenario, leave the network up in the foreground; Ctrl-C stops it
#   --detach        after the scenario, leave the network running in the background and exit;
#                   stop it later with scripts/up.sh --stop
#   --reset         stop the network and delete var/local-4 (keys, chain data) before starting
#   --no-build      use the binaries already in build/release
#   --stop          stop a network left running by --detach, and exit
# Exit code: 0 when every step behaved as expected, 1 when a step did not, 2 on a failure to
# build or start.
set -euo pipefail
cd "$(dirname "$0")/.."

NET=var/local-4
HCCTL=${HC_HCCTL:-build/release/cli/hcctl}
NODE_BIN=${HC_NODE_BIN:-build/release/node/healthchain}  # HC_NODE_BIN: tests of this script
NODES=(validator-0 validator-1 validator-2 validator-3 observer-0)
BASE_PORT=${HC_BASE_PORT:-7000}   # peers on 7000.., API on 8000..
JOBS=${HC_JOBS:-2}

keep_running=0; detach=0; reset=0; build=1; stop_only=0
for arg in "$@"; do
  case "$arg" in
    --keep-running) keep_running=1 ;;
    --detach) detach=1 ;;
    --reset) reset=1 ;;
    --no-build) build=0 ;;
    --stop) stop_only=1 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "up.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

api_url() {  # node name -> its API URL, from its node.toml
  local listen
  listen=$(sed -n "/^\[api\]/,/^\[/s/^listen *= *['\"]\(.*\)['\"]/\1/p" "$NET/$1/node.toml")
  echo "http://$listen"
}

# Whether pid file $1 names a live healthchain process (guards against a reused pid).
running_pid() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q healthchain "/proc/$pid/cmdline" 2>/dev/null \
    && echo "$pid"
}

stop_network() {
  local node pid pids=()
  for node in "${NODES[@]}"; do
    if pid=$(running_pid "$NET/$node/node.pid"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  echo "stopping ${#pids[@]} node(s) (SIGTERM)..."
  for _ in $(seq 1 100); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "node pid $pid did not stop within 20 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for node in "${NODES[@]}"; do rm -f "$NET/$node/node.pid"; done
  echo "network stopped"
}

if [ $stop_only -eq 1 ]; then
  stop_network
  exit 0
fi

# ---- 1. packages and build ----
if [ $build -eq 1 ]; then
  scripts/bootstrap.sh
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$JOBS" --target hcctl
  if ! cmake --build --preset release -j "$JOBS" --target healthchain; then
    echo "up.sh: the node daemon (target healthchain) does not build; see the errors above" >&2
    exit 2
  fi
fi
for bin in "$HCCTL" "$NODE_BIN"; do
  [ -x "$bin" ] || { echo "up.sh: $bin is missing (run without --no-build)" >&2; exit 2; }
done

# ---- 2. the network ----
for node in "${NODES[@]}"; do
  if running_pid "$NET/$node/node.pid" >/dev/null; then
    echo "up.sh: $node is already running (pid $(cat "$NET/$node/node.pid")); scripts/up.sh --stop first" >&2
    exit 2
  fi
done
if [ $reset -eq 1 ] && [ -d "$NET" ]; then
  echo "== --reset: deleting $NET (keys and chain data) =="
  rm -rf "$NET"
fi
echo
if [ -f "$NET/genesis.json" ]; then
  echo "== reusing the network in $NET (scripts/up.sh --reset starts afresh) =="
else
  echo "== generating a network of 4 validators and 1 observer in $NET =="
  "$HCCTL" network new --validators 4 --observers 1 --out "$NET" \
    --chain-id healthchain-local-4 --base-port "$BASE_PORT"
fi

# ---- 3. start ----
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_network
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo
echo "== starting ${#NODES[@]} nodes =="
for node in "${NODES[@]}"; do
  "$NODE_BIN" --config "$NET/$node/node.toml" >>"$NET/$node/node.log" 2>&1 &
  echo $! >"$NET/$node/node.pid"
  echo "$node: pid $!  api $(api_url "$node")  log $NET/$node/node.log"
done

# Waits until every node answers and all report the same height and head hash (at least $1).
wait_agreement() {
  local min_height=$1 deadline=$((SECONDS + $2)) node h hash heights hashes
  while [ $SECONDS -lt $deadline ]; do
    heights=(); hashes=()
    for node in "${NODES[@]}"; do
      if ! running_pid "$NET/$node/node.pid" >/dev/null; then
        echo "up.sh: $node exited; last lines of its log:" >&2
        tail -n 20 "$NET/$node/node.log" >&2
        return 2
      fi
      h=$("$HCCTL" status --node "$(api_url "$node")" --field height --timeout-ms 2000 2>/dev/null) || h=""
      hash=$("$HCCTL" status --node "$(api_url "$node")" --field head_hash --timeout-ms 2000 2>/dev/null) || hash=""
      heights+=("$h"); hashes+=("$hash")
    done
    if [ -n "${heights[0]}" ] && [ "${heights[0]}" -ge "$min_height" ] 2>/dev/null &&
       [ "$(printf '%s\n' "${heights[@]}" | sort -u | wc -l)" -eq 1 ] &&
       [ "$(printf '%s\n' "${hashes[@]}" | sort -u | wc -l)" -eq 1 ]; then
      AGREED_HEIGHT=${heights[0]}; AGREED_HASH=${hashes[0]}
      return 0
    fi
    sleep 0.5
  done
  echo "up.sh: the nodes did not agree within $2 s:" >&2
  for i in "${!NODES[@]}"; do echo "  ${NODES[$i]}: height ${heights[$i]:-?} head ${hashes[$i]:-?}" >&2; done
  return 1
}

echo
echo "== waiting until every node answers and all agree on a height =="
wait_agreement 0 60 || exit 2
echo "all ${#NODES[@]} nodes at height $AGREED_HEIGHT, head $AGREED_HASH"
for node in "${NODES[@]}"; do echo; echo "-- $node"; "$HCCTL" status --node "$(api_url "$node")"; done

# ---- 4. the scenario ----
run=$(date +%Y%m%d%H%M%S)   # fresh ids and identities per run, so a reused chain takes them too
DEMO=$NET/demo/run-$run
mkdir -p "$DEMO"
for who in hospital-a hospital-b insurer patient; do
  "$HCCTL" keygen --out "$DEMO/$who.key.json" --public-out "$DEMO/$who.public.json" \
    >"$DEMO/$who.pub.txt"
done
COMMISSION=$NET/commission-0.key.json
GENESIS=$NET/genesis.json
cat >"$DEMO/discharge-summary.txt" <<RECORD
Discharge summary (demonstration record $run). Never written to the ledger: only the SHA-256 of
its ciphertext is; the ciphertext stays in hospital A's node and is served only after a committed
GRANTED access.
RECORD
printf 'Consent policy %s: patients choose who may see which records, for which purpose.\n' "$run" \
  >"$DEMO/policy.txt"

failures=0
step_no=0
# step "title" EXPECTED signer-key node-index hcctl-tx-args...
step() {
  local title=$1 expect=$2 key=$3 via=$4; shift 4
  step_no=$((step_no + 1))
  local url; url=$(api_url "validator-$via")
  echo
  echo "== $step_no. $title  (expect $expect; sent to validator-$via) =="
  if "$HCCTL" tx "$@" --key "$key" --node "$url" --genesis "$GENESIS" --wait --expect "$expect"; then
    :
  else
    echo "!! step $step_no did not behave as expected" >&2
    failures=$((failures + 1))
  fi
}

P=$DEMO/patient.key.json; A=$DEMO/hospital-a.key.json; B=$DEMO/hospital-b.key.json
I=$DEMO/insurer.key.json
REC=rec-$run; CLAIM=claim-$run; POLICY=policy-$run

step "commission registers hospital A" OK "$COMMISSION" 0 register-org \
  --org-key "$A" --role hospital --name "St Mary Hospital ($run)"
step "commission registers hospital B" OK "$COMMISSION" 1 register-org \
  --org-key "$B" --role hospital --name "City Clinic ($run)"
step "commission registers an insurer" OK "$COMMISSION" 2 register-org \
  --org-key "$I" --role insurer --name "Northwind Health ($run)"
step "commission registers a consent policy" OK "$COMMISSION" 3 register-policy \
  --policy-id "$POLICY" --uri "https://commission.example/policies/$POLICY" --document "$DEMO/policy.txt"
step "the patient enrolls (pseudonymous: only keys reach the ledger)" OK "$P" 0 enroll-patient \
  --patient "$P"
# record: "title" expect-success(0/1) hcctl-record-args... (always through validator-1, the node
# that holds hospital A's upload: payloads are not replicated between nodes)
record() {
  local title=$1 expect_ok=$2; shift 2
  step_no=$((step_no + 1))
  echo
  echo "== $step_no. $title  (expect $([ "$expect_ok" = 1 ] && echo success || echo refusal); via validator-1) =="
  if "$HCCTL" record "$@" --node "$(api_url validator-1)"; then rc=0; else rc=$?; fi
  if { [ "$expect_ok" = 1 ] && [ $rc -ne 0 ]; } || { [ "$expect_ok" = 0 ] && [ $rc -eq 0 ]; }; then
    echo "!! step $step_no did not behave as expected (exit $rc)" >&2
    failures=$((failures + 1))
  fi
}

record "hospital A encrypts a discharge summary, uploads the ciphertext and anchors its hash" 1 \
  put "$DEMO/discharge-summary.txt" --record-id "$REC" --patient "$DEMO/patient.public.json" \
  --category discharge-summary --description "Discharge summary" --key "$A"
step "the patient consents to hospital B for treatment" OK "$P" 2 grant-consent \
  --consent-id "consent-b-$run" --patient "$P" --grantee "$B" --purpose TREAT \
  --category discharge-summary --policy "$POLICY"
step "hospital B accesses the record for treatment" GRANTED "$B" 3 access-record \
  --record-id "$REC" --purpose TREAT
record "the patient wraps the record's data key for hospital B" 1 \
  share --record-id "$REC" --to "$DEMO/hospital-b.public.json" --key "$P"
record "hospital B fetches the ciphertext, checks the anchored hash and decrypts it" 1 \
  get --record-id "$REC" --key "$B" --out "$DEMO/hospital-b-copy.txt"
if cmp -s "$DEMO/discharge-summary.txt" "$DEMO/hospital-b-copy.txt"; then
  echo "hospital B's copy matches the original record byte for byte"
else
  echo "!! hospital B's copy differs from the original" >&2
  failures=$((failures + 1))
fi
step "the insurer tries to access the record without consent" DENIED "$I" 0 access-record \
  --record-id "$REC" --purpose HPAYMT
record "the insurer tries to fetch the record anyway: refused (403, nothing leaks)" 0 \
  get --record-id "$REC" --key "$I" --out "$DEMO/insurer-copy.txt"
step "hospital B breaks the glass in an emergency (flagged for review)" OK "$B" 1 break-glass \
  --record-id "$REC" --justification "Patient unconscious in the emergency department"
step "the patient consents to the insurer for payment" OK "$P" 2 grant-consent \
  --consent-id "consent-i-$run" --patient "$P" --grantee "$I" --purpose HPAYMT \
  --record-id "$REC" --policy "$POLICY"
step "hospital A submits a claim with the record as evidence" OK "$A" 3 submit-claim \
  --claim-id "$CLAIM" --patient "$P" --insurer "$I" --service-date "$(date +%F)" \
  --item 99223:1:25000 --item 80053:1:4500 --invoice "INV-$run" --evidence "$REC"
step "hospital A submits the same claim again under another id" DUPLICATE "$A" 0 submit-claim \
  --claim-id "$CLAIM-again" --patient "$P" --insurer "$I" --service-date "$(date +%F)" \
  --item 99223:1:25000 --item 80053:1:4500 --invoice "INV-$run" --evidence "$REC"
step "the insurer adjudicates the claim" OK "$I" 1 adjudicate-claim \
  --claim-id "$CLAIM" --decision approved --approved-cents 29500 --note "covered in full"
step "the patient revokes hospital B's consent" OK "$P" 2 revoke-consent \
  --consent-id "consent-b-$run" --reason "changed provider"
step "hospital B tries to access the record again" DENIED "$B" 3 access-record \
  --record-id "$REC" --purpose TREAT

echo
echo "== every validator and the observer agree on the head =="
if wait_agreement 1 60; then
  for node in "${NODES[@]}"; do
    echo "$node: height $AGREED_HEIGHT  head $("$HCCTL" status --node "$(api_url "$node")" --field head_hash)"
  done
else
  failures=$((failures + 1))
fi

echo
echo "== an online backup of the observer while it keeps running (SIGUSR1) =="
OBS_LOG="$NET/observer-0/node.log"
BACKUP=""
if obs_pid=$(running_pid "$NET/observer-0/node.pid"); then
  wrote_before=$(grep -c "backup: wrote" "$OBS_LOG" || true)
  kill -USR1 "$obs_pid"
  deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ] && [ "$(grep -c "backup: wrote" "$OBS_LOG" || true)" -le "$wrote_before" ]; do
    if grep -q "backup: failed" <(tail -n 5 "$OBS_LOG"); then break; fi
    sleep 0.2
  done
  line=$(grep "backup: wrote" "$OBS_LOG" | tail -n 1)
  if [ "$(grep -c "backup: wrote" "$OBS_LOG" || true)" -gt "$wrote_before" ]; then
    echo "${line#*] }"
    BACKUP=$(sed -E 's/.*backup: wrote ([^ ]+) .*/\1/' <<<"$line")
  else
    echo "!! the observer wrote no backup; see $OBS_LOG" >&2
    failures=$((failures + 1))
  fi
fi

echo
if [ $failures -eq 0 ]; then
  echo "Scenario complete: every step behaved as expected."
else
  echo "Scenario complete with $failures unexpected step(s); node logs are in $NET/<node>/node.log." >&2
fi

# ---- 6. stop, or keep running ----
if [ $detach -eq 1 ]; then
  trap - EXIT INT TERM
  echo
  echo "The network keeps running in the background:"
  for node in "${NODES[@]}"; do echo "  $node  $(api_url "$node")  (hcctl status --node $(api_url "$node"))"; done
  echo "Stop it with: scripts/up.sh --stop"
  exit $((failures > 0 ? 1 : 0))
fi
if [ $keep_running -eq 1 ]; then
  echo
  echo "The network is running; Ctrl-C stops every node cleanly."
  for node in "${NODES[@]}"; do echo "  $node  $(api_url "$node")"; done
  trap 'exit $((failures > 0 ? 1 : 0))' INT TERM
  while :; do sleep 1; done
fi

trap - EXIT INT TERM
stop_network
echo
echo "== the observer's copy of the chain, re-verified offline from genesis =="
if ! "$HCCTL" verify-chain --data "$NET/observer-0/data" --genesis "$GENESIS" --quiet; then
  failures=$((failures + 1))
fi
if [ -n "$BACKUP" ]; then
  echo
  echo "== the backup taken while it ran, re-verified offline =="
  if ! "$HCCTL" verify-chain --data "$BACKUP/db" --genesis "$GENESIS" --quiet; then
    failures=$((failures + 1))
  fi
fi
exit $((failures > 0 ? 1 : 0))
