"""`appliance backup` and `appliance restore`: a backup taken after creating data, restored
into an empty database and store, gives back the same rows and the same objects.

PostgreSQL runs with the roles of a clinic server (an owner that is no superuser, so
row-level security applies to pg_dump too, and an application role); the objects come from
the directory store and, once, from S3 (SeaweedFS).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import falcon.testing
import pytest

from appliance.app import create_app
from appliance.backup import BackupError, create_backup, prune, read_manifest
from appliance.clock import FixedClock
from appliance.db import open_database
from appliance.storage import open_store
from tests.conftest import make_settings
from tests.support.api import call
from tests.support.deploy import (
    appliance_database,
    create_roles,
    drop_roles,
    table_contents,
)
from tests.support.photos import object_keys
from tests.support.sites import Site, fill

CASES = [("postgresql", "directory"), ("sqlite", "directory"), ("postgresql", "s3")]
IDS = ["-".join(case) for case in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def sites(request, tmp_path) -> tuple[Site, Site]:
    """A source installation with a schema and an empty target one."""
    engine, store = request.param

    def storage(name: str) -> dict:
        if store == "s3":
            return request.getfixturevalue("s3_server").storage_settings()
        return {"directory": str(tmp_path / name / "objects")}

    if engine == "sqlite":
        made = [Site(*[f"sqlite:///{tmp_path / name / 'appliance.db'}"] * 3, storage(name))
                for name in ("source", "target")]
        yield made[0], made[1]
        return
    pg_server = request.getfixturevalue("pg_server")
    roles = create_roles(pg_server)
    databases = [appliance_database(pg_server, roles) for _ in range(2)]
    yield tuple(Site(d.owner_url, d.app_url, d.admin_url, storage(name))
                for d, name in zip(databases, ("source", "target"), strict=True))
    for database in databases:
        pg_server.drop_database(database.name)
    drop_roles(pg_server, roles)


def objects(site: Site, tmp_path: Path) -> dict[str, bytes]:
    store = open_store(site.settings(tmp_path))
    return {key: store.get(key).read_all() for key in object_keys(store)}


def test_a_restored_backup_has_the_same_rows_and_objects(sites, tmp_path, appliance_cli):
    source, target = sites
    assert appliance_cli(source, "migrate")[0] == 0
    made = fill(source, tmp_path)
    if source.owner_url.startswith("postgresql") and source.storage.get("directory"):
        assert appliance_cli(target, "migrate")[0] == 0  # a fresh install: schema, no rows

    status, out, err = appliance_cli(source, "backup", "--to", str(tmp_path / "backups"))
    assert status == 0, err
    (backup,) = (tmp_path / "backups").iterdir()
    assert f"backup {backup}:" in out and "2 objects" in out
    manifest = read_manifest(backup)
    assert manifest["rows"]["photo"] == 2 and manifest["rows"]["consent_form"] == 1
    assert len(manifest["objects"]) == 2

    status, out, err = appliance_cli(target, "restore", "--from", str(backup))
    assert status == 0, err
    assert out.startswith(f"restored {backup}:")
    assert table_contents(target.admin_url) == table_contents(source.admin_url)
    assert objects(target, tmp_path) == objects(source, tmp_path)
    assert len(objects(target, tmp_path)) == 2

    # The restored installation works as the application role (grants and RLS re-applied).
    settings = target.settings(tmp_path)
    database = open_database(target.app_url, pool_size=4)
    client = falcon.testing.TestClient(create_app(settings, database, store=open_store(settings)))
    photos = call(client, "GET", f"/api/photos/patient/{made['patient']}", token=made["token"])
    assert photos.status_code == 200, photos.text
    (first, *_) = photos.json["items"]
    download = call(client, "GET", f"/api/photos/{first['id']}/download", token=made["token"])
    assert download.status_code == 200
    assert download.content in objects(source, tmp_path).values()


@pytest.mark.parametrize("sites", CASES[:2], ids=IDS[:2], indirect=True)
def test_restore_refuses_a_database_or_store_with_data(sites, tmp_path, appliance_cli):
    source, target = sites
    assert appliance_cli(source, "migrate")[0] == 0
    fill(source, tmp_path)
    assert appliance_cli(source, "backup", "--to", str(tmp_path / "backups"))[0] == 0
    (backup,) = (tmp_path / "backups").iterdir()

    # Into the source itself: it has rows.
    status, _, err = appliance_cli(source, "restore", "--from", str(backup))
    assert status == 1 and "the database is not empty" in err

    # An empty database, but a store with an object in it: refused before anything is written.
    store = open_store(target.settings(tmp_path))
    store.put("stray/object", _Bytes(b"x"))
    status, _, err = appliance_cli(target, "restore", "--from", str(backup))
    assert status == 1 and "the object store is not empty" in err
    assert all(not rows for rows in table_contents(target.admin_url).values())


@pytest.mark.parametrize("sites", CASES[1:], ids=IDS[1:], indirect=True)
def test_a_damaged_or_partial_backup_is_refused_before_anything_is_written(sites, tmp_path, appliance_cli):
    source, target = sites
    assert appliance_cli(source, "migrate")[0] == 0
    fill(source, tmp_path)
    assert appliance_cli(source, "backup", "--to", str(tmp_path / "backups"))[0] == 0
    (backup,) = (tmp_path / "backups").iterdir()
    first = read_manifest(backup)["objects"][0]["key"]
    damaged = backup / "objects" / first
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"!")

    status, _, err = appliance_cli(target, "restore", "--from", str(backup))
    assert status == 1 and "damaged" in err
    status, _, err = appliance_cli(target, "restore", "--from", str(tmp_path / "backups"))
    assert status == 1 and f"the newest one here is {backup}" in err
    assert object_keys(open_store(target.settings(tmp_path))) == []
    assert all(not rows for rows in table_contents(target.admin_url).values())


class _Bytes:
    def __init__(self, data: bytes):
        self._data = data

    def read(self, size: int = -1) -> bytes:
        data, self._data = self._data, b""
        return data


def test_a_failed_backup_leaves_nothing_behind(tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'missing' / 'appliance.db'}")
    with pytest.raises(BackupError, match="does not exist"):
        create_backup(settings.database_url, open_store(settings), tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []


def test_retention_removes_old_backups_but_always_keeps_the_newest(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'appliance.db'}"
    settings = make_settings(tmp_path, database_url)
    open_database(database_url).execute_sql("CREATE TABLE t (x INTEGER)")
    store, target = open_store(settings), tmp_path / "backups"
    clock = FixedClock(dt.datetime(2026, 1, 1, 2, 0, 0))
    made = []
    for _ in range(4):
        made.append(create_backup(database_url, store, target, clock).path)
        clock.advance(days=3)
    leftover = target / ".partial-appliance-20251201T020000Z"
    leftover.mkdir()
    # Now 2026-01-13 02:00: the backups of Jan 1 and Jan 4 are older than 7 days.
    removed = prune(target, 7, clock)
    assert sorted(removed) == sorted([made[0], made[1], leftover])
    assert sorted(target.iterdir()) == made[2:]
    # Long after the last one, the newest still stays.
    clock.advance(days=100)
    assert prune(target, 7, clock) == [made[2]]
    assert list(target.iterdir()) == [made[3]]
    manifest = json.loads((made[3] / "manifest.json").read_text())
    assert manifest["engine"] == "sqlite" and manifest["rows"] == {"t": 0} and manifest["objects"] == []
