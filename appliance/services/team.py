"""The practice team: members and their roles, e-mail invitations, and joining by invite token.

Every change to who belongs to a practice, or with which role, first takes the practice's
team lock (`_lock_team`). The rules that span several rows ("at least one ADMIN", "one live
invite per address", team-size limits) are then checked and changed by one transaction at a
time, on any number of workers. The single-row races (two accepts of one token) are decided
by conditional UPDATEs as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from typing import Protocol

import peewee

from appliance import tenancy
from appliance.clock import Clock, isoformat
from appliance.db import engine_of
from appliance.http.errors import ApiError, bad_request, conflict, not_found
from appliance.http.operation import ADMIN
from appliance.http.pagination import Page
from appliance.mail import LOCALES, OutgoingMail, team_invite_mail
from appliance.models import Practice, TeamInvite, User
from appliance.outbox import Outbox, mail_view
from appliance.principal import Principal
from appliance.services import passwords
from appliance.services.accounts import Accounts, Caller, normalise_email, user_view
from appliance.services.audit import Audit
from appliance.services.link_tokens import find_by_token, new_token, token_hash
from appliance.services.sessions import Sessions

log = logging.getLogger("appliance.team")
INVITE_TTL = dt.timedelta(days=7)
_LOCK_PREFIX = b"appliance team lock|"
_GONE = {
    "ACCEPTED": ("invite_used", "this invite was already accepted"),
    "REVOKED": ("invite_revoked", "this invite was revoked"),
    "EXPIRED": ("invite_expired", "this invite has expired"),
}


class SeatPolicy(Protocol):
    """The seam for team-size limits (billing plans): asked under the team lock before someone
    is invited or joins, so its own counts are stable; raises an ApiError to refuse."""

    def check_seat(self, practice_id: uuid.UUID) -> None: ...


class NoSeatLimit:
    """A self-hosted appliance without billing: teams of any size."""

    def check_seat(self, practice_id: uuid.UUID) -> None:
        return None



def mask_email(email: str) -> str:
    """Enough for the invited person to recognise their address, not enough to learn it."""
    local, _, domain = email.partition("@")
    shown = local[0] + "***" + (local[-1] if len(local) > 2 else "")
    return f"{shown}@{domain}"


def invite_mail(to: str, practice: Practice, role: str, link: str, expires_at: dt.datetime) -> OutgoingMail:
    """One message in German and English (a new colleague may read only one of them), the
    practice's own language first."""
    first = practice.locale if practice.locale in LOCALES else "de"
    parts = [
        team_invite_mail(to, locale, practice.name, role, link, expires_at, practice.timezone)
        for locale in (first, *(other for other in LOCALES if other != first))
    ]
    return OutgoingMail(
        to=to,
        subject=" / ".join(part.subject for part in parts),
        text=("\n" + "-" * 60 + "\n\n").join(part.text for part in parts),
    )


def _gone(status: str) -> ApiError:
    code, message = _GONE.get(status, _GONE["ACCEPTED"])
    return ApiError(410, code, message)


def _member_view(user: User) -> dict:
    return {
        "id": str(user.id),
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "joinedAt": isoformat(user.joined_at),
        "twoFactorEnabled": user.totp_enabled,
    }


