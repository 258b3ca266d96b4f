"""Team invites: created by an ADMIN, mailed over real SMTP, opened and accepted by token."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time

import falcon.testing
import pytest

from appliance import tenancy
from appliance.app import create_app
from appliance.clock import isoformat
from appliance.db import open_database
from appliance.models import TeamInvite
from appliance.storage import open_store
from tests.conftest import make_settings
from tests.support.api import (
    PASSWORD,
    assert_error,
    audit_entries,
    call,
    founder,
    login,
    login_token,
    me,
    problem_fields,
    register,
    row_counts,
    totp_code,
    user_row,
)
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink
from tests.support.team import (
    BASE_URL,
    accept,
    invite,
    invited,
    joined_member,
    link_in,
    smtp_section,
    stored_invite,
)


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def smtp_client(tmp_path, database, database_url, app_database_url, clock):
    """Builds the app with the given `smtp` settings, connected like the `app` fixture (as the
    application role on PostgreSQL, so row-level security applies)."""
    opened = []

    def build(**smtp) -> falcon.testing.TestClient:
        settings = make_settings(tmp_path, app_database_url, smtp=smtp)
        app_database = database
        if app_database_url != database_url:
            app_database = open_database(app_database_url, pool_size=40)
            opened.append(app_database)
        return falcon.testing.TestClient(
            create_app(settings, app_database, store=open_store(settings), clock=clock))

    yield build
    for app_database in opened:
        app_database.close_all()


@pytest.fixture
def mail_client(smtp_client, sink):
    """The app with SMTP pointed at the sink."""
    return smtp_client(**smtp_section(sink))


def _public(client, token: str):
    return call(client, "GET", f"/api/team/invite/{token}")


def _days_later(client, clock, admin, days: float) -> str:
    """Moves the clock on; the ADMIN's session (8 hours) has ended, so they log in again."""
    clock.advance(days=days)
    return login_token(client, admin.account.email)


def test_mailed_invite_is_followed_accepted_and_the_new_member_logs_in(mail_client, sink, clock):
    admin = founder(mail_client)
    created = invited(mail_client, admin.token, " Ben.Kollege@Praxis.Example ", "EMPFANG")
    assert created["emailSent"] is True and created["status"] == "PENDING"
    assert created["email"] == "ben.kollege@praxis.example" and created["role"] == "EMPFANG"
    assert created["expiresAt"] == isoformat(clock.now() + dt.timedelta(days=7))

    (received,) = sink.wait_for(1)
    assert received.rcpt_tos == ["ben.kollege@praxis.example"]
    message = received.message
    assert message["Subject"] == ("Einladung in das Team von Praxis Dr. Berger"
                                  " / Invitation to join the team of Praxis Dr. Berger")
    text = message.get_content()
    for phrase in ("mit der Rolle: Empfang.", "with the role: Reception.", "Praxis Dr. Berger",
                   "gültig bis", "valid until"):
        assert phrase in text
    assert text.index("Guten Tag") < text.index("Hello")  # the practice's language first
    base, token = link_in(text)
    assert base == BASE_URL and created["link"] == f"{BASE_URL}/invite/{token}"

    page = _public(mail_client, token)
    assert page.status_code == 200, page.text
    assert page.json == {"practice": {"name": "Praxis Dr. Berger"}, "role": "EMPFANG",
                         "email": "b***e@praxis.example", "expiresAt": created["expiresAt"],
                         "accountExists": False}

    joined = accept(mail_client, token, name="Ben Kollege", password="Empfang-Passwort-7")
    assert joined.status_code == 200, joined.text
    assert joined.json["user"]["practiceId"] == admin.practice["id"]
    assert joined.json["user"]["role"] == "EMPFANG"
    assert me(mail_client, joined.json["token"]).json["role"] == "EMPFANG"
    fresh = login_token(mail_client, "ben.kollege@praxis.example", "Empfang-Passwort-7")
    assert me(mail_client, fresh).json["practiceId"] == admin.practice["id"]
    listed = call(mail_client, "GET", "/api/team/invites", token=admin.token).json
    assert listed["items"] == [] and listed["total"] == 0


