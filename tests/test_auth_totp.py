"""Optional TOTP second factor: setup, enable, the pending token, single-use codes, disable."""

from __future__ import annotations

from appliance.services import sessions
from tests.support.api import (
    PASSWORD,
    Account,
    assert_error,
    audit_actions,
    audit_entries,
    call,
    declared_operations,
    fill_path,
    login,
    me,
    register,
    totp_code,
)

STEP = 30  # seconds


def enable_totp(client, clock, account: Account) -> str:
    """Sets up and confirms TOTP through the API; returns the secret the app would scan."""
    setup = call(client, "POST", "/api/auth/2fa/setup", token=account.token)
    assert setup.status_code == 200, setup.text
    secret = setup.json["secret"]
    enabled = call(client, "POST", "/api/auth/2fa/enable", token=account.token,
                   json={"code": totp_code(secret, clock)})
    assert enabled.status_code == 200, enabled.text
    return secret


def pending_token(client, account: Account) -> str:
    result = login(client, account.email, account.password)
    assert result.status_code == 200, result.text
    assert result.json == {"twoFactorRequired": True, "pendingToken": result.json["pendingToken"]}
    return result.json["pendingToken"]


def verify(client, token: str, code: str):
    return call(client, "POST", "/api/auth/2fa/verify", token=token, json={"code": code})


def test_setup_then_enable_with_a_valid_code(client, clock):
    account = register(client, email="totp@praxis.example")
    setup = call(client, "POST", "/api/auth/2fa/setup", token=account.token)
    assert setup.status_code == 200, setup.text
    secret = setup.json["secret"]
    assert f"secret={secret}" in setup.json["otpauthUri"]
    assert setup.json["otpauthUri"].startswith("otpauth://totp/")
    assert me(client, account.token).json["twoFactorEnabled"] is False
    # Not active before it is confirmed: login still answers a token directly.
    assert "token" in login(client, account.email).json

    wrong = call(client, "POST", "/api/auth/2fa/enable", token=account.token,
                 json={"code": totp_code(secret, clock, steps_ahead=5)})
    assert_error(wrong, 400, "invalid_code")
    assert me(client, account.token).json["twoFactorEnabled"] is False

    result = call(client, "POST", "/api/auth/2fa/enable", token=account.token,
                  json={"code": totp_code(secret, clock)})
    assert result.status_code == 200, result.text
    assert result.json == {"twoFactorEnabled": True}
    assert me(client, account.token).json["twoFactorEnabled"] is True
    assert audit_actions(account.user_id)["TWO_FACTOR_ENABLED"] == 1
    again = call(client, "POST", "/api/auth/2fa/setup", token=account.token)
    assert_error(again, 409, "two_factor_enabled")


def test_enable_before_setup_is_a_conflict(client, clock):
    account = register(client)
    result = call(client, "POST", "/api/auth/2fa/enable", token=account.token, json={"code": "123456"})
    assert_error(result, 409, "two_factor_not_set_up")


def test_login_with_totp_needs_the_code_and_each_code_works_once(client, clock):
    account = register(client)
    secret = enable_totp(client, clock, account)
    pending = pending_token(client, account)

    clock.advance(seconds=STEP)  # the enabling code's step is used up
    code = totp_code(secret, clock)
    result = verify(client, pending, code)
    assert result.status_code == 200, result.text
    assert set(result.json) == {"token", "expiresAt", "user"}
    assert result.json["user"]["id"] == account.user_id
    assert me(client, result.json["token"]).json["twoFactorEnabled"] is True
    success = [e for e in audit_entries("LOGIN_SUCCESS") if str(e.user_id) == account.user_id]
    assert [e.metadata["method"] for e in success] == ["password+totp"]

    # Someone who watched the code and knows the password cannot replay it in its window.
    replay = verify(client, pending_token(client, account), code)
    assert_error(replay, 401, "invalid_code")
    assert_error(verify(client, pending, code), 401, "unauthorized")


