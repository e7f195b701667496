#!/usr/bin/env bash
# Runs the README's curl walkthroughs verbatim, each against a fresh ephemeral server
# on a free port: the Cloud one ("## Cloud walkthrough"), the On-Premises one
# ("## On-Premises walkthrough") and the WhatsApp Manager one ("## WhatsApp Manager
# walkthrough"). .ci/walkthrough.sh does the checking: the bodies, and the status
# codes printed (`HTTP nnn` lines) against the `# → nnn` comments.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
bin=$(bash .ci/target-dir.sh)/debug/wa-twostep
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

source .ci/lib.sh
for heading in "## On-Premises walkthrough" "## Cloud walkthrough" "## WhatsApp Manager walkthrough"; do
  start_server
  bash .ci/walkthrough.sh "$url" "$heading"
  stop_server
done
