"""A PostgreSQL server for one test session.

``start_postgres()`` returns a :class:`PostgresServer`:

* If ``APPLIANCE_TEST_DATABASE_URL`` is set, it names an existing server and a maintenance
  database the suite may connect to with CREATEDB rights, e.g.
  ``postgresql://postgres@127.0.0.1:5432/postgres``. That server is used as it is, and
  ``stop()`` leaves it running.
* Otherwise a throwaway cluster is created with the machine's PostgreSQL binaries
  (``pg_config --bindir`` or the newest ``/usr/lib/postgresql/*/bin``) in a temporary
  directory, listening on 127.0.0.1 on a free port with trust authentication. As root it
  runs as the ``postgres`` system user, since initdb and postgres refuse to run as root.
  ``stop()`` stops it and removes the directory.

When neither is possible, :class:`PostgresUnavailable` says what to do.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from tests.support.ports import free_port

ENV_VAR = "APPLIANCE_TEST_DATABASE_URL"
SUPERUSER = "postgres"
MAINTENANCE_DB = "postgres"
CONNECT_TIMEOUT = 10  # seconds, for each psycopg2 connection
INITDB_TIMEOUT = 120
START_TIMEOUT = 60
STOP_TIMEOUT = 60
LOG_TAIL_LINES = 40

HOW_TO_FIX = (
    "Either install the PostgreSQL server binaries (on Debian/Ubuntu: "
    "`apt-get install -y postgresql`), or set "
    f"{ENV_VAR} to a server and maintenance database the tests may use with CREATEDB rights, "
    f"e.g. {ENV_VAR}=postgresql://postgres@127.0.0.1:5432/postgres"
)

_DBNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be had for the tests; the message says what to do."""


class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on.

    Usable as a context manager: ``with start_postgres() as pg: ...`` stops it on exit.
    """

    def __init__(
        self,
        base_url: str,
        *,
        cluster_dir: Path | None = None,
        pg_ctl: list[str] | None = None,
        log_file: Path | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise PostgresUnavailable(
                f"{ENV_VAR} must be a postgresql:// URL, got {_redact(base_url)!r}, e.g. "
                "postgresql://postgres@127.0.0.1:5432/postgres"
            )
        self._base = parts
        self._cluster_dir = cluster_dir
        self._pg_ctl = pg_ctl  # command prefix, including runuser when needed
        self.log_file = log_file  # the throwaway server's log, for debugging
        self._stopped = False

    # -- URLs and databases ------------------------------------------------------------

    @property
    def owns_cluster(self) -> bool:
        """True when stop() stops a cluster this module started."""
        return self._cluster_dir is not None

    @property
    def maintenance_url(self) -> str:
        return urlunsplit(self._base)

    def database_url(self, dbname: str) -> str:
        """The URL of database ``dbname`` on this server (user, host, port, query kept)."""
        return urlunsplit(self._base._replace(path="/" + quote(dbname, safe="")))

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        _check_dbname(name)
        with self._maintenance_connection() as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, ending any sessions still connected to it."""
        _check_dbname(name)
        with self._maintenance_connection() as conn, conn.cursor() as cur:
            if conn.server_version >= 130000:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            else:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def _maintenance_connection(self):
        conn = psycopg2.connect(self.maintenance_url, connect_timeout=CONNECT_TIMEOUT)
        try:
            conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
            yield conn
        finally:
            conn.close()

    # -- lifecycle -----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop and remove the throwaway cluster; does nothing for an external server."""
        if self._stopped:
            return
        self._stopped = True
        if self._cluster_dir is None:
            return
        data_dir = self._cluster_dir / "data"
        try:
            if (data_dir / "postmaster.pid").exists():
                result = _run(
                    [
                        *self._pg_ctl,
                        "-D",
                        str(data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        str(STOP_TIMEOUT),
                        "stop",
                    ],
                    timeout=STOP_TIMEOUT + 15,
                    check=False,
                )
                if result.returncode != 0:
                    _run(
                        [*self._pg_ctl, "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                        timeout=STOP_TIMEOUT,
                        check=False,
                    )
        finally:
            shutil.rmtree(self._cluster_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        kind = "throwaway" if self.owns_cluster else "external"
        return f"<PostgresServer {kind} {_redact(self.maintenance_url)}>"


class ReplicaServer:
    """A streaming replica of a throwaway cluster (`start_replica`): pg_basebackup of the
    primary, started on its own port with hot_standby_feedback (as for backups). `pause()` stops
    replaying WAL (the replica falls behind), `stop()` and `start()` take it away and back."""

    def __init__(self, primary: PostgresServer, cluster_dir: Path):
        self._primary = primary
        self._cluster_dir = cluster_dir
        self._pg_ctl = primary._pg_ctl
        self.port = free_port()

    def url(self, primary_url: str) -> str:
        """`primary_url` (any role, any database of the primary) pointed at the replica."""
        parts = urlsplit(primary_url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0] + f":{self.port}"))

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self._cluster_dir} "
                   "-c max_connections=200 -c hot_standby_feedback=on")  # as many as the primary
        started = _run([*self._pg_ctl, "-D", str(self._cluster_dir / "data"), "-l",
                        str(self._cluster_dir / "server.log"), "-o", options, "-w", "-t", str(START_TIMEOUT),
                        "start"], timeout=START_TIMEOUT + 15, check=False)
        if started.returncode != 0:
            raise PostgresUnavailable(f"the replica did not start:\n{started.stdout}\n"
                                      f"{_log_tail(self._cluster_dir / 'server.log')}")

    def stop(self) -> None:
        if (self._cluster_dir / "data" / "postmaster.pid").exists():
            _run([*self._pg_ctl, "-D", str(self._cluster_dir / "data"), "-m", "fast", "-w", "stop"],
                 timeout=STOP_TIMEOUT, check=False)

    def _superuser(self, statement: str) -> None:
        url = self.url(self._primary.maintenance_url)
        connection = psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def pause(self) -> None:
        self._superuser("SELECT pg_wal_replay_pause()")

    def resume(self) -> None:
        self._superuser("SELECT pg_wal_replay_resume()")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._cluster_dir, ignore_errors=True)


