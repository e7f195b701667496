#!/usr/bin/env bash
# Instructions per request under callgrind (valgrind), per route: builds the release
# binary and the bare-axum baseline and runs bench/callgrind.py, which prints a table and writes
# bench/callgrind-results.md. Counts do not depend on machine load. Not part of CI.
# Knobs: CALLGRIND_N_SMALL (500), CALLGRIND_N_LARGE (2500), CALLGRIND_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
command -v valgrind >/dev/null 2>&1 || { echo "callgrind: valgrind is missing (Debian package valgrind)" >&2; exit 1; }
cargo build --release --locked --quiet
cargo build --release --locked --quiet --manifest-path bench/baseline/Cargo.toml
target=$(bash .ci/target-dir.sh)
baseline_target=$(cargo metadata --format-version 1 --no-deps --manifest-path bench/baseline/Cargo.toml |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
CALLGRIND_BINARY="$target/release/wa-twostep" CALLGRIND_BASELINE="$baseline_target/release/bench-baseline" \
  exec python3 bench/callgrind.py