class Team:
    def __init__(
        self,
        database: peewee.Database,
        sessions: Sessions,
        accounts: Accounts,
        audit: Audit,
        clock: Clock,
        outbox: Outbox,
        public_base_url: str,
        seats: SeatPolicy,
    ):
        self._db = database
        self._postgres = engine_of(database) == "postgresql"
        self._sessions = sessions
        self._accounts = accounts
        self._audit = audit
        self._clock = clock
        self._outbox = outbox
        self._base_url = public_base_url.rstrip("/")
        self._seats = seats

    def _lock_team(self, practice_id: uuid.UUID) -> None:
        """Serialises the team changes of one practice until the transaction ends.

        PostgreSQL: an advisory transaction lock keyed by the practice. SQLite: every
        transaction already holds the database's write lock from BEGIN (IMMEDIATE).
        """
        if self._postgres:
            digest = hashlib.sha256(_LOCK_PREFIX + practice_id.bytes).digest()
            key = int.from_bytes(digest[:8], "big", signed=True)
            self._db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))

    # ----- members (inside the ADMIN's practice scope) -----

    def members(self, page: Page) -> dict:
        query = User.select()
        total = query.count()
        rows = page.apply(query.order_by(User.joined_at, User.id))
        return page.envelope([_member_view(user) for user in rows], total)

    def _member(self, user_id: uuid.UUID) -> User:
        member = User.get_or_none(User.id == user_id)  # the tenant filter: only this practice
        if member is None:
            raise not_found("member")
        return member

    def _keep_another_admin(self, member: User) -> None:
        """Called before `member` stops being an ADMIN, under the team lock."""
        if member.role == ADMIN and not User.select().where(
            User.role == ADMIN, User.id != member.id
        ).exists():
            raise conflict("last_admin", "the practice must keep at least one ADMIN")

    @staticmethod
    def _still_admin(principal: Principal) -> None:
        """The caller's role was read before the lock; a concurrent change may have ended it."""
        if not User.select().where(User.id == principal.user_id, User.role == ADMIN).exists():
            raise ApiError(403, "forbidden", "your role may not do this")

    def remove(self, principal: Principal, user_id: uuid.UUID, caller: Caller) -> None:
        """The member leaves the practice (the account stays) and all their sessions end."""
        if user_id == principal.user_id:
            raise conflict("cannot_remove_self", "an ADMIN cannot remove themselves")
        with self._db.atomic():
            self._lock_team(principal.practice_id)
            member = self._member(user_id)
            self._keep_another_admin(member)
            self._still_admin(principal)
            with tenancy.unscoped("the member's row moves out of the practice"):
                User.update(practice_id=None, role=None, joined_at=None).where(
                    User.id == member.id, User.practice_id == member.practice_id
                ).execute()
            self._sessions.end_all(member.id)
            self._audit.record(
                "TEAM_MEMBER_REMOVED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="user", entity_id=member.id,
                metadata={"role": member.role},
            )

    def change_role(self, principal: Principal, user_id: uuid.UUID, role: str, caller: Caller) -> dict:
        """Sessions re-read the role on every request, so the change applies on the next one."""
        if user_id == principal.user_id:
            raise conflict("cannot_change_own_role", "an ADMIN cannot change their own role")
        with self._db.atomic():
            self._lock_team(principal.practice_id)
            member = self._member(user_id)
            if role != ADMIN:
                self._keep_another_admin(member)
            self._still_admin(principal)
            if member.role == role:
                return _member_view(member)
            User.update(role=role).where(User.id == member.id).execute()
            self._audit.record(
                "TEAM_MEMBER_ROLE_CHANGED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="user", entity_id=member.id,
                metadata={"from": member.role, "to": role},
            )
            return _member_view(User.get_by_id(member.id))

    # ----- invites, the ADMIN's side -----

    def _refuse_if_member_or_invited(self, email: str, now: dt.datetime,
                                     except_invite: uuid.UUID | None = None) -> None:
        # Only this practice's members count: whether the address has an account elsewhere is
        # another practice's business, and is decided when the invite is accepted.
        if User.select().where(User.email == email).exists():
            raise conflict("already_member", "this address belongs to a member of the practice")
        live = TeamInvite.select().where(
            TeamInvite.email == email, TeamInvite.is_open(), TeamInvite.expires_at > now
        )
        if except_invite is not None:
            live = live.where(TeamInvite.id != except_invite)
        if live.exists():
            raise conflict("invite_pending", "this address already has a pending invite")

    def invite(self, principal: Principal, email: str, role: str, caller: Caller) -> dict:
        email = normalise_email(email)
        token = new_token()
        now = self._clock.now()
        with self._db.atomic():
            self._lock_team(principal.practice_id)
            self._refuse_if_member_or_invited(email, now)
            self._seats.check_seat(principal.practice_id)
            invite = TeamInvite.create(
                id=uuid.uuid4(), email=email, role=role, token_hash=token_hash(token),
                invited_by=principal.user_id, created_at=now, expires_at=now + INVITE_TTL,
            )
            self._audit.record(
                "TEAM_MEMBER_INVITED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="team_invite", entity_id=invite.id,
                metadata={"role": role},
            )
        return self._deliver(invite.id, token)

    def resend(self, principal: Principal, invite_id: uuid.UUID, caller: Caller) -> dict:
        """A fresh token and 7 more days; the old link stops working (only hashes are kept)."""
        token = new_token()
        now = self._clock.now()
        with self._db.atomic():
            self._lock_team(principal.practice_id)
            invite = self._invite(invite_id)
            if invite.status(now) not in ("PENDING", "EXPIRED"):
                raise conflict("invite_closed", "this invite was already accepted or revoked")
            self._refuse_if_member_or_invited(invite.email, now, except_invite=invite.id)
            self._seats.check_seat(principal.practice_id)
            TeamInvite.update(
                token_hash=token_hash(token), expires_at=now + INVITE_TTL, email_sent_at=None,
                mail_status=None, mail_error=None, mail_updated_at=None,
            ).where(TeamInvite.id == invite.id).execute()
            self._audit.record(
                "TEAM_MEMBER_INVITED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="team_invite", entity_id=invite.id,
                metadata={"role": invite.role, "resent": True},
            )
        return self._deliver(invite.id, token)

    def _deliver(self, invite_id: uuid.UUID, token: str) -> dict:
        """After the commit: the mail is queued for the outbox (its result is the invite's
        `mail`, and `emailSentAt` once it went out); the link can be copied meanwhile."""
        invite = TeamInvite.get_by_id(invite_id)
        practice = Practice.get_by_id(invite.practice_id)
        link = f"{(practice.public_base_url or self._base_url).rstrip('/')}/invite/{token}"
        queued = self._outbox.queue(
            TeamInvite, invite, practice.id,
            lambda: invite_mail(invite.email, practice, invite.role, link, invite.expires_at),
            on_sent=lambda: {"email_sent_at": self._clock.now()})
        if not queued:
            log.warning("team invite e-mail not sent", extra={"invite_id": str(invite.id)})
        invite = TeamInvite.get_by_id(invite.id)
        return {**self._invite_view(invite), "token": token, "link": link, "emailSent": queued}

    def _invite_view(self, invite: TeamInvite) -> dict:
        return {
            "id": str(invite.id),
            "email": invite.email,
            "role": invite.role,
            "status": invite.status(self._clock.now()),
            "invitedBy": str(invite.invited_by) if invite.invited_by else None,
            "createdAt": isoformat(invite.created_at),
            "expiresAt": isoformat(invite.expires_at),
            "emailSentAt": isoformat(invite.email_sent_at),
            "mail": mail_view(invite, self._clock.now()),
        }

    def _invite(self, invite_id: uuid.UUID) -> TeamInvite:
        invite = TeamInvite.get_or_none(TeamInvite.id == invite_id)
        if invite is None:
            raise not_found("invite")
        return invite

    def invites(self, page: Page) -> dict:
        """Invites still open (pending or expired), newest first: to revoke or resend."""
        query = TeamInvite.select().where(TeamInvite.is_open())
        total = query.count()
        rows = page.apply(query.order_by(TeamInvite.created_at.desc(), TeamInvite.id))
        return page.envelope([self._invite_view(invite) for invite in rows], total)

    def revoke(self, principal: Principal, invite_id: uuid.UUID, caller: Caller) -> None:
        with self._db.atomic():
            invite = self._invite(invite_id)
            revoked = TeamInvite.update(revoked_at=self._clock.now()).where(
                TeamInvite.id == invite.id, TeamInvite.is_open()
            ).execute()
            if not revoked:
                raise conflict("invite_closed", "this invite was already accepted or revoked")
            self._audit.record(
                "TEAM_INVITE_REVOKED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="team_invite", entity_id=invite.id,
                metadata={"role": invite.role},
            )

    # ----- invites, the invited person's side (public: the token is the credential) -----

    def _open_invite(self, token: str) -> TeamInvite:
        """The pending invite of a token; unknown, used, revoked and expired differ by code only."""
        invite = find_by_token(TeamInvite, token)
        if invite is None:
            raise not_found("invite")
        status = invite.status(self._clock.now())
        if status != "PENDING":
            raise _gone(status)
        return invite

    @staticmethod
    def _account(email: str) -> User | None:
        with tenancy.unscoped("the invited address may have an account, in no or any practice"):
            return User.get_or_none(User.email == email)

    def public_get(self, token: str) -> dict:
        invite = self._open_invite(token)
        with tenancy.practice_scope(invite.practice_id):
            practice = Practice.get_by_id(invite.practice_id)
        return {
            "practice": {"name": practice.name},
            "role": invite.role,
            "email": mask_email(invite.email),
            "expiresAt": isoformat(invite.expires_at),
            "accountExists": self._account(invite.email) is not None,
        }

    def accept(self, token: str, body: dict, bearer: str | None, caller: Caller) -> dict:
        """A new person gets an account; an existing account proves itself and joins.

        The proof is the account's Bearer token or its password. A password goes through the
        normal login, so lockout and two-factor authentication apply here as well.
        """
        invite = self._open_invite(token)
        principal = self._sessions.authenticate(bearer) if bearer else None
        account = self._account(invite.email)
        if principal is not None and (account is None or principal.user_id != account.id):
            raise ApiError(403, "wrong_account", "this invite is for another e-mail address")
        if account is None:
            return self._join_as_new(invite, body, caller)
        if principal is not None:
            return self._join_existing(invite, account.id, caller, login=None)
        if "password" not in body:
            raise bad_request(
                "an account exists for this address: send its password or its Bearer token",
                [{"field": "password", "problem": "is required"}], code="account_proof_required",
            )
        login = self._accounts.login(invite.email, body["password"], caller)
        if login.get("twoFactorRequired"):
            raise ApiError(403, "two_factor_required",
                           "this account uses two-factor authentication: log in and send its Bearer token")
        return self._join_existing(invite, account.id, caller, login=login)

    def _claim(self, invite: TeamInvite, user_id: uuid.UUID, now: dt.datetime) -> None:
        """Exactly one accept wins: the invite is taken by a conditional UPDATE, not by a read."""
        claimed = TeamInvite.update(accepted_at=now, accepted_by=user_id).where(
            TeamInvite.id == invite.id, TeamInvite.is_open(), TeamInvite.expires_at > now
        ).execute()
        if not claimed:
            raise _gone(TeamInvite.get_by_id(invite.id).status(now))

    def _joined(self, invite: TeamInvite, user_id: uuid.UUID, caller: Caller, new_account: bool) -> None:
        self._audit.record(
            "TEAM_MEMBER_JOINED", ip=caller.ip, user_id=user_id, practice_id=invite.practice_id,
            entity_type="user", entity_id=user_id,
            metadata={"role": invite.role, "newAccount": new_account},
        )

    def _join_as_new(self, invite: TeamInvite, body: dict, caller: Caller) -> dict:
        problems = [{"field": name, "problem": "is required"} for name in ("name", "password")
                    if name not in body]
        if "password" in body:
            problem = passwords.policy_problem(body["password"], invite.email)
            if problem:
                problems.append({"field": "password", "problem": problem})
        if problems:
            raise bad_request("name and password are needed for a new account", problems)
        password_hash = passwords.hash_password(body["password"])  # outside the transaction: slow
        user_id, now = uuid.uuid4(), self._clock.now()
        try:
            with tenancy.practice_scope(invite.practice_id), self._db.atomic():
                self._lock_team(invite.practice_id)
                self._claim(invite, user_id, now)
                self._seats.check_seat(invite.practice_id)
                user = User.create(
                    id=user_id, practice_id=invite.practice_id, email=invite.email,
                    name=body["name"].strip(), password_hash=password_hash, role=invite.role,
                    joined_at=now, created_at=now,
                )
                self._audit.record("USER_REGISTERED", ip=caller.ip, user_id=user.id,
                                   practice_id=invite.practice_id)
                self._joined(invite, user.id, caller, new_account=True)
                token, expires = self._sessions.start(user)
        except peewee.IntegrityError:
            # An account for the address was registered in the meantime; nothing was written.
            raise conflict("email_taken", "an account with this address now exists: accept with its"
                           " password or Bearer token") from None
        return {"token": token, "expiresAt": isoformat(expires), "user": user_view(user)}

    def _join_existing(self, invite: TeamInvite, user_id: uuid.UUID, caller: Caller,
                       login: dict | None) -> dict:
        now = self._clock.now()
        with tenancy.practice_scope(invite.practice_id), self._db.atomic():
            self._lock_team(invite.practice_id)
            self._claim(invite, user_id, now)
            with tenancy.unscoped("the account joins from no practice"):
                if User.select().where(User.id == user_id, User.practice_id == invite.practice_id).exists():
                    raise conflict("already_member", "you already belong to this practice")
            self._seats.check_seat(invite.practice_id)
            with tenancy.unscoped("the account joins from no practice"):
                # Conditional: an account founding a practice meanwhile cannot end up in two.
                moved = User.update(practice_id=invite.practice_id, role=invite.role, joined_at=now).where(
                    User.id == user_id, User.practice_id.is_null()
                ).execute()
            if not moved:
                raise conflict("member_of_another_practice",
                               "you belong to another practice; an account can be in one practice only")
            self._joined(invite, user_id, caller, new_account=False)
            user = User.get_by_id(user_id)
            if login is None:
                token, expires = self._sessions.start(user)
                login = {"token": token, "expiresAt": isoformat(expires)}
        return {"token": login["token"], "expiresAt": login["expiresAt"], "user": user_view(user)}
