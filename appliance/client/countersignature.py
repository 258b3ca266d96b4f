"""The countersignature document of docs/crypto.md: what a physician confirms about the
information talk, encrypted and signed by the staff client, never readable by the server."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from appliance.forms.canonical import canonical_json

NOTE_MAX_CHARS = 2000
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CountersignatureInvalid(ValueError):
    """A decrypted countersignature that breaks the contract: readers show nothing of it."""


def make_document(talk_date: str, note: str | None = None) -> bytes:
    """The plaintext a staff client encrypts: canonical JSON, checked like a reader checks it."""
    document = {"v": 2, "talkDate": talk_date, "note": note}
    check_document(document)
    return canonical_json(document)


def parse_document(plain: bytes) -> dict[str, Any]:
    try:
        document = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CountersignatureInvalid("not UTF-8 JSON") from exc
    check_document(document)
    return document


def check_document(document: Any) -> None:
    """Exactly `v` (2), `talkDate` (a real YYYY-MM-DD date) and `note` (1..2000 characters or
    null); anything else is refused."""
    if not isinstance(document, dict) or set(document) != {"v", "talkDate", "note"}:
        raise CountersignatureInvalid("must have exactly the keys v, talkDate and note")
    if type(document["v"]) is not int or document["v"] != 2:
        raise CountersignatureInvalid("v must be the integer 2")
    talk_date = document["talkDate"]
    if not isinstance(talk_date, str) or not _DATE.fullmatch(talk_date):
        raise CountersignatureInvalid("talkDate must be YYYY-MM-DD")
    try:
        dt.date.fromisoformat(talk_date)
    except ValueError as exc:
        raise CountersignatureInvalid("talkDate is not a real date") from exc
    note = document["note"]
    if note is not None and (not isinstance(note, str) or not 1 <= len(note) <= NOTE_MAX_CHARS):
        raise CountersignatureInvalid(f"note must be null or 1..{NOTE_MAX_CHARS} characters")
