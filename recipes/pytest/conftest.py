"""pytest fixtures that run wa-twostep as a local mock of the WhatsApp Business API.

Copy this file next to your tests. It needs pytest and the Python standard library
only.

- ``wa_twostep_server`` (session): starts the binary once on 127.0.0.1, port 0 (a
  free port), memory only, with a static Cloud access token
  (``cloud.access_token``, made up unless ``WA_TWOSTEP_CLOUD__ACCESS_TOKEN`` is set),
  reads its ready line ``listening on http://HOST:PORT``, yields a ``Server`` (base
  URL, Cloud token, the first number's ID, the WABA ID), and stops it with SIGTERM at
  the end of the session. ``wa_twostep_url`` is its base URL.
- ``wa`` (per test): resets the server to its seed state (``POST /__sandbox/reset``)
  before the test and returns a small ``Client`` for it, with ``cloud_token``,
  ``phone_number_id`` and ``waba_id``. The static Cloud token outlives every reset.

Environment:
- ``WA_SANDBOX_BIN``: path to the ``wa-twostep`` binary (default: ``wa-twostep`` on PATH).
- ``WA_TWOSTEP_<SECTION>__<KEY>``: configure the server as usual, e.g.
  ``WA_TWOSTEP_STATE__SEED=seed.toml``. Keep your own variables out of that prefix:
  the server refuses to start on an unknown one.
"""

import base64
import collections
import json
import os
import secrets
import selectors
import subprocess
import time
import urllib.error
import urllib.request

import pytest

READY_TIMEOUT_SECS = 30
STOP_TIMEOUT_SECS = 15
GRAPH_VERSION = "v22.0"  # any version from cloud.oldest_version to cloud.latest_version

Server = collections.namedtuple("Server", "url cloud_token phone_number_id waba_id")


class Client:
    """A minimal JSON client for one wa-twostep server (urllib only)."""

    def __init__(self, base_url, cloud_token=None, phone_number_id=None, waba_id=None):
        self.base_url = base_url
        self.cloud_token = cloud_token
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id

    def request(self, method, path, body=None, token=None, basic=None):
        """Sends a request; returns ``(status, parsed JSON body or None)``. Never raises on 4xx/5xx."""
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        if basic is not None:
            user, password = basic
            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = "Basic " + pair
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        return status, (json.loads(raw) if raw else None)

    def graph(self, method, path, body=None, token=None):
        """A Cloud API request to ``/v22.0/<path>`` with the Cloud token (or ``token``)."""
        token = token if token is not None else self.cloud_token
        return self.request(method, f"/{GRAPH_VERSION}/{path}", body=body, token=token)

    def login(self, user, password, new_password=None):
        """``POST /v1/users/login``; returns ``(status, body)``."""
        body = {"new_password": new_password} if new_password is not None else None
        return self.request("POST", "/v1/users/login", body=body, basic=(user, password))

    def token(self, user, password, new_password=None):
        """Logs in and returns the token; fails the test unless the login succeeds."""
        status, body = self.login(user, password, new_password)
        assert status == 200, (status, body)
        return body["users"][0]["token"]

    def state(self):
        """``GET /__sandbox/state``."""
        status, body = self.request("GET", "/__sandbox/state")
        assert status == 200, (status, body)
        return body

    def reset(self):
        """``POST /__sandbox/reset``; returns the seed state."""
        status, body = self.request("POST", "/__sandbox/reset")
        assert status == 200, (status, body)
        return body


def _read_ready_line(proc, timeout):
    """Reads stdout up to the first newline, giving up after ``timeout`` seconds."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    try:
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not sel.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:  # the server exited before it was ready
                return None
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode()


@pytest.fixture(scope="session")
def wa_twostep_server(tmp_path_factory):
    binary = os.environ.get("WA_SANDBOX_BIN", "wa-twostep")
    env = dict(os.environ)
    env.pop("WA_SANDBOX_BIN", None)
    # Cheap argon2 unless the caller chose otherwise: a mock guards no real secret.
    env.setdefault("WA_TWOSTEP_ARGON2__MEMORY_KIB", "64")
    env.setdefault("WA_TWOSTEP_ARGON2__ITERATIONS", "1")
    # A static Cloud token (EAA + 64 hex digits, 256 random bits) outlives resets.
    env.setdefault("WA_TWOSTEP_CLOUD__ACCESS_TOKEN", "EAA" + secrets.token_hex(32))
    log_path = tmp_path_factory.mktemp("wa-twostep") / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, "--ephemeral", "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,  # logs go to stderr; a file never fills up like a pipe
            env=env,
        )
    try:
        line = _read_ready_line(proc, READY_TIMEOUT_SECS)
        prefix = "listening on "
        if line is None or not line.startswith(prefix):
            pytest.fail(f"wa-twostep did not start (ready line {line!r}); log:\n{log_path.read_text()}")
        url = line[len(prefix):]
        first_number = Client(url).state()["numbers"][0]["id"]
        waba_id = env.get("WA_TWOSTEP_CLOUD__WABA_ID", "102290129340398")
        yield Server(url, env["WA_TWOSTEP_CLOUD__ACCESS_TOKEN"], first_number, waba_id)
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=STOP_TIMEOUT_SECS)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        proc.stdout.close()
    assert code == 0, f"wa-twostep exited with {code} on SIGTERM; log:\n{log_path.read_text()}"


@pytest.fixture(scope="session")
def wa_twostep_url(wa_twostep_server):
    """The server's base URL, ``http://127.0.0.1:PORT``."""
    return wa_twostep_server.url


@pytest.fixture
def wa(wa_twostep_server):
    """A client for a server freshly reset to its seed state."""
    server = wa_twostep_server
    client = Client(server.url, server.cloud_token, server.phone_number_id, server.waba_id)
    client.reset()
    return client
