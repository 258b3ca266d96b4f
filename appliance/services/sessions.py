"""Tokens and sessions: JWTs name a database session, and the database decides.

A token is only a pointer: every request re-reads the session and the user's current
practice and role (one indexed query), so logout, password change, removal from a practice
and role changes take effect on the very next request, on every worker.
"""

from __future__ import annotations

import datetime as dt
import uuid

import jwt

from appliance import tenancy
from appliance.clock import Clock
from appliance.http.errors import ApiError
from appliance.models import AuthSession, User
from appliance.principal import Principal

ACCESS = "access"
PENDING_2FA = "2fa_pending"
PENDING_TTL = dt.timedelta(minutes=5)
ALGORITHM = "HS256"


def unauthorized(message: str = "the token is invalid or expired") -> ApiError:
    """401 with the Bearer challenge: the token cannot be used (any more)."""
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class Sessions:
    def __init__(self, secret: str, ttl_seconds: int, clock: Clock):
        self._secret = secret
        self._ttl = dt.timedelta(seconds=ttl_seconds)
        self._clock = clock

    def _encode(self, claims: dict, lifetime: dt.timedelta) -> str:
        now = self._clock.now()
        payload = {
            **claims,
            "iat": int(now.replace(tzinfo=dt.UTC).timestamp()),
            "exp": int((now + lifetime).replace(tzinfo=dt.UTC).timestamp()),
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def _decode(self, token: str) -> dict:
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM],
                # Times are checked against the injected clock below, never the machine's.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "require": ["exp", "iat", "sub", "typ"]},
            )
        except jwt.PyJWTError as exc:
            raise unauthorized() from exc
        # Expiry is checked against the injected clock, not the machine's, so it is testable.
        if claims["exp"] <= self._clock.now().replace(tzinfo=dt.UTC).timestamp():
            raise unauthorized("the token has expired")
        return claims

    def start(self, user: User) -> tuple[str, dt.datetime]:
        """Opens a session row and returns its access token and expiry."""
        now = self._clock.now()
        session = AuthSession.create(
            id=uuid.uuid4(), user_id=user.id, created_at=now, expires_at=now + self._ttl
        )
        claims = {"typ": ACCESS, "sub": str(user.id), "sid": str(session.id)}
        token = self._encode(claims, self._ttl)
        return token, session.expires_at

    def pending_2fa(self, user: User) -> str:
        """A short-lived token that only the 2FA verify endpoint accepts, for one sign-in: it
        names the last accepted code step, and any code accepted later spends it."""
        claims = {"typ": PENDING_2FA, "sub": str(user.id), "jti": uuid.uuid4().hex,
                  "stp": user.totp_last_step}
        return self._encode(claims, PENDING_TTL)

    def authenticate(self, token: str, *, pending_2fa: bool = False) -> Principal:
        claims = self._decode(token)
        wanted = PENDING_2FA if pending_2fa else ACCESS
        if claims["typ"] != wanted:
            raise unauthorized("this token cannot be used here")
        try:
            user_id = uuid.UUID(claims["sub"])
            session_id = uuid.UUID(claims["sid"]) if wanted == ACCESS else None
            step_at_issue = int(claims["stp"]) if wanted == PENDING_2FA else None
        except (KeyError, ValueError, TypeError) as exc:
            raise unauthorized() from exc
        if session_id is None:
            with tenancy.unscoped("a 2FA-pending token names its user, not a practice"):
                row = (
                    User.select(User.id, User.practice_id, User.role, User.email, User.name)
                    .where(User.id == user_id)
                    .dicts()
                    .first()
                )
        else:
            with tenancy.unscoped("a session names its user; the practice comes from the row"):
                row = self._session_row(session_id, user_id)
        if row is None:
            raise unauthorized("the session has ended")
        return Principal(
            user_id=row["id"], session_id=session_id, practice_id=row["practice_id"],
            role=row["role"], email=row["email"], name=row["name"], totp_step_at_issue=step_at_issue,
        )

    def _session_row(self, session_id: uuid.UUID, user_id: uuid.UUID) -> dict | None:
        """One indexed query: the live session joined with the user's current practice and role."""
        return (
            AuthSession.select(User.id, User.practice_id, User.role, User.email, User.name)
            .join(User, on=AuthSession.user_id == User.id)
            .where(
                AuthSession.id == session_id,
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_null(),
                AuthSession.expires_at > self._clock.now(),
            )
            .dicts()
            .first()
        )

    def end(self, session_id: uuid.UUID) -> None:
        AuthSession.update(revoked_at=self._clock.now()).where(
            AuthSession.id == session_id, AuthSession.revoked_at.is_null()
        ).execute()

    def live_of(self, user_id: uuid.UUID) -> list[AuthSession]:
        """The user's sessions that still work (not ended, not expired), newest first."""
        return list(
            AuthSession.select()
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_null(),
                   AuthSession.expires_at > self._clock.now())
            .order_by(AuthSession.created_at.desc(), AuthSession.id)
        )

    def end_own(self, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
        """Ends one live session of `user_id`; False when it is not one (another user's, ended,
        expired or unknown: the caller answers the same 404 for each)."""
        ended = AuthSession.update(revoked_at=self._clock.now()).where(
            AuthSession.id == session_id, AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_null(), AuthSession.expires_at > self._clock.now(),
        ).execute()
        return ended == 1

    def end_all(self, user_id: uuid.UUID) -> None:
        AuthSession.update(revoked_at=self._clock.now()).where(
            AuthSession.user_id == user_id, AuthSession.revoked_at.is_null()
        ).execute()
