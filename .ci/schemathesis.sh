#!/usr/bin/env bash
# Property-based API testing with Schemathesis against openapi.json: starts the debug
# binary (ephemeral, port 0, cheap argon2, a static Cloud token), logs the admin in,
# and runs a bounded Schemathesis pass (20 cases per operation, fixed seed) that fails on 5xx answers,
# on statuses, content types, headers or bodies the document does not describe, on
# invalid requests that are accepted, and on wrong-method answers without 405/Allow.
# Left out: positive_data_acceptance (the document cannot express every rule, such
# as the password complexity) and the resource-lifecycle checks (no API links).
# The Cloud (Graph) operations (tag `cloud`) get a pass of their own with the Cloud
# token. It leaves out three more checks whose HTTP conventions the Graph API does
# not follow: `ignored_auth` and `missing_required_header` (a request without a
# token is 400 / 104, not 401 or 403: docs/behaviour.md#cloud-tokens) and
# `unsupported_method` (a wrong method is 400 / 100 / 33, not 405:
# docs/behaviour.md#graph-check-order).
# The guess and register budgets are raised so generated registers reach the operation
# rather than 133008 / 133016 after the tenth call.
# One worker: Hypothesis caches are not thread-safe (a run with two crashed inside
# Hypothesis once). The Python venv and the JUnit report live in cargo's target
# directory (CARGO_TARGET_DIR when set).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
target=$(bash .ci/target-dir.sh)
venv=$target/schemathesis-venv
source .ci/lib.sh
python_venv "$venv" "\"$venv/bin/schemathesis\" --version | grep -qF '$SCHEMATHESIS_VERSION'" \
  "schemathesis==$SCHEMATHESIS_VERSION"

cargo build --locked --quiet
bin=$target/debug/wa-twostep
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

cloud_token=EAAschemathesis0123456789abcdefghijklmnop
start_server WA_TWOSTEP_AUTH__MAX_FAILED_LOGINS=1000000 WA_TWOSTEP_LOG__LEVEL=warn \
  WA_TWOSTEP_CLOUD__ACCESS_TOKEN=$cloud_token WA_TWOSTEP_CLOUD__MAX_REGISTRATIONS=1000000 \
  WA_TWOSTEP_ACCOUNT__MAX_PIN_GUESSES=1000000

token=$(curl -sf -X POST -u admin:secret -H 'Content-Type: application/json' \
  -d '{"new_password":"Sandbox-Pa55!"}' "$url/v1/users/login" | sed -E 's/.*"token":"([^"]+)".*/\1/')
[ -n "$token" ] || { echo "admin login failed"; exit 1; }

# Operations that would end the run's own session or sabotage later answers are
# left out of the main pass: logout and reset revoke the token, a posted fault
# makes the next /v1 requests fail on purpose. Routes the document specifies but this build does not
# serve yet (404 "URL path not found") are left out too. Login takes Basic
# credentials, so it gets a pass of its own. The Manager's HTML pages are for browsers (the
# browser test drives them); their JSON twins (tag manager) are fuzzed here.
excludes=(--exclude-operation-id logout --exclude-operation-id sandboxReset
  --exclude-operation-id addFault --exclude-operation-id login --exclude-tag cloud
  --exclude-tag manager-pages)
unserved() {
  curl -s -X "$1" "$url$2" | grep -qF '"URL path not found"'
}
unserved POST /v1/account && excludes+=(--exclude-path /v1/account)
unserved POST /v1/account/verify && excludes+=(--exclude-path /v1/account/verify)
unserved GET /metrics && excludes+=(--exclude-path /metrics)

# Run from the target dir: Schemathesis keeps a `.schemathesis/` cache in its working directory.
spec=$PWD/openapi.json
st() (
  cd "$target"
  timeout 120 schemathesis-venv/bin/schemathesis run "$spec" \
    --url "$url" \
    --checks all \
    --exclude-checks positive_data_acceptance,use_after_free,ensure_resource_availability \
    --max-examples 20 \
    --seed 1 \
    --workers 1 \
    --request-timeout 10 \
    --suppress-health-check all \
    --report junit --report-dir schemathesis-report \
    "$@"
)
# Login first: the main pass may change the admin's password (PUT /v1/users/admin).
st --auth 'admin:Sandbox-Pa55!' --include-operation-id login
st --header "Authorization: Bearer $token" "${excludes[@]}"
# The Cloud API with its own token (the static one survives the resets below).
st --header "Authorization: Bearer $cloud_token" --include-tag cloud \
  --exclude-checks positive_data_acceptance,use_after_free,ensure_resource_availability,ignored_auth,missing_required_header,unsupported_method
# Last, what the main pass had to leave out: faults on their own (they never touch
# /__sandbox/...), then reset and logout.
st --header "Authorization: Bearer $token" --include-operation-id addFault
curl -sf -X DELETE "$url/__sandbox/faults" >/dev/null
st --header "Authorization: Bearer $token" --include-operation-id sandboxReset \
  --include-operation-id logout
echo "schemathesis: ok"
