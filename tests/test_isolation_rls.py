"""PostgreSQL row-level security: the database keeps practices apart even from hand-written SQL."""

from __future__ import annotations

import psycopg2
import pytest

from appliance.isolation import tenant_tables
from tests.support.api import auth_header, founder
from tests.support.consent import consent_body

pytestmark = pytest.mark.parametrize("engine", ["postgresql"], indirect=True)


@pytest.fixture
def two_practices(client):
    first, second = founder(client), founder(client)
    for admin in (first, second):
        result = client.simulate_post("/api/consent", json=consent_body(admin.practice),
                                      headers=auth_header(admin.token))
        assert result.status_code == 201
    return first, second


@pytest.fixture
def app_connection(pg_databases):
    """A raw connection as the application role, outside the app's own code."""
    connection = psycopg2.connect(pg_databases[1])
    yield connection
    connection.rollback()
    connection.close()


def _scoped(cursor, practice_id: str = "", cross: str = "") -> None:
    cursor.execute("SELECT set_config('app.practice_id', %s, false),"
                   " set_config('app.cross_practice', %s, false)", (practice_id, cross))


def test_every_tenant_table_has_forced_row_security(database):
    tables = set(tenant_tables(database)) | {"practice"}
    assert {"patient", "consent_form", "app_user", "audit_log", "practice"} <= tables
    rows = database.execute_sql(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
        " WHERE relname = ANY(%s)", (list(tables),)
    ).fetchall()
    assert {name for name, enabled, forced in rows if enabled and forced} == tables


def test_without_a_practice_the_application_role_sees_no_tenant_rows(two_practices, app_connection,
                                                                       database):
    cursor = app_connection.cursor()
    for table in [*tenant_tables(database), "practice"]:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        assert cursor.fetchone()[0] == 0, table
    owner_counts = database.execute_sql("SELECT count(*) FROM consent_form").fetchone()[0]
    assert owner_counts == 2


def test_practice_a_cannot_touch_practice_b_even_with_sql(two_practices, app_connection):
    first, second = two_practices
    cursor = app_connection.cursor()
    _scoped(cursor, first.practice["id"])
    cursor.execute("SELECT practice_id::text FROM consent_form")
    assert [row[0] for row in cursor.fetchall()] == [first.practice["id"]]
    cursor.execute("UPDATE consent_form SET status = 'REVOKED' WHERE practice_id = %s",
                   (second.practice["id"],))
    assert cursor.rowcount == 0
    cursor.execute("DELETE FROM consent_form WHERE practice_id = %s", (second.practice["id"],))
    assert cursor.rowcount == 0
    cursor.execute("UPDATE practice SET name = 'pwned' WHERE id = %s", (second.practice["id"],))
    assert cursor.rowcount == 0
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
        cursor.execute(
            "INSERT INTO patient (id, practice_id, lookup_hash, encrypted_first_name,"
            " encrypted_last_name, encrypted_date_of_birth, created_at, updated_at)"
            " VALUES (gen_random_uuid(), %s, %s, 'x', 'x', 'x', now(), now())",
            (second.practice["id"], "a" * 64),
        )
    app_connection.rollback()
    _scoped(cursor, second.practice["id"])
    cursor.execute("SELECT count(*) FROM consent_form WHERE status = 'PENDING'")
    assert cursor.fetchone()[0] == 1


def test_the_application_role_cannot_rewrite_the_audit_log(two_practices, app_connection):
    cursor = app_connection.cursor()
    _scoped(cursor, cross="on")
    cursor.execute("SELECT count(*) FROM audit_log")
    assert cursor.fetchone()[0] >= 4
    for statement in ("UPDATE audit_log SET ip = '1.1.1.1'", "DELETE FROM audit_log",
                      "TRUNCATE audit_log"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute(statement)
        app_connection.rollback()
        _scoped(cursor, cross="on")
