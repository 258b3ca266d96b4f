"""Accounts: registration, login, the token it returns, the password policy, SSO sync."""

from __future__ import annotations

import datetime as dt

import falcon.testing
import jwt
import pytest

from appliance.app import create_app
from appliance.storage import open_store
from tests.conftest import JWT_SECRET, make_settings
from tests.support.api import (
    PASSWORD,
    assert_error,
    audit_actions,
    call,
    fresh_email,
    login,
    me,
    problem_fields,
    register,
    row_counts,
    user_row,
)

USER_KEYS = {"id", "email", "name", "practiceId", "role"}


def assert_token_response(body: dict) -> None:
    assert set(body) == {"token", "expiresAt", "user"}
    assert set(body["user"]) >= USER_KEYS
    assert isinstance(body["token"], str) and body["token"].count(".") == 2


# --- register ------------------------------------------------------------------------------


def test_register_trims_and_lower_cases_the_email_and_answers_a_session(client):
    result = call(client, "POST", "/api/auth/register",
                  json={"email": "  Anna.Berger@Praxis-Berger.EXAMPLE ", "password": PASSWORD,
                        "name": "  Dr. Anna Berger "})
    assert result.status_code == 201, result.text
    body = result.json
    assert_token_response(body)
    assert body["user"]["email"] == "anna.berger@praxis-berger.example"
    assert body["user"]["name"] == "Dr. Anna Berger"
    assert body["user"]["practiceId"] is None and body["user"]["role"] is None
    assert user_row(body["user"]["id"]).email == "anna.berger@praxis-berger.example"
    assert me(client, body["token"]).json["email"] == "anna.berger@praxis-berger.example"
    assert audit_actions(body["user"]["id"])["USER_REGISTERED"] == 1


def test_register_refuses_an_email_taken_in_any_spelling(client):
    register(client, email="dr.berger@praxis.example")
    before = row_counts()
    for spelling in ("dr.berger@praxis.example", " DR.Berger@Praxis.Example  "):
        result = call(client, "POST", "/api/auth/register",
                      json={"email": spelling, "password": PASSWORD, "name": "Someone Else"})
        assert_error(result, 409, "email_taken")
    assert row_counts() == before


def test_login_answers_token_and_user_and_normalises_the_email(client):
    account = register(client, email="arzt@praxis.example")
    result = login(client, "  ARZT@Praxis.example ")
    assert result.status_code == 200, result.text
    body = result.json
    assert_token_response(body)
    assert body["user"] == {"id": account.user_id, "email": "arzt@praxis.example",
                            "name": "Dr. Anna Berger", "practiceId": None, "role": None}
    assert me(client, body["token"]).status_code == 200
    assert audit_actions(account.user_id)["LOGIN_SUCCESS"] == 1


# --- tokens --------------------------------------------------------------------------------


def test_token_names_type_session_and_expiry(client, clock, settings):
    result = call(client, "POST", "/api/auth/register",
                  json={"email": fresh_email(), "password": PASSWORD, "name": "Anna"})
    body = result.json
    claims = jwt.decode(body["token"], JWT_SECRET, algorithms=["HS256"],
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["typ"] == "access"
    assert claims["sub"] == body["user"]["id"]
    assert claims["sid"] and claims["sid"] != claims["sub"]
    issued = int(clock.now().replace(tzinfo=dt.UTC).timestamp())
    assert claims["iat"] == issued
    assert claims["exp"] == issued + settings.auth.access_token_ttl
    expires = clock.now() + dt.timedelta(seconds=settings.auth.access_token_ttl)
    assert body["expiresAt"] == expires.isoformat(timespec="milliseconds") + "Z"


def test_token_expires_after_the_configured_ttl(client, clock, settings):
    account = register(client)
    clock.advance(seconds=settings.auth.access_token_ttl - 1)
    assert me(client, account.token).status_code == 200
    clock.advance(seconds=1)
    assert_error(me(client, account.token), 401, "unauthorized")


def test_forged_or_mangled_tokens_are_refused(client, subtests):
    account = register(client)
    claims = jwt.decode(account.token, options={"verify_signature": False})
    header, _, signature = account.token.split(".")
    other = jwt.encode({**claims, "sub": "00000000-0000-0000-0000-000000000001"}, "x" * 40,
                       algorithm="HS256")
    forged = {
        "other_secret": jwt.encode(claims, "another-secret-" + "y" * 32, algorithm="HS256"),
        "alg_none": jwt.encode(claims, None, algorithm="none"),
        "payload_swapped": ".".join([header, other.split(".")[1], signature]),
        "pending_type": jwt.encode({**claims, "typ": "2fa_pending"}, JWT_SECRET, algorithm="HS256"),
        "no_session": jwt.encode({k: v for k, v in claims.items() if k != "sid"}, JWT_SECRET,
                                 algorithm="HS256"),
        "garbage": "not-a-jwt",
    }
    for case, token in forged.items():
        with subtests.test(case=case):
            assert_error(me(client, token), 401, "unauthorized")
    assert me(client, account.token).status_code == 200


def test_a_malformed_authorization_header_is_a_401(client):
    account = register(client)
    result = client.simulate_get("/api/auth/me", headers={"Authorization": f"Token {account.token}"})
    assert_error(result, 401, "unauthorized")
    assert result.headers["WWW-Authenticate"] == "Bearer"
    assert_error(client.simulate_get("/api/auth/me"), 401, "unauthorized")


# --- no account enumeration ----------------------------------------------------------------


def test_login_does_not_reveal_whether_an_email_exists(client):
    account = register(client)
    unknown = login(client, "niemand@praxis.example", PASSWORD)
    wrong = login(client, account.email, PASSWORD + "-falsch")
    for result in (unknown, wrong):
        assert_error(result, 401, "invalid_credentials")
    assert unknown.status_code == wrong.status_code
    assert unknown.json["error"] == wrong.json["error"]
    ignore = {"x-request-id", "content-length"}
    assert {k: v for k, v in unknown.headers.items() if k.lower() not in ignore} == {
        k: v for k, v in wrong.headers.items() if k.lower() not in ignore
    }


# --- password policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("kurz12345", None),  # 9 characters
        ("x" * 257, None),
        ("Dr.Berger@Praxis.example", "dr.berger@praxis.example"),
        ("  dr.berger@praxis.example ", "dr.berger@praxis.example"),
    ],
    ids=["too_short", "too_long", "the_email", "the_email_padded"],
)
def test_register_refuses_passwords_outside_the_policy_naming_the_field(client, password, email):
    before = row_counts()
    result = call(client, "POST", "/api/auth/register",
                  json={"email": email or fresh_email(), "password": password, "name": "Anna"})
    body = assert_error(result, 400, "validation_failed")
    assert problem_fields(result) == {"password"}
    assert "x" * 20 not in result.text and "dr.berger" not in str(body["error"]["details"])
    assert row_counts() == before


