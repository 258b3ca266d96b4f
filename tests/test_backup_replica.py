"""A streaming replica for the backups (`database.backup_url`), made in the test with
pg_basebackup from the suite's throwaway cluster: `appliance backup` reads the replica instead of
the primary while it is current, refuses it when it lags beyond `database.backup_max_lag` or is
gone, and readiness names it then (200, "degraded": the node itself serves on).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import falcon.testing
import psycopg2
import pytest

from appliance.app import create_app
from appliance.backup import read_manifest
from appliance.db import open_database
from appliance.replica import PRIMARY_POSITION_SQL, BackupReplica
from appliance.storage import open_store
from tests.support.api import register
from tests.support.deploy import appliance_database, create_roles, drop_roles, table_contents
from tests.support.postgres import PostgresUnavailable, start_replica
from tests.support.sites import Site, fill

CATCH_UP_TIMEOUT = 30


@dataclasses.dataclass
class ReplicaSite(Site):
    backup_url: str = ""
    backup_max_lag: int = 300

    def environment(self, data_dir: Path) -> dict[str, str]:
        return {**super().environment(data_dir), "APPLIANCE_DATABASE_BACKUP_URL": self.backup_url,
                "APPLIANCE_DATABASE_BACKUP_MAX_LAG": str(self.backup_max_lag)}


@pytest.fixture(scope="module")
def replica(pg_server):
    try:
        server = start_replica(pg_server)
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.close()


@pytest.fixture
def site(pg_server, replica, tmp_path, appliance_cli):
    """A migrated appliance database on the primary, its backup URL on the replica."""
    roles = create_roles(pg_server)
    made = appliance_database(pg_server, roles)
    site = ReplicaSite(made.owner_url, made.app_url, made.admin_url, {"directory": str(tmp_path / "objects")},
                       backup_url=replica.url(made.owner_url))
    status, _, err = appliance_cli(site, "migrate")
    assert status == 0, err
    yield site
    pg_server.drop_database(made.name)
    drop_roles(pg_server, roles)


def caught_up(site: ReplicaSite) -> None:
    """Waits until the replica has replayed everything the primary has written (a database made
    a moment ago may not be there yet)."""
    database = open_database(site.owner_url, pool_size=1)
    replica = BackupReplica(site.backup_url, max_lag=1)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    try:
        while True:
            with contextlib.suppress(psycopg2.OperationalError):
                if replica.lag(database.execute_sql(PRIMARY_POSITION_SQL).fetchone()[0]) == 0:
                    return
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.1)
    finally:
        database.close_all()


def backup(appliance_cli, site: ReplicaSite, target: Path, max_lag: int) -> tuple[int, str, dict | None]:
    site.backup_max_lag = max_lag
    status, _, err = appliance_cli(site, "backup", "--to", str(target))
    made = sorted(target.iterdir()) if target.exists() else []
    return status, err, read_manifest(made[-1]) if status == 0 else None


def test_backup_reads_the_replica_and_refuses_it_lagging_or_gone(site, replica, tmp_path, appliance_cli):
    fill(site, tmp_path)
    caught_up(site)
    replica.pause()
    try:
        fill(site, tmp_path)  # a second practice the paused replica does not have
        time.sleep(1.1)
        status, err, manifest = backup(appliance_cli, site, tmp_path / "behind", max_lag=3600)
        assert status == 0, err
        assert manifest["rows"]["practice"] == 1  # what the replica had, not the primary's 2
        status, err, _ = backup(appliance_cli, site, tmp_path / "refused", max_lag=1)
        assert status == 1 and "the backup replica (database.backup_url) is lagging (" in err, err
        assert not (tmp_path / "refused").exists() or list((tmp_path / "refused").iterdir()) == []
    finally:
        replica.resume()
    caught_up(site)
    status, err, manifest = backup(appliance_cli, site, tmp_path / "current", max_lag=1)
    assert status == 0, err
    rows = {table: len(content) for table, content in table_contents(site.admin_url).items()}
    assert manifest["rows"] == rows and rows["practice"] == 2
    replica.stop()
    try:
        status, err, _ = backup(appliance_cli, site, tmp_path / "gone", max_lag=1)
        assert status == 1 and "the backup replica (database.backup_url) is unavailable (" in err, err
    finally:
        replica.start()


def test_readiness_names_a_lagging_or_gone_replica(site, replica, tmp_path):
    settings = site.settings(tmp_path)
    settings = dataclasses.replace(settings, database=dataclasses.replace(
        settings.database, backup_url=site.backup_url, backup_max_lag=1))
    database = open_database(site.app_url, pool_size=4)
    client = falcon.testing.TestClient(create_app(settings, database, store=open_store(settings)))

    def ready() -> tuple[int, str, str]:
        answer = client.simulate_get("/api/health/ready")
        return answer.status_code, answer.json["status"], answer.json["checks"]["backupReplica"]

    try:
        caught_up(site)
        assert ready() == (200, "ready", "ok")
        replica.pause()
        try:
            register(client)  # a commit on the primary the replica does not replay
            time.sleep(1.1)
            status, state, check = ready()
            assert (status, state) == (200, "degraded") and check.startswith("lagging (")
            assert check.endswith("; limit 1 s)"), check
        finally:
            replica.resume()
        caught_up(site)
        assert ready() == (200, "ready", "ok")
        replica.stop()
        try:
            assert ready() == (200, "degraded", "unavailable (OperationalError)")
        finally:
            replica.start()
    finally:
        database.close_all()
