#!/usr/bin/env bash
# Soak test (about 12 minutes with the defaults): builds the release binary and runs
# bench/soak.py against it; prints a markdown report and writes bench/soak-results.md.
# Not part of .ci/run. Knobs: SOAK_SECONDS (600), SOAK_LOGINS (200000), SOAK_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cargo build --release --locked --quiet
target=$(bash .ci/target-dir.sh)
SOAK_BINARY="$target/release/wa-twostep" exec python3 bench/soak.py
