"""The clock behind an interface, so that expiry, lockouts and tokens can be tested in time.

Convention: every datetime inside the appliance is naive UTC; API output adds the `Z`.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Protocol

#: Names ZoneInfo opens that are no IANA zone: "localtime" is whatever the server is set to,
#: "Factory" and "posixrules" are tzdata internals.
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


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


def parse_utc(value: str) -> dt.datetime:
    """An ISO 8601 date-time with its offset (or Z) as naive UTC. ValueError for anything else,
    a time without zone (ambiguous) and an instant whose UTC form leaves the calendar too."""
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no offset")
    try:
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError as exc:
        raise ValueError("outside the calendar in UTC") from exc


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def is_iana_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone (Europe/Berlin), not a file ZoneInfo happens to open."""
    return name in _zone_names()
