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
source .ci/lib.sh
python_venv "$venv" "\"$venv/bin/python\" -c \"import pywa, sys; sys.exit(pywa.__version__ != '$PYWA_VERSION')\"" \
  "pywa==$PYWA_VERSION"

cargo build --locked --quiet
bin=$target/debug/wa-twostep
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
token=EAAcloudclient0123456789abcdefghijklmnop
start_server WA_TWOSTEP_CLOUD__ACCESS_TOKEN=$token

"$venv/bin/python" .ci/cloud_client.py "$url" "$token" 106540352242922 102290129340398
echo "cloud client (pywa $PYWA_VERSION): ok"
