"""Opens the database named by a URL: pooled PostgreSQL in production, SQLite (WAL) embedded."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import peewee
from playhouse.pool import PooledPostgresqlDatabase

from appliance import tenancy

#: Errors that mean "the database is not reachable or busy right now", answered with 503.
UNAVAILABLE_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


class TenantScopedPostgres(PooledPostgresqlDatabase):
    """Pooled PostgreSQL whose every statement carries the current tenancy scope, so that the
    row-level security policies (appliance.isolation) see what the code sees."""

    def execute_sql(self, sql, params=None):
        sql = tenancy.postgres_scope_sql() + sql
        return self._first_statement(lambda: super(TenantScopedPostgres, self).execute_sql(sql, params))

    def begin(self, *args, **kwargs):
        return self._first_statement(lambda: super(TenantScopedPostgres, self).begin(*args, **kwargs))

    def _is_closed(self, conn) -> bool:
        """Checked out without a round trip (the pool's default is a SELECT 1 per check-out,
        one per request): a connection the server ended while it idled in the pool (a
        restart) is found by its first statement instead, see `_first_statement`."""
        return not self._adapter.is_connection_reusable(conn)

    def connect(self, reuse_if_open=False):
        opened = super().connect(reuse_if_open)
        if opened:
            self._state.unproven = True
        return opened

    def _first_statement(self, send):
        """Runs the first statement of a check-out (BEGIN, or one outside a transaction) again
        on a new connection when the server had ended the pooled one: nothing was done on it
        yet, so nothing is lost or done twice. The other idle connections date from before the
        same restart and are closed with it."""
        if not getattr(self._state, "unproven", False):
            return send()
        self._state.unproven = False
        try:
            return send()
        except UNAVAILABLE_ERRORS:
            conn = self._state.conn
            if conn is None or not conn.closed:
                raise
        self._close(conn, close_conn=True)
        self.close_idle()
        self._state.reset()
        self.connect()
        return send()


def engine_of(database: peewee.Database) -> str:
    return "postgresql" if isinstance(database, peewee.PostgresqlDatabase) else "sqlite"


def open_database(url: str, *, pool_size: int = 10, connect_timeout: int = 5) -> peewee.Database:
    """Builds a peewee database for `sqlite:///path` or `postgresql://user:pw@host:port/name`.

    SQLite transactions take the write lock at BEGIN (IMMEDIATE) so that two concurrent
    writers queue on busy_timeout instead of failing half-way with "database is locked".
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return peewee.SqliteDatabase(
            path,
            lock_type="IMMEDIATE",
            check_same_thread=False,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "busy_timeout": 15000,
                "synchronous": "normal",
            },
        )
    if parts.scheme in ("postgresql", "postgres"):
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return TenantScopedPostgres(
            unquote(parts.path.lstrip("/")),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or None,
            port=parts.port or 5432,
            max_connections=pool_size,
            stale_timeout=300,
            timeout=10,
            connect_timeout=connect_timeout,
            **options,
        )
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}")
