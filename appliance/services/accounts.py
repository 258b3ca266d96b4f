"""Accounts: registration, login with lockout and optional TOTP, SSO sync, password change."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass

import peewee

from appliance import tenancy
from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_request, conflict, not_found
from appliance.models import LoginLockout, User
from appliance.principal import Principal
from appliance.services import passwords, totp
from appliance.services.audit import Audit
from appliance.services.sessions import Sessions, unauthorized

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
#: A count of failures with no new one for this long starts again at zero (the prune job).
FAILURES_FORGOTTEN_AFTER = dt.timedelta(days=1)


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
        lockout_key: bytes,
    ):
        self._db = database
        self._sessions = sessions
        self._audit = audit
        self._clock = clock
        self._sync_secret = sync_secret
        self._lockout_key = lockout_key

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
        """Same answers, the same hashing work and the same lockout whether or not the e-mail
        has an account: 401 for a wrong password, and after 5 failures 429 for 15 minutes.

        Failures are committed before the error is raised, so they count toward lockout.
        """
        email = normalise_email(email)
        with tenancy.unscoped("login looks the account up by e-mail"):
            user = User.get_or_none(User.email == email)
            ok = passwords.verify_password(user.password_hash if user else None, password)
            self._refuse_if_locked(email, user, caller)
            if user is None or not ok:
                with self._db.atomic():
                    self._count_failure(email, user, caller, reason="unknown" if user is None else "password")
                raise ApiError(401, "invalid_credentials", "e-mail or password is wrong")
            if user.totp_enabled:
                return {"twoFactorRequired": True, "pendingToken": self._sessions.pending_2fa(user)}
            with self._db.atomic():
                return self._login_succeeded(user, caller, method="password")

    def _email_key(self, email: str) -> str:
        """The address as the lockout table knows it: keyed, so the table names nobody."""
        return hmac.new(self._lockout_key, email.encode(), hashlib.sha256).hexdigest()

    def _refuse_if_locked(self, email: str, user: User | None, caller: Caller) -> None:
        """429 while the address is locked; the refused attempt is audited (someone is still
        trying) before the error is raised."""
        now = self._clock.now()
        locked_until = LoginLockout.select(LoginLockout.locked_until).where(
            LoginLockout.email_hash == self._email_key(email)
        ).scalar()
        if locked_until is None or locked_until <= now:
            return
        with self._db.atomic():
            self._audit.record("LOGIN_FAILED", ip=caller.ip, user_id=user.id if user else None,
                               practice_id=user.practice_id if user else None,
                               metadata={"reason": "locked" if user else "unknown"})
        retry = int((locked_until - now).total_seconds()) + 1
        raise ApiError(
            429, "account_locked", "too many failed attempts; try again later",
            {"retryAfterSeconds": retry}, headers={"Retry-After": str(retry)},
        )

    def _count_failure(self, email: str, user: User | None, caller: Caller, reason: str) -> None:
        """An atomic upsert, so concurrent failures on several workers all count."""
        now, key = self._clock.now(), self._email_key(email)
        LoginLockout.insert(email_hash=key, failed_logins=1, updated_at=now).on_conflict(
            conflict_target=[LoginLockout.email_hash],
            update={LoginLockout.failed_logins: LoginLockout.failed_logins + 1, LoginLockout.updated_at: now},
        ).execute()
        failures = LoginLockout.select(LoginLockout.failed_logins).where(
            LoginLockout.email_hash == key
        ).scalar()
        self._audit.record(
            "LOGIN_FAILED", ip=caller.ip, user_id=user.id if user else None,
            practice_id=user.practice_id if user else None, metadata={"reason": reason},
        )
        if failures >= MAX_FAILED_LOGINS:
            LoginLockout.update(failed_logins=0, locked_until=now + LOCKOUT).where(
                LoginLockout.email_hash == key
            ).execute()
            if user is not None:
                self._audit.record(
                    "ACCOUNT_LOCKED", ip=caller.ip, user_id=user.id, practice_id=user.practice_id,
                    metadata={"minutes": int(LOCKOUT.total_seconds() // 60)},
                )

    def _login_succeeded(self, user: User, caller: Caller, method: str) -> dict:
        LoginLockout.delete().where(LoginLockout.email_hash == self._email_key(user.email)).execute()
        self._audit.record(
            "LOGIN_SUCCESS", ip=caller.ip, user_id=user.id, practice_id=user.practice_id,
            metadata={"method": method},
        )
        return self._token_response(user)

    def verify_2fa(self, principal: Principal, code: str, caller: Caller) -> dict:
        with tenancy.unscoped("the 2FA step precedes the session"):
            user = User.get_by_id(principal.user_id)
            self._refuse_if_locked(user.email, user, caller)
            issued_at_step = principal.totp_step_at_issue
            if user.totp_last_step != issued_at_step:
                raise unauthorized("this sign-in step is spent; log in again")
            now = self._clock.now()
            step = totp.matching_step(user.totp_secret or "", code, now, user.totp_last_step)
            if not user.totp_enabled or step is None:
                with self._db.atomic():
                    self._count_failure(user.email, user, caller, reason="totp")
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

    def check_sync_secret(self, secret: str | None) -> None:
        """404 while SSO sync is off, 401 for a wrong secret: before the body is even read, so
        the switched-off endpoint answers a bad body exactly like a good one."""
        if not self._sync_secret:
            raise not_found("endpoint")
        if not secret or not hmac.compare_digest(secret.encode(), self._sync_secret.encode()):
            raise ApiError(401, "invalid_sync_secret", "the x-auth-secret header is wrong")

    def sync(self, secret: str | None, body: dict, caller: Caller) -> dict:
        """Links an SSO identity (provider, subject) to an account, creating it when new."""
        self.check_sync_secret(secret)
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

    def logout_everywhere(self, principal: Principal, caller: Caller) -> None:
        """Ends every session of the user, this one and those on other devices (a lost laptop,
        a shared terminal left signed in): their tokens stop working on the next request."""
        with tenancy.unscoped("a user ends their own sessions"), self._db.atomic():
            self._sessions.end_all(principal.user_id)
            self._audit.record(
                "LOGOUT_EVERYWHERE", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id,
            )

    def sessions(self, principal: Principal) -> dict:
        """The caller's own live sessions (this one marked `current`); nobody else's."""
        with tenancy.unscoped("a user lists their own sessions"):
            rows = self._sessions.live_of(principal.user_id)
        items = [{"id": str(row.id), "createdAt": isoformat(row.created_at),
                  "expiresAt": isoformat(row.expires_at), "current": row.id == principal.session_id}
                 for row in rows]
        return {"items": items, "total": len(items)}

    def end_session(self, principal: Principal, session_id: uuid.UUID, caller: Caller) -> None:
        """Ends one of the caller's own sessions (e.g. a computer left signed in); another
        user's session, an ended or an unknown one answers 404."""
        with tenancy.unscoped("a user ends one of their own sessions"), self._db.atomic():
            if not self._sessions.end_own(principal.user_id, session_id):
                raise not_found("session")
            self._audit.record(
                "SESSION_ENDED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="session", entity_id=session_id,
                metadata={"current": session_id == principal.session_id},
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

    def set_2fa(self, principal: Principal, code: str, enable: bool, caller: Caller,
                password: str | None = None) -> dict:
        """Enabling confirms the pending secret; disabling needs the password and a current code."""
        if not enable:
            with tenancy.unscoped("a user proves their own password"):
                password_hash = User.get_by_id(principal.user_id).password_hash
            if password is None or not passwords.verify_password(password_hash, password):
                raise ApiError(403, "wrong_password", "the password is wrong")
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
