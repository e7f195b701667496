#!/usr/bin/env python3
"""Soak test: a long mix of well-behaved and misbehaving clients against one server.

Driven by bench/soak.sh; standard library only; all traffic goes to 127.0.0.1 and
every loop stops at its deadline. Not part of the default test run.

1. Growth: SOAK_LOGINS logins by one user (default 200,000) with the default
   auth.max_tokens_per_user, reporting RSS and state size before and after.
2. Mix for SOAK_SECONDS (default 600): logins and logouts, PIN changes, registrations,
   user creation and deletion, control-plane resets, failed logins and malformed
   requests from many forwarded addresses, slowloris clients, and pipelining clients
   that never read. A probe measures an authenticated GET /v1/health every 20 ms.
3. Crash: writers create users while the server is SIGKILLed; after a restart on
   the same state every acknowledged user must be there.

Prints a markdown report and writes it to SOAK_OUT (default bench/soak-results.md).
Argon2 is the cheap test setting (64 KiB, t=1): the soak is about the server, not
about hashing.
"""

import base64
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ["SOAK_BINARY"])
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
LOGINS = int(os.environ.get("SOAK_LOGINS", "200000"))
OUT = Path(os.environ.get("SOAK_OUT", ROOT / "bench" / "soak-results.md"))
PIN_PATH = "/v1/settings/account/two-step"
SEED = "secret"
ENV = {
    "WA_TWOSTEP_ARGON2__MEMORY_KIB": "64",
    "WA_TWOSTEP_ARGON2__ITERATIONS": "1",
    "WA_TWOSTEP_AUTH__FORCE_PASSWORD_CHANGE": "false",
    "WA_TWOSTEP_SERVER__TRUST_FORWARDED_FOR": "true",
    "WA_TWOSTEP_SERVER__WRITE_TIMEOUT_SECS": "5",
}


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Server:
    """The release binary on a state directory; restartable."""

    def __init__(self, state_dir):
        self.dir = Path(state_dir)
        self.proc = None
        self.port = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("WA_TWOSTEP_")}
        env.update(ENV)
        self.proc = subprocess.Popen(
            [str(BINARY), "--listen", "127.0.0.1:0", "--state", str(self.dir / "state.json")],
            stdout=subprocess.PIPE,
            stderr=open(self.dir / "stderr.log", "ab"),
            env=env,
        )
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on http://"):
            sys.exit(f"soak: server did not start: {line!r}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def rss_mib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def state_kib(self):
        total = sum(p.stat().st_size for p in self.dir.glob("state.json*") if p.is_file())
        return total / 1024


class Client:
    """One keep-alive connection; reconnects after errors."""

    def __init__(self, server, xff="10.0.0.1"):
        self.server, self.xff, self.conn = server, xff, None

    def call(self, method, path, body=None, headers=None, timeout=10):
        hdrs = {"X-Forwarded-For": self.xff}
        hdrs.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException):
                self.conn = None
        return 0, b""

    def token(self):
        status, body = self.call("POST", "/v1/users/login", headers={"Authorization": basic("admin", SEED)})
        return json.loads(body)["users"][0]["token"] if status == 200 else None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}

    def count(self, worker, status):
        with self.lock:
            key = (worker, status)
            self.statuses[key] = self.statuses.get(key, 0) + 1


def authed(client, stats, name, deadline, step):
    """Runs `step(client, token)` until the deadline, logging in again after a 401."""
    token = None
    while time.time() < deadline:
        if token is None:
            token = client.token()
            if token is None:
                time.sleep(0.05)
                continue
        status = step(client, token)
        stats.count(name, status)
        # A reset revokes every token (401); a logout revokes this one.
        if status == 401 or step is w_logins:
            token = None


def w_logins(c, t):
    return c.call("POST", "/v1/users/logout", headers={"Authorization": f"Bearer {t}"})[0]


def w_pins(c, t):
    auth = {"Authorization": f"Bearer {t}"}
    if random.random() < 0.7:
        return c.call("POST", PIN_PATH, {"pin": f"{random.randrange(10**6):06d}"}, auth)[0]
    return c.call("DELETE", PIN_PATH, headers=auth)[0]


