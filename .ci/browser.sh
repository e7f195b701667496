#!/usr/bin/env bash
# The WhatsApp Manager in a real browser: headless Chromium through chromedriver
# (Debian's chromium and chromium-driver, installed by .ci/deps.sh), driven by
# .ci/browser.py (WebDriver over HTTP from Python's standard library) against the
# debug binary. Screenshots of each page go to docs/screenshots/ (committed, shown in
# the README) when BROWSER_SHOTS is unset, else to that directory.
set -euo pipefail
cd "$(dirname "$0")/.."

shots=${BROWSER_SHOTS:-docs/screenshots}
mkdir -p "$shots"
cargo build --locked --quiet
target=$(bash .ci/target-dir.sh)
work=$(mktemp -d)
pid= driver_pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$driver_pid" ] && kill "$driver_pid" 2>/dev/null; rm -rf "$work"' EXIT

cloud_token=EAAbrowsercheck0123456789abcdefghijklmnop
bin=$target/debug/wa-twostep
source .ci/lib.sh
start_server WA_TWOSTEP_LOG__LEVEL=warn WA_TWOSTEP_CLOUD__ACCESS_TOKEN=$cloud_token

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chromedriver --port="$port" >"$work/driver.log" 2>&1 &
driver_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break
  sleep 0.1
done
python3 .ci/browser.py "$url" "$cloud_token" "$shots" "http://127.0.0.1:$port" ||
  { cat "$work/driver.log" | tail -20; exit 1; }
