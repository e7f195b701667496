#!/usr/bin/env bash
# Runs the README's test-suite recipes for real: the GitHub Actions start-and-wait
# script, the pytest fixture with its example tests, and the embedding example.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
target=$(bash .ci/target-dir.sh)
bin=$target/debug/wa-twostep
work=$(mktemp -d)
pid=
other=
trap 'for p in $pid $other; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

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

echo "-- start-and-wait.sh on a port another server holds"
# Another server on the port: the script must see its own process exit ("address in
# use") and fail saying so, not report the other server's health as its own.
WA_TWOSTEP_ARGON2__MEMORY_KIB=64 WA_TWOSTEP_ARGON2__ITERATIONS=1 \
  "$bin" --ephemeral --listen 127.0.0.1:0 >"$work/other.stdout" 2>"$work/other.stderr" &
other=$!
for _ in $(seq 1 200); do
  grep -q '^listening on ' "$work/other.stdout" 2>/dev/null && break
  sleep 0.05
done
taken=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1://p' "$work/other.stdout")
[ -n "$taken" ] || { echo "the other server did not start"; cat "$work/other.stderr"; exit 1; }
if WA_SANDBOX_BIN=$bin WA_SANDBOX_PORT=$taken WA_SANDBOX_LOG=$work/taken.log WA_SANDBOX_WAIT_SECS=10 \
  bash recipes/github-actions/start-and-wait.sh >"$work/taken.out" 2>&1; then
  echo "start-and-wait.sh reported ready on a port another server holds:"; cat "$work/taken.out"; exit 1
fi
grep -qF 'exited with status 1 before it was ready' "$work/taken.out" &&
  grep -qF "port $taken is already in use" "$work/taken.out" || {
  echo "start-and-wait.sh failed without saying its server exited on a port in use:"
  cat "$work/taken.out"; exit 1
}
curl -fsS "http://127.0.0.1:$taken/__sandbox/health" >/dev/null ||
  { echo "the other server stopped answering"; exit 1; }
kill -TERM "$other"
wait "$other" || { echo "the other server did not exit 0 on SIGTERM"; exit 1; }
other=
echo "start-and-wait on a taken port: fails as it should"

echo "-- recipes/pytest"
venv=$target/recipe-venv
pytest_version=9.2.0
source .ci/lib.sh
python_venv "$venv" "\"$venv/bin/pytest\" --version | grep -qF '$pytest_version'" "pytest==$pytest_version"
WA_SANDBOX_BIN=$bin "$venv/bin/pytest" -q -p no:cacheprovider recipes/pytest

echo "-- examples/embedded.rs"
cargo run --locked --quiet --example embedded >"$work/embedded.out"
grep -qF 'enabled: true' "$work/embedded.out" || { cat "$work/embedded.out"; exit 1; }
echo "embedded example: ok"
