"""`appliance backup` and `appliance restore`: the database and every stored object, with a
manifest that lets a restore prove it got everything back.

A backup is one directory `appliance-<UTC time>` below the backup directory:

    manifest.json   engine, schema version, rows per table, size and SHA-256 of every file
    database.dump   PostgreSQL: pg_dump's custom format
    database.sqlite SQLite: a consistent copy made with SQLite's backup API
    objects/<key>   every object of the store, read through the store interface (directory or S3)

It is written under a hidden temporary name and renamed when complete, so a crash never leaves
something that looks like a backup. On PostgreSQL the row counts and the dump come from one
exported snapshot; the objects are copied after it, so every object a dumped row names is there
(objects deleted in the seconds between are the exception: run it at night, as the timer does).

Row-level security applies to the owner role too (FORCE), so pg_dump and the counts run with
`app.cross_practice = on`, the same switch `tenancy.unscoped` uses: no superuser is needed.
With `database.backup_url`, the dump and the counts come from that streaming replica instead
(`source_url`), provided it trails the primary by no more than `database.backup_max_lag`.

A restore goes only into an empty database (tables may exist, as `appliance migrate` leaves
them, but no rows) and an empty store; it checks every file against the manifest before it
writes anything and compares the row counts afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from appliance import __version__
from appliance.clock import Clock, SystemClock, isoformat
from appliance.replica import PRIMARY_POSITION_SQL, BackupReplica
from appliance.storage import ObjectNotFound, ObjectStore
from appliance.storage.base import CHUNK_BYTES, check_key

FORMAT = 1
MANIFEST = "manifest.json"
OBJECTS = "objects"
DATABASE_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite"}
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(r"^appliance-(\d{8}T\d{6}Z)$")
PARTIAL = ".partial-"
MIGRATIONS_TABLE = "schema_migrations"
SCHEMA_VERSION_SQL = "SELECT max(version) FROM schema_migrations"
#: Lets the owner role see every practice's rows under row-level security (appliance.isolation).
CROSS_PRACTICE = "app.cross_practice"


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why and never holds a secret."""


@dataclass(frozen=True)
class Summary:
    path: Path
    rows: dict[str, int]
    objects: int
    object_bytes: int


def engine_of_url(url: str) -> str:
    return "sqlite" if urlsplit(url).scheme == "sqlite" else "postgresql"


# --- backup --------------------------------------------------------------------------------


def create_backup(database_url: str, store: ObjectStore, target: Path, clock: Clock | None = None) -> Summary:
    """Writes a complete backup directory below `target` and returns what it holds.

    `database_url` should be the owner role's (database.owner_url) on PostgreSQL.
    """
    now = (clock or SystemClock()).now()
    name = f"appliance-{now.strftime(STAMP)}"
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    final, partial = target / name, target / f"{PARTIAL}{name}"
    if final.exists():
        raise BackupError(f"{final} exists already; wait a second and run again")
    partial.mkdir(mode=0o700)
    try:
        engine = engine_of_url(database_url)
        database_file = partial / DATABASE_FILES[engine]
        if engine == "postgresql":
            rows, schema = _dump_postgres(database_url, database_file)
        else:
            rows, schema = _copy_sqlite(_sqlite_path(database_url), database_file)
        objects = _copy_objects(store, partial / OBJECTS)
        manifest = {
            "format": FORMAT, "createdAt": isoformat(now), "applianceVersion": __version__,
            "engine": engine, "schemaVersion": schema, "rows": rows,
            "database": {"file": database_file.name, **_digest(database_file)},
            "objects": objects,
        }
        _write_manifest(partial / MANIFEST, manifest)
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Summary(final, rows, len(objects), sum(o["size"] for o in objects))


def source_url(primary_url: str, replica: BackupReplica | None) -> str:
    """Where the dump comes from: the replica when one is configured and current enough,
    else the primary; a lagging or unreachable replica is refused, never silently replaced."""
    if replica is None:
        return primary_url
    with _pg_connection(primary_url) as connection, connection.cursor() as cursor:
        cursor.execute(PRIMARY_POSITION_SQL)
        position = cursor.fetchone()[0]
    problem = replica.problem(position)
    if problem is not None:
        raise BackupError(f"the backup replica (database.backup_url) is {problem}")
    return replica.url


def prune(target: Path, keep_days: int, clock: Clock | None = None) -> list[Path]:
    """Removes backups (and leftovers of interrupted ones) older than `keep_days`; the newest
    complete backup always stays, however old, so a stalled timer never leaves none."""
    if keep_days < 1:
        raise BackupError("--keep-days must be at least 1")
    cutoff = (clock or SystemClock()).now() - dt.timedelta(days=keep_days)
    complete = sorted(p for p in _backups(target) if (p / MANIFEST).is_file())
    partials = [p for p in target.glob(f"{PARTIAL}appliance-*") if NAME.match(p.name[len(PARTIAL):])]
    removed = []
    for path in complete[:-1] + partials:
        if _stamp(path.name.removeprefix(PARTIAL)) < cutoff:
            shutil.rmtree(path)
            removed.append(path)
    return removed


