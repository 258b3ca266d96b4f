"""The public entry: requests the reverse proxy marks as coming from the internet reach only
the patient operations; the staff API answers 404 there, as if it did not exist."""

from __future__ import annotations

import pytest

from appliance.http.entry import PATIENT_ROUTES
from tests.support.api import assert_error, call, declared_operations, fill_path, founder
from tests.support.consent import app_client, create_consent, team

PUBLIC = {"X-Appliance-Entry": "public"}
LAN = {"X-Appliance-Entry": "lan"}
BODY_METHODS = ("POST", "PUT", "PATCH")


def test_patient_routes_are_public_operations_of_the_route_table():
    declared = declared_operations()
    for template in PATIENT_ROUTES:
        ops = [op for (path, _), op in declared.items() if path == template]
        assert ops, f"{template} is not in the route table"
        assert all(op.auth == "public" for op in ops), template


def test_a_consent_link_works_on_the_public_entry(client):
    practice = team(client)
    token = create_consent(client, practice)["token"]
    answer = call(client, "GET", f"/api/consent/{token}", headers=PUBLIC)
    assert answer.status_code == 200, answer.text
    assert answer.json["status"] == "PENDING"
    # Methods a patient route does not have are hidden too (405 on the LAN).
    assert call(client, "PUT", f"/api/consent/{token}", headers=LAN, json={}).status_code == 405
    assert_error(call(client, "PUT", f"/api/consent/{token}", headers=PUBLIC, json={}), 404, "not_found")


def test_every_staff_operation_is_hidden_on_the_public_entry(client, database):
    admin = founder(client)
    before = _row_counts(database)
    unknown = call(client, "GET", "/api/no-such-route", headers=PUBLIC)
    for (template, method), _op in sorted(declared_operations().items()):
        if template in PATIENT_ROUTES:
            continue
        answer = call(client, method, fill_path(template), token=admin.token, headers=PUBLIC,
                      json={} if method in BODY_METHODS else None)
        assert answer.status_code == 404, f"{method} {template}: {answer.status_code}"
        assert answer.json["error"] == unknown.json["error"], f"{method} {template}"
    assert _row_counts(database) == before
    # Staff login and registration are public operations, but not the patients': hidden too.
    assert call(client, "POST", "/api/auth/login", headers=PUBLIC,
                json={"email": "a@b.de", "password": "x"}).status_code == 404
    # The same token works on the LAN entry and without the header.
    assert call(client, "GET", "/api/auth/me", token=admin.token, headers=LAN).status_code == 200
    assert call(client, "GET", "/api/auth/me", token=admin.token).status_code == 200


@pytest.mark.parametrize("value", ["public", "PUBLIC", " Public "])
def test_the_mark_restricts_from_any_sender(client, value):
    """It only takes rights away, so no proxy needs to vouch for it."""
    admin = founder(client)
    answer = call(client, "GET", "/api/auth/me", token=admin.token, headers={"X-Appliance-Entry": value},
                  ip="203.0.113.7")
    assert_error(answer, 404, "not_found")


def test_an_empty_header_setting_turns_the_check_off(tmp_path, app_database_url, database, clock):
    client = app_client(tmp_path, app_database_url, database, clock, server={"public_entry_header": ""})
    admin = founder(client)
    assert call(client, "GET", "/api/auth/me", token=admin.token, headers=PUBLIC).status_code == 200


def test_the_header_name_is_configurable(tmp_path, app_database_url, database, clock):
    client = app_client(tmp_path, app_database_url, database, clock,
                        server={"public_entry_header": "X-Edge"})
    admin = founder(client)
    assert call(client, "GET", "/api/auth/me", token=admin.token, headers=PUBLIC).status_code == 200
    assert call(client, "GET", "/api/auth/me", token=admin.token,
                headers={"X-Edge": "public"}).status_code == 404


def _row_counts(database) -> dict[str, int]:
    tables = sorted(t for t in database.get_tables() if t != "schema_migrations")
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables)
    return dict(zip(tables, database.execute_sql(sql).fetchone(), strict=True))


def test_head_on_the_patient_links_answers_like_get_without_a_body(client):
    """nginx forwards HEAD wherever it forwards GET; mail scanners and link previews send it."""
    practice = team(client)
    token = create_consent(client, practice)["token"]
    invite = call(client, "POST", "/api/team/invite", token=practice.token(),
                  json={"email": "kollegin@praxis.example", "role": "ARZT"}).json["token"]
    for path in (f"/api/consent/{token}", f"/api/team/invite/{invite}"):
        get = call(client, "GET", path, headers=PUBLIC)
        head = call(client, "HEAD", path, headers=PUBLIC)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["Content-Length"] == get.headers["Content-Length"]
        assert head.headers["Content-Type"] == get.headers["Content-Type"]
    unknown = call(client, "HEAD", "/api/consent/" + "x" * 43, headers=PUBLIC)
    assert (unknown.status_code, unknown.content) == (404, b"")
    revoked = call(client, "PATCH", f"/api/consent/{token}/revoke", token=practice.token(), json={})
    assert revoked.status_code == 200
    assert call(client, "HEAD", f"/api/consent/{token}", headers=PUBLIC).status_code == 410
    # HEAD exists only where it has no side effects: the patient links' GET operations.
    heads = {template: op for (template, method), op in declared_operations().items() if method == "HEAD"}
    assert set(heads) <= PATIENT_ROUTES
    assert all(declared_operations()[(template, "GET")] is op for template, op in heads.items())
    assert call(client, "HEAD", "/api/auth/me", token=practice.token(), headers=PUBLIC).status_code == 404