def test_the_token_is_stored_only_as_its_hash_and_the_audit_has_roles_not_addresses(client, database):
    admin = founder(client)
    created = invited(client, admin.token, "secret.person@praxis.example", "ADMIN")
    row = stored_invite(created["id"])
    assert row.token_hash == hashlib.sha256(created["token"].encode()).hexdigest()
    assert len(created["token"]) == 43  # 32 random bytes, URL-safe base64
    dump = "\n".join(str(value) for (value,) in database.execute_sql("SELECT token_hash FROM team_invite"))
    assert created["token"] not in dump
    accept(client, created["token"], name="Sigrid Geheim", password=PASSWORD)

    (invited_entry,) = audit_entries("TEAM_MEMBER_INVITED")
    (joined_entry,) = audit_entries("TEAM_MEMBER_JOINED")
    assert invited_entry.metadata == {"role": "ADMIN"}
    assert joined_entry.metadata == {"role": "ADMIN", "newAccount": True}
    for entry in (invited_entry, joined_entry):
        assert "@" not in json.dumps(entry.metadata)


def test_practice_base_url_override_builds_the_link(client):
    admin = founder(client)
    changed = call(client, "PATCH", "/api/settings", token=admin.token,
                   json={"publicBaseUrl": "https://einwilligung.praxis-berger.example/"})
    assert changed.status_code == 200, changed.text
    created = invited(client, admin.token, "neu@praxis.example")
    assert created["link"] == f"https://einwilligung.praxis-berger.example/invite/{created['token']}"


