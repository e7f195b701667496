#!/usr/bin/env bash
# Starts wa-twostep in the background and waits until /__sandbox/health answers.
# Used as-is by the `recipe-background-server` CI job and by .ci/run; copy it into
# your own pipeline.
#
# Environment (all optional):
#   WA_SANDBOX_BIN   the binary            (default: target/release/wa-twostep)
#   WA_SANDBOX_PORT  port on 127.0.0.1     (default: 8080)
#   WA_SANDBOX_LOG   file for its output   (default: wa-twostep.log)
#   WA_SANDBOX_WAIT_SECS  how long to wait for readiness (default: 30)
# WA_TWOSTEP_<SECTION>__<KEY> variables configure the server as usual (for example
# WA_TWOSTEP_STATE__SEED=seed.toml to start from a seed file). Do not give
# variables of your own the WA_TWOSTEP_ prefix: the server reads every one of them
# as configuration and refuses to start on an unknown one.
#
# On success it prints the URL and hands WA_SANDBOX_URL and WA_SANDBOX_PID to later
# GitHub Actions steps (appended to the file $GITHUB_ENV names, when it is set).
# On failure it prints the server's log, stops it and exits 1.
set -euo pipefail

bin=${WA_SANDBOX_BIN:-target/release/wa-twostep}
port=${WA_SANDBOX_PORT:-8080}
log=${WA_SANDBOX_LOG:-wa-twostep.log}
wait_secs=${WA_SANDBOX_WAIT_SECS:-30}
url="http://127.0.0.1:$port"

args=(--ephemeral --listen "127.0.0.1:$port")

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
  echo "WA_SANDBOX_URL=$url" >>"$GITHUB_ENV"
  echo "WA_SANDBOX_PID=$pid" >>"$GITHUB_ENV"
fi
