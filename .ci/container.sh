#!/usr/bin/env bash
# Builds the Containerfile offline and runs the image with podman, which it first
# installs with runc through `.ci/deps.sh container` when missing (Debian packages;
# as root it installs them, otherwise it names them and fails).
# No base image can be pulled here, so the image is built with BINARY=context: a
# context holding the host's debug binary and the shared libraries it links. The
# run uses the machine's OCI runtime, or, where the sandbox refuses the rlimits
# a container start sets, runc through .ci/runc-without-rlimits. The run checks:
# the server starts as the image's non-root user, /__sandbox/health answers
# through the published port, a change lands in the state volume (owned by that
# user, mode 0600), and SIGTERM (podman stop) exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bash .ci/deps.sh container

cargo build --locked --quiet
bin=$(bash .ci/target-dir.sh)/debug/wa-twostep
image=localhost/wa-twostep:ci
volume=wa-twostep-ci-state-$$
work=$(mktemp -d)
cid=
cleanup() {
  if [ -n "$cid" ]; then podman rm -f "$cid" >/dev/null 2>&1 || true; fi
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The build context: rootfs/ (binary and libraries) and an empty state/.
mkdir -p "$work/ctx/rootfs/usr/local/bin" "$work/ctx/state"
install -m 0755 "$bin" "$work/ctx/rootfs/usr/local/bin/wa-twostep"
for lib in $(ldd "$bin" | grep -oE '/[^ ]+'); do
  install -D -m 0755 "$lib" "$work/ctx/rootfs$lib"
done
echo "-- podman build (BINARY=context)"
images() { podman images -q -f dangling=true | sort; }
images >"$work/before"
if ! podman build -q -f "$repo/Containerfile" --build-arg BINARY=context -t "$image" "$work/ctx" >/dev/null 2>"$work/build.err"; then
  # Ours, or the machine's? A one-file scratch image tells: if podman cannot build
  # even that here, the sandbox refuses image builds (storage, namespaces) and the
  # Containerfile was not verified; if it can, our Containerfile is broken.
  mkdir -p "$work/probe-ctx" && echo probe >"$work/probe-ctx/probe"
  printf 'FROM scratch\nCOPY probe /probe\n' >"$work/probe-ctx/Containerfile"
  if podman build -q -t localhost/wa-twostep-probe:ci "$work/probe-ctx" >/dev/null 2>"$work/probe.err"; then
    podman rmi -f localhost/wa-twostep-probe:ci >/dev/null 2>&1 || true
    echo "container: podman build of the Containerfile failed:"; cat "$work/build.err"; exit 1
  fi
  echo "container: NOT VERIFIED: podman cannot build even a one-file scratch image on this machine: $(tr '\n' ' ' <"$work/probe.err")"
  exit 0
fi
# The stages' intermediate images are this build's own: remove them, not others'.
images >"$work/after"
for id in $(comm -13 "$work/before" "$work/after"); do
  podman rmi -f "$id" >/dev/null 2>&1 || true
done
echo "container: built $image"

runtime=()
if ! podman run --rm "$image" --version >"$work/probe" 2>&1; then
  refused=$(tr '\n' ' ' <"$work/probe")
  echo "container: podman run with the default runtime fails here ($refused); using runc without rlimits"
  runtime=(--runtime "$repo/.ci/runc-without-rlimits")
  if ! podman run --rm "${runtime[@]}" "$image" --version >"$work/probe" 2>&1; then
    echo "container: run NOT VERIFIED: podman run fails with runc too: $(tr '\n' ' ' <"$work/probe")"
    exit 0
  fi
fi
grep -qF "wa-twostep " "$work/probe" || { echo "container: --version printed: $(cat "$work/probe")"; exit 1; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
cid=$(podman run -d "${runtime[@]}" -p "127.0.0.1:$port:8080" -v "$volume:/var/lib/wa-twostep" \
  -e WA_TWOSTEP_CONTROL__TOKEN="$token" -e WA_TWOSTEP_ARGON2__MEMORY_KIB=64 -e WA_TWOSTEP_ARGON2__ITERATIONS=1 \
  "$image" 2>"$work/run.err") || {
  # The image itself already ran (--version above): what fails here is the machine's
  # container networking (publishing a port) or volumes.
  echo "container: run NOT VERIFIED: podman run with a published port and a volume fails here: $(tr '\n' ' ' <"$work/run.err")"
  exit 0
}
ok=
for _ in $(seq 1 100); do
  if curl -fsS -m 2 "http://127.0.0.1:$port/__sandbox/health" >"$work/health" 2>/dev/null; then ok=1; break; fi
  [ "$(podman inspect -f '{{.State.Running}}' "$cid")" = true ] || break
  sleep 0.1
done
[ -n "$ok" ] || { echo "container: the server never answered /__sandbox/health"; podman logs "$cid"; exit 1; }
grep -qF '{"status":"ok"}' "$work/health" || { echo "container: health said $(cat "$work/health")"; exit 1; }
[ "$(podman inspect -f '{{.Config.User}}' "$cid")" = "65532:65532" ] || { echo "container: not the non-root user"; exit 1; }
# A change is written to the state volume.
curl -fsS -m 5 -X POST -H "Authorization: Bearer $token" "http://127.0.0.1:$port/__sandbox/reset" >/dev/null
podman stop -t 20 "$cid" >/dev/null
code=$(podman inspect -f '{{.State.ExitCode}}' "$cid")
[ "$code" = 0 ] || { echo "container: exit status $code after SIGTERM"; podman logs "$cid"; exit 1; }
state=$(podman volume inspect -f '{{.Mountpoint}}' "$volume")/wa-twostep-state.json
[ -f "$state" ] || { echo "container: no state file in the volume"; exit 1; }
[ "$(stat -c '%u %a' "$state")" = "65532 600" ] || { echo "container: state file is $(stat -c '%u %a' "$state")"; exit 1; }
echo "container: ran $image: health 200 on the published port, state in the volume (uid 65532, 0600), exit 0 on SIGTERM"
