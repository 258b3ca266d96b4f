"""A member lists their own sessions and ends one (a computer left signed in): only their own,
another user's id answers 404 as an unknown one does, and the ended token stops at once."""

from __future__ import annotations

import uuid

from tests.support.api import (
    assert_error,
    audit_entries,
    call,
    founder,
    login_token,
    me,
    register,
)
from tests.support.team import joined_member


def sessions(client, token: str) -> dict:
    result = call(client, "GET", "/api/auth/sessions", token=token)
    assert result.status_code == 200, result.text
    return result.json


def test_lists_only_the_callers_live_sessions_and_marks_the_current_one(client):
    admin = founder(client)
    laptop = login_token(client, admin.account.email)
    ended = login_token(client, admin.account.email)
    assert call(client, "POST", "/api/auth/logout", token=ended).status_code == 204
    colleague = joined_member(client, admin.token, "ARZT")

    listed = sessions(client, laptop)
    assert listed["total"] == len(listed["items"]) == 2  # the founder's first and the laptop's
    assert [item["current"] for item in listed["items"]].count(True) == 1
    theirs = sessions(client, colleague.token)
    assert theirs["total"] == 1 and theirs["items"][0]["current"]
    assert not {item["id"] for item in listed["items"]} & {item["id"] for item in theirs["items"]}


def test_ending_one_session_stops_its_token_only_and_is_audited(client):
    admin = founder(client)
    forgotten = login_token(client, admin.account.email)
    here = sessions(client, admin.token)
    (other,) = [item["id"] for item in here["items"] if not item["current"]]

    result = call(client, "DELETE", f"/api/auth/sessions/{other}", token=admin.token)
    assert result.status_code == 204, result.text
    assert_error(me(client, forgotten), 401, "unauthorized")
    assert me(client, admin.token).status_code == 200
    assert [item["id"] for item in sessions(client, admin.token)["items"]] != [other]
    (entry,) = audit_entries("SESSION_ENDED")
    assert str(entry.entity_id) == other and str(entry.user_id) == admin.account.user_id
    # Once ended it is gone: the same id answers 404.
    assert_error(call(client, "DELETE", f"/api/auth/sessions/{other}", token=admin.token), 404, "not_found")


def test_another_users_or_practices_session_answers_404_and_stays(client):
    admin = founder(client)
    colleague = joined_member(client, admin.token, "ARZT")
    stranger = register(client)  # no practice at all
    (theirs,) = [item["id"] for item in sessions(client, colleague.token)["items"]]
    # Not even the practice's ADMIN ends a colleague's session this way (team removal does).
    for token in (admin.token, stranger.token):
        assert_error(call(client, "DELETE", f"/api/auth/sessions/{theirs}", token=token), 404, "not_found")
    unknown = call(client, "DELETE", f"/api/auth/sessions/{uuid.uuid4()}", token=admin.token)
    assert_error(unknown, 404, "not_found")
    assert me(client, colleague.token).status_code == 200
    assert not audit_entries("SESSION_ENDED")


def test_ending_the_current_session_signs_this_client_out(client):
    account = register(client)
    (current,) = [item["id"] for item in sessions(client, account.token)["items"]]
    assert call(client, "DELETE", f"/api/auth/sessions/{current}", token=account.token).status_code == 204
    assert_error(me(client, account.token), 401, "unauthorized")


def test_without_a_token_both_answer_401(client):
    assert_error(call(client, "GET", "/api/auth/sessions"), 401, "unauthorized")
    assert_error(call(client, "DELETE", f"/api/auth/sessions/{uuid.uuid4()}"), 401, "unauthorized")