def test_a_pending_token_completes_one_sign_in_at_most(client, clock):
    """Its next code is valid too (the window allows one step of drift), but the token is spent;
    so is the token of a second login that was waiting when the first one completed."""
    account = register(client)
    secret = enable_totp(client, clock, account)
    clock.advance(seconds=STEP)
    pending, waiting = pending_token(client, account), pending_token(client, account)
    assert verify(client, pending, totp_code(secret, clock)).status_code == 200
    for token in (pending, waiting):
        assert_error(verify(client, token, totp_code(secret, clock, steps_ahead=1)), 401, "unauthorized")
    fresh = verify(client, pending_token(client, account), totp_code(secret, clock, steps_ahead=1))
    assert fresh.status_code == 200, fresh.text
    success = [e for e in audit_entries("LOGIN_SUCCESS") if str(e.user_id) == account.user_id]
    assert len(success) == 2
    assert audit_actions(account.user_id)["LOGIN_FAILED"] == 0  # a spent token is no wrong code


def test_the_pending_token_is_refused_by_every_other_endpoint(client, clock):
    account = register(client)
    enable_totp(client, clock, account)
    pending = pending_token(client, account)
    checked = []
    for (template, method), op in sorted(declared_operations().items()):
        if op.auth in ("public", "pending_2fa"):
            continue
        body = {} if method in ("POST", "PUT", "PATCH") else None
        result = call(client, method, fill_path(template), token=pending, json=body)
        assert_error(result, 401, "unauthorized")
        checked.append((method, template))
    assert ("GET", "/api/auth/me") in checked and ("POST", "/api/auth/logout") in checked
    assert ("GET", "/api/practice") in checked


def test_verify_refuses_access_tokens_and_expired_pending_tokens(client, clock):
    account = register(client)
    secret = enable_totp(client, clock, account)
    assert_error(verify(client, account.token, totp_code(secret, clock, 1)), 401, "unauthorized")
    pending = pending_token(client, account)
    clock.advance(seconds=sessions.PENDING_TTL.total_seconds())
    assert_error(verify(client, pending, totp_code(secret, clock)), 401, "unauthorized")


def test_wrong_codes_count_toward_the_lockout(client, clock):
    account = register(client)
    secret = enable_totp(client, clock, account)
    pending = pending_token(client, account)
    clock.advance(seconds=STEP)
    right = totp_code(secret, clock)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert_error(verify(client, pending, wrong), 401, "invalid_code")
    locked = verify(client, pending, right)
    body = assert_error(locked, 429, "account_locked")
    assert int(locked.headers["Retry-After"]) == body["error"]["details"]["retryAfterSeconds"] > 0
    assert_error(login(client, account.email), 429, "account_locked")
    failed = [e for e in audit_entries("LOGIN_FAILED") if str(e.user_id) == account.user_id]
    assert [e.metadata["reason"] for e in failed] == ["totp"] * 5 + ["locked"] * 2  # then refused
    assert audit_actions(account.user_id)["ACCOUNT_LOCKED"] == 1


def test_disable_needs_the_password_and_a_current_code(client, clock):
    account = register(client)
    secret = enable_totp(client, clock, account)
    clock.advance(seconds=STEP)
    for body in ({}, {"code": totp_code(secret, clock)}):  # the password is required too
        assert_error(call(client, "POST", "/api/auth/2fa/disable", token=account.token, json=body),
                     400, "validation_failed")
    wrong_password = call(client, "POST", "/api/auth/2fa/disable", token=account.token,
                          json={"code": totp_code(secret, clock), "password": "falsches-passwort"})
    assert_error(wrong_password, 403, "wrong_password")
    wrong = call(client, "POST", "/api/auth/2fa/disable", token=account.token,
                 json={"code": totp_code(secret, clock, steps_ahead=5), "password": PASSWORD})
    assert_error(wrong, 400, "invalid_code")
    assert me(client, account.token).json["twoFactorEnabled"] is True

    result = call(client, "POST", "/api/auth/2fa/disable", token=account.token,
                  json={"code": totp_code(secret, clock), "password": PASSWORD})
    assert result.status_code == 200, result.text
    assert result.json == {"twoFactorEnabled": False}
    assert audit_actions(account.user_id)["TWO_FACTOR_DISABLED"] == 1
    direct = login(client, account.email, PASSWORD)
    assert direct.status_code == 200 and "token" in direct.json
    assert_error(call(client, "POST", "/api/auth/2fa/disable", token=account.token,
                      json={"code": totp_code(secret, clock, 1), "password": PASSWORD}),
                 409, "two_factor_unchanged")