def _backups(target: Path) -> Iterator[Path]:
    return (p for p in target.iterdir() if p.is_dir() and NAME.match(p.name)) if target.is_dir() else iter(())


def _stamp(name: str) -> dt.datetime:
    return dt.datetime.strptime(NAME.match(name)[1], STAMP)


def _dump_postgres(url: str, out: Path) -> tuple[dict[str, int], int]:
    """Counts and dump from one exported snapshot, so the manifest describes the dump exactly."""
    with _pg_connection(url) as connection:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT set_config('{CROSS_PRACTICE}', 'on', true), pg_export_snapshot()")
            snapshot = cursor.fetchone()[1]
            rows, schema = _pg_counts(cursor)
            # The transaction stays open while pg_dump runs: the snapshot lives as long as it.
            _pg_tool("pg_dump", url, ["--format=custom", f"--snapshot={snapshot}",
                                      "--enable-row-security", f"--file={out}"])
        connection.rollback()
    return rows, schema


def _copy_sqlite(path: Path, out: Path) -> tuple[dict[str, int], int]:
    if not path.is_file():
        raise BackupError(f"the SQLite database {path} does not exist")
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source, \
            contextlib.closing(sqlite3.connect(out)) as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        return _sqlite_counts(copy)


def _copy_objects(store: ObjectStore, folder: Path) -> list[dict]:
    entries = []
    for info in store.list(""):
        path = _object_path(folder, info.key)
        try:
            stored = store.get(info.key)
        except ObjectNotFound:
            continue  # deleted since it was listed: the dump no longer names it either
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        digest, size = hashlib.sha256(), 0
        try:
            with open(path, "wb") as out:
                for chunk in stored:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        finally:
            stored.close()
        entries.append({"key": info.key, "size": size, "sha256": digest.hexdigest()})
    return entries


# --- restore -------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict:
    """The manifest of a verified backup: every file is there with its size and SHA-256."""
    path = source / MANIFEST
    if not path.is_file():
        newest = sorted(_backups(source))
        hint = f"; the newest one here is {newest[-1]}" if newest else ""
        raise BackupError(f"{source} is not a backup (no {MANIFEST}): name one backup directory{hint}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is not valid JSON") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: unknown backup format {manifest.get('format')!r}")
    database = manifest["database"]
    if database["file"] not in DATABASE_FILES.values():
        raise BackupError(f"{path}: unexpected database file {database['file']!r}")
    _expect(source / database["file"], database)
    for entry in manifest["objects"]:
        _expect(_object_path(source / OBJECTS, entry["key"]), entry)
    return manifest


def restore_backup(source: Path, database_url: str, store: ObjectStore,
                   app_role: str | None = None) -> Summary:
    """Restores a backup into an empty database and an empty store, then re-applies row-level
    security and `app_role`'s grants and any newer migrations (`appliance.migrator.upgrade`).

    `database_url` should be the owner role's on PostgreSQL.
    """
    from appliance.db import open_database
    from appliance.migrator import available, upgrade

    manifest = read_manifest(source)
    engine = engine_of_url(database_url)
    if manifest["engine"] != engine:
        raise BackupError(f"the backup is of a {manifest['engine']} database; this one is {engine}")
    newest = max(m.version for m in available(engine))
    if manifest["schemaVersion"] > newest:
        raise BackupError(f"the backup has schema version {manifest['schemaVersion']}; this release "
                          f"knows up to {newest}: install the release that made it")
    database_file = source / manifest["database"]["file"]
    if engine == "postgresql":
        _refuse_rows(_pg_existing_counts(database_url), "database")
    else:
        _refuse_rows(_sqlite_existing_counts(_sqlite_path(database_url)), "database")
    if next(iter(store.list("")), None) is not None:
        raise BackupError("the object store is not empty: restore only into an empty one")

    if engine == "postgresql":
        _restore_postgres(database_url, database_file)
        rows = _pg_existing_counts(database_url)
    else:
        _restore_sqlite(_sqlite_path(database_url), database_file)
        rows = _sqlite_existing_counts(_sqlite_path(database_url))
    for entry in manifest["objects"]:
        with open(_object_path(source / OBJECTS, entry["key"]), "rb") as handle:
            store.put(entry["key"], handle)
    if rows != manifest["rows"]:
        raise BackupError(f"the restored row counts differ from the manifest: {rows} != {manifest['rows']}")
    database = open_database(database_url, pool_size=1)
    try:
        upgrade(database, app_role=app_role)
    finally:
        database.close()
    objects = manifest["objects"]
    return Summary(source, rows, len(objects), sum(o["size"] for o in objects))


