#!/usr/bin/env bash
# Runs the README's test-suite recipes for real: the GitHub Actions start-and-wait
# script, the pytest fixture with its example tests, and the embedding example.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
bin=$PWD/target/debug/wa-twostep
work=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

echo "-- recipes/github-actions/start-and-wait.sh"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
GITHUB_ENV=$work/github_env WA_SANDBOX_BIN=$bin WA_SANDBOX_PORT=$port WA_SANDBOX_LOG=$work/server.log \
  bash recipes/github-actions/start-and-wait.sh
# shellcheck disable=SC1091
. "$work/github_env"
pid=$WA_SANDBOX_PID
[ "$WA_SANDBOX_URL" = "http://127.0.0.1:$port" ] || { echo "unexpected WA_SANDBOX_URL=$WA_SANDBOX_URL"; exit 1; }
curl -fsS "$WA_SANDBOX_URL/__sandbox/state" | grep -qF '"two_step":{"enabled":false' \
  || { echo "the background server does not answer /__sandbox/state"; exit 1; }
kill -TERM "$pid"
wait_left=100
while kill -0 "$pid" 2>/dev/null && [ $wait_left -gt 0 ]; do sleep 0.1; wait_left=$((wait_left - 1)); done
kill -0 "$pid" 2>/dev/null && { echo "the background server ignored SIGTERM"; exit 1; }
pid=
echo "start-and-wait: ok"

echo "-- recipes/pytest"
venv=target/recipe-venv
pytest_version=9.2.0
"$venv/bin/pytest" --version 2>/dev/null | grep -qF "$pytest_version" || {
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pytest==$pytest_version"
}
WA_SANDBOX_BIN=$bin "$venv/bin/pytest" -q -p no:cacheprovider recipes/pytest

echo "-- examples/embedded.rs"
cargo run --locked --quiet --example embedded >"$work/embedded.out"
grep -qF 'enabled: true' "$work/embedded.out" || { cat "$work/embedded.out"; exit 1; }
echo "embedded example: ok"
