#!/usr/bin/env bash
# Installs what the test suite runs for real besides cargo: Debian's nginx (the
# deployment tests put a real nginx in front of the server), openssl (their
# certificate) and curl (their client). Present: nothing is done. Missing as root:
# `apt-get update` once, then `apt-get install -y`. Missing otherwise: fails,
# naming the packages to install, so a run never passes without these tests.
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: nginx, openssl and curl are installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${missing[*]}: install them (Debian: sudo apt-get install -y ${missing[*]}); the deployment tests need them" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's postinst would start nginx on port 80 where policy-rc.d allows it; the
# tests start their own, so a started service is stopped again.
apt-get install -y -qq "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" nginx "* ]] && command -v service >/dev/null 2>&1; then
  service nginx stop >/dev/null 2>&1 || true
fi
echo "deps: installed ${missing[*]}"
