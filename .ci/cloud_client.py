"""Drives wa-twostep's Cloud API with pywa, a published Cloud API client, the way an
onboarding flow would: set the PIN, read it back, register with a wrong then the right
PIN, deregister, list the WABA's numbers, and a bad token. pywa talks to
https://graph.facebook.com; a transport sends its requests to the sandbox instead, so
pywa's own code (URLs, bodies, field lists, error parsing) is what is tested.

Usage: python cloud_client.py BASE_URL CLOUD_TOKEN PHONE_NUMBER_ID WABA_ID
Exits 1 naming the first step that did not go as the real API would answer.
"""

import sys

import httpx
import pywa
from pywa import WhatsApp
from pywa.errors import WhatsAppError


class ToSandbox(httpx.BaseTransport):
    """Sends every request to the sandbox at ``base``, keeping its path and query."""

    def __init__(self, base):
        self.base = httpx.URL(base)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request):
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        request.headers["Host"] = f"{self.base.host}:{self.base.port}"
        return self.inner.handle_request(request)


def check(step, ok, seen):
    if not ok:
        print(f"pywa {pywa.__version__}: {step}: unexpected {seen!r}")
        sys.exit(1)
    print(f"pywa {pywa.__version__}: {step}: ok")


def expect_error(step, code, call):
    try:
        result = call()
    except WhatsAppError as e:
        check(step, e.code == code and e.fbtrace_id, (e.code, e.message, e.fbtrace_id))
        return e
    check(step, False, result)


def main(base, token, phone_id, waba_id):
    transport = ToSandbox(base)
    wa = WhatsApp(phone_id=phone_id, token=token, waba_id=waba_id, session=httpx.Client(transport=transport))
    # pywa has no call to set the two-step PIN: send Meta's documented request with the
    # same transport and version.
    version = str(pywa.utils.Version.GRAPH_API)
    with httpx.Client(transport=transport) as raw:
        resp = raw.post(
            f"https://graph.facebook.com/v{version}/{phone_id}",
            headers={"Authorization": f"Bearer {token}"},
            json={"pin": "123456"},
        )
    check("set the PIN", resp.status_code == 200 and resp.json() == {"success": True}, resp.text)
    number = wa.get_business_phone_number()
    check("is_pin_enabled", number.is_pin_enabled and number.id == phone_id, number)
    check("status CONNECTED", number.status == "CONNECTED", number.status)
    wrong = expect_error("register with a wrong PIN is 133005", 133005, lambda: wa.register_phone_number(pin="654321"))
    check("133005 details", wrong.details == "Two-step verification PIN incorrect.", wrong.details)
    check("register with the right PIN", wa.register_phone_number(pin=123456).success, "not success")
    check("deregister", wa.deregister_phone_number().success, "not success")
    number = wa.get_business_phone_number()
    check("status DISCONNECTED, PIN kept", number.status == "DISCONNECTED" and number.is_pin_enabled, number)
    numbers = list(wa.get_business_phone_numbers())
    check("the WABA's numbers", [n.id for n in numbers] == [phone_id], numbers)
    bad = WhatsApp(phone_id=phone_id, token="EAAnotatokenofthissandbox", session=httpx.Client(transport=transport))
    expect_error("a bad token is 190", 190, lambda: bad.get_business_phone_number())


if __name__ == "__main__":
    main(*sys.argv[1:5])
