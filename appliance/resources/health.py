"""Liveness and readiness for load balancers, systemd and clinic IT monitoring."""

from __future__ import annotations

import logging

import falcon
import peewee

from appliance import __version__
from appliance.http.errors import ApiError
from appliance.http.operation import operation

log = logging.getLogger("appliance.health")

STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string"},
        "version": {"type": "string"},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


class Health:
    @operation("Liveness: the process answers", auth="public", response=STATUS, tags=("Health",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok", "version": __version__}


class Readiness:
    """Ready when the database answers and, when configured, the object store does."""

    def __init__(self, database: peewee.Database, store=None):
        self._database = database
        self._store = store

    @operation(
        "Readiness: database and object store reachable",
        auth="public",
        response=STATUS,
        errors={503: "a dependency is unreachable; details name the failing check"},
        tags=("Health",),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = {"database": self._check(self._ping_database)}
        if self._store is not None:
            checks["objectStore"] = self._check(self._store.ping)
        if any(value != "ok" for value in checks.values()):
            raise ApiError(503, "not_ready", "a dependency is unreachable", checks)
        resp.media = {"status": "ready", "version": __version__, "checks": checks}

    def _ping_database(self) -> None:
        self._database.execute_sql("SELECT 1").fetchone()

    @staticmethod
    def _check(probe) -> str:
        try:
            probe()
        except Exception as exc:  # any failure means not ready; the type is enough to act on
            log.warning("readiness check failed", extra={"error_type": type(exc).__name__})
            return f"unavailable ({type(exc).__name__})"
        return "ok"
