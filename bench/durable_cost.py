#!/usr/bin/env python3
"""Server cost per durable change (bench.py's fig_durable workload), noise-immune.

Standard library only; all traffic goes to 127.0.0.1. The release server runs with
`--state <tmp>/state.json` and the cheapest argon2, as fig_durable runs it; clients
alternate POST {"pin":"123456"} and DELETE of /v1/settings/account/two-step.

  durable_cost.py callgrind CLIENTS   instructions per change: two runs under
        callgrind serving N_SMALL and N_LARGE requests (CLIENTS connections), the
        difference of the totals divided by the difference of changes made.
  durable_cost.py ctxt CLIENTS        context switches per change: the server pinned
        to CPU 0, wrk pinned to CPU 1 for DURATION s; voluntary and nonvoluntary
        switches summed over /proc/<pid>/task/*, before and after, per change.
  durable_cost.py flood 50            bench.py's DELETE p99 under a POST flood: an
        ephemeral server at the default argon2 cost, 8 connections of POST, and
        50 connections of DELETE with 20 ms think time for DURATION s.

Env: DURABLE_BINARY (default target/release/wa-twostep), N_SMALL (1000),
N_LARGE (3000), DURATION (4), KEEP (copy the last callgrind output there).
"""

import base64
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import call, metric  # noqa: E402  (the benchmark's own HTTP and /metrics helpers)

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("DURABLE_BINARY", ROOT / "target" / "release" / "wa-twostep"))
ENV = {"WA_TWOSTEP_ARGON2__MEMORY_KIB": "8", "WA_TWOSTEP_ARGON2__ITERATIONS": "1",
       "WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE": "false"}
PATH = "/v1/settings/account/two-step"


def start(prefix, state_dir, env_extra=ENV):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WA_TWOSTEP_") and k != "RUST_LOG"}
    env.update(env_extra)
    where = ["--state", str(state_dir / "state.json")] if state_dir else ["--ephemeral"]
    argv = [*prefix, str(BINARY), "--listen", "127.0.0.1:0", *where]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    line = proc.stdout.readline().decode()
    if not line.startswith("listening on http://"):
        sys.exit(f"durable_cost: server did not start: {line!r}")
    return proc, int(line.strip().rsplit(":", 1)[1])


def token(port):
    auth = "Basic " + base64.b64encode(b"admin:secret").decode()
    status, data = call(port, "POST", "/v1/users/login", {"Authorization": auth})
    if status != 200:
        sys.exit(f"durable_cost: login answered {status}")
    return json.loads(data)["users"][0]["token"]


def changes(port):
    return int(metric(port, "wa_twostep_state_changes_total"))


