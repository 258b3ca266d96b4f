"""Team endpoints: ADMINs manage members and invites; the invite token's holder joins (public)."""

from __future__ import annotations

import uuid

import falcon

from appliance.http import pagination
from appliance.http.body import json_body, optional_json_body
from appliance.http.head import head_from_get
from appliance.http.operation import ADMIN, ROLES, operation, roles
from appliance.models import INVITE_STATUSES
from appliance.outbox import MAIL_SCHEMA
from appliance.resources.auth import caller
from appliance.resources.schemas import EMAIL, NAME, PASSWORD, TIMESTAMP, TOKEN_RESPONSE, UUID, obj
from appliance.services.team import Team

TAGS = ("Team",)
ADMIN_ONLY = roles(ADMIN)
ROLE = {"enum": list(ROLES)}
NULLABLE_TS = {"type": ["string", "null"], "format": "date-time"}
MEMBER = obj(
    ["id", "name", "email", "role", "joinedAt", "twoFactorEnabled"],
    {"id": UUID, "name": {"type": "string"}, "email": {"type": "string"}, "role": ROLE,
     "joinedAt": NULLABLE_TS, "twoFactorEnabled": {"type": "boolean"}},
)
INVITE = obj(
    ["id", "email", "role", "status", "invitedBy", "createdAt", "expiresAt", "emailSentAt"],
    {"id": UUID, "email": {"type": "string"}, "role": ROLE, "status": {"enum": list(INVITE_STATUSES)},
     "invitedBy": {"type": ["string", "null"]}, "createdAt": TIMESTAMP, "expiresAt": TIMESTAMP,
     "emailSentAt": NULLABLE_TS, "mail": MAIL_SCHEMA},
)
ISSUED = obj(
    [*INVITE["required"], "token", "link", "emailSent"],
    {**INVITE["properties"], "token": {"type": "string"}, "link": {"type": "string"},
     "emailSent": {"type": "boolean"}},
)
ISSUED_TEXT = (
    "The token (256 bits) is stored only as a hash and is valid 7 days. The e-mail (German and"
    " English) is queued after the invite is saved and sent in the background, retried with"
    " back-off while SMTP is down: `emailSent` says it was queued (false without SMTP"
    " configured), `mail` what became of it (pending, sent, failed with a reason) and"
    " `emailSentAt` when it went out. The link can be shared by hand or resent later."
)
GONE = "used (invite_used), revoked (invite_revoked) or expired (invite_expired)"
PUBLIC_RATE_LIMIT = "team_public"


def _bearer(req: falcon.Request) -> str | None:
    """The optional proof of an existing account; the middleware already checked its form."""
    header = req.get_header("Authorization")
    return header.partition(" ")[2].strip() if header else None


class Members:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "List the team members", roles=ADMIN_ONLY, tags=TAGS,
        response=pagination.envelope_schema(MEMBER), query=tuple(pagination.PARAMETERS),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._team.members(pagination.page_of(req))


class Member:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "Remove a member from the practice; their sessions end at once", roles=ADMIN_ONLY, tags=TAGS,
        errors={404: "no such member in this practice",
                409: "removing yourself (cannot_remove_self), or the last ADMIN (last_admin)"},
        description="The account stays, without a practice; it can be invited again.",
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response, user_id: uuid.UUID) -> None:
        self._team.remove(req.context.principal, user_id, caller(req))
        resp.status = falcon.HTTP_204


class MemberRole:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "Change a member's role", roles=ADMIN_ONLY, tags=TAGS,
        request=obj(["role"], {"role": ROLE}), response=MEMBER,
        errors={404: "no such member in this practice",
                409: "your own role (cannot_change_own_role), or demoting the last ADMIN (last_admin)"},
        description="The member's sessions see the new role on their next request.",
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response, user_id: uuid.UUID) -> None:
        role = json_body(req)["role"]
        resp.media = self._team.change_role(req.context.principal, user_id, role, caller(req))


class InviteCreate:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "Invite someone by e-mail to join the team with a role", roles=ADMIN_ONLY, tags=TAGS,
        created=True, request=obj(["email", "role"], {"email": EMAIL, "role": ROLE}),
        response=ISSUED,
        errors={409: "the address is a member (already_member) or has a pending invite"
                     " (invite_pending)"},
        description=ISSUED_TEXT,
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req)
        resp.media = self._team.invite(req.context.principal, body["email"], body["role"], caller(req))
        resp.status = falcon.HTTP_201


class Invites:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "List the open invites (pending or expired), newest first", roles=ADMIN_ONLY, tags=TAGS,
        response=pagination.envelope_schema(INVITE), query=tuple(pagination.PARAMETERS),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._team.invites(pagination.page_of(req))


class InviteItem:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "Revoke an invite", roles=ADMIN_ONLY, tags=TAGS,
        errors={404: "no such invite in this practice", 409: "already accepted or revoked (invite_closed)"},
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        self._team.revoke(req.context.principal, id, caller(req))
        resp.status = falcon.HTTP_204


class InviteResend:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "Resend an invite with a fresh token and 7 more days", roles=ADMIN_ONLY, tags=TAGS,
        response=ISSUED,
        errors={404: "no such invite in this practice",
                409: "accepted or revoked (invite_closed), the address is a member (already_member)"
                     " or has another pending invite (invite_pending)"},
        description="The previous link stops working. " + ISSUED_TEXT,
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._team.resend(req.context.principal, id, caller(req))


class PublicInvite:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "What the invite page shows", auth="public", rate_limit=PUBLIC_RATE_LIMIT, tags=TAGS,
        response=obj(
            ["practice", "role", "email", "expiresAt", "accountExists"],
            {"practice": obj(["name"], {"name": {"type": "string"}}), "role": ROLE,
             "email": {"type": "string", "description": "the invited address, partly masked"},
             "expiresAt": TIMESTAMP,
             "accountExists": {"type": "boolean", "description": "accepting then needs that"
                               " account's password or Bearer token"}},
        ),
        errors={404: "unknown token", 410: GONE},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        resp.media = self._team.public_get(token)

    on_head = head_from_get(on_get)


class PublicAccept:
    def __init__(self, team: Team):
        self._team = team

    @operation(
        "Accept an invite: join the practice with the invited role, logged in",
        auth="public", rate_limit="auth", tags=TAGS,
        request=obj([], {"name": NAME, "password": PASSWORD}), response=TOKEN_RESPONSE,
        errors={400: "a new account needs name and password; an existing one its password"
                     " (account_proof_required)",
                401: "wrong password (invalid_credentials) or an invalid Bearer token",
                403: "the Bearer token is another account's (wrong_account), or the account uses"
                     " 2FA and must send its Bearer token (two_factor_required)",
                404: "unknown token",
                409: "already in this practice (already_member) or another one"
                     " (member_of_another_practice)",
                410: GONE, 429: "rate limited, or the account is locked"},
        description="Public: the mailed token is the credential. Without an account for the"
        " invited address, `name` and `password` create one. With an account, it proves itself"
        " with its own `Authorization: Bearer` token or its `password` (a normal login: lockout"
        " and two-factor rules apply). Each token works once, also under concurrent accepts.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        body = optional_json_body(req)
        resp.media = self._team.accept(token, body, _bearer(req), caller(req))
