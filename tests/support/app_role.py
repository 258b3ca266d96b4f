"""Migrated PostgreSQL databases the app reaches as its own login role, as in production: the
suite's owner connection loads and inspects, the app role's is subject to row-level security.
Shared by the test suite and the benchmarks."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

from appliance.db import open_database
from appliance.migrator import upgrade
from tests.support.postgres import PostgresServer


class AppRole:
    """One login role and the databases migrated for it; `drop()` removes them all."""

    def __init__(self, server: PostgresServer, prefix: str = "appliance_app"):
        self.server = server
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        self._password = secrets.token_hex(16)
        self._databases: list[str] = []

    def database(self, prefix: str = "appliance_test") -> tuple[str, str]:
        """A new migrated database with this role's grants: (owner URL, app-role URL)."""
        name = f"{prefix}_{secrets.token_hex(4)}"
        owner_url = self.server.create_database(name)
        self._databases.append(name)
        owner = open_database(owner_url)
        try:
            owner.execute_sql(f"DO $$ BEGIN CREATE ROLE {self.name} LOGIN PASSWORD '{self._password}';"
                              " EXCEPTION WHEN duplicate_object THEN NULL; END $$")
            upgrade(owner, app_role=self.name)
        finally:
            owner.close_all()
        parts = urlsplit(owner_url)
        netloc = f"{self.name}:{self._password}@{parts.hostname}:{parts.port}"
        return owner_url, urlunsplit(parts._replace(netloc=netloc))

    def drop(self) -> None:
        for name in self._databases:
            self.server.drop_database(name)
        cleanup = open_database(self.server.maintenance_url)
        try:
            cleanup.execute_sql(f"DROP ROLE IF EXISTS {self.name}")
        finally:
            cleanup.close_all()
