"""`appliance migrate` brings an empty or older database to head, and a second run is a no-op."""

from __future__ import annotations

import secrets

import pytest

from appliance import migrator
from appliance.db import engine_of, open_database


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
