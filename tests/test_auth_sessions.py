"""Sessions are decided by the database on every request: logout, password change, role
changes and removal from a practice take effect on the next request."""

from __future__ import annotations

import uuid

from appliance import tenancy
from appliance.models import AuthSession
from tests.support.api import (
    PASSWORD,
    assert_error,
    audit_actions,
    call,
    founder,
    login,
    login_token,
    me,
    register,
    set_membership,
)

NEW_PASSWORD = "Neues-Passwort-fuer-2027"


def test_logout_ends_this_session_only(client):
    account = register(client)
    other = login_token(client, account.email)
    result = call(client, "POST", "/api/auth/logout", token=account.token)
    assert result.status_code == 204, result.text
    assert_error(me(client, account.token), 401, "unauthorized")
    assert_error(call(client, "POST", "/api/auth/logout", token=account.token), 401, "unauthorized")
    assert me(client, other).status_code == 200
    assert audit_actions(account.user_id)["LOGOUT"] == 1


def test_logout_of_a_practice_member(client):
    admin = founder(client)
    assert call(client, "POST", "/api/auth/logout", token=admin.token).status_code == 204
    assert_error(call(client, "GET", "/api/practice", token=admin.token), 401, "unauthorized")


def test_sign_out_everywhere_ends_every_session_of_the_user_only(client):
    admin = founder(client)
    laptop, terminal = login_token(client, admin.account.email), login_token(client, admin.account.email)
    someone_else = register(client)
    result = call(client, "POST", "/api/auth/logout-everywhere", token=laptop)
    assert result.status_code == 204, result.text
    for ended in (admin.token, laptop, terminal):
        assert_error(call(client, "GET", "/api/practice", token=ended), 401, "unauthorized")
    assert_error(call(client, "POST", "/api/auth/logout-everywhere", token=laptop), 401, "unauthorized")
    assert me(client, someone_else.token).status_code == 200
    assert audit_actions(admin.account.user_id)["LOGOUT_EVERYWHERE"] == 1
    assert login(client, admin.account.email, PASSWORD).status_code == 200


def test_password_change_ends_every_session_and_answers_a_working_token(client):
    account = register(client)
    second_device = login_token(client, account.email)
    result = call(client, "POST", "/api/auth/password", token=account.token,
                  json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert result.status_code == 200, result.text
    fresh = result.json["token"]
    assert result.json["user"]["id"] == account.user_id
    for ended in (account.token, second_device):
        assert_error(me(client, ended), 401, "unauthorized")
    assert me(client, fresh).status_code == 200
    assert_error(login(client, account.email, PASSWORD), 401, "invalid_credentials")
    assert login(client, account.email, NEW_PASSWORD).status_code == 200
    assert audit_actions(account.user_id)["PASSWORD_CHANGED"] == 1


def test_password_change_with_a_wrong_current_password_changes_nothing(client):
    account = register(client)
    result = call(client, "POST", "/api/auth/password", token=account.token,
                  json={"currentPassword": "falsches-passwort", "newPassword": NEW_PASSWORD})
    assert_error(result, 403, "wrong_password")
    assert me(client, account.token).status_code == 200
    assert login(client, account.email, PASSWORD).status_code == 200


def test_a_demoted_admin_sees_the_new_role_on_the_next_request(client):
    admin = founder(client)
    practice_id = admin.practice["id"]
    assert call(client, "PATCH", "/api/practice", token=admin.token,
                json={"name": "Praxis Berger & Partner"}).status_code == 200
    set_membership(admin.account.user_id, practice_id, "ARZT")
    assert me(client, admin.token).json["role"] == "ARZT"
    assert_error(call(client, "PATCH", "/api/practice", token=admin.token, json={"name": "Meine Praxis"}),
                 403, "forbidden")
    assert_error(call(client, "POST", "/api/practice/vault/challenge", token=admin.token),
                 403, "forbidden")
    practice = call(client, "GET", "/api/practice", token=admin.token)
    assert practice.status_code == 200 and practice.json["name"] == "Praxis Berger & Partner"
    # And promoted again, the same token is an ADMIN's again.
    set_membership(admin.account.user_id, practice_id, "ADMIN")
    assert call(client, "PATCH", "/api/practice", token=admin.token,
                json={"name": "Meine Praxis"}).status_code == 200


def test_a_removed_member_loses_access_on_the_next_request(client):
    admin = founder(client)
    set_membership(admin.account.user_id, None, None)
    assert me(client, admin.token).json["practiceId"] is None
    assert_error(call(client, "GET", "/api/practice", token=admin.token), 404, "not_found")
    assert_error(call(client, "PATCH", "/api/practice", token=admin.token, json={"name": "X"}),
                 403, "no_practice")
    assert_error(call(client, "POST", "/api/practice/vault/challenge", token=admin.token),
                 403, "no_practice")


def test_ended_sessions_lose_access_on_the_next_request(client, clock):
    admin = founder(client)
    with tenancy.unscoped("test setup: what removing a member does to its sessions"):
        ended = AuthSession.update(revoked_at=clock.now()).where(
            AuthSession.user_id == uuid.UUID(admin.account.user_id)
        ).execute()
    assert ended == 1
    for method, path in (("GET", "/api/auth/me"), ("GET", "/api/practice")):
        assert_error(call(client, method, path, token=admin.token), 401, "unauthorized")
