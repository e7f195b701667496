#!/usr/bin/env bash
# Benchmark wa-twostep against a bare-axum baseline (bench/baseline) on this machine.
# Installs wrk if missing (Debian package, needs root), builds both release binaries,
# runs every figure (about 3-5 minutes), writes bench/results.json and bench/results.md
# and prints the markdown table. All traffic goes to 127.0.0.1; see bench/README.md.
#
# Knobs (environment): BENCH_DURATION (seconds per load run, default 8),
# BENCH_STARTUP_RUNS (20), BENCH_SERVER_CPU (0), BENCH_LOAD_CPU (1),
# BENCH_BIG_TOKENS (100000), BENCH_BIG_USERS (1000), BENCH_OUT_DIR (bench/),
# BENCH_OURS (another wa-twostep binary to measure; BENCH_OURS_LABEL names it in the results).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkg() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "bench: '$1' is missing; install the Debian package '$2' (needs root)" >&2
    exit 1
  fi
  echo "bench: installing $2" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }
}
need_pkg wrk wrk
need_pkg taskset util-linux
need_pkg python3 python3

cores=$(nproc)
if [ "$cores" -lt 2 ]; then
  echo "bench: needs 2 CPUs (server on one, load generator on the other); nproc says $cores" >&2
  exit 1
fi

echo "bench: building the release binary and the baseline" >&2
cargo build --release --locked --quiet
cargo build --release --locked --quiet --manifest-path bench/baseline/Cargo.toml

exec python3 bench/bench.py
