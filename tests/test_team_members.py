"""Team members: the list, removal (sessions end at once) and role changes (one ADMIN stays)."""

from __future__ import annotations

import json
import uuid

import pytest

from appliance import tenancy
from appliance.clock import isoformat
from appliance.http.errors import ApiError
from appliance.mail import DisabledMailer
from appliance.models import database as models_database
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.container import build_services
from tests.support.api import (
    PASSWORD,
    assert_error,
    audit_entries,
    call,
    founder,
    me,
    problem_fields,
    register,
    user_row,
)
from tests.support.team import accept, admins_of, invited, joined_member


def _role(client, token: str, user_id: str, role: str):
    return call(client, "PATCH", f"/api/team/members/{user_id}/role", token=token, json={"role": role})


def _remove(client, token: str, user_id: str):
    return call(client, "DELETE", f"/api/team/members/{user_id}", token=token)


def test_members_are_listed_with_role_join_date_and_two_factor(client, clock):
    admin = founder(client)
    arzt = joined_member(client, admin.token, "ARZT", name="Dr. Ben Kollege")
    register(client)  # an account in no practice is not listed
    other = founder(client)  # nor is another practice's team
    joined_member(client, other.token, "EMPFANG")

    listed = call(client, "GET", "/api/team/members", token=admin.token)
    assert listed.status_code == 200, listed.text
    assert listed.json["total"] == 2 and listed.json["page"] == 1
    by_id = {item["id"]: item for item in listed.json["items"]}
    assert by_id[arzt.user_id] == {
        "id": arzt.user_id, "name": "Dr. Ben Kollege", "email": arzt.email, "role": "ARZT",
        "joinedAt": isoformat(clock.now()), "twoFactorEnabled": False,
    }
    assert by_id[admin.account.user_id]["role"] == "ADMIN"
    paged = call(client, "GET", "/api/team/members?limit=1&page=2", token=admin.token).json
    assert paged["total"] == 2 and len(paged["items"]) == 1


def test_a_removed_members_token_is_refused_on_the_next_request(client):
    admin = founder(client)
    member = joined_member(client, admin.token, "ARZT")
    assert call(client, "GET", "/api/patients", token=member.token).status_code == 200

    assert _remove(client, admin.token, member.user_id).status_code == 204
    assert_error(call(client, "GET", "/api/patients", token=member.token), 401, "unauthorized")
    assert_error(me(client, member.token), 401, "unauthorized")
    row = user_row(member.user_id)
    assert (row.practice_id, row.role, row.joined_at) == (None, None, None)
    (entry,) = audit_entries("TEAM_MEMBER_REMOVED")
    assert entry.metadata == {"role": "ARZT"} and entry.entity_id == member.user_id
    # The account stays: it logs in without a practice, and may be invited back.
    token = invited(client, admin.token, member.email, "EMPFANG")["token"]
    rejoined = accept(client, token, password=PASSWORD)
    assert rejoined.status_code == 200, rejoined.text
    assert rejoined.json["user"]["role"] == "EMPFANG"
    assert_error(_remove(client, admin.token, member.user_id + "x"), 404, "not_found")


def test_removal_refuses_yourself_unknown_ids_and_other_practices(client):
    admin = founder(client)
    other = founder(client)
    assert_error(_remove(client, admin.token, admin.account.user_id), 409, "cannot_remove_self")
    assert_error(_remove(client, admin.token, str(uuid.uuid4())), 404, "not_found")
    assert_error(_remove(client, admin.token, other.account.user_id), 404, "not_found")
    assert_error(_role(client, admin.token, other.account.user_id, "ARZT"), 404, "not_found")
    assert user_row(other.account.user_id).role == "ADMIN"


def test_another_admin_can_be_removed(client):
    admin = founder(client)
    second = joined_member(client, admin.token, "ADMIN")
    assert _remove(client, second.token, admin.account.user_id).status_code == 204
    assert admins_of(admin.practice["id"]) == [second.user_id]
    assert audit_entries("TEAM_MEMBER_REMOVED")[0].metadata == {"role": "ADMIN"}


