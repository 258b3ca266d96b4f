"""Canonical JSON (RFC 8785, JCS) for the documents this appliance hashes, and the formHash.

The documents hold objects, arrays, strings, integers, booleans and null, never fractions, so
the part of JCS that serialises floating-point numbers is not needed: a float is refused, as
is an integer outside the range that JavaScript represents exactly (|n| <= 2^53 - 1), where a
browser's JSON.parse would already have changed the number. Keys are sorted by their UTF-16
code units, as JCS says (Python sorts strings by code points, which differs past U+FFFF).
Strings are written as ECMAScript's JSON.stringify writes them: `"` and `\\` escaped, the
control characters U+0000..U+001F as \\b \\f \\n \\r \\t or \\u00xx, everything else as is,
in UTF-8. docs/forms.md says this for client authors, with a worked example.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


class NotCanonicalisable(ValueError):
    pass


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _string(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate has no UTF-8 form
        raise NotCanonicalisable("a string holds a lone surrogate") from exc
    return json.dumps(value, ensure_ascii=False)


def _write(value: Any, out: list[str]) -> None:
    if value is None or value is True or value is False:
        out.append(json.dumps(value))
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NotCanonicalisable("an integer outside the range JavaScript represents exactly")
        out.append(str(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise NotCanonicalisable("an object key is not a string")
        out.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_key)):
            out.append(("," if index else "") + _string(key) + ":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise NotCanonicalisable(f"{type(value).__name__} values are not part of these documents")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 serialisation of `value` as UTF-8 bytes."""
    out: list[str] = []
    _write(value, out)
    return "".join(out).encode("utf-8")


def form_hash(document: dict) -> str:
    """Lowercase hex SHA-256 of the canonical form document without its `formHash` key."""
    content = {key: value for key, value in document.items() if key != "formHash"}
    return hashlib.sha256(canonical_json(content)).hexdigest()
