"""Text no database here can store: NUL (PostgreSQL refuses it in text columns and parameters)
and lone surrogates (no UTF-8 form, so neither engine can bind them). JSON allows both as
escapes, and percent-encoding allows NUL. Refused with a 400 where client text comes in, so
that such a request fails as the client's mistake, not as a 500 from the database driver."""

from __future__ import annotations

from typing import Any

import falcon

from appliance.http.errors import bad_request

PROBLEM = "contains a character that cannot be stored (NUL or a lone surrogate)"


def unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unstorable_fields(data: Any, path: str = "") -> list[str]:
    """The paths (a.b.0) of the strings in parsed JSON that cannot be stored."""
    if isinstance(data, str):
        return [path or "(body)"] if unstorable(data) else []
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if unstorable(key):
                found.append(f"{path}.(a property name)" if path else "(a property name)")
                continue
            found += unstorable_fields(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += unstorable_fields(value, f"{path}.{index}" if path else str(index))
    return found


def check_request_target(req: falcon.Request) -> None:
    """400 for a path or query string (after percent-decoding) with text that cannot be stored."""
    if unstorable(req.path):
        raise bad_request("the path is invalid", [{"field": "(path)", "problem": PROBLEM}])
    fields = [name if not unstorable(name) else "(a parameter name)"
              for name, values in req.params.items()
              for value in (values if isinstance(values, list) else [values])
              if unstorable(name) or unstorable(value)]
    if fields:
        raise bad_request("the query string is invalid",
                          [{"field": field, "problem": PROBLEM} for field in fields])
