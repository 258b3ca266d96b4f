"""Liveness and readiness for load balancers, systemd and clinic IT monitoring."""

from __future__ import annotations

import logging

import falcon
import peewee

from appliance import __version__
from appliance.http.errors import ApiError
from appliance.http.operation import operation
from appliance.replica import PRIMARY_POSITION_SQL, BackupReplica

log = logging.getLogger("appliance.health")
MIB = 1024 * 1024

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
    @operation("Liveness: the process answers", auth="public", response=STATUS, tags=("Health",),
               database=False)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok", "version": __version__}


class Readiness:
    """Ready when the database answers and, when configured, the object store does and (if it
    can tell) has `min_free_mb` free: a full disk fails every upload, so monitoring should
    hear of it before.

    A backup replica (database.backup_url) that lags or is gone does not stop this node from
    serving: readiness stays 200, says "degraded" and names it, for monitoring to act on."""

    def __init__(self, database: peewee.Database, store=None, replica: BackupReplica | None = None,
                 *, min_free_mb: int = 0):
        self._database = database
        self._store = store
        self._replica = replica
        self._min_free_mb = min_free_mb

    @operation(
        "Readiness: database and object store reachable (and the backup replica current)",
        auth="public",
        response=STATUS,
        errors={503: "a dependency is unreachable or the object store is low on space; details"
                     " name the failing check"},
        tags=("Health",),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = {"database": self._check(self._ping_database)}
        if self._store is not None:
            checks["objectStore"] = self._check(self._store.ping)
            if checks["objectStore"] == "ok":
                checks["objectStore"] = self._free_space()
        if any(value != "ok" for value in checks.values()):
            raise ApiError(503, "not_ready", "a dependency is unreachable", checks)
        status = "ready"
        if self._replica is not None:
            checks["backupReplica"] = self._replica_check()
            if checks["backupReplica"] != "ok":
                status = "degraded"
        resp.media = {"status": status, "version": __version__, "checks": checks}

    def _ping_database(self) -> None:
        self._database.execute_sql("SELECT 1").fetchone()

    def _replica_check(self) -> str:
        try:
            position = self._database.execute_sql(PRIMARY_POSITION_SQL).fetchone()[0]
        except Exception as exc:  # the primary went away since the check above: not the replica's fault
            return f"not checked ({type(exc).__name__})"
        problem = self._replica.problem(position)
        if problem is not None:
            log.warning("backup replica not usable", extra={"problem": problem})
        return problem or "ok"

    def _free_space(self) -> str:
        free = self._store.free_bytes()
        if free is None or free >= self._min_free_mb * MIB:
            return "ok"
        problem = f"low free space ({free // MIB} MiB free, storage.min_free_mb is {self._min_free_mb})"
        log.error("object store low on space", extra={"problem": problem})
        return problem

    @staticmethod
    def _check(probe) -> str:
        try:
            probe()
        except Exception as exc:  # any failure means not ready; the type is enough to act on
            log.warning("readiness check failed", extra={"error_type": type(exc).__name__})
            return f"unavailable ({type(exc).__name__})"
        return "ok"
