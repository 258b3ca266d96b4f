"""Per-IP rate limits kept in the database, so all workers and app servers share them.

A sliding log: each allowed request leaves a row; a request is refused when the bucket
already holds `limit` rows younger than the window. Rows are serialised per bucket
(advisory lock on PostgreSQL, the write lock on SQLite) so concurrent requests on different
workers cannot both take the last slot. The IP is stored only as a keyed hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import uuid

import peewee

from appliance.clock import Clock
from appliance.db import engine_of
from appliance.http.errors import ApiError
from appliance.models import RateLimitHit


class DatabaseRateLimiter:
    def __init__(
        self,
        database: peewee.Database,
        clock: Clock,
        key: bytes,
        rules: dict[str, tuple[int, int]],
    ):
        """`rules` maps a bucket name to (requests allowed, window in seconds)."""
        self._database = database
        self._clock = clock
        self._key = key
        self._rules = rules

    def _bucket(self, name: str, client_ip: str) -> str:
        digest = hmac.new(self._key, f"{name}|{client_ip}".encode(), hashlib.sha256)
        return f"{name}:{digest.hexdigest()[:32]}"

    def hit(self, name: str, client_ip: str) -> None:
        limit, window = self._rules[name]
        bucket = self._bucket(name, client_ip)
        now = self._clock.now()
        since = now - dt.timedelta(seconds=window)
        with self._database.atomic():
            if engine_of(self._database) == "postgresql":
                self._database.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (bucket,))
            count, oldest = (
                RateLimitHit.select(peewee.fn.COUNT(RateLimitHit.id), peewee.fn.MIN(RateLimitHit.at))
                .where(RateLimitHit.bucket == bucket, RateLimitHit.at > since)
                .scalar(as_tuple=True)
            )
            if count >= limit:
                oldest = _as_datetime(oldest)
                retry = max(1, math.ceil((oldest + dt.timedelta(seconds=window) - now).total_seconds()))
                raise ApiError(
                    429, "rate_limited", "too many requests; try again later",
                    {"retryAfterSeconds": retry}, headers={"Retry-After": str(retry)},
                )
            RateLimitHit.insert(id=uuid.uuid4(), bucket=bucket, at=now).execute()

    def prune(self, older_than_seconds: int = 3600) -> int:
        cutoff = self._clock.now() - dt.timedelta(seconds=older_than_seconds)
        return RateLimitHit.delete().where(RateLimitHit.at < cutoff).execute()


def _as_datetime(value: dt.datetime | str) -> dt.datetime:
    """Aggregates come back as text on SQLite."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
