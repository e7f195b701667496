#!/usr/bin/env python3
"""Drives headless Chromium through WebDriver (chromedriver, raw HTTP from the
standard library) through the WhatsApp Manager scenario against a running server:
open the Manager, open the number, change the PIN with a wrong and then the right
current PIN, turn two-step off, read the email from the outbox API, open its link,
confirm, and see two-step off on the page and via GET /{v}/{id}?fields=is_pin_enabled.
Saves a screenshot of each page in SHOTS. Usage: browser.py URL CLOUD_TOKEN SHOTS DRIVER_URL"""

import base64
import json
import os
import sys
import tempfile
import time
import urllib.request

url, cloud, shots, driver = sys.argv[1:5]
ID = "106540352242922"


def http(method, address, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(address, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def wd(method, path, body=None):
    return http(method, f"{driver}/session/{session}{path}" if path is not None else f"{driver}/session", body)["value"]


profile = tempfile.mkdtemp(prefix="wa-twostep-chromium-")
caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
    "binary": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
    "args": ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--window-size=1000,900"]}}}}
session = None
session = http("POST", f"{driver}/session", caps)["value"]["sessionId"]


def go(address):
    wd("POST", "/url", {"url": address})


def find(css):
    el = wd("POST", "/element", {"using": "css selector", "value": css})
    return next(iter(el.values()))


def type_into(name, text):
    wd("POST", f"/element/{find(f'input[name={name}]')}/value", {"text": text})


def click(css):
    wd("POST", f"/element/{find(css)}/click", {})


def page():
    return wd("GET", "/source")


def shot(name):
    png = base64.b64decode(wd("GET", "/screenshot"))
    with open(os.path.join(shots, f"manager-{name}.png"), "wb") as f:
        f.write(png)


def expect(text):
    # A click returns once the form is submitted; the next page may still be loading.
    for _ in range(50):
        if text in page():
            return
        time.sleep(0.1)
    raise AssertionError(f"page lacks {text!r}: {page()[:2000]}")


try:
    http("POST", f"{url}/v22.0/{ID}", {"pin": "123456"}, {"Authorization": f"Bearer {cloud}"})
    go(f"{url}/__sandbox/manager/")
    expect("+1 5550100")
    shot("1-numbers")
    click(f'a[href="numbers/{ID}/"]')
    expect("Change PIN")
    shot("2-number")
    for current in ["000000", "123456"]:
        type_into("current_pin", current)
        type_into("new_pin", "777777")
        type_into("confirm_pin", "777777")
        click("#change-pin")
        if current == "000000":
            expect("The current PIN is incorrect")
            shot("3-wrong-current-pin")
    expect("Your PIN was changed.")
    shot("4-pin-changed")
    click("#turn-off")
    expect("We sent an email to admin@example.com")
    shot("5-email-sent")
    link = http("GET", f"{url}/__sandbox/emails")["emails"][-1]["link"]
    go(link)
    expect("confirm-reset")
    shot("6-reset-confirmation")
    click("#confirm-reset")
    expect("Two-step verification is now off")
    shot("7-reset-done")
    go(f"{url}/__sandbox/manager/numbers/{ID}/")
    expect("Set PIN")
    shot("8-two-step-off")
    fields = http("GET", f"{url}/v22.0/{ID}?fields=is_pin_enabled", None, {"Authorization": f"Bearer {cloud}"})
    assert fields["is_pin_enabled"] is False, fields
    print("browser: the Manager scenario passed in headless Chromium")
finally:
    try:
        wd("DELETE", "")
    except Exception:  # the session may already be gone
        pass
