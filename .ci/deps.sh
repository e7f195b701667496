#!/usr/bin/env bash
# Installs what the test suite runs for real besides cargo: Debian's nginx (the
# deployment tests put a real nginx in front of the server), openssl (their
# certificate), curl (their client) and postgresql (the replica tests run two
# servers on a throwaway PostgreSQL cluster: initdb, pg_ctl and psql under
# /usr/lib/postgresql/<version>/bin, run as the `postgres` user the package
# creates), and chromium with chromium-driver (the browser test drives the WhatsApp
# Manager's pages in headless Chromium through WebDriver).
#
# `deps.sh container` instead installs what .ci/container.sh builds and runs the
# image with: podman, and runc (this machine's sandbox refuses podman's default
# runtime; .ci/runc-without-rlimits wraps runc).
#
# Present: nothing is done. Missing as root: `apt-get update` once, then
# `apt-get install -y`. Missing otherwise: fails, naming the packages to install,
# so a run never passes without these tests.
set -euo pipefail

missing=()
case "${1:-suite}" in
  suite)
    what="nginx, openssl, curl, postgresql, chromium and chromium-driver"
    needed_by="the deployment, replica and browser tests"
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || ! id postgres >/dev/null 2>&1; then
      missing+=(postgresql)
    fi
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    ;;
  container)
    what="podman and runc"
    needed_by="the container image check (.ci/container.sh) and its runtime"
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v runc >/dev/null 2>&1 || missing+=(runc)
    ;;
  *)
    echo "usage: deps.sh [suite|container]" >&2
    exit 2
    ;;
esac
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: $what are installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${missing[*]}: install them (Debian: sudo apt-get install -y ${missing[*]}): $needed_by need them" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's postinst would start nginx on port 80, and a PostgreSQL cluster on
# 5432, where policy-rc.d allows it; the tests start their own, so started
# services are stopped again.
apt-get install -y -qq "${missing[@]}" >/dev/null
if command -v service >/dev/null 2>&1; then
  for svc in nginx postgresql; do
    if [[ " ${missing[*]} " == *" $svc "* ]]; then
      service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
fi
echo "deps: installed ${missing[*]}"
