"""Example tests of the Cloud (Graph) API flavor through the fixtures in conftest.py."""


def test_setting_a_pin_turns_is_pin_enabled_on(wa):
    status, body = wa.graph("POST", wa.phone_number_id, body={"pin": "123456"})
    assert (status, body) == (200, {"success": True})
    status, body = wa.graph("GET", f"{wa.phone_number_id}?fields=is_pin_enabled")
    assert status == 200
    assert body == {"is_pin_enabled": True, "id": wa.phone_number_id}


def test_register_needs_the_numbers_pin(wa):
    wa.graph("POST", wa.phone_number_id, body={"pin": "123456"})
    register = f"{wa.phone_number_id}/register"
    status, body = wa.graph("POST", register, body={"messaging_product": "whatsapp", "pin": "654321"})
    assert status == 400
    assert body["error"]["code"] == 133005
    assert body["error"]["error_data"]["details"] == "Two-step verification PIN incorrect."
    status, body = wa.graph("POST", register, body={"messaging_product": "whatsapp", "pin": "123456"})
    assert (status, body) == (200, {"success": True})


def test_a_pin_set_on_premises_is_the_cloud_numbers_pin(wa):
    token = wa.token("admin", "secret", new_password="Sandbox-Pa55!")
    status, _ = wa.request("POST", "/v1/settings/account/two-step", body={"pin": "222222"}, token=token)
    assert status == 200
    status, body = wa.graph("GET", f"{wa.phone_number_id}?fields=is_pin_enabled")
    assert body["is_pin_enabled"] is True


def test_the_cloud_token_outlives_the_reset_and_the_pin_does_not(wa):
    # The previous tests set PINs; the fixture's reset removed them, not the token.
    status, body = wa.graph("GET", f"{wa.phone_number_id}?fields=is_pin_enabled,status")
    assert status == 200
    assert body == {"is_pin_enabled": False, "status": "CONNECTED", "id": wa.phone_number_id}
    state = wa.state()
    assert state["cloud_tokens"] == 1
    assert [n["id"] for n in state["numbers"]] == [wa.phone_number_id]
