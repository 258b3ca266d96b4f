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

#: One round trip on PostgreSQL: statements sent together run as one transaction, so the
#: advisory lock is held until the end, and the count (a statement of its own, with its own
#: snapshot, taken after the lock) sees every hit committed before it. Answers the count and
#: the oldest hit before this one; the hit is recorded only below the limit.
HIT_SQL = """SELECT pg_advisory_xact_lock(hashtext(%(bucket)s));
WITH recent AS (
    SELECT count(*) AS hits, min(at) AS oldest FROM rate_limit_hit
    WHERE bucket = %(bucket)s AND at > %(since)s
), hit AS (
    INSERT INTO rate_limit_hit (id, bucket, at)
    SELECT %(id)s, %(bucket)s, %(now)s FROM recent WHERE hits < %(limit)s
)
SELECT hits, oldest FROM recent"""


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
        if engine_of(self._database) == "postgresql":
            params = {"bucket": bucket, "since": since, "now": now, "limit": limit, "id": str(uuid.uuid4())}
            count, oldest = self._database.execute_sql(HIT_SQL, params).fetchone()
        else:
            count, oldest = self._sqlite_hit(bucket, since, now, limit)
        if count >= limit:
            oldest = _as_datetime(oldest)
            retry = max(1, math.ceil((oldest + dt.timedelta(seconds=window) - now).total_seconds()))
            raise ApiError(
                429, "rate_limited", "too many requests; try again later",
                {"retryAfterSeconds": retry}, headers={"Retry-After": str(retry)},
            )

    def _sqlite_hit(self, bucket: str, since: dt.datetime, now: dt.datetime, limit: int) -> tuple:
        """The same on SQLite, whose transactions take the write lock at BEGIN."""
        with self._database.atomic():
            count, oldest = (
                RateLimitHit.select(peewee.fn.COUNT(RateLimitHit.id), peewee.fn.MIN(RateLimitHit.at))
                .where(RateLimitHit.bucket == bucket, RateLimitHit.at > since)
                .scalar(as_tuple=True)
            )
            if count < limit:
                RateLimitHit.insert(id=uuid.uuid4(), bucket=bucket, at=now).execute()
        return count, oldest

    def prune(self, older_than_seconds: int = 3600) -> int:
        cutoff = self._clock.now() - dt.timedelta(seconds=older_than_seconds)
        return RateLimitHit.delete().where(RateLimitHit.at < cutoff).execute()


def _as_datetime(value: dt.datetime | str) -> dt.datetime:
    """Aggregates come back as text on SQLite."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
