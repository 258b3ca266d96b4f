"""Versioned schema migrations, applied by `appliance migrate`.

Migrations are SQL files in `appliance/migrations/`, numbered and never edited once shipped:
`NNNN_name.sql` runs on both engines (with @UUID@, @TS@, @BLOB@ standing for the engine's
types), `NNNN_name.postgresql.sql` / `NNNN_name.sqlite.sql` run on one engine only. Each
version is applied in its own transaction together with its row in `schema_migrations`, so
an interrupted run leaves the database at the previous version, and a second run changes
nothing. A checksum catches a migration that was edited after it was applied.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

import peewee

from appliance.clock import SystemClock
from appliance.db import engine_of

TYPES = {
    "postgresql": {"@UUID@": "UUID", "@TS@": "TIMESTAMP(6)", "@BLOB@": "BYTEA"},
    "sqlite": {"@UUID@": "TEXT", "@TS@": "DATETIME", "@BLOB@": "BLOB"},
}
FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(postgresql|sqlite))?\.sql$")
LOCK_ID = 7_262_001  # pg_advisory_xact_lock key: one migrator at a time

CREATE_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at {ts} NOT NULL
)"""


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available(engine: str) -> list[Migration]:
    """The migrations shipped in the package for one engine, in version order."""
    parts: dict[int, tuple[str, list[tuple[int, str]]]] = {}
    for entry in resources.files("appliance.migrations").iterdir():
        match = FILE_NAME.match(entry.name)
        if not match:
            continue
        version, name, only = int(match[1]), match[2], match[3]
        known = parts.setdefault(version, (name, []))
        if known[0] != name:
            raise MigrationError(f"migration {version:04d} has two names: {known[0]}, {name}")
        if only in (None, engine):
            sql = entry.read_text(encoding="utf-8")
            for placeholder, type_name in TYPES[engine].items():
                sql = sql.replace(placeholder, type_name)
            known[1].append((0 if only is None else 1, sql))
    return [
        Migration(version, name, "\n".join(sql for _, sql in sorted(chunks)))
        for version, (name, chunks) in sorted(parts.items())
    ]


def applied(database: peewee.Database) -> dict[int, str]:
    """Version -> checksum of what the database already has."""
    cursor = database.execute_sql(
        "SELECT version, checksum FROM schema_migrations ORDER BY version"
    )
    return {int(version): checksum for version, checksum in cursor.fetchall()}


def _apply(database: peewee.Database, engine: str, migration: Migration) -> bool:
    """Applies one migration atomically; False when another process already did."""
    now = SystemClock().now()
    raw = database.connection()
    if engine == "postgresql":
        with database.atomic():
            cursor = raw.cursor()
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
            if migration.version in applied(database):
                return False
            if migration.sql.strip():
                cursor.execute(migration.sql)
            cursor.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                " VALUES (%s, %s, %s, %s)",
                (migration.version, migration.name, migration.checksum, now),
            )
        return True
    raw.execute("BEGIN IMMEDIATE")
    try:
        if migration.version in applied(database):
            raw.execute("ROLLBACK")
            return False
        for statement in _sqlite_statements(migration.sql):
            raw.execute(statement)
        raw.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
            " VALUES (?, ?, ?, ?)",
            (migration.version, migration.name, migration.checksum, now.isoformat(" ")),
        )
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    return True


def _sqlite_statements(sql: str) -> list[str]:
    """Splits a script into statements; sqlite3 runs one at a time inside our transaction."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise MigrationError("migration ends with an incomplete SQL statement")
    return [s for s in statements if s.rstrip(";").strip()]


def migrate(database: peewee.Database, *, target: int | None = None) -> list[Migration]:
    """Brings the database to `target` (default: the newest version); returns what it applied."""
    engine = engine_of(database)
    database.execute_sql(CREATE_TABLE.format(ts=TYPES[engine]["@TS@"]))
    done = applied(database)
    shipped = available(engine)
    by_version = {m.version: m for m in shipped}
    for version, checksum in done.items():
        known = by_version.get(version)
        if known is None:
            raise MigrationError(
                f"the database has migration {version:04d}, which this release does not know:"
                " it was made by a newer release"
            )
        if known.checksum != checksum:
            raise MigrationError(f"migration {version:04d} was changed after it was applied")
    applied_now = []
    for migration in shipped:
        if target is not None and migration.version > target:
            break
        if migration.version not in done and _apply(database, engine, migration):
            applied_now.append(migration)
    return applied_now


def pending(database: peewee.Database) -> list[Migration]:
    engine = engine_of(database)
    if "schema_migrations" not in database.get_tables():
        return available(engine)
    done = applied(database)
    return [m for m in available(engine) if m.version not in done]


def upgrade(database: peewee.Database, *, app_role: str | None = None,
            target: int | None = None) -> list[Migration]:
    """What `appliance migrate` does: the migrations, then (PostgreSQL) row-level security and
    the application role's grants, re-applied every time so new tables are covered."""
    from appliance.isolation import apply_row_security

    applied_now = migrate(database, target=target)
    if engine_of(database) == "postgresql":
        apply_row_security(database, app_role)
    analyze(database)
    return applied_now


def analyze(database: peewee.Database) -> None:
    """Table statistics for the planner, fresh after every migrate. Without them PostgreSQL
    cannot estimate the row-level security filter and may pick plans that read every
    practice's rows (a merge join over all consent forms); autovacuum only catches up later."""
    database.execute_sql("ANALYZE")
