"""The clock behind an interface, so that expiry, lockouts and tokens can be tested in time.

Convention: every datetime inside the appliance is naive UTC; API output adds the `Z`.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class FixedClock:
    """A clock for tests that only moves when told to."""

    def __init__(self, start: dt.datetime | None = None):
        self._now = start or SystemClock().now()

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += dt.timedelta(**delta)


def isoformat(value: dt.datetime | None) -> str | None:
    """Renders a naive-UTC datetime as ISO 8601 with `Z`, the form every API response uses."""
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