def test_smtp_unreachable_keeps_the_invite_and_says_the_mail_was_not_sent(smtp_client, quick_retries):
    port = free_port()  # nobody listens there
    client = smtp_client(host="127.0.0.1", port=port, security="none", sender="noreply@praxis.example")
    admin = founder(client)
    created = invite(client, admin.token, "neu@praxis.example", "ARZT")
    assert created.status_code == 201, created.text
    assert created.json["mail"]["status"] == "pending" and created.json["emailSentAt"] is None
    deadline = time.monotonic() + 20
    while (listed := call(client, "GET", "/api/team/invites", token=admin.token).json["items"][0])[
            "mail"]["status"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listed["id"] == created.json["id"] and listed["emailSentAt"] is None
    assert listed["mail"]["status"] == "failed" and "unreachable" in listed["mail"]["reason"]
    # The copied link works as if it had been mailed.
    assert _public(client, created.json["token"]).status_code == 200
    assert accept(client, created.json["token"], name="Neu", password=PASSWORD).status_code == 200


def test_without_smtp_configured_the_invite_is_created_unsent(client):
    admin = founder(client)
    created = invite(client, admin.token, "neu@praxis.example", "ARZT")
    assert created.status_code == 201 and created.json["emailSent"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [({"email": "neu@praxis.example", "role": "PATIENT"}, "role"),
     ({"email": "neu@praxis.example", "role": "admin"}, "role"),
     ({"email": "no-address", "role": "ARZT"}, "email"),
     # Every listed mailbox used to receive the invite (issue 21.13).
     ({"email": "kollegin@praxis.example,fremd@example.org", "role": "ARZT"}, "email"),
     ({"email": "kollegin@praxis.example>,<root", "role": "ARZT"}, "email"),
     ({"role": "ARZT"}, "email"),
     ({"email": "neu@praxis.example", "role": "ARZT", "practiceId": "x"}, "(body)")],
)
def test_invalid_invites_name_the_field_and_write_nothing(client, body, field):
    admin = founder(client)
    before = row_counts()
    result = call(client, "POST", "/api/team/invite", token=admin.token, json=body)
    assert_error(result, 400, "validation_failed")
    assert field in problem_fields(result)
    assert row_counts() == before
    with tenancy.unscoped("test inspection"):
        assert TeamInvite.select().count() == 0


def test_members_and_live_invites_block_a_new_invite_but_expired_ones_do_not(client, clock):
    admin = founder(client)
    assert_error(invite(client, admin.token, admin.account.email.upper()), 409, "already_member")
    first = invited(client, admin.token, "neu@praxis.example", "ARZT")
    assert_error(invite(client, admin.token, "NEU@praxis.example", "EMPFANG"), 409, "invite_pending")

    token = _days_later(client, clock, admin, 7)  # exactly at expiry: no longer live
    again = invited(client, token, "neu@praxis.example", "EMPFANG")
    assert_error(_public(client, first["token"]), 410, "invite_expired")
    assert _public(client, again["token"]).json["role"] == "EMPFANG"
    statuses = {item["id"]: item["status"] for item in
                call(client, "GET", "/api/team/invites", token=token).json["items"]}
    assert statuses == {first["id"]: "EXPIRED", again["id"]: "PENDING"}


def test_an_address_with_an_account_in_another_practice_can_be_invited_but_not_join(client):
    """Inviting must not reveal another practice's staff; joining twice is refused."""
    admin = founder(client)
    other = founder(client)
    created = invited(client, admin.token, other.account.email)
    assert _public(client, created["token"]).json["accountExists"] is True
    result = accept(client, created["token"], password=PASSWORD)
    assert_error(result, 409, "member_of_another_practice")
    assert user_row(other.account.user_id).role == "ADMIN"
    assert _public(client, created["token"]).status_code == 200  # nothing was used up


def test_public_codes_tell_unknown_used_revoked_and_expired_apart(client, clock):
    admin = founder(client)
    used = invited(client, admin.token, "used@praxis.example")
    accept(client, used["token"], name="Used", password=PASSWORD)
    revoked = invited(client, admin.token, "revoked@praxis.example")
    assert call(client, "DELETE", f"/api/team/invites/{revoked['id']}", token=admin.token).status_code == 204
    expired = invited(client, admin.token, "expired@praxis.example")
    clock.advance(days=7, seconds=1)

    cases = {"A" * 43: (404, "not_found"), "not-a-token": (404, "not_found"),
             used["token"]: (410, "invite_used"), revoked["token"]: (410, "invite_revoked"),
             expired["token"]: (410, "invite_expired")}
    for token, (status, code) in cases.items():
        for result in (_public(client, token), accept(client, token, name="X", password=PASSWORD)):
            body = assert_error(result, status, code)
            assert "@" not in json.dumps(body) and "practice" not in body["error"]["message"].lower()


def test_revoke_and_resend_are_admin_tools_for_open_invites(client, clock):
    admin = founder(client)
    created = invited(client, admin.token, "neu@praxis.example", "ARZT")
    token = _days_later(client, clock, admin, 8)
    resent = call(client, "POST", f"/api/team/invites/{created['id']}/resend", token=token)
    assert resent.status_code == 200, resent.text
    assert resent.json["id"] == created["id"] and resent.json["status"] == "PENDING"
    assert resent.json["expiresAt"] == isoformat(clock.now() + dt.timedelta(days=7))
    assert resent.json["token"] != created["token"]
    assert_error(_public(client, created["token"]), 404, "not_found")  # only hashes are kept
    assert _public(client, resent.json["token"]).status_code == 200
    assert sorted((e.metadata for e in audit_entries("TEAM_MEMBER_INVITED")), key=len) == [
        {"role": "ARZT"}, {"role": "ARZT", "resent": True}]

    path = f"/api/team/invites/{created['id']}"
    assert call(client, "DELETE", path, token=token).status_code == 204
    assert_error(call(client, "DELETE", path, token=token), 409, "invite_closed")
    assert_error(call(client, "POST", path + "/resend", token=token), 409, "invite_closed")
    assert_error(_public(client, resent.json["token"]), 410, "invite_revoked")
    assert [e.metadata for e in audit_entries("TEAM_INVITE_REVOKED")] == [{"role": "ARZT"}]
    assert call(client, "GET", "/api/team/invites", token=token).json["total"] == 0
    # Revoked: the address may be invited again.
    assert invite(client, token, "neu@praxis.example").status_code == 201


def test_resend_refuses_when_the_address_joined_or_has_a_newer_invite(client, clock):
    admin = founder(client)
    old = invited(client, admin.token, "neu@praxis.example")
    token = _days_later(client, clock, admin, 8)
    newer = invited(client, token, "neu@praxis.example")
    resend_old = f"/api/team/invites/{old['id']}/resend"
    assert_error(call(client, "POST", resend_old, token=token), 409, "invite_pending")
    accept(client, newer["token"], name="Neu", password=PASSWORD)
    assert_error(call(client, "POST", resend_old, token=token), 409, "already_member")


def test_another_practices_invites_answer_404_like_unknown_ones(client):
    admin_a, admin_b = founder(client), founder(client)
    created = invited(client, admin_a.token, "neu@praxis.example")
    for method, suffix in (("DELETE", ""), ("POST", "/resend")):
        path = f"/api/team/invites/{created['id']}{suffix}"
        assert_error(call(client, method, path, token=admin_b.token), 404, "not_found")
    assert call(client, "GET", "/api/team/invites", token=admin_b.token).json["total"] == 0
    # Practice B may invite the same address: invites are per practice.
    assert invite(client, admin_b.token, "neu@praxis.example").status_code == 201
    assert _public(client, created["token"]).status_code == 200  # A's invite untouched


# --- accepting with an existing account -------------------------------------------------


def test_an_account_without_practice_joins_with_its_password(client):
    admin = founder(client)
    account = register(client, email="solo@praxis.example", name="Solo Ärztin")
    created = invited(client, admin.token, "solo@praxis.example", "ARZT")
    assert _public(client, created["token"]).json["accountExists"] is True
    assert_error(accept(client, created["token"]), 400, "account_proof_required")
    assert_error(accept(client, created["token"], password="falsches-passwort"), 401, "invalid_credentials")

    joined = accept(client, created["token"], password=PASSWORD)
    assert joined.status_code == 200, joined.text
    assert joined.json["user"] == {**joined.json["user"], "id": account.user_id, "role": "ARZT",
                                   "practiceId": admin.practice["id"], "name": "Solo Ärztin"}
    assert me(client, account.token).json["role"] == "ARZT"  # the old session sees it too
    (entry,) = audit_entries("TEAM_MEMBER_JOINED")
    assert entry.metadata == {"role": "ARZT", "newAccount": False}


def test_an_account_joins_with_its_bearer_token_and_not_with_anothers(client):
    admin = founder(client)
    account = register(client, email="solo@praxis.example")
    stranger = register(client)
    created = invited(client, admin.token, "solo@praxis.example", "EMPFANG")
    assert_error(accept(client, created["token"], bearer=stranger.token), 403, "wrong_account")
    assert_error(accept(client, created["token"], bearer="not.a.jwt"), 401, "unauthorized")
    joined = accept(client, created["token"], bearer=account.token)
    assert joined.status_code == 200, joined.text
    assert me(client, joined.json["token"]).json["role"] == "EMPFANG"
    assert_error(accept(client, created["token"], bearer=account.token), 410, "invite_used")


def test_a_bearer_token_cannot_take_an_invite_for_a_new_address(client):
    admin = founder(client)
    stranger = register(client)
    created = invited(client, admin.token, "neu@praxis.example")
    result = accept(client, created["token"], bearer=stranger.token, name="X", password=PASSWORD)
    assert_error(result, 403, "wrong_account")
    assert user_row(stranger.user_id).practice_id is None


def test_an_account_with_two_factor_must_join_with_its_bearer_token(client, clock):
    admin = founder(client)
    account = register(client, email="zwei@praxis.example")
    setup = call(client, "POST", "/api/auth/2fa/setup", token=account.token).json
    enabled = call(client, "POST", "/api/auth/2fa/enable", token=account.token,
                   json={"code": totp_code(setup["secret"], clock)})
    assert enabled.status_code == 200, enabled.text
    created = invited(client, admin.token, "zwei@praxis.example")
    assert_error(accept(client, created["token"], password=PASSWORD), 403, "two_factor_required")
    assert accept(client, created["token"], bearer=account.token).status_code == 200


def test_a_member_of_this_practice_cannot_accept_again(client):
    """Only reachable when an invite outlives a join (e.g. a race), so it is set up directly."""
    admin = founder(client)
    member = joined_member(client, admin.token, "ARZT")
    created = invited(client, admin.token, "platzhalter@praxis.example")
    with tenancy.unscoped("test setup: point an open invite at a member's address"):
        TeamInvite.update(email=member.email).where(TeamInvite.id == created["id"]).execute()
    assert_error(accept(client, created["token"], bearer=member.token), 409, "already_member")
    assert _public(client, created["token"]).status_code == 200  # not used up


# --- accepting as a new person ------------------------------------------------------------


def test_a_new_account_needs_name_and_an_acceptable_password(client):
    admin = founder(client)
    created = invited(client, admin.token, "neu@praxis.example")
    before = row_counts()
    missing = accept(client, created["token"])
    assert_error(missing, 400, "validation_failed")
    assert problem_fields(missing) == {"name", "password"}
    weak = accept(client, created["token"], name="Neu", password="kurz")
    assert problem_fields(weak) == {"password"}
    same = accept(client, created["token"], name="Neu", password="neu@praxis.example")
    assert problem_fields(same) == {"password"}
    unknown = accept(client, created["token"], name="Neu", password=PASSWORD, role="ADMIN")
    assert problem_fields(unknown) == {"(body)"}
    assert row_counts() == before
    assert _public(client, created["token"]).status_code == 200


def test_each_token_works_once(client):
    admin = founder(client)
    created = invited(client, admin.token, "neu@praxis.example")
    assert accept(client, created["token"], name="Neu", password=PASSWORD).status_code == 200
    again = accept(client, created["token"], name="Neu", password=PASSWORD)
    assert_error(again, 410, "invite_used")
    assert login(client, "neu@praxis.example").status_code == 200
    assert len(audit_entries("TEAM_MEMBER_JOINED")) == 1
