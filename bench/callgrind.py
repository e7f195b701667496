#!/usr/bin/env python3
"""Instructions per request, counted by callgrind; driven by bench/callgrind.sh.

Standard library only; all traffic goes to 127.0.0.1. For each route the release
binary runs under `valgrind --tool=callgrind` twice, serving N_SMALL and N_LARGE
requests of that route on one keep-alive connection after the same set-up; the
difference of the two totals divided by N_LARGE - N_SMALL is the cost of one
request, with start-up, set-up and shutdown cancelled out. Instruction counts do
not depend on what else the machine is doing, so runs compare across commits.

The bare-axum baseline (bench/baseline, CALLGRIND_BASELINE) is measured the same
way on the same routes, so the table shows what the framework alone costs.

Prints a table and writes it to CALLGRIND_OUT (default bench/callgrind-results.md).
"""

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ["CALLGRIND_BINARY"])
BASELINE = os.environ.get("CALLGRIND_BASELINE")
N_SMALL = int(os.environ.get("CALLGRIND_N_SMALL", "500"))
N_LARGE = int(os.environ.get("CALLGRIND_N_LARGE", "2500"))
OUT = Path(os.environ.get("CALLGRIND_OUT", ROOT / "bench" / "callgrind-results.md"))
ENV = {
    "WA_TWOSTEP_ARGON2__MEMORY_KIB": "64",
    "WA_TWOSTEP_ARGON2__ITERATIONS": "1",
    "WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE": "false",
}


def admin_token(conn):
    auth = "Basic " + base64.b64encode(b"admin:secret").decode()
    conn.request("POST", "/v1/users/login", headers={"Authorization": auth})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    return body["users"][0]["token"]


def on_prem_delete(conn):
    """Authenticated no-op DELETE of two-step (On-Premises)."""
    token = admin_token(conn)
    headers = {"Authorization": f"Bearer {token}"}
    return lambda: conn.request("DELETE", "/v1/settings/account/two-step", headers=headers)


def cloud_get(conn):
    """Authenticated Cloud number read, with a token minted by the control plane."""
    conn.request("POST", "/__sandbox/cloud/tokens", body="{}",
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    token = json.loads(resp.read())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    return lambda: conn.request("GET", CLOUD_PATH, headers=headers)


CLOUD_PATH = "/v22.0/106540352242922"
ROUTES = {
    "DELETE /v1/settings/account/two-step": on_prem_delete,
    f"GET {CLOUD_PATH} (Cloud)": cloud_get,
}
# The baseline's fixed tokens (bench/baseline/src/main.rs) for the same routes.
BASELINE_ROUTES = {
    "DELETE /v1/settings/account/two-step": lambda conn: lambda: conn.request(
        "DELETE", "/v1/settings/account/two-step", headers={"Authorization": "Bearer bench-token"}),
    f"GET {CLOUD_PATH} (Cloud)": lambda conn: lambda: conn.request(
        "GET", CLOUD_PATH, headers={"Authorization": "Bearer EAAbenchtoken0123456789abcdefghijklmnop"}),
}


def run(route, n, out_dir, baseline=False):
    out = out_dir / f"callgrind.{n}.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WA_TWOSTEP_")}
    env.update(ENV)
    argv = [BASELINE] if baseline else [str(BINARY), "--listen", "127.0.0.1:0", "--ephemeral"]
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    line = proc.stdout.readline().decode()
    if not line.startswith("listening on http://"):
        sys.exit(f"callgrind: server did not start: {line!r}")
    port = int(line.strip().rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    send = (BASELINE_ROUTES if baseline else ROUTES)[route](conn)
    for _ in range(n):
        send()
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            sys.exit(f"callgrind: {route} answered {resp.status}")
    conn.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    for text in out.read_text(errors="replace").splitlines():
        if text.startswith("totals:") or text.startswith("summary:"):
            return int(text.split()[1])
    sys.exit(f"callgrind: no totals in {out}")


def main():
    if not BINARY.exists():
        sys.exit(f"callgrind: no binary at {BINARY}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="wa-twostep-callgrind-") as tmp:
        for route in ROUTES:
            per = {}
            for baseline in ([False, True] if BASELINE else [False]):
                small = run(route, N_SMALL, Path(tmp), baseline)
                large = run(route, N_LARGE, Path(tmp), baseline)
                per[baseline] = (large - small) / (N_LARGE - N_SMALL)
            rows.append((route, per[False], per.get(True)))
    text = [f"# Instructions per request (callgrind, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n",
            f"Release binaries, ours with info-level logs (one line per request) and cheap argon2; "
            f"totals at N={N_SMALL} and N={N_LARGE} requests on one keep-alive connection, "
            "subtracted. Baseline: the bare-axum server of bench/baseline on the same route.\n",
            "| route | ours | bare axum | ours ÷ bare axum |",
            "|---|---|---|---|"]
    for route, ours, base in rows:
        if base:
            text.append(f"| {route} | {ours:,.0f} | {base:,.0f} | {ours / base:.2f}× |")
        else:
            text.append(f"| {route} | {ours:,.0f} | — | — |")
    report = "\n".join(text) + "\n"
    print(report)
    OUT.write_text(report)


if __name__ == "__main__":
    main()
