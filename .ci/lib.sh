# Shell helpers the .ci scripts share; source it after setting `bin` (the binary)
# and `work` (a temp dir the caller removes).

# start_server [NAME=VALUE ...]: starts `$bin` memory-only on a free 127.0.0.1 port
# with cheap argon2 and the given environment; waits (bounded: 10 s) for its ready
# line, then sets `pid` and `url`. Its output goes to $work/stdout and $work/stderr.
start_server() {
  env WA_TWOSTEP_ARGON2__MEMORY_KIB=64 WA_TWOSTEP_ARGON2__ITERATIONS=1 "$@" \
    "$bin" --ephemeral --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
  pid=$!
  for _ in $(seq 1 200); do
    grep -q '^listening on ' "$work/stdout" 2>/dev/null && break
    sleep 0.05
  done
  url=$(sed -n 's/^listening on //p' "$work/stdout")
  [ -n "$url" ] || { echo "server did not start"; cat "$work/stderr"; exit 1; }
}

# stop_server: stops the server `start_server` started.
stop_server() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

# python_venv DIR CHECK SPEC...: makes DIR a venv with the pip SPECs installed,
# unless the shell command CHECK already succeeds (the venv is there, right version).
python_venv() {
  local dir=$1 check=$2
  shift 2
  if ! eval "$check" >/dev/null 2>&1; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  fi
}
