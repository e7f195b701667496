#!/usr/bin/env bash
# Runs the README's curl walkthrough verbatim against a fresh ephemeral server on a
# free port and checks the answers it documents: the bodies, and the status codes
# it prints (`HTTP nnn` lines) against its `# → nnn` comments, in order.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
bin=$(bash .ci/target-dir.sh)/debug/wa-twostep
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

WA_TWOSTEP_ARGON2__MEMORY_KIB=64 WA_TWOSTEP_ARGON2__ITERATIONS=1 \
  "$bin" --ephemeral --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 200); do
  grep -q '^listening on ' "$work/stdout" 2>/dev/null && break
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/stdout")
[ -n "$url" ] || { echo "server did not start"; cat "$work/stderr"; exit 1; }

# The first sh block after the Walkthrough heading, with its WA= line pointed at our server.
awk '/^## Walkthrough/{w=1} w&&/^```sh/{b=1;next} b&&/^```/{exit} b{print}' README.md \
  | sed "s#^WA=.*#WA=$url#" >"$work/walkthrough.sh"
bash -eu "$work/walkthrough.sh" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }

expect() {
  grep -qF -- "$1" "$work/out" || { echo "walkthrough output lacks: $1"; cat "$work/out"; exit 1; }
}
expect '"code":1024,"title":"Password change required","details":"Password must be changed"'
expect '{"meta":{"version":"v2.45.1","api_status":"stable"}}'
expect '"two_step":{"enabled":true'
expect '"users":[{"username":"alice"}]'
expect '"details":"User doesn'"'"'t have permission"'
expect '"details":"Missing or invalid authentication credentials"'

# Every status the walkthrough prints is the one its comment documents, in order.
documented=$(sed -n 's/^# → \([0-9][0-9][0-9]\).*/\1/p' "$work/walkthrough.sh" | tr '\n' ' ')
printed=$(sed -n 's/^HTTP \([0-9][0-9][0-9]\)$/\1/p' "$work/out" | tr '\n' ' ')
[ -n "$documented" ] || { echo "the walkthrough documents no status codes"; exit 1; }
[ "$printed" = "$documented" ] || {
  echo "walkthrough statuses: printed [$printed], README says [$documented]"; cat "$work/out"; exit 1
}
# Each body ends with a newline: no status line is glued to a body.
if grep -qE '.HTTP [0-9]{3}$' "$work/out"; then
  echo "a body does not end with a newline:"; cat "$work/out"; exit 1
fi
echo "README walkthrough: ok"
