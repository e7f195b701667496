#!/usr/bin/env bash
# Benchmark wa-twostep against a bare-axum baseline (bench/baseline) on this machine.
# Installs wrk if missing (Debian package, needs root), builds both release binaries,
# runs every figure (about 6-8 minutes), writes bench/results.json and bench/results.md
# and prints the markdown table. All traffic goes to 127.0.0.1; see bench/README.md.
#
# Knobs (environment): BENCH_DURATION (seconds per load run, default 8),
# BENCH_STARTUP_RUNS (20), BENCH_SERVER_CPU (0), BENCH_LOAD_CPU (1),
# BENCH_BIG_TOKENS (100000), BENCH_BIG_USERS (1000), BENCH_BIG_NUMBERS (100),
# BENCH_BIG_STARTUP_RUNS (5), BENCH_P99_ROUNDS (3), BENCH_PG (1), BENCH_PG_BIN, BENCH_PG_CPU,
# BENCH_OUT_DIR (bench/), BENCH_OURS (another wa-twostep binary to measure; BENCH_OURS_LABEL names it in the results).
# Binaries are found in cargo's target directory (CARGO_TARGET_DIR is honoured).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: bash bench/run.sh [--help]

Benchmarks wa-twostep against the bare-axum baseline in bench/baseline and writes
bench/results.json and bench/results.md (about 6-8 minutes; see bench/README.md).
Needs 2 CPUs, python3, taskset and wrk; run as root it installs the missing Debian
packages (wrk, util-linux, python3) with apt-get, otherwise it stops and names them.
The PostgreSQL rows use a throwaway cluster from Debian's postgresql binaries when they
are installed (it does not install them); without them those rows say why they were skipped.
All traffic goes to 127.0.0.1.

Environment:
  BENCH_DURATION      seconds per load run (8)
  BENCH_STARTUP_RUNS  start-up measurements (20)
  BENCH_SERVER_CPU    CPU the server is pinned to (0)
  BENCH_LOAD_CPU      CPU wrk is pinned to (1)
  BENCH_BIG_TOKENS    tokens in the big-state figure (100000)
  BENCH_BIG_USERS     users in the big-state figure (1000)
  BENCH_BIG_NUMBERS   numbers of the WABA in the big-state figure (100)
  BENCH_BIG_STARTUP_RUNS  restarts timed on the big and the empty state (5)
  BENCH_P99_ROUNDS    DELETE p99 under flood: repetitions, median reported (3, at least 3)
  BENCH_PG            0 skips the PostgreSQL rows (1)
  BENCH_PG_BIN        directory with initdb, pg_ctl, psql (newest /usr/lib/postgresql/*/bin)
  BENCH_PG_CPU        CPU list the database is pinned to (unpinned)
  BENCH_OUT_DIR       where the results go (bench/)
  BENCH_OURS          another wa-twostep binary to measure (default: the release build)
  BENCH_OURS_LABEL    its name in the results
USAGE
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

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

# Where cargo put them: CARGO_TARGET_DIR (or a cargo config) may move both builds.
target_dir() { # [manifest]
  cargo metadata --format-version 1 --no-deps ${1:+--manifest-path "$1"} |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}
BENCH_TARGET_DIR=$(target_dir)
BENCH_BASELINE=$(target_dir bench/baseline/Cargo.toml)/release/bench-baseline
export BENCH_TARGET_DIR BENCH_BASELINE
exec python3 bench/bench.py
