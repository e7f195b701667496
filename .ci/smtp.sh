#!/usr/bin/env bash
# The Manager's reset email over real SMTP: starts Python's aiosmtpd (in a venv under
# cargo's target directory) on 127.0.0.1, the debug binary with manager.smtp_url
# pointing at it, sets a PIN through the Cloud API, asks for Turn off, and checks
# that aiosmtpd received "WhatsApp Two-Step Verification Reset" for the business
# email with the link the outbox shows, and that the outbox says "delivered".
set -euo pipefail
cd "$(dirname "$0")/.."

AIOSMTPD_VERSION=1.4.6
target=$(bash .ci/target-dir.sh)
venv=$target/aiosmtpd-venv
source .ci/lib.sh
python_venv "$venv" "\"$venv/bin/python\" -c \"import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')\"" \
  "aiosmtpd==$AIOSMTPD_VERSION"

cargo build --locked --quiet
work=$(mktemp -d)
smtp_pid= pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$smtp_pid" ] && kill "$smtp_pid" 2>/dev/null; rm -rf "$work"' EXIT

# A free port for aiosmtpd (it cannot report one it picked itself).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/mail/tmp" "$work/mail/new" "$work/mail/cur"
"$venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$work/mail" \
  >"$work/smtp.log" 2>&1 &
smtp_pid=$!
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.1
done

cloud_token=EAAsmtpcheck0123456789abcdefghijklmnopqrs
bin=$target/debug/wa-twostep
start_server WA_TWOSTEP_LOG__LEVEL=warn WA_TWOSTEP_CLOUD__ACCESS_TOKEN=$cloud_token \
  WA_TWOSTEP_MANAGER__SMTP_URL="smtp://127.0.0.1:$port" WA_TWOSTEP_MANAGER__BUSINESS_EMAIL=owner@shop.example

curl -sf -X POST -H "Authorization: Bearer $cloud_token" -H 'Content-Type: application/json' \
  -d '{"pin":"123456"}' "$url/v22.0/106540352242922" >/dev/null
link=$(curl -sf -X POST "$url/__sandbox/manager/api/numbers/106540352242922/turn-off" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["email"]["link"])')
for _ in $(seq 1 100); do
  status=$(curl -sf "$url/__sandbox/emails" | python3 -c 'import json, sys; print(json.load(sys.stdin)["emails"][0]["smtp"])')
  [ "$status" != pending ] && break
  sleep 0.1
done
[ "$status" = delivered ] || { echo "outbox says smtp=$status"; cat "$work/stderr" "$work/smtp.log"; exit 1; }
python3 - "$work/mail" "$link" <<'PY'
import mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=False)
mails = list(box)
assert len(mails) == 1, f"{len(mails)} mails"
m = mails[0]
assert m["Subject"] == "WhatsApp Two-Step Verification Reset", m["Subject"]
assert "owner@shop.example" in m["To"], m["To"]
assert sys.argv[2] in m.get_payload(), "link missing from the mail"
PY
echo "smtp: the reset email reached aiosmtpd"
