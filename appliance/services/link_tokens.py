"""The secret tokens in links (consent forms, team invites): made, hashed and looked up here.

A link token carries 256 random bits; only its SHA-256 is stored, so a database dump opens no
link. Looking one up crosses practices by nature (the token names its practice), which is why
it happens here, in one reviewed place.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import TypeVar

from appliance import tenancy
from appliance.models.base import TenantModel

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
Row = TypeVar("Row", bound=TenantModel)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_by_token(model: type[Row], token: str) -> Row | None:
    """The row whose `token_hash` matches, in whichever practice; None for malformed tokens."""
    if not TOKEN.fullmatch(token):
        return None
    with tenancy.unscoped(f"a {model.__name__} link token names its practice"):
        return model.get_or_none(model.token_hash == token_hash(token))
