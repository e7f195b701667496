#!/usr/bin/env bash
# Drives the Cloud API with a published client, pywa (pinned below), installed from PyPI
# into a venv in cargo's target directory: .ci/cloud_client.py sets a PIN, reads
# is_pin_enabled, registers with a wrong then the right PIN, deregisters, lists the
# WABA's numbers and tries a bad token, against a fresh ephemeral server.
set -euo pipefail
cd "$(dirname "$0")/.."

PYWA_VERSION=4.5.0
target=$(bash .ci/target-dir.sh)
venv=$target/cloud-client-venv
if ! "$venv/bin/python" -c "import pywa, sys; sys.exit(pywa.__version__ != '$PYWA_VERSION')" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pywa==$PYWA_VERSION"
fi

cargo build --locked --quiet
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
token=EAAcloudclient0123456789abcdefghijklmnop
WA_TWOSTEP_ARGON2__MEMORY_KIB=64 WA_TWOSTEP_ARGON2__ITERATIONS=1 WA_TWOSTEP_CLOUD__ACCESS_TOKEN=$token \
  "$target/debug/wa-twostep" --ephemeral --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 200); do
  grep -q '^listening on ' "$work/stdout" 2>/dev/null && break
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/stdout")
[ -n "$url" ] || { echo "server did not start"; cat "$work/stderr"; exit 1; }

"$venv/bin/python" .ci/cloud_client.py "$url" "$token" 106540352242922 102290129340398
echo "cloud client (pywa $PYWA_VERSION): ok"