def w_registration(c, t):
    auth = {"Authorization": f"Bearer {t}"}
    body = {"cc": "1", "phone_number": "5550100", "method": "sms", "cert": "Y2VydA==", "pin": "000000"}
    s = c.call("POST", "/v1/account", body, auth)[0]
    if s in (201, 202):
        s = c.call("POST", "/v1/account/verify", {"code": "123456"}, auth)[0]
    return s


def w_users(c, t):
    auth = {"Authorization": f"Bearer {t}"}
    name = f"soak{random.randrange(10**9)}"
    s = c.call("POST", "/v1/users", {"username": name, "password": "Soak-Pa55!"}, auth)[0]
    if s == 201:
        c.call("GET", f"/v1/users/{name}", headers=auth)
        s = c.call("DELETE", f"/v1/users/{name}", headers=auth)[0]
    return s


def abusive(server, stats, deadline):
    c = Client(server)
    while time.time() < deadline:
        c.xff = f"198.51.{random.randrange(256)}.{random.randrange(256)}"
        kind = random.randrange(3)
        if kind == 0:
            s = c.call("POST", "/v1/users/login", headers={"Authorization": basic("admin", "wrong")})[0]
        elif kind == 1:
            s = c.call("POST", PIN_PATH, b"{not json", {"Authorization": "Bearer nope"})[0]
        else:
            s = c.call("POST", "/v1/users/login", b"x" * 70000, {"Authorization": basic("admin", "x")})[0]
        stats.count("abusive", s)


def resets(server, stats, deadline):
    c = Client(server)
    while time.time() < deadline:
        time.sleep(30)
        stats.count("reset", c.call("POST", "/__sandbox/reset")[0])


def slowloris(server, deadline):
    """Clients that send their request head one byte a second."""
    while time.time() < deadline:
        socks = []
        for _ in range(20):
            try:
                socks.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
            except OSError:
                pass
        for ch in b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"[:15]:
            for s in socks:
                try:
                    s.send(bytes([ch]))
                except OSError:
                    pass
            time.sleep(1)
        for s in socks:
            s.close()


def nonreaders(server, deadline):
    """Pipelining clients with a 4 KiB receive buffer that never read."""
    burst = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
    while time.time() < deadline:
        socks = []
        for _ in range(20):
            try:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", server.port))
                s.setblocking(False)
                try:
                    s.send(burst)
                except OSError:
                    pass
                socks.append(s)
            except OSError:
                pass
        time.sleep(min(30, max(0, deadline - time.time())))
        for s in socks:
            s.close()


