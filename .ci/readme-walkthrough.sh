#!/usr/bin/env bash
# Runs the README's curl walkthrough verbatim against a fresh ephemeral server on a
# free port and checks the answers it documents.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

WA_TWOSTEP_ARGON2__MEMORY_KIB=64 WA_TWOSTEP_ARGON2__ITERATIONS=1 \
  target/debug/wa-twostep --ephemeral --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
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
echo "README walkthrough: ok"