def drive(port, tok, clients, n):
    """n requests over `clients` keep-alive connections, each alternating POST, DELETE."""
    post = {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"}
    delete = {"Authorization": f"Bearer {tok}"}
    failures = []

    def client(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        for i in range(k):
            if i % 2 == 0:
                c.request("POST", PATH, body='{"pin":"123456"}', headers=post)
            else:
                c.request("DELETE", PATH, headers=delete)
            r = c.getresponse()
            r.read()
            if r.status >= 300:
                failures.append(r.status)
        c.close()

    threads = [threading.Thread(target=client, args=(n // clients,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"durable_cost: {len(failures)} requests failed, e.g. {failures[0]}")


def callgrind_run(clients, n, tmp):
    d = Path(tempfile.mkdtemp(dir=tmp))
    out = d / "callgrind.out"
    proc, port = start(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"], d)
    tok = token(port)
    drive(port, tok, clients, 2 * clients)  # warm-up: every connection open once
    drive(port, tok, clients, n)
    made = changes(port)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=300)
    for text in out.read_text(errors="replace").splitlines():
        if text.startswith("totals:") or text.startswith("summary:"):
            if os.environ.get("KEEP"):
                Path(os.environ["KEEP"]).write_bytes(out.read_bytes())
            return int(text.split()[1]), made
    sys.exit(f"durable_cost: no totals in {out}")


def switches(pid):
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except FileNotFoundError:
            continue
        for key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            total += int(re.search(rf"^{key}:\s+(\d+)", text, re.M).group(1))
    return total


def cpu(pid):
    """User and system CPU seconds of the whole process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def ctxt(clients, tmp):
    duration = os.environ.get("DURATION", "4")
    proc, port = start(["taskset", "-c", "0"], Path(tmp))
    try:
        tok = token(port)
        drive(port, tok, 1, 2)
        env = dict(os.environ, WRK_MODE="mix", WRK_TOKEN=tok)
        w0, ws0 = metric(port, "wa_twostep_state_writes_total"), metric(port, "wa_twostep_state_write_seconds_total")
        c0, s0, t0 = changes(port), switches(proc.pid), cpu(proc.pid)
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{clients}", f"-d{duration}s",
                              "-s", str(ROOT / "bench" / "wrk.lua"), f"http://127.0.0.1:{port}{PATH}"],
                             env=env, capture_output=True, text=True, check=True).stdout
        s1, t1, c1 = switches(proc.pid), cpu(proc.pid), changes(port)
        w1, ws1 = metric(port, "wa_twostep_state_writes_total"), metric(port, "wa_twostep_state_write_seconds_total")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    r = json.loads(out.split("BENCH_JSON ", 1)[1].splitlines()[0])
    n = c1 - c0
    print(f"ctxt clients={clients}: {r['requests']} requests ({r['ok2xx']} 2xx), {n} changes, "
          f"{r['requests'] / (r['duration_us'] / 1e6):,.0f} req/s, p99 {r['lat_p99_us'] / 1000:.2f} ms, "
          f"{s1 - s0} switches = {(s1 - s0) / n:.2f} per change, CPU per change "
          f"{(t1[0] - t0[0]) / n * 1e6:.1f} us user + {(t1[1] - t0[1]) / n * 1e6:.1f} us sys; "
          f"{n / (w1 - w0):.1f} changes per write, {(ws1 - ws0) / (w1 - w0) * 1e3:.3f} ms per write")


def wrk(port, tok, mode, clients, duration, delay_ms=0):
    env = dict(os.environ, WRK_MODE=mode, WRK_TOKEN=tok, WRK_DELAY_MS=str(delay_ms))
    return subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", f"-c{clients}", f"-d{duration}s",
                             "--timeout", "5s", "-s", str(ROOT / "bench" / "wrk.lua"),
                             f"http://127.0.0.1:{port}{PATH}"],
                            env=env, stdout=subprocess.PIPE, text=True)


def result(p):
    out = p.communicate()[0]
    return json.loads(out.split("BENCH_JSON ", 1)[1].splitlines()[0])


def flood(clients):
    duration = int(os.environ.get("DURATION", "4"))
    proc, port = start(["taskset", "-c", "0"], None, {"WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE": "false"})
    try:
        tok = token(port)
        call(port, "DELETE", PATH, {"Authorization": f"Bearer {tok}"})
        posts = wrk(port, tok, "post", 8, duration + 2)
        time.sleep(1.0)
        probe = result(wrk(port, tok, "delete", clients, duration, delay_ms=20))
        posts = result(posts)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    print(f"flood: DELETE p50 {probe['lat_p50_us'] / 1000:.2f} ms, p99 {probe['lat_p99_us'] / 1000:.2f} ms, "
          f"max {probe['lat_max_us'] / 1000:.2f} ms ({probe['ok2xx']} of {probe['requests']} 2xx); "
          f"POST {posts['ok2xx']} 2xx, {posts['s503']} 503 of {posts['requests']}")


def main():
    mode, clients = sys.argv[1], int(sys.argv[2])
    if mode == "flood":
        return flood(clients)
    with tempfile.TemporaryDirectory(prefix="wa-twostep-durable-") as tmp:
        if mode == "ctxt":
            return ctxt(clients, tmp)
        small_n = int(os.environ.get("N_SMALL", "1000"))
        large_n = int(os.environ.get("N_LARGE", "3000"))
        small, c_small = callgrind_run(clients, small_n, tmp)
        large, c_large = callgrind_run(clients, large_n, tmp)
        per = (large - small) / (c_large - c_small)
        per_request = (large - small) / (large_n // clients * clients - small_n // clients * clients)
        print(f"callgrind clients={clients}: {small:,} ({c_small} changes) vs {large:,} "
              f"({c_large} changes): {per:,.0f} instructions per change, "
              f"{per_request:,.0f} per request")


if __name__ == "__main__":
    main()
