"""PostgreSQL row-level security: the database's own guard of tenant isolation.

Every table with a `practice_id` column (found in the catalogue, so new tables are covered
by the next `appliance migrate` without anyone remembering) and the `practice` table get RLS
enabled and forced, with one policy: a row is visible and writable only when its practice is
the one the current statement runs for (`app.practice_id`, set by
`appliance.tenancy.postgres_scope_sql`), or when the code explicitly crossed practices
(`tenancy.unscoped`, which sets `app.cross_practice`). A statement that sets neither sees no
tenant rows at all.

The application role gets plain DML rights, but neither UPDATE nor DELETE on the audit log or
on the practice-text revisions that sent consent forms name.
Applied by `appliance migrate` after the migrations, idempotently.
"""

from __future__ import annotations

import re

import peewee

PRACTICE = "NULLIF(current_setting('app.practice_id', true), '')::uuid"
CROSS = "current_setting('app.cross_practice', true) = 'on'"
POLICY = "tenant_isolation"
ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def tenant_tables(database: peewee.Database) -> list[str]:
    cursor = database.execute_sql(
        "SELECT table_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND column_name = 'practice_id' ORDER BY table_name"
    )
    return [name for (name,) in cursor.fetchall()]


def _policy_sql(table: str, column: str) -> list[str]:
    rule = f"({column} = {PRACTICE} OR {CROSS})"
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"',
        f'CREATE POLICY {POLICY} ON "{table}" USING {rule} WITH CHECK {rule}',
    ]


def _grant_sql(role: str) -> list[str]:
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}",
        # Practice-text revisions are immutable: a sent form names one, which must stay as it was.
        f"REVOKE UPDATE, DELETE, TRUNCATE ON practice_form_text FROM {role}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM {role}",
    ]


def apply_row_security(database: peewee.Database, app_role: str | None) -> list[str]:
    """Enables the policies (and grants for `app_role`); returns the tables it protects."""
    if app_role is not None and not ROLE.match(app_role):
        raise ValueError(f"unusable role name {app_role!r}")
    tables = tenant_tables(database)
    statements = [s for table in tables for s in _policy_sql(table, "practice_id")]
    statements += _policy_sql("practice", "id")
    if app_role:
        statements += _grant_sql(app_role)
    with database.atomic():
        cursor = database.connection().cursor()
        for statement in statements:
            cursor.execute(statement)
    return [*tables, "practice"]
