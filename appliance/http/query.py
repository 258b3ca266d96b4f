"""Query-string parameters, parsed strictly: a bad value is a 400 naming the parameter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import falcon

from appliance.clock import parse_utc
from appliance.http.errors import bad_request


def _invalid(name: str, problem: str):
    return bad_request(f"query parameter {name} is invalid", [{"field": name, "problem": problem}])


def choice(req: falcon.Request, name: str, allowed: Iterable[str]) -> str | None:
    value = req.get_param(name)
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        raise _invalid(name, "must be one of " + ", ".join(allowed))
    return value


def flag(req: falcon.Request, name: str) -> bool:
    value = req.get_param(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise _invalid(name, "must be true or false")
    return value == "true"


def instant(req: falcon.Request, name: str, *, end_of_day: bool = False) -> dt.datetime | None:
    """An ISO 8601 date or date-time as naive UTC; a bare date means its start (or its end)."""
    value = req.get_param(name)
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min)
        moment = dt.datetime.fromisoformat(value)
        return moment if moment.tzinfo is None else parse_utc(value)
    except ValueError as exc:
        raise _invalid(name, "must be an ISO 8601 date or date-time") from exc
