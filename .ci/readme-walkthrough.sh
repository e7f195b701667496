#!/usr/bin/env bash
# Runs the README's curl walkthroughs verbatim, each against a fresh ephemeral server
# on a free port: the Cloud one ("## Cloud walkthrough") and the On-Premises one
# ("## On-Premises walkthrough"). For each it checks the answers the README documents: the bodies, and
# the status codes it prints (`HTTP nnn` lines) against its `# → nnn` comments, in order.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
bin=$(bash .ci/target-dir.sh)/debug/wa-twostep
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# Starts a fresh server; sets $url.
start() {
  WA_TWOSTEP_ARGON2__MEMORY_KIB=64 WA_TWOSTEP_ARGON2__ITERATIONS=1 \
    "$bin" --ephemeral --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
  pid=$!
  for _ in $(seq 1 200); do
    grep -q '^listening on ' "$work/stdout" 2>/dev/null && break
    sleep 0.05
  done
  url=$(sed -n 's/^listening on //p' "$work/stdout")
  [ -n "$url" ] || { echo "server did not start"; cat "$work/stderr"; exit 1; }
}

stop() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

# Runs the first sh block after the heading matching the awk pattern $1, with its WA=
# line pointed at a fresh server; the output goes to $work/out.
run() {
  start
  awk "$1"'{w=1} w&&/^```sh/{b=1;next} b&&/^```/{exit} b{print}' README.md \
    | sed "s#^WA=.*#WA=$url#" >"$work/walkthrough.sh"
  [ -s "$work/walkthrough.sh" ] || { echo "no walkthrough block after $1"; exit 1; }
  bash -eu "$work/walkthrough.sh" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  stop
}

expect() {
  grep -qF -- "$1" "$work/out" || { echo "walkthrough output lacks: $1"; cat "$work/out"; exit 1; }
}

# Every status the walkthrough prints is the one its comment documents, in order, and
# each body ends with a newline: no status line is glued to a body.
statuses() {
  documented=$(sed -n 's/^# → \([0-9][0-9][0-9]\).*/\1/p' "$work/walkthrough.sh" | tr '\n' ' ')
  printed=$(sed -n 's/^HTTP \([0-9][0-9][0-9]\)$/\1/p' "$work/out" | tr '\n' ' ')
  [ -n "$documented" ] || { echo "the walkthrough documents no status codes"; exit 1; }
  [ "$printed" = "$documented" ] || {
    echo "walkthrough statuses: printed [$printed], README says [$documented]"; cat "$work/out"; exit 1
  }
  if grep -qE '.HTTP [0-9]{3}$' "$work/out"; then
    echo "a body does not end with a newline:"; cat "$work/out"; exit 1
  fi
}

run '/^## On-Premises walkthrough/'
expect '"code":1024,"title":"Password change required","details":"Password must be changed"'
expect '{"meta":{"version":"v2.45.1","api_status":"stable"}}'
expect '"two_step":{"enabled":true'
expect '"users":[{"username":"alice"}]'
expect '"details":"User doesn'"'"'t have permission"'
expect '"details":"Missing or invalid authentication credentials"'
statuses
echo "README walkthrough (On-Premises): ok"

run '/^## Cloud walkthrough/'
expect '{"success":true}'
expect '{"is_pin_enabled":true,"status":"CONNECTED","id":"106540352242922"}'
expect '"code":133005,"error_data":{"messaging_product":"whatsapp","details":"Two-step verification PIN incorrect."}'
expect '{"status":"DISCONNECTED","is_pin_enabled":true,"id":"106540352242922"}'
expect '"message":"An access token is required to request this resource.","type":"OAuthException","code":104'
expect '"two_step":{"enabled":true'
statuses
echo "README walkthrough (Cloud): ok"
