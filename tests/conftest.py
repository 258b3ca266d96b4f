"""Fixtures: real PostgreSQL and SQLite databases, the app in-process, and a live server.

Database tests run on both engines (the `engine` parameter). PostgreSQL comes from
APPLIANCE_TEST_DATABASE_URL or a throwaway cluster the suite starts itself.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import falcon.testing
import pytest
import requests

from appliance import settings as settings_module
from appliance.app import create_app
from appliance.clock import FixedClock, SystemClock
from appliance.db import open_database
from appliance.migrator import upgrade
from appliance.models import database as database_proxy
from tests.support.app_role import AppRole
from tests.support.log_guard import LogGuard, giveaways
from tests.support.ports import free_port, listening
from tests.support.postgres import PostgresUnavailable, start_postgres

ROOT = Path(__file__).resolve().parents[1]
JWT_SECRET = "test-jwt-secret-" + "x" * 32


@pytest.fixture(autouse=True)
def no_personal_data_in_logs():
    """Every test: no line the appliance logs, at any level, gives away an address or a token."""
    logger = logging.getLogger("appliance")
    guard, level = LogGuard(), logger.level
    logger.addHandler(guard)
    logger.setLevel(logging.DEBUG)
    yield
    logger.removeHandler(guard)
    logger.setLevel(level)
    found = giveaways(guard.lines)
    assert not found, "the log gives away personal data or a secret:\n" + "\n".join(found[:5])


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.exit(f"PostgreSQL is needed for the tests: {exc}", returncode=3)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_databases(pg_server) -> tuple[str, str]:
    """One migrated database for the session, as (owner URL, application-role URL).

    The owner (the suite's superuser) inspects and empties tables; the app under test connects
    as a separate login role, so PostgreSQL's row-level security applies to it as in production.
    """
    role = AppRole(pg_server)
    yield role.database()
    role.drop()


@pytest.fixture(scope="session")
def pg_url(pg_databases) -> str:
    return pg_databases[0]


def _truncate(database) -> None:
    tables = [t for t in database.get_tables() if t != "schema_migrations"]
    if tables:
        database.execute_sql(f"TRUNCATE {', '.join(tables)} CASCADE")


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request) -> str:
    return request.param


@pytest.fixture
def database_url(engine, request, tmp_path) -> str:
    if engine == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'appliance.db'}"


@pytest.fixture
def app_database_url(engine, request, database_url) -> str:
    """What the app under test connects with: on PostgreSQL the application role."""
    if engine == "postgresql":
        return request.getfixturevalue("pg_databases")[1]
    return database_url


@pytest.fixture
def database(engine, database_url):
    database = open_database(database_url, pool_size=40)
    database_proxy.initialize(database)  # so tests can inspect rows through the models
    if engine == "postgresql":
        _truncate(database)
    else:
        upgrade(database)
    yield database
    if engine == "postgresql":
        database.close_all()
    else:
        database.close()


def pytest_addoption(parser):
    parser.addoption(
        "--date-sensitive", action="store_true",
        help="run only the tests that read the real clock: those with a live server or that use"
        " the clock fixture themselves (make test-dates runs them at other dates under faketime)",
    )


#: Test files that change the machine itself (its nginx, PostgreSQL, services, /etc): under
#: pytest-xdist they run one after the other in one worker (`--dist loadgroup`).
MACHINE_WIDE = ("test_deploy_", "test_backup_replica")
#: Held by a module of MACHINE_WIDE while it runs: two pytest runs on one machine (make
#: test-dates runs two dates at once), or a pytest-xdist that stopped grouping, wait instead of
#: reloading each other's nginx.
MACHINE_LOCK = Path("/tmp/appliance-tests-machine.lock")


@pytest.fixture(scope="module", autouse=True)
def machine_to_itself(request):
    if not request.path.name.startswith(MACHINE_WIDE):
        yield
        return
    with MACHINE_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (it has no order of its own)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name.startswith(MACHINE_WIDE):
            item.add_marker(pytest.mark.xdist_group("machine"))
    if not config.getoption("--date-sensitive"):
        return
    chosen, left = [], []
    for item in items:
        uses_clock = "live_server" in item.fixturenames or "clock" in item._fixtureinfo.argnames
        pinned = item.get_closest_marker("calendar") is not None
        (chosen if uses_clock and not pinned else left).append(item)
    config.hook.pytest_deselected(items=left)
    items[:] = chosen


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "calendar(moment): the test's clock stands at this naive-UTC datetime, because its"
        " expectations are written for that place in the calendar; such a test meets no live server",
    )


@pytest.fixture
def clock(request) -> FixedClock:
    """Stands still at the real time the test started (whole seconds), so tokens and links made
    in-process agree with live servers, which read the real clock. A test that needs a place
    in the calendar (a month's end, a DST change, a hand-made record) says so with
    `@pytest.mark.calendar(moment)`, and `live_server` refuses to start for it."""
    marker = request.node.get_closest_marker("calendar")
    if marker is not None:
        return FixedClock(marker.args[0])
    return FixedClock(SystemClock().now().replace(microsecond=0))


def make_settings(tmp_path: Path, database_url: str = "", **sections) -> settings_module.Settings:
    data = {
        "app": {"data_dir": str(tmp_path / "var"), "public_base_url": "https://consent.example.test"},
        "database": {"url": database_url},
        "auth": {"jwt_secret": JWT_SECRET},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return settings_module.build(data, {})


@pytest.fixture
def settings(tmp_path, app_database_url) -> settings_module.Settings:
    return make_settings(tmp_path, app_database_url)


@pytest.fixture
def app(settings, database, database_url, app_database_url, clock):
    """The app in-process, on its own connection as the application role (RLS applies)."""
    from appliance.storage import open_store

    app_database = database if app_database_url == database_url else open_database(
        app_database_url, pool_size=40
    )
    yield create_app(settings, app_database, store=open_store(settings), clock=clock)
    if app_database is not database:
        app_database.close_all()


@pytest.fixture
def client(app) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(app)


class LiveServer:
    """`appliance serve` in a subprocess: real gunicorn workers over real HTTP."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self._log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
        self._log_path = log_path
        self.process = subprocess.Popen(  # its own process group: kill() takes the workers too
            [sys.executable, "-m", "appliance", "serve"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"appliance serve exited:\n{self.log()}")
            try:
                if requests.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"appliance serve did not answer in 30 s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self._log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to gunicorn and its workers at once, as when the machine fails; returns once
        nothing listens on the port. Until the last worker has gone, the kernel still accepts
        connections on the socket they share and resets them when it closes."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for _ in range(1000):
            if not listening(self.port):
                return
            time.sleep(0.01)
        raise RuntimeError(f"port {self.port} still listens after SIGKILL to gunicorn")

    def stop(self) -> None:
        """Stops the server and prints its log, which pytest shows when the test failed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.close()
            print(f"--- appliance serve log ({self._log_path.name}) ---\n{self.log()}")
            found = giveaways(self.log().splitlines())
            assert not found, "the server log gives away personal data or a secret:\n" + "\n".join(found[:5])


def server_env(tmp_path: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update(
        {
            "APPLIANCE_APP_DATA_DIR": str(tmp_path / "var"),
            "APPLIANCE_APP_PUBLIC_BASE_URL": "https://consent.example.test",
            "APPLIANCE_DATABASE_URL": database_url,
            "APPLIANCE_AUTH_JWT_SECRET": JWT_SECRET,
            "APPLIANCE_SERVER_BIND": f"127.0.0.1:{port}",
            "APPLIANCE_SERVER_WORKERS": "2",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def live_server(request, tmp_path, app_database_url, database):
    """Starts `appliance serve` with 2 workers on the test database (already migrated), as the
    application role on PostgreSQL. The server reads the real clock, so a test on a calendar
    clock (which would mix two clocks) cannot have one."""
    if request.node.get_closest_marker("calendar") is not None:
        pytest.fail("a test on a calendar clock cannot start a live server: the two clocks differ")
    servers: list[LiveServer] = []

    def start(**extra: str) -> LiveServer:
        port = free_port()
        server = LiveServer(server_env(tmp_path, app_database_url, port, **extra), port,
                            tmp_path / f"serve-{port}.log")
        servers.append(server)
        return server

    yield start
    refused = []
    for server in servers:  # every one stops, even when an earlier one's log is refused
        try:
            server.stop()
        except AssertionError as exc:
            refused.append(exc)
    if refused:
        raise refused[0]


@pytest.fixture
def appliance_cli(monkeypatch, tmp_path, capsys):
    """Runs `appliance ...` in-process against one site (tests/support/sites.py), with only its
    environment; returns (exit status, stdout, stderr)."""
    from appliance import cli

    config = tmp_path / "empty.toml"
    config.write_text("")

    def run(site, *argv: str) -> tuple[int, str, str]:
        for name in [name for name in os.environ if name.startswith("APPLIANCE_")]:
            monkeypatch.delenv(name)
        for name, value in {"APPLIANCE_CONFIG": str(config), **site.environment(tmp_path / "var")}.items():
            monkeypatch.setenv(name, value)
        status = cli.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, headless, driven by Playwright, for the tests of one module
    (tests/support/browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium):
    """Fresh contexts per test; fails the test on any CSP violation or uncaught page error."""
    from tests.support.browser import BrowserSession

    session = BrowserSession(chromium)
    yield session
    found = session.close()
    assert not found, "the pages reported CSP violations or errors:\n" + "\n".join(found[:20])


@pytest.fixture
def quick_retries(monkeypatch):
    """The mail outbox retries after 50 and 100 ms instead of minutes. Under faketime the test
    skips: libfaketime shifts CLOCK_MONOTONIC, and Python's timed thread waits (sem_clockwait,
    which libfaketime 0.9.10 does not intercept) then never return, so no retry is ever due.
    The back-off counts in monotonic seconds and does not depend on the date."""
    from appliance import outbox
    from tests.support.faketime import under_faketime

    if under_faketime():
        pytest.skip("under faketime: timed thread waits never return, so the outbox cannot retry")
    monkeypatch.setattr(outbox, "DELAYS", (0.05, 0.1))


@pytest.fixture(scope="session")
def s3_server():
    """SeaweedFS `weed mini` on 127.0.0.1 for the session (tests/support/s3.py); a test that
    stops it must start it again (`tests.support.s3.stopped`)."""
    from tests.support.faketime import skip_where_s3_cannot_follow
    from tests.support.s3 import SeaweedUnavailable, start_seaweed

    skip_where_s3_cannot_follow()
    try:
        server = start_seaweed()
    except SeaweedUnavailable as exc:
        pytest.exit(f"SeaweedFS is needed for the S3 tests: {exc}", returncode=3)
    yield server
    server.close()


@pytest.fixture(scope="session")
def s3_cluster():
    """A distributed SeaweedFS on 127.0.0.1 for the session: master, two volume servers, filer
    and S3 gateway, every object on both volume servers (tests/support/s3.py); a test that stops
    a volume server must start it again (`tests.support.s3.volume_stopped`)."""
    from tests.support.faketime import skip_where_s3_cannot_follow
    from tests.support.s3 import SeaweedUnavailable, start_seaweed_cluster

    skip_where_s3_cannot_follow()
    try:
        cluster = start_seaweed_cluster()
    except SeaweedUnavailable as exc:
        pytest.exit(f"SeaweedFS is needed for the S3 tests: {exc}", returncode=3)
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def stripe_stub():
    """Stripe offline for the session: localstripe plus a stand-in for Checkout and Portal
    sessions, on 127.0.0.1 (tests/support/stripe_stub.py)."""
    from tests.support.stripe_stub import StripeStub

    stub = StripeStub()
    yield stub
    stub.close()
