"""Example tests against wa-twostep through the fixtures in conftest.py."""

TWO_STEP = "/v1/settings/account/two-step"
SEED_PASSWORD = "secret"  # auth.admin_password default
ADMIN_PASSWORD = "Sandbox-Pa55!"


def admin_token(wa):
    """The seed admin's first login: it must choose a new password."""
    return wa.token("admin", SEED_PASSWORD, new_password=ADMIN_PASSWORD)


def test_first_login_requires_a_password_change(wa):
    status, body = wa.login("admin", SEED_PASSWORD)
    assert status == 401
    assert body["errors"][0]["code"] == 1024


def test_setting_a_pin_enables_two_step(wa):
    token = admin_token(wa)
    status, body = wa.request("POST", TWO_STEP, body={"pin": "123456"}, token=token)
    assert status == 200, body
    two_step = wa.state()["two_step"]
    assert two_step["enabled"] is True
    assert two_step["updated_at"] is not None


def test_a_non_admin_is_refused_with_403(wa):
    token = admin_token(wa)
    status, body = wa.request(
        "POST", "/v1/users", body={"username": "alice", "password": "Alice-Pa55!"}, token=token
    )
    assert status == 201, body
    alice = wa.token("alice", "Alice-Pa55!")
    status, body = wa.request("POST", TWO_STEP, body={"pin": "123456"}, token=alice)
    assert status == 403
    assert body["errors"][0]["code"] == 1005
    assert body["errors"][0]["details"] == "User doesn't have permission"


def test_reset_returns_to_the_seed(wa):
    token = admin_token(wa)
    wa.request("POST", TWO_STEP, body={"pin": "123456"}, token=token)
    assert wa.state()["two_step"]["enabled"] is True
    state = wa.reset()
    assert state["two_step"] == {"enabled": False, "updated_at": None}
    assert state["tokens"] == 0
    assert [u["username"] for u in state["users"]] == ["admin"]
    # The seed admin must change its password again.
    status, _ = wa.login("admin", ADMIN_PASSWORD)
    assert status == 401


def test_each_test_starts_from_the_seed(wa):
    # Tests above changed the password and enabled two-step; the fixture reset both.
    state = wa.state()
    assert state["two_step"]["enabled"] is False
    assert state["users"][0]["password_change_required"] is True
