"""The lookupHash of a patient identity (docs/crypto.md, "lookupHash").

Every client must spell an identity the same way before hashing it, or the same patient gets
two hashes. The rules are pinned to one Unicode version and use shipped tables
(`appliance/data/lookup_unicode.json`, written by `tools/lookup_unicode.py`) for what a
runtime may know differently: which code points exist, which are ignorable, how they fold.
Normalisation (NFKC) comes from the runtime; Unicode's stability policy keeps it the same for
every code point the tables allow.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import json
import re
import unicodedata
from importlib import resources

from nacl.pwhash import argon2id

from appliance import envelopes as env

#: The Unicode White_Space property, spelled out (JavaScript's \s differs).
_WHITESPACE = re.compile(
    r"[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
YEAR_MIN, YEAR_MAX = 1900, 2099


class _Ranges:
    """Inclusive [first, last] runs of code points, searched by bisection."""

    def __init__(self, runs: list[list[int]]):
        self._firsts = [first for first, _ in runs]
        self._lasts = [last for _, last in runs]

    def __contains__(self, code_point: int) -> bool:
        index = bisect.bisect_right(self._firsts, code_point) - 1
        return index >= 0 and code_point <= self._lasts[index]


@functools.cache
def tables() -> tuple[str, _Ranges, _Ranges, dict[int, str]]:
    data = json.loads(resources.files("appliance").joinpath("data/lookup_unicode.json").read_text("utf-8"))
    folding = {code_point: "".join(map(chr, mapped)) for code_point, mapped in data["caseFolding"]}
    return data["unicodeVersion"], _Ranges(data["allowed"]), _Ranges(data["ignorable"]), folding


def normalise_name(value: str, field: str = "name") -> str:
    """One name, spelled the one way of the contract (the steps of docs/crypto.md)."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    _, allowed, ignorable, folding = tables()
    for char in value:
        if ord(char) not in allowed:
            raise ValueError(f"{field} holds U+{ord(char):04X}, which names may not contain")
    kept = "".join(char for char in value if ord(char) not in ignorable)
    composed = unicodedata.normalize("NFKC", kept)
    folded = unicodedata.normalize("NFKC", "".join(folding.get(ord(c), c) for c in composed))
    name = _WHITESPACE.sub(" ", folded).strip(" ")
    if not name:
        raise ValueError(f"{field} must not be empty")
    if "|" in name:
        raise ValueError(f"{field} must not contain '|' (it separates the parts)")
    return name


def check_date_of_birth(value: str) -> str:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("date of birth must be written YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("date of birth is not a real date") from exc
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        raise ValueError(f"date of birth must lie in the years {YEAR_MIN}..{YEAR_MAX}")
    return value


def normalise_identity(last_name: str, first_name: str, date_of_birth: str) -> str:
    """Spell a patient identity one way, so every client finds the same patient."""
    check_date_of_birth(date_of_birth)
    last = normalise_name(last_name, "last name")
    first = normalise_name(first_name, "first name")
    return f"{last}|{first}|{date_of_birth}"


def lookup_hash(lookup_salt_b64: str, last_name: str, first_name: str, date_of_birth: str) -> str:
    """Derive the lookupHash: salted per practice and slow, because names x birth dates is
    a small space that a fast hash would give away to anyone holding the database."""
    salt = env.b64decode_strict(lookup_salt_b64, "lookupSalt", exact=env.LOOKUP_SALT_BYTES)
    identity = normalise_identity(last_name, first_name, date_of_birth)
    digest = argon2id.kdf(
        env.LOOKUP_HASH_BYTES,
        identity.encode("utf-8"),
        salt,
        opslimit=env.LOOKUP_OPSLIMIT,
        memlimit=env.LOOKUP_MEMLIMIT,
    )
    return digest.hex()