def _refuse_rows(rows: dict[str, int], what: str) -> None:
    filled = {table: count for table, count in rows.items() if count and table != MIGRATIONS_TABLE}
    if filled:
        names = ", ".join(f"{table} ({count})" for table, count in sorted(filled.items()))
        raise BackupError(f"the {what} is not empty ({names}): restore only into an empty one")


def _restore_postgres(url: str, dump: Path) -> None:
    """A schema that `appliance migrate` made without rows is replaced by the backup's."""
    with _pg_connection(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        if cursor.fetchone()[0]:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        connection.commit()
    _pg_tool("pg_restore", url, ["--exit-on-error", "--single-transaction", "--no-owner",
                                 "--no-privileges", str(dump)])


def _restore_sqlite(path: Path, copy: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(f"file:{copy}?mode=ro&immutable=1", uri=True)) as source, \
            contextlib.closing(sqlite3.connect(path)) as target:
        source.backup(target)


# --- databases -----------------------------------------------------------------------------


def _count_sql(table: str) -> str:
    """`table` comes from the database's own catalogue; quoting keeps any name one identifier."""
    return 'SELECT count(*) FROM "{}"'.format(table.replace('"', '""'))  # noqa: S608


def _sqlite_path(url: str) -> Path:
    parts = urlsplit(url)
    return Path(unquote(parts.path[1:] if parts.path.startswith("/") else parts.path))


def _sqlite_counts(connection: sqlite3.Connection) -> tuple[dict[str, int], int]:
    tables = [name for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    rows = {table: connection.execute(_count_sql(table)).fetchone()[0] for table in tables}
    schema = connection.execute(SCHEMA_VERSION_SQL).fetchone()[0] if MIGRATIONS_TABLE in rows else 0
    return rows, schema or 0


def _sqlite_existing_counts(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return _sqlite_counts(connection)[0]


@contextlib.contextmanager
def _pg_connection(url: str):
    import psycopg2

    try:
        connection = psycopg2.connect(url, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise BackupError(f"cannot connect to the database: {str(exc).strip()}") from exc
    try:
        yield connection
    finally:
        connection.close()


def _pg_counts(cursor) -> tuple[dict[str, int], int]:
    """Rows per table of the public schema, seen across practices (the caller set the switch)."""
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    tables = [name for (name,) in cursor.fetchall()]
    rows = {}
    for table in tables:
        cursor.execute(_count_sql(table))
        rows[table] = cursor.fetchone()[0]
    schema = 0
    if MIGRATIONS_TABLE in rows:
        cursor.execute(SCHEMA_VERSION_SQL)
        schema = cursor.fetchone()[0] or 0
    return rows, schema


def _pg_existing_counts(url: str) -> dict[str, int]:
    with _pg_connection(url) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT set_config('{CROSS_PRACTICE}', 'on', true)")
        rows = _pg_counts(cursor)[0]
        connection.rollback()
    return rows


def find_pg_tool(name: str) -> str:
    """pg_dump or pg_restore: the newest of /usr/lib/postgresql/*/bin (Debian; a newer client
    reads older servers, not the other way round), else the one on PATH."""
    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)

    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True):
        if os.access(bindir / name, os.X_OK):
            return str(bindir / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is missing: install the PostgreSQL client (Debian: postgresql-client)")
    return found


def _pg_tool(name: str, url: str, arguments: list[str]) -> None:
    """Runs pg_dump/pg_restore with the password in the environment, never on the command line,
    and every practice visible to the row-level security policies."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    without_password = parts._replace(netloc=f"{parts.username}@{host}" if parts.username else host)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["PGOPTIONS"] = f"-c {CROSS_PRACTICE}=on"
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    command = [find_pg_tool(name), "--no-password", f"--dbname={urlunsplit(without_password)}", *arguments]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{name} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


# --- files ---------------------------------------------------------------------------------


def _object_path(folder: Path, key: str) -> Path:
    """Keys are checked like the stores check them, so none can name a file outside `folder`."""
    try:
        return folder.joinpath(*check_key(key).split("/"))
    except ValueError as exc:
        raise BackupError(str(exc)) from exc


def _digest(path: Path) -> dict:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


def _expect(path: Path, entry: dict) -> None:
    if not path.is_file():
        raise BackupError(f"the backup is incomplete: {path} is missing")
    if _digest(path) != {"size": entry["size"], "sha256": entry["sha256"]}:
        raise BackupError(f"the backup is damaged: {path} differs from the manifest")


def _write_manifest(path: Path, manifest: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
