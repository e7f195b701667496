#!/usr/bin/env bash
# Prints cargo's target directory, as cargo itself resolves it (CARGO_TARGET_DIR,
# .cargo/config.toml, else ./target), so the scripts that run built binaries or keep
# venvs next to them never assume `target/`. Usage: target=$(bash .ci/target-dir.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
