"""Accounts: registration, login with lockout and optional TOTP, SSO sync, password change."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from dataclasses import dataclass

import peewee

from appliance import tenancy
from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_request, conflict, not_found
from appliance.models import User
from appliance.principal import Principal
from appliance.services import passwords, totp
from appliance.services.audit import Audit
from appliance.services.sessions import Sessions, unauthorized

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_view(user: User | Principal) -> dict:
    user_id = user.user_id if isinstance(user, Principal) else user.id
    return {
        "id": str(user_id),
        "email": user.email,
        "name": user.name,
        "practiceId": str(user.practice_id) if user.practice_id else None,
        "role": user.role,
    }


@dataclass(frozen=True)
class Caller:
    """Where a request came from, for audit entries."""

    ip: str | None


class Accounts:
    def __init__(
        self,
        database: peewee.Database,
        sessions: Sessions,
        audit: Audit,
        clock: Clock,
        sync_secret: str,
    ):
        self._db = database
        self._sessions = sessions
        self._audit = audit
        self._clock = clock
        self._sync_secret = sync_secret

    def _token_response(self, user: User) -> dict:
        token, expires = self._sessions.start(user)
        return {"token": token, "expiresAt": isoformat(expires), "user": user_view(user)}

    def _check_password_policy(self, password: str, email: str, field: str = "password") -> None:
        problem = passwords.policy_problem(password, email)
        if problem:
            raise bad_request("the password is not acceptable", [{"field": field, "problem": problem}])

    def register(self, email: str, password: str, name: str, caller: Caller) -> dict:
        email = normalise_email(email)
        self._check_password_policy(password, email)
        password_hash = passwords.hash_password(password)  # outside the transaction: slow
        taken = conflict("email_taken", "an account with this e-mail address exists")
        try:
            with tenancy.unscoped("a new account belongs to no practice yet"), self._db.atomic():
                if User.select().where(User.email == email).exists():
                    raise taken
                user = User.create(
                    id=uuid.uuid4(), email=email, name=name.strip(), password_hash=password_hash,
                    created_at=self._clock.now(),
                )
                self._audit.record("USER_REGISTERED", ip=caller.ip, user_id=user.id)
                return self._token_response(user)
        except peewee.IntegrityError as exc:  # the same address registered at the same moment
            raise taken from exc

    def login(self, email: str, password: str, caller: Caller) -> dict:
        """Same answer and the same hashing work whether or not the e-mail exists.

        Failures are committed before the error is raised, so they count toward lockout.
        """
        email = normalise_email(email)
        with tenancy.unscoped("login looks the account up by e-mail"):
            user = User.get_or_none(User.email == email)
            ok = passwords.verify_password(user.password_hash if user else None, password)
            if user is None:
                with self._db.atomic():
                    self._audit.record("LOGIN_FAILED", ip=caller.ip, metadata={"reason": "unknown"})
                raise ApiError(401, "invalid_credentials", "e-mail or password is wrong")
            self._refuse_if_locked(user, caller)
            if not ok:
                with self._db.atomic():
                    self._count_failure(user, caller, reason="password")
                raise ApiError(401, "invalid_credentials", "e-mail or password is wrong")
            if user.totp_enabled:
                return {"twoFactorRequired": True, "pendingToken": self._sessions.pending_2fa(user)}
            with self._db.atomic():
                return self._login_succeeded(user, caller, method="password")

    def _refuse_if_locked(self, user: User, caller: Caller) -> None:
        """429 while the account is locked; the refused attempt is audited (someone is still
        trying) before the error is raised."""
        if user.locked_until and user.locked_until > self._clock.now():
            with self._db.atomic():
                self._audit.record("LOGIN_FAILED", ip=caller.ip, user_id=user.id,
                                   practice_id=user.practice_id, metadata={"reason": "locked"})
            retry = int((user.locked_until - self._clock.now()).total_seconds()) + 1
            raise ApiError(
                429, "account_locked", "too many failed attempts; try again later",
                {"retryAfterSeconds": retry}, headers={"Retry-After": str(retry)},
            )

    def _count_failure(self, user: User, caller: Caller, reason: str) -> None:
        """An atomic increment, so concurrent failures on several workers all count."""
        User.update(failed_logins=User.failed_logins + 1).where(User.id == user.id).execute()
        failures = User.select(User.failed_logins).where(User.id == user.id).scalar()
        self._audit.record(
            "LOGIN_FAILED", ip=caller.ip, user_id=user.id, practice_id=user.practice_id,
            metadata={"reason": reason},
        )
        if failures >= MAX_FAILED_LOGINS:
            User.update(failed_logins=0, locked_until=self._clock.now() + LOCKOUT).where(
                User.id == user.id
            ).execute()
            self._audit.record(
                "ACCOUNT_LOCKED", ip=caller.ip, user_id=user.id, practice_id=user.practice_id,
                metadata={"minutes": int(LOCKOUT.total_seconds() // 60)},
            )

    def _login_succeeded(self, user: User, caller: Caller, method: str) -> dict:
        User.update(failed_logins=0, locked_until=None).where(User.id == user.id).execute()
        self._audit.record(
            "LOGIN_SUCCESS", ip=caller.ip, user_id=user.id, practice_id=user.practice_id,
            metadata={"method": method},
        )
        return self._token_response(user)

    def verify_2fa(self, principal: Principal, code: str, caller: Caller) -> dict:
        with tenancy.unscoped("the 2FA step precedes the session"):
            user = User.get_by_id(principal.user_id)
            self._refuse_if_locked(user, caller)
            issued_at_step = principal.totp_step_at_issue
            if user.totp_last_step != issued_at_step:
                raise unauthorized("this sign-in step is spent; log in again")
            now = self._clock.now()
            step = totp.matching_step(user.totp_secret or "", code, now, user.totp_last_step)
            if not user.totp_enabled or step is None:
                with self._db.atomic():
                    self._count_failure(user, caller, reason="totp")
                raise ApiError(401, "invalid_code", "the code is wrong or was already used")
            with self._db.atomic():
                # Conditional on the step the token was issued at: of concurrent verifies (one
                # code twice, or two codes on one token) exactly one wins.
                used = User.update(totp_last_step=step).where(
                    User.id == user.id, User.totp_last_step == issued_at_step
                ).execute()
                if not used:
                    raise ApiError(401, "invalid_code", "the code is wrong or was already used")
                return self._login_succeeded(user, caller, method="password+totp")

    def sync(self, secret: str | None, body: dict, caller: Caller) -> dict:
        """Links an SSO identity (provider, subject) to an account, creating it when new."""
        if not self._sync_secret:
            raise not_found("endpoint")
        if not secret or not hmac.compare_digest(secret.encode(), self._sync_secret.encode()):
            raise ApiError(401, "invalid_sync_secret", "the x-auth-secret header is wrong")
        email = normalise_email(body["email"])
        provider, subject = body["provider"], body["subject"]
        with tenancy.unscoped("SSO identities are global"), self._db.atomic():
            user = User.get_or_none((User.sso_provider == provider) & (User.sso_subject == subject))
            if user is None:
                user = User.get_or_none(User.email == email)
                if user is not None and user.sso_provider is not None:
                    raise conflict("identity_conflict", "this e-mail is linked to another identity")
                if user is None:
                    user = User.create(
                        id=uuid.uuid4(), email=email, name=body["name"].strip(),
                        created_at=self._clock.now(),
                    )
                User.update(sso_provider=provider, sso_subject=subject).where(
                    User.id == user.id
                ).execute()
            self._audit.record(
                "USER_SYNCED", ip=caller.ip, user_id=user.id, practice_id=user.practice_id,
                metadata={"provider": provider},
            )
            return self._token_response(User.get_by_id(user.id))

    def me(self, principal: Principal) -> dict:
        with tenancy.unscoped("a user reads their own account"):
            user = User.get_by_id(principal.user_id)
        return {**user_view(user), "twoFactorEnabled": user.totp_enabled}

    def logout(self, principal: Principal, caller: Caller) -> None:
        # Unscoped: a user without a practice has no practice scope for the audit entry.
        with tenancy.unscoped("a user ends their own session"), self._db.atomic():
            self._sessions.end(principal.session_id)
            self._audit.record(
                "LOGOUT", ip=caller.ip, user_id=principal.user_id, practice_id=principal.practice_id
            )

    def change_password(self, principal: Principal, current: str, new: str, caller: Caller) -> dict:
        """Ends every session of the user (other devices too) and opens a fresh one."""
        self._check_password_policy(new, principal.email, field="newPassword")
        with tenancy.unscoped("a user changes their own password"):
            user = User.get_by_id(principal.user_id)
            if not passwords.verify_password(user.password_hash, current):
                raise ApiError(403, "wrong_password", "the current password is wrong")
            new_hash = passwords.hash_password(new)
            with self._db.atomic():
                User.update(password_hash=new_hash).where(User.id == user.id).execute()
                self._sessions.end_all(user.id)
                self._audit.record(
                    "PASSWORD_CHANGED", ip=caller.ip, user_id=user.id, practice_id=user.practice_id
                )
                return self._token_response(user)

    def setup_2fa(self, principal: Principal) -> dict:
        with tenancy.unscoped("a user sets up their own second factor"), self._db.atomic():
            user = User.get_by_id(principal.user_id)
            if user.totp_enabled:
                raise conflict("two_factor_enabled", "two-factor authentication is already on")
            secret = totp.new_secret()
            User.update(totp_secret=secret).where(User.id == user.id).execute()
        return {"secret": secret, "otpauthUri": totp.provisioning_uri(secret, user.email)}

    def set_2fa(self, principal: Principal, code: str, enable: bool, caller: Caller) -> dict:
        """Enabling confirms the pending secret; disabling needs a current code too."""
        with tenancy.unscoped("a user changes their own second factor"), self._db.atomic():
            user = User.get_by_id(principal.user_id)
            if user.totp_enabled == enable:
                state = "on" if enable else "off"
                raise conflict("two_factor_unchanged", f"two-factor authentication is already {state}")
            if not user.totp_secret:
                raise conflict("two_factor_not_set_up", "call the setup endpoint first")
            step = totp.matching_step(user.totp_secret, code, self._clock.now(), user.totp_last_step)
            if step is None:
                raise ApiError(400, "invalid_code", "the code is wrong or was already used")
            User.update(
                totp_enabled=enable,
                totp_last_step=step,
                totp_secret=user.totp_secret if enable else None,
            ).where(User.id == user.id).execute()
            self._audit.record(
                "TWO_FACTOR_ENABLED" if enable else "TWO_FACTOR_DISABLED", ip=caller.ip,
                user_id=user.id, practice_id=user.practice_id,
            )
        return {"twoFactorEnabled": enable}
