"""Who is calling: read from the database on every request, never trusted from the token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID | None
    practice_id: uuid.UUID | None
    role: str | None
    email: str
    name: str
    #: Only for a 2FA-pending token: the user's last accepted TOTP step when it was issued. The
    #: token completes one sign-in at most: once any code is accepted after it, it is spent.
    totp_step_at_issue: int | None = None
