#!/usr/bin/env bash
# Starts wa-twostep in the background and waits until THIS process is ready: it
# printed its ready line (`listening on http://HOST:PORT`), is still alive, and
# answers /__sandbox/health at that address. If it exits first (bad configuration,
# port already in use by another server) the script says so, with its output,
# instead of mistaking the other server for it.
# Used as-is by the `recipe-background-server` CI job and by .ci/run; copy it into
# your own pipeline.
#
# Environment (all optional):
#   WA_SANDBOX_BIN   the binary            (default: <cargo target dir>/release/wa-twostep,
#                                           the target dir from `cargo metadata` when cargo
#                                           is available, else target/)
#   WA_SANDBOX_PORT  port on 127.0.0.1     (default: 8080; 0 picks a free port)
#   WA_SANDBOX_LOG   file for its output   (default: wa-twostep.log)
#   WA_SANDBOX_WAIT_SECS  how long to wait for readiness (default: 30)
# WA_TWOSTEP_<SECTION>__<KEY> variables configure the server as usual (for example
# WA_TWOSTEP_STATE__SEED=seed.toml to start from a seed file). Do not give
# variables of your own the WA_TWOSTEP_ prefix: the server reads every one of them
# as configuration and refuses to start on an unknown one.
#
# On success it prints the URL and hands WA_SANDBOX_URL and WA_SANDBOX_PID to later
# GitHub Actions steps (appended to the file $GITHUB_ENV names, when it is set).
# On failure it prints why and the server's log, stops it and exits 1.
set -euo pipefail

if [ -n "${WA_SANDBOX_BIN:-}" ]; then
  bin=$WA_SANDBOX_BIN
else
  target=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p') || true
  bin=${target:-target}/release/wa-twostep
fi
port=${WA_SANDBOX_PORT:-8080}
log=${WA_SANDBOX_LOG:-wa-twostep.log}
wait_secs=${WA_SANDBOX_WAIT_SECS:-30}

args=(--ephemeral --listen "127.0.0.1:$port")

# Cheap argon2 unless the caller chose otherwise: a test server guards no real secret.
export WA_TWOSTEP_ARGON2__MEMORY_KIB=${WA_TWOSTEP_ARGON2__MEMORY_KIB:-64}
export WA_TWOSTEP_ARGON2__ITERATIONS=${WA_TWOSTEP_ARGON2__ITERATIONS:-1}

fail() {
  echo "wa-twostep: $1; its output ($log):" >&2
  cat "$log" >&2 || true
  kill "$pid" 2>/dev/null || true
  exit 1
}

# nohup and a log file: the server must outlive this step and must not hold its output open.
nohup "$bin" "${args[@]}" >"$log" 2>&1 &
pid=$!

url=
for _ in $(seq 1 $((wait_secs * 5))); do
  if ! kill -0 "$pid" 2>/dev/null; then
    # Our own process is gone: whatever answers on the port is not it.
    status=0
    wait "$pid" || status=$?
    if grep -qi 'in use' "$log"; then
      fail "exited with status $status before it was ready: port $port is already in use (another server?)"
    fi
    fail "exited with status $status before it was ready"
  fi
  # The ready line carries the real address (port 0 resolved); stdout holds nothing else.
  url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$log" | head -n 1)
  if [ -n "$url" ] && curl -fsS --max-time 1 "$url/__sandbox/health" >/dev/null 2>&1 &&
    kill -0 "$pid" 2>/dev/null; then
    break
  fi
  url=
  sleep 0.2
done

[ -n "$url" ] || fail "did not become ready within ${wait_secs}s (pid $pid)"

echo "wa-twostep ready at $url (pid $pid)"
if [ -n "${GITHUB_ENV:-}" ]; then
  echo "WA_SANDBOX_URL=$url" >>"$GITHUB_ENV"
  echo "WA_SANDBOX_PID=$pid" >>"$GITHUB_ENV"
fi
