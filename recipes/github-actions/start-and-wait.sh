#!/usr/bin/env bash
# Starts wa-twostep in the background and waits until /__sandbox/health answers.
# Used as-is by the `recipe-background-server` CI job and by .ci/run; copy it into
# your own pipeline.
#
# Environment (all optional):
#   WA_TWOSTEP_BIN   the binary            (default: target/release/wa-twostep)
#   WA_TWOSTEP_PORT  port on 127.0.0.1     (default: 8080)
#   WA_TWOSTEP_LOG   file for its output   (default: wa-twostep.log)
#   WA_TWOSTEP_SEED  seed file to start from (default: none)
#   WA_TWOSTEP_WAIT_SECS  how long to wait for readiness (default: 30)
# Any other WA_TWOSTEP_<SECTION>__<KEY> variable configures the server as usual.
#
# On success it prints the URL and hands WA_TWOSTEP_URL and WA_TWOSTEP_PID to later
# GitHub Actions steps (appended to the file $GITHUB_ENV names, when it is set).
# On failure it prints the server's log, stops it and exits 1.
set -euo pipefail

bin=${WA_TWOSTEP_BIN:-target/release/wa-twostep}
port=${WA_TWOSTEP_PORT:-8080}
log=${WA_TWOSTEP_LOG:-wa-twostep.log}
wait_secs=${WA_TWOSTEP_WAIT_SECS:-30}
url="http://127.0.0.1:$port"

args=(--ephemeral --listen "127.0.0.1:$port")
if [ -n "${WA_TWOSTEP_SEED:-}" ]; then
  args+=(--seed "$WA_TWOSTEP_SEED")
fi

# Cheap argon2 unless the caller chose otherwise: a test server guards no real secret.
export WA_TWOSTEP_ARGON2__MEMORY_KIB=${WA_TWOSTEP_ARGON2__MEMORY_KIB:-64}
export WA_TWOSTEP_ARGON2__ITERATIONS=${WA_TWOSTEP_ARGON2__ITERATIONS:-1}

# nohup and a log file: the server must outlive this step and must not hold its output open.
nohup "$bin" "${args[@]}" >"$log" 2>&1 &
pid=$!

ready=
for _ in $(seq 1 $((wait_secs * 5))); do
  if curl -fsS --max-time 1 "$url/__sandbox/health" >/dev/null 2>&1; then
    ready=1
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    break # it exited (bad configuration, port in use): no point waiting
  fi
  sleep 0.2
done

if [ -z "$ready" ]; then
  echo "wa-twostep did not become ready at $url within ${wait_secs}s; its output:" >&2
  cat "$log" >&2 || true
  kill "$pid" 2>/dev/null || true
  exit 1
fi

echo "wa-twostep ready at $url (pid $pid)"
if [ -n "${GITHUB_ENV:-}" ]; then
  echo "WA_TWOSTEP_URL=$url" >>"$GITHUB_ENV"
  echo "WA_TWOSTEP_PID=$pid" >>"$GITHUB_ENV"
fi