def start_replica(primary: PostgresServer) -> ReplicaServer:
    """A streaming replica of `primary`, which must be a throwaway cluster of this module (its
    pg_hba admits replication from 127.0.0.1, as initdb --auth=trust writes it)."""
    if not primary.owns_cluster:
        raise PostgresUnavailable(f"a replica needs the suite's own cluster, not {ENV_VAR}")
    cluster_dir = Path(tempfile.mkdtemp(prefix="appliance-pg-replica-"))
    run_as = primary._pg_ctl[:-1]
    if run_as:
        account = pwd.getpwnam(SUPERUSER)
        os.chown(cluster_dir, account.pw_uid, account.pw_gid)
    cluster_dir.chmod(0o700)
    replica = ReplicaServer(primary, cluster_dir)
    try:
        copied = _run([*run_as, str(Path(primary._pg_ctl[-1]).parent / "pg_basebackup"), "-h", "127.0.0.1",
                       "-p", str(primary._base.port), "-U", SUPERUSER, "-D", str(cluster_dir / "data"),
                       "--write-recovery-conf", "--wal-method=stream", "--checkpoint=fast", "--no-sync"],
                      timeout=INITDB_TIMEOUT, check=False)
        if copied.returncode != 0:
            raise PostgresUnavailable(f"pg_basebackup failed:\n{_tail(copied.stdout)}")
        replica.start()
    except BaseException:
        replica.close()
        raise
    return replica


def start_postgres() -> PostgresServer:
    """Return a server for this test session (see the module docstring)."""
    url = os.environ.get(ENV_VAR, "").strip()
    if url:
        return _use_external(url)
    return _start_throwaway()


# -- external server ------------------------------------------------------------------------


def _use_external(url: str) -> PostgresServer:
    server = PostgresServer(url)
    try:
        conn = psycopg2.connect(server.maintenance_url, connect_timeout=CONNECT_TIMEOUT)
    except psycopg2.Error as exc:
        raise PostgresUnavailable(
            f"cannot connect to {ENV_VAR}={_redact(url)}: {str(exc).strip()}. "
            "Point it at a running server and a database the tests may connect to with "
            "CREATEDB rights, or unset it to start a throwaway cluster."
        ) from exc
    conn.close()
    return server


# -- throwaway cluster ----------------------------------------------------------------------


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        # On Debian pg_config may come from libpq-dev alone and name a bindir without server
        # binaries: every candidate is checked for initdb below.
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    versioned = Path("/usr/lib/postgresql").glob("*/bin")
    candidates.extend(sorted(versioned, key=_version_key, reverse=True))
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)


