#!/usr/bin/env bash
# Runs the README's curl walkthroughs verbatim, each against a fresh ephemeral server
# on a free port: the Cloud one ("## Cloud walkthrough"), the On-Premises one
# ("## On-Premises walkthrough") and the WhatsApp Manager one ("## WhatsApp Manager walkthrough"). .ci/walkthrough.sh does the checking: the bodies,
# and the status codes printed (`HTTP nnn` lines) against the `# → nnn` comments.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
bin=$(bash .ci/target-dir.sh)/debug/wa-twostep
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

for heading in "## On-Premises walkthrough" "## Cloud walkthrough" "## WhatsApp Manager walkthrough"; do
  WA_TWOSTEP_ARGON2__MEMORY_KIB=64 WA_TWOSTEP_ARGON2__ITERATIONS=1 \
    "$bin" --ephemeral --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
  pid=$!
  for _ in $(seq 1 200); do
    grep -q '^listening on ' "$work/stdout" 2>/dev/null && break
    sleep 0.05
  done
  url=$(sed -n 's/^listening on //p' "$work/stdout")
  [ -n "$url" ] || { echo "server did not start"; cat "$work/stderr"; exit 1; }
  bash .ci/walkthrough.sh "$url" "$heading"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
done
