"""`appliance migrate` brings an empty or older database to head, and a second run is a no-op."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import pytest

from appliance import migrator, tenancy
from appliance.clock import SystemClock
from appliance.db import engine_of, open_database
from appliance.models import AuditEntry
from appliance.models import database as proxy
from appliance.services.audit import Audit


@pytest.fixture
def empty_database(engine, request, tmp_path):
    """A database with no tables at all (not the shared, already migrated one)."""
    if engine == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
        yield database
        database.close()
        return
    server = request.getfixturevalue("pg_server")
    name = f"appliance_migrate_{secrets.token_hex(4)}"
    database = open_database(server.create_database(name))
    yield database
    database.close_all()
    server.drop_database(name)


def _schema(database) -> dict[str, list[str]]:
    return {t: sorted(c.name for c in database.get_columns(t)) for t in sorted(database.get_tables())}


def test_migrate_from_empty_then_again_changes_nothing(empty_database):
    shipped = migrator.available(engine_of(empty_database))
    assert shipped, "no migrations shipped in the package"
    applied = migrator.migrate(empty_database)
    assert [m.version for m in applied] == [m.version for m in shipped]
    schema = _schema(empty_database)
    assert {"practice", "app_user", "audit_log", "schema_migrations"} <= set(schema)
    assert migrator.migrate(empty_database) == []
    assert _schema(empty_database) == schema
    assert migrator.pending(empty_database) == []


def test_older_database_is_brought_to_head(empty_database):
    shipped = migrator.available(engine_of(empty_database))
    first = shipped[0].version
    migrator.migrate(empty_database, target=first)
    assert set(migrator.applied(empty_database)) == {first}
    assert [m.version for m in migrator.pending(empty_database)] == [m.version for m in shipped[1:]]
    rest = migrator.migrate(empty_database)
    assert [m.version for m in rest] == [m.version for m in shipped[1:]]
    assert set(migrator.applied(empty_database)) == {m.version for m in shipped}


def test_an_edited_migration_is_refused(empty_database):
    migrator.migrate(empty_database)
    empty_database.execute_sql(
        "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"
    )
    with pytest.raises(migrator.MigrationError, match="changed after it was applied"):
        migrator.migrate(empty_database)


def test_a_database_from_a_newer_release_is_refused(empty_database):
    migrator.migrate(empty_database)
    empty_database.execute_sql(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
        " VALUES (9999, 'future', 'x', '2030-01-01 00:00:00')"
    )
    with pytest.raises(migrator.MigrationError, match="newer release"):
        migrator.migrate(empty_database)


def test_a_failing_migration_leaves_the_previous_version(empty_database, monkeypatch):
    engine = engine_of(empty_database)
    good = migrator.available(engine)
    broken = migrator.Migration(9000, "broken", "CREATE TABLE half_done (id INTEGER);\nSELEC oops;")
    monkeypatch.setattr(migrator, "available", lambda _engine: [*good, broken])
    with pytest.raises(Exception):  # noqa: B017 - the engine's own syntax error
        migrator.migrate(empty_database)
    if engine == "postgresql":
        empty_database.rollback()
    assert "half_done" not in empty_database.get_tables()
    assert 9000 not in migrator.applied(empty_database)
    assert set(migrator.applied(empty_database)) == {m.version for m in good}


def test_upgrade_leaves_table_statistics(empty_database):
    """`appliance migrate` analyses, so that the first plans do not depend on autovacuum."""
    migrator.upgrade(empty_database)
    if engine_of(empty_database) == "sqlite":
        stats = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
    else:  # reltuples is -1 until a table was analysed (or vacuumed)
        stats = "SELECT count(*) FROM pg_class WHERE relname = 'consent_form' AND reltuples >= 0"
    assert empty_database.execute_sql(stats).fetchone()[0] == 1


def test_the_chain_heads_start_at_the_newest_entries(empty_database):
    """Chains written before the head rows existed continue where they end."""
    migrator.migrate(empty_database, target=16)
    param = empty_database.param
    for chain, seq in (("system", 1), ("system", 2), ("other", 1)):
        empty_database.execute_sql(
            "INSERT INTO audit_log (id, chain, seq, prev_hash, hash, action, created_at)"
            f" VALUES ({param}, {param}, {param}, 'p', {param}, 'LOGIN_FAILED', {param})",
            (str(uuid.uuid4()), chain, seq, f"{chain}-{seq}", dt.datetime(2026, 1, 1)))
    migrator.migrate(empty_database)
    heads = empty_database.execute_sql("SELECT chain, seq, hash FROM audit_chain_head ORDER BY chain")
    assert heads.fetchall() == [("other", 1, "other-1"), ("system", 2, "system-2")]
    proxy.initialize(empty_database)
    Audit(empty_database, SystemClock()).record("LOGIN_FAILED", ip=None)
    with tenancy.unscoped("test"):
        newest = AuditEntry.select().where(AuditEntry.chain == "system").order_by(-AuditEntry.seq).first()
    assert (newest.seq, newest.prev_hash) == (3, "system-2")
