#!/usr/bin/env bash
# Checks recipes/systemd/wa-twostep.service with `systemd-analyze verify` (any
# warning fails, not only errors) and prints its `systemd-analyze security`
# exposure score, failing above 3.0. The unit's ExecStart is pointed at the
# debug binary, since verify checks that the command exists. Without
# systemd-analyze (Debian package systemd) it says so and skips.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd: SKIPPED: systemd-analyze is not installed (Debian package systemd), so recipes/systemd/wa-twostep.service was not verified"
  exit 0
fi
cargo build --locked --quiet
bin=$(bash .ci/target-dir.sh)/debug/wa-twostep
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unit=$work/wa-twostep.service
sed "s#^ExecStart=/usr/local/bin/wa-twostep#ExecStart=$bin#" recipes/systemd/wa-twostep.service >"$unit"
grep -qF "ExecStart=$bin " "$unit" || { echo "systemd: the unit's ExecStart is not /usr/local/bin/wa-twostep"; exit 1; }
if ! systemd-analyze verify "$unit" >"$work/verify" 2>&1 || [ -s "$work/verify" ]; then
  echo "systemd: systemd-analyze verify complains about recipes/systemd/wa-twostep.service:"
  cat "$work/verify"; exit 1
fi
systemd-analyze security --offline=yes "$unit" >"$work/security" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for wa-twostep.service: \([0-9.]*\).*/\1/p' "$work/security")
[ -n "$score" ] || { echo "systemd: no exposure score from systemd-analyze security:"; cat "$work/security"; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || {
  echo "systemd: exposure level $score is above 3.0:"; cat "$work/security"; exit 1
}
echo "systemd: $(systemd-analyze --version | head -1): verify clean, exposure level $score"