def _start_throwaway() -> PostgresServer:
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found via "
            f"`pg_config --bindir` or /usr/lib/postgresql/*/bin. {HOW_TO_FIX}"
        )

    as_root = os.geteuid() == 0
    run_as: list[str] = []
    if as_root:
        try:
            account = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresUnavailable(
                "running as root, and initdb/postgres refuse to run as root, but there is no "
                f"'{SUPERUSER}' system user to run them as (the Debian postgresql package "
                f"creates it). {HOW_TO_FIX}"
            ) from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable(
                "running as root but `runuser` (util-linux) is missing, so the cluster cannot "
                f"be started as the '{SUPERUSER}' user. {HOW_TO_FIX}"
            )
        run_as = [runuser, "-u", SUPERUSER, "--"]

    cluster_dir = Path(tempfile.mkdtemp(prefix="appliance-pg-"))
    try:
        if as_root:
            os.chown(cluster_dir, account.pw_uid, account.pw_gid)
            os.chmod(cluster_dir, 0o700)
            probe = _run([*run_as, "test", "-w", str(cluster_dir)], timeout=30, check=False)
            if probe.returncode != 0:
                raise PostgresUnavailable(
                    f"the '{SUPERUSER}' user cannot write to {cluster_dir} (is a parent "
                    "directory closed to it?). Set TMPDIR to a directory it can reach, such as "
                    f"/tmp, or set {ENV_VAR} to a server URL."
                )
        return _init_and_start(bindir, cluster_dir, run_as)
    except BaseException:
        # Interrupted or failed: leave neither a postmaster nor its directory behind.
        if (cluster_dir / "data" / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                _run(
                    [
                        *run_as,
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(cluster_dir / "data"),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ],
                    timeout=STOP_TIMEOUT,
                    check=False,
                )
        shutil.rmtree(cluster_dir, ignore_errors=True)
        raise


def _init_and_start(bindir: Path, cluster_dir: Path, run_as: list[str]) -> PostgresServer:
    data_dir = cluster_dir / "data"
    log_file = cluster_dir / "server.log"
    pg_ctl = [*run_as, str(bindir / "pg_ctl")]

    init = _run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        cwd=cluster_dir,
        timeout=INITDB_TIMEOUT,
        check=False,
    )
    if init.returncode != 0:
        raise PostgresUnavailable(
            f"initdb failed (exit {init.returncode}) in {data_dir}:\n{_tail(init.stdout)}"
        )

    last_error = ""
    for _attempt in range(3):  # a free port can be taken between probing and binding
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {cluster_dir} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
            "-c max_connections=200"
        )
        try:
            started = _run(
                [
                    *pg_ctl,
                    "-D",
                    str(data_dir),
                    "-l",
                    str(log_file),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "start",
                ],
                cwd=cluster_dir,
                timeout=START_TIMEOUT + 15,
                check=False,
            )
            ok = started.returncode == 0
            output = started.stdout
        except subprocess.TimeoutExpired as exc:
            ok, output = False, f"pg_ctl start timed out: {exc}"
        if ok:
            server = PostgresServer(
                f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{MAINTENANCE_DB}",
                cluster_dir=cluster_dir,
                pg_ctl=pg_ctl,
                log_file=log_file,
            )
            atexit.register(server.stop)  # in case the session dies before it stops it
            return server
        last_error = f"{output.strip()}\n--- server log ({log_file}) ---\n{_log_tail(log_file)}"
        # Leave no half-started postmaster behind before trying another port.
        _run(
            [*pg_ctl, "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
            timeout=STOP_TIMEOUT,
            check=False,
        )
        if "could not bind" not in last_error and "Address already in use" not in last_error:
            break
    raise PostgresUnavailable(f"the throwaway PostgreSQL cluster did not start:\n{last_error}")


# -- helpers --------------------------------------------------------------------------------


def _run(args: list[str], *, timeout: float, check: bool, cwd: Path | None = None):
    """Run a command with a clean PG* environment, stdout and stderr merged."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LC_ALL", "C.UTF-8")
    return subprocess.run(
        args,
        cwd=cwd or "/",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=check,
    )


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _log_tail(log_file: Path) -> str:
    try:
        return _tail(log_file.read_text(errors="replace")) or "(empty)"
    except OSError as exc:
        return f"(cannot read: {exc})"


def _check_dbname(name: str) -> None:
    if not _DBNAME_RE.match(name):
        raise ValueError(f"not a safe test database name: {name!r}")


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