def probe(server, deadline, samples):
    c = Client(server, xff="10.0.0.2")
    token = c.token()
    while time.time() < deadline:
        t0 = time.perf_counter()
        s, _ = c.call("GET", "/v1/health", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        samples.append((time.time(), (time.perf_counter() - t0) * 1000, s))
        if s == 401:
            token = c.token()
        time.sleep(0.02)


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def growth(server, report):
    before = (server.rss_mib(), server.state_kib())
    done = [0]
    deadline = time.time() + 900

    def loop(n):
        c = Client(server, xff="10.0.0.3")
        for _ in range(n):
            if time.time() > deadline:
                return
            if c.call("POST", "/v1/users/login", headers={"Authorization": basic("admin", SEED)})[0] == 200:
                done[0] += 1

    t0 = time.time()
    threads = [threading.Thread(target=loop, args=(LOGINS // 8,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    tokens = json.loads(Client(server).call("GET", "/__sandbox/state")[1])["tokens"]
    report.append(f"## Growth: {done[0]:,} logins by one user in {elapsed:.0f} s\n")
    report.append("| | before | after |\n|---|---|---|")
    report.append(f"| RSS | {before[0]:.1f} MiB | {server.rss_mib():.1f} MiB |")
    report.append(f"| state files | {before[1]:.0f} KiB | {server.state_kib():.0f} KiB |")
    report.append(f"| live tokens | 0 | {tokens:,} (auth.max_tokens_per_user = 1000) |\n")


def crash_check(server, report):
    acked, stop = [], threading.Event()

    def writer(i):
        c = Client(server, xff=f"10.0.1.{i}")
        token = c.token()
        n = 0
        while not stop.is_set():
            name = f"final{i}x{n}"
            n += 1
            s = c.call("POST", "/v1/users", {"username": name, "password": "Soak-Pa55!"},
                       {"Authorization": f"Bearer {token}"}, timeout=5)[0]
            if s == 201:
                acked.append(name)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    server.start()
    c = Client(server)
    token = c.token()
    lost = [n for n in acked if c.call("GET", f"/v1/users/{n}", headers={"Authorization": f"Bearer {token}"})[0] != 200]
    report.append(f"## Crash check: SIGKILL during writes, restart\n")
    report.append(f"{len(acked):,} user creations acknowledged before the kill; **{len(lost)} lost** after the restart.\n")
    return not lost


def main():
    if not BINARY.exists():
        sys.exit(f"soak: no binary at {BINARY}")
    tmp = tempfile.mkdtemp(prefix="wa-twostep-soak-")
    server = Server(tmp)
    server.start()
    report = [f"# Soak run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n",
              f"`{BINARY.name}`, {os.cpu_count()} CPUs, cheap argon2 (64 KiB, t=1), state in a temp dir.\n"]
    if LOGINS:
        growth(server, report)
        Client(server).call("POST", "/__sandbox/reset")
    stats, samples, gauges = Stats(), [], []
    start = time.time()
    deadline = start + SECONDS
    threads = []
    for name, step, n in [("logins", w_logins, 2), ("pins", w_pins, 2),
                          ("registration", w_registration, 1), ("users", w_users, 1)]:
        for i in range(n):
            c = Client(server, xff=f"10.0.2.{len(threads)}")
            threads.append(threading.Thread(target=authed, args=(c, stats, name, deadline, step)))
    threads += [threading.Thread(target=abusive, args=(server, stats, deadline)),
                threading.Thread(target=resets, args=(server, stats, deadline)),
                threading.Thread(target=slowloris, args=(server, deadline)),
                threading.Thread(target=nonreaders, args=(server, deadline)),
                threading.Thread(target=probe, args=(server, deadline, samples))]
    for t in threads:
        t.daemon = True
        t.start()
    while time.time() < deadline:
        gauges.append((time.time() - start, server.rss_mib(), server.fds(), server.state_kib()))
        time.sleep(min(10, max(0.1, deadline - time.time())))
    gauges.append((time.time() - start, server.rss_mib(), server.fds(), server.state_kib()))
    for t in threads:
        t.join(timeout=60)
    report.append(f"## Mix: {SECONDS} s\n")
    report.append("| | start | end | max |\n|---|---|---|---|")
    report.append(f"| RSS (MiB) | {gauges[0][1]:.1f} | {gauges[-1][1]:.1f} | {max(g[1] for g in gauges):.1f} |")
    report.append(f"| open fds | {gauges[0][2]} | {gauges[-1][2]} | {max(g[2] for g in gauges)} |")
    report.append(f"| state files (KiB) | {gauges[0][3]:.0f} | {gauges[-1][3]:.0f} | {max(g[3] for g in gauges):.0f} |\n")
    report.append("Authenticated `GET /v1/health` probe (every 20 ms), per minute:\n")
    report.append("| minute | probes | p50 ms | p99 ms | max ms | non-200 | RSS MiB | fds |\n|---|---|---|---|---|---|---|---|")
    for m in range(0, (SECONDS + 59) // 60):
        window = [s for s in samples if start + 60 * m <= s[0] < start + 60 * (m + 1)]
        lat = [s[1] for s in window]
        bad = sum(1 for s in window if s[2] != 200)
        last = [g for g in gauges if g[0] < 60 * (m + 1)][-1]
        report.append(f"| {m + 1} | {len(window)} | {pct(lat, 50):.2f} | {pct(lat, 99):.2f} | {max(lat, default=0):.1f} | {bad} | {last[1]:.1f} | {last[2]} |")
    report.append("\nA reset every 30 s revokes the probe's token: its next probe is a 401, then it logs in again.")
    report.append("\nAnswers by worker and status:\n")
    report.append("| worker | status | count |\n|---|---|---|")
    for (w, s), n in sorted(stats.statuses.items()):
        report.append(f"| {w} | {s} | {n:,} |")
    report.append("")
    ok = crash_check(server, report)
    server.stop()
    text = "\n".join(report)
    print(text)
    OUT.write_text(text + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
