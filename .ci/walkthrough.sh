#!/usr/bin/env bash
# Runs a curl walkthrough of the README verbatim against a running server and
# checks what it documents: the statuses it prints (`HTTP nnn` lines) against its
# `# → nnn` comments, in order, and the bodies it shows.
# The server must be fresh (seed state). Usage: walkthrough.sh URL [HEADING]
#   URL      the base the block's WA= line is pointed at (e.g. http://127.0.0.1:8080,
#            or https://127.0.0.1:8443/wa through a proxy; curl honours CURL_CA_BUNDLE)
#   HEADING  the README heading the block follows (default: "## On-Premises walkthrough";
#            the other one is "## Cloud walkthrough")
# Used by .ci/readme-walkthrough.sh (a fresh server) and tests/api/deploy/nginx.rs
# (the same walkthrough through nginx with TLS and a path prefix).
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?usage: walkthrough.sh URL [HEADING]}
heading=${2:-"## On-Premises walkthrough"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The first sh block after the heading, with its WA= line pointed at the server.
awk -v h="$heading" 'index($0, h) == 1 {w=1} w&&/^```sh/{b=1;next} b&&/^```/{exit} b{print}' README.md \
  | sed "s#^WA=.*#WA=$url#" >"$work/walkthrough.sh"
[ -s "$work/walkthrough.sh" ] || { echo "README.md has no sh block after \"$heading\""; exit 1; }
bash -eu "$work/walkthrough.sh" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }

expect() {
  grep -qF -- "$1" "$work/out" || { echo "walkthrough output lacks: $1"; cat "$work/out"; exit 1; }
}
case "$heading" in
"## On-Premises walkthrough")
  expect '"code":1024,"title":"Password change required","details":"Password must be changed"'
  expect '{"meta":{"version":"v2.45.1","api_status":"stable"}}'
  expect '"two_step":{"enabled":true'
  expect '"users":[{"username":"alice"}]'
  expect '"details":"User doesn'"'"'t have permission"'
  expect '"details":"Missing or invalid authentication credentials"'
  ;;
"## Cloud walkthrough")
  expect '{"success":true}'
  expect '{"is_pin_enabled":true,"status":"CONNECTED","id":"106540352242922"}'
  expect '"code":133005,"error_data":{"messaging_product":"whatsapp","details":"Two-step verification PIN incorrect."}'
  expect '{"status":"DISCONNECTED","is_pin_enabled":true,"id":"106540352242922"}'
  expect '"message":"An access token is required to request this resource.","type":"OAuthException","code":104'
  expect '"two_step":{"enabled":true'
  ;;
"## WhatsApp Manager walkthrough")
  expect '"code":133005'
  expect '"subject":"WhatsApp Two-Step Verification Reset"'
  expect '{"is_pin_enabled":false,"id":"106540352242922"}'
  expect '{"success":true}'
  ;;
esac

# Every status the walkthrough prints is the one its comment documents, in order.
documented=$(sed -n 's/^# → \([0-9][0-9][0-9]\).*/\1/p' "$work/walkthrough.sh" | tr '\n' ' ')
printed=$(sed -n 's/^HTTP \([0-9][0-9][0-9]\)$/\1/p' "$work/out" | tr '\n' ' ')
[ -n "$documented" ] || { echo "the walkthrough documents no status codes"; exit 1; }
[ "$printed" = "$documented" ] || {
  echo "walkthrough statuses: printed [$printed], README says [$documented]"; cat "$work/out"; exit 1
}
# Each body ends with a newline: no status line is glued to a body.
if grep -qE '.HTTP [0-9]{3}$' "$work/out"; then
  echo "a body does not end with a newline:"; cat "$work/out"; exit 1
fi
echo "README walkthrough ($heading) against $url: ok"