def test_a_role_change_applies_to_the_members_next_request(client):
    admin = founder(client)
    member = joined_member(client, admin.token, "ARZT")
    assert call(client, "GET", "/api/patients", token=member.token).status_code == 200

    changed = _role(client, admin.token, member.user_id, "EMPFANG")
    assert changed.status_code == 200, changed.text
    assert changed.json["role"] == "EMPFANG" and changed.json["id"] == member.user_id
    assert_error(call(client, "GET", "/api/patients", token=member.token), 403, "forbidden")
    assert me(client, member.token).json["role"] == "EMPFANG"
    (entry,) = audit_entries("TEAM_MEMBER_ROLE_CHANGED")
    assert entry.metadata == {"from": "ARZT", "to": "EMPFANG"}
    assert "@" not in json.dumps(entry.metadata)

    promoted = _role(client, admin.token, member.user_id, "ADMIN")
    assert promoted.json["role"] == "ADMIN"
    assert call(client, "GET", "/api/team/members", token=member.token).status_code == 200
    # The same role again changes nothing and writes no audit entry.
    assert _role(client, admin.token, member.user_id, "ADMIN").json["role"] == "ADMIN"
    assert len(audit_entries("TEAM_MEMBER_ROLE_CHANGED")) == 2


def test_an_admin_cannot_change_their_own_role(client):
    admin = founder(client)
    joined_member(client, admin.token, "ADMIN")
    assert_error(_role(client, admin.token, admin.account.user_id, "ARZT"), 409, "cannot_change_own_role")
    assert user_row(admin.account.user_id).role == "ADMIN"


@pytest.mark.parametrize("role", ["PATIENT", "admin", None, ""])
def test_unknown_roles_are_refused_naming_the_field(client, role):
    admin = founder(client)
    member = joined_member(client, admin.token, "ARZT")
    result = _role(client, admin.token, member.user_id, role)
    assert_error(result, 400, "validation_failed")
    assert problem_fields(result) == {"role"}
    assert user_row(member.user_id).role == "ARZT"


def _stale(account) -> Principal:
    """The caller as the access check read it, before a concurrent change committed."""
    row = user_row(account.user_id)
    return Principal(user_id=row.id, session_id=None, practice_id=row.practice_id, role=row.role,
                     email=row.email, name=row.name)


def _replay(settings, clock, principal: Principal, action: str, *args) -> ApiError:
    """Runs a team use case for a principal read earlier; returns the error it refuses with."""
    # On the database the app under test uses (the models' proxy): the application role.
    team = build_services(settings, models_database.obj, clock, None, DisabledMailer()).team
    with tenancy.practice_scope(principal.practice_id), pytest.raises(ApiError) as refused:
        getattr(team, action)(principal, *args, Caller("127.0.0.1"))
    return refused.value


def test_a_demotion_decided_on_a_stale_role_keeps_the_last_admin(client, settings, clock):
    """Two ADMINs demoting (or removing) each other, replayed in order: the second request
    passed the role check before the first committed, and is refused under the team lock."""
    admin = founder(client)
    second = joined_member(client, admin.token, "ADMIN")
    stale = _stale(second)  # read while `second` was still an ADMIN
    assert _role(client, admin.token, second.user_id, "ARZT").status_code == 200

    target = uuid.UUID(admin.account.user_id)
    demote = _replay(settings, clock, stale, "change_role", target, "EMPFANG")
    assert (demote.status_code, demote.code) == (409, "last_admin")
    remove = _replay(settings, clock, stale, "remove", target)
    assert (remove.status_code, remove.code) == (409, "last_admin")
    assert admins_of(admin.practice["id"]) == [admin.account.user_id]


def test_a_change_by_an_admin_demoted_meanwhile_is_refused(client, settings, clock):
    admin = founder(client)
    second = joined_member(client, admin.token, "ADMIN")
    arzt = joined_member(client, admin.token, "ARZT")
    stale = _stale(second)
    assert _role(client, admin.token, second.user_id, "EMPFANG").status_code == 200

    refused = _replay(settings, clock, stale, "change_role", uuid.UUID(arzt.user_id), "EMPFANG")
    assert (refused.status_code, refused.code) == (403, "forbidden")
    assert user_row(arzt.user_id).role == "ARZT"
