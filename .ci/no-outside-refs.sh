#!/usr/bin/env bash
# Fails when a tracked file points at documents outside this repository (a private
# brief, a sibling checkout). Everything a reader needs is in the repo: cite docs/
# instead. Prints the offending lines and exits 1; exits 0 when there are none.
set -uo pipefail
cd "$(dirname "$0")/.."

pattern='\.\./shared|shared/(reference|SPEC)|SPEC §|reference §'
hits=$(git grep -n -E "$pattern" -- . ':(exclude).ci/no-outside-refs.sh')
rc=$?
if [ "$rc" -eq 0 ]; then
    echo "references to documents outside the repository (point them at docs/ instead):"
    echo "$hits"
    exit 1
elif [ "$rc" -ne 1 ]; then
    echo "no-outside-refs: git grep failed (status $rc)" >&2
    exit 2
fi
echo "no references outside the repository"