@pytest.mark.parametrize("length", [10, 256])
def test_register_accepts_passwords_at_the_length_bounds(client, length):
    result = call(client, "POST", "/api/auth/register",
                  json={"email": fresh_email(), "password": "p" * length, "name": "Anna"})
    assert result.status_code == 201, result.text


def test_password_change_applies_the_policy_to_the_new_password(client):
    account = register(client, email="empfang@praxis.example")
    for new in ("zu-kurz", "EMPFANG@praxis.example"):
        result = call(client, "POST", "/api/auth/password", token=account.token,
                      json={"currentPassword": PASSWORD, "newPassword": new})
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {"newPassword"}
    assert me(client, account.token).status_code == 200


# --- SSO sync ------------------------------------------------------------------------------

SYNC_SECRET = "s" * 40


@pytest.fixture
def sync_client(tmp_path, database_url, database, clock):
    settings = make_settings(tmp_path, database_url,
                             auth={"jwt_secret": JWT_SECRET, "sync_secret": SYNC_SECRET})
    return falcon.testing.TestClient(
        create_app(settings, database, store=open_store(settings), clock=clock)
    )


def sync(client, body: dict, secret: str | None = SYNC_SECRET):
    headers = {"x-auth-secret": secret} if secret is not None else None
    return call(client, "POST", "/api/auth/sync", json=body, headers=headers)


IDENTITY = {"provider": "keycloak", "subject": "f3a9-0042", "email": "Sso.User@Praxis.example",
            "name": "Dr. Sso User"}


def test_sync_is_not_found_without_a_configured_secret(client):
    assert_error(sync(client, IDENTITY), 404, "not_found")
    assert_error(sync(client, IDENTITY, secret=""), 404, "not_found")
    # Switched off, the endpoint does not look at the body at all: a bad one is 404 too.
    assert_error(sync(client, {"provider": 1}), 404, "not_found")
    assert_error(call(client, "POST", "/api/auth/sync", json=["x"]), 404, "not_found")


def test_a_wrong_secret_is_refused_before_the_body_is_read(sync_client):
    assert_error(sync(sync_client, {"provider": 1}, secret="t" * 40), 401, "invalid_sync_secret")


@pytest.mark.parametrize("secret", [None, "", "s" * 39, "t" * 40, SYNC_SECRET + "s"])
def test_sync_refuses_a_wrong_secret(sync_client, secret):
    before = row_counts()
    assert_error(sync(sync_client, IDENTITY, secret=secret), 401, "invalid_sync_secret")
    assert row_counts() == before


def test_sync_creates_then_links_the_same_user(sync_client):
    first = sync(sync_client, IDENTITY)
    assert first.status_code == 200, first.text
    assert_token_response(first.json)
    user = first.json["user"]
    assert user["email"] == "sso.user@praxis.example"
    assert user["practiceId"] is None and user["role"] is None
    assert me(sync_client, first.json["token"]).json["id"] == user["id"]

    # The identity provider may report a changed address: (provider, subject) decides.
    again = sync(sync_client, {**IDENTITY, "email": "neu@praxis.example"})
    assert again.status_code == 200, again.text
    assert again.json["user"]["id"] == user["id"]
    assert again.json["token"] != first.json["token"]
    assert row_counts()["User"] == 1
    assert audit_actions(user["id"])["USER_SYNCED"] == 2

    other = sync(sync_client, {**IDENTITY, "subject": "another-subject", "email": "x@praxis.example"})
    assert other.status_code == 200 and other.json["user"]["id"] != user["id"]


def test_sync_links_an_existing_password_account_by_email(sync_client):
    account = register(sync_client, email="bestand@praxis.example")
    result = sync(sync_client, {**IDENTITY, "email": "BESTAND@praxis.example"})
    assert result.status_code == 200, result.text
    assert result.json["user"]["id"] == account.user_id
    taken = sync(sync_client, {**IDENTITY, "subject": "someone-else", "email": "bestand@praxis.example"})
    assert_error(taken, 409, "identity_conflict")
