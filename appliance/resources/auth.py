"""Authentication endpoints: register, login, 2FA, SSO sync, me, logout, password."""

from __future__ import annotations

import uuid

import falcon

from appliance.http.body import json_body
from appliance.http.middleware import RateLimiter
from appliance.http.operation import operation
from appliance.resources.schemas import (
    EMAIL,
    NAME,
    NEW_PASSWORD,
    PASSWORD,
    TIMESTAMP,
    TOKEN_RESPONSE,
    TOTP_CODE,
    USER,
    UUID,
    obj,
)
from appliance.services.accounts import Accounts, Caller, normalise_email

TAGS = ("Authentication",)
LOGIN_RESPONSE = {
    "oneOf": [
        TOKEN_RESPONSE,
        obj(
            ["twoFactorRequired", "pendingToken"],
            {"twoFactorRequired": {"const": True}, "pendingToken": {"type": "string"}},
        ),
    ]
}
CODE_BODY = obj(["code"], {"code": TOTP_CODE})


def caller(req: falcon.Request) -> Caller:
    return Caller(ip=req.context.client_ip)


class Register:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "Register with e-mail and password",
        auth="public", rate_limit="auth", created=True, tags=TAGS,
        request=obj(["email", "password", "name"], {"email": EMAIL, "password": NEW_PASSWORD, "name": NAME}),
        response=TOKEN_RESPONSE,
        errors={409: "an account with this e-mail exists (email_taken)"},
        description="E-mail addresses are trimmed and lower-cased. Passwords: 10 to 256 characters,"
        " not the e-mail address. Answers with a session token like login.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req)
        resp.media = self._accounts.register(body["email"], body["password"], body["name"], caller(req))
        resp.status = falcon.HTTP_201


#: The LAN entry's login limit per account and address (appliance.services.container).
ACCOUNT_BUCKET = "auth_account"


class Login:
    def __init__(self, accounts: Accounts, limiter: RateLimiter):
        self._accounts = accounts
        self._limiter = limiter

    @operation(
        "Log in with credentials",
        auth="public", rate_limit="auth", tags=TAGS,
        request=obj(["email", "password"], {"email": {"type": "string", "maxLength": 254},
                                            "password": PASSWORD}),
        response=LOGIN_RESPONSE,
        errors={401: "wrong e-mail or password (invalid_credentials)",
                429: "rate limited, or the address is locked for 15 minutes after 5 failures"},
        description="With two-factor authentication on, answers a short-lived pending token"
        " that only POST /api/auth/2fa/verify accepts. Limits: 5 sign-in requests a minute per"
        " client address; on the LAN entry 5 logins a minute per account and address, within"
        " auth.lan_requests_per_minute per address (a terminal server's staff shares one).",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req)
        if req.context.lan_entry:
            # The address alone would lock out every colleague on the same terminal server.
            self._limiter.hit(ACCOUNT_BUCKET, f"{req.context.client_ip}|{normalise_email(body['email'])}")
        resp.media = self._accounts.login(body["email"], body["password"], caller(req))


class TwoFactorVerify:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "Complete a login with a TOTP code",
        auth="pending_2fa", rate_limit="auth", tags=TAGS, request=CODE_BODY, response=TOKEN_RESPONSE,
        errors={401: "wrong or reused code (invalid_code); a pending token that already completed a"
                     " sign-in, or was overtaken by another one (unauthorized)"},
        description="A pending token completes one sign-in at most: once any code of the account"
        " is accepted after it was issued, it is spent and the client logs in again.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        code = json_body(req)["code"]
        resp.media = self._accounts.verify_2fa(req.context.principal, code, caller(req))


class TwoFactorSetup:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "Start enabling two-factor authentication",
        tags=TAGS,
        response=obj(["secret", "otpauthUri"], {"secret": {"type": "string"},
                                                "otpauthUri": {"type": "string"}}),
        errors={409: "already enabled"},
        description="Generates a TOTP secret; it is active only after POST /api/auth/2fa/enable.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._accounts.setup_2fa(req.context.principal)


class TwoFactorEnable:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "Confirm (enable) two-factor authentication with a current code",
        tags=TAGS, request=CODE_BODY,
        response=obj(["twoFactorEnabled"], {"twoFactorEnabled": {"type": "boolean"}}),
        errors={400: "wrong or reused code (invalid_code)",
                409: "already on (two_factor_unchanged), or not set up (two_factor_not_set_up)"},
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        code = json_body(req)["code"]
        resp.media = self._accounts.set_2fa(req.context.principal, code, True, caller(req))


class TwoFactorDisable:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "Turn two-factor authentication off with the account password and a current code",
        tags=TAGS, request=obj(["code", "password"], {"code": TOTP_CODE, "password": PASSWORD}),
        response=obj(["twoFactorEnabled"], {"twoFactorEnabled": {"type": "boolean"}}),
        errors={400: "wrong or reused code (invalid_code)",
                403: "the password is wrong (wrong_password)",
                409: "already off (two_factor_unchanged)"},
        description="Both factors: a session left open on a shared computer cannot switch the"
        " second factor off with a code alone.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req)
        resp.media = self._accounts.set_2fa(req.context.principal, body["code"], False, caller(req),
                                            password=body["password"])


class Sync:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "Sync a user from an SSO front (requires the x-auth-secret header)",
        auth="public", rate_limit="auth", tags=TAGS,
        request=obj(
            ["provider", "subject", "email", "name"],
            {"provider": {"type": "string", "minLength": 1, "maxLength": 64},
             "subject": {"type": "string", "minLength": 1, "maxLength": 255},
             "email": EMAIL, "name": NAME},
        ),
        response=TOKEN_RESPONSE,
        errors={401: "wrong x-auth-secret", 404: "SSO sync is not configured",
                409: "the e-mail is linked to another identity"},
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        secret = req.get_header("x-auth-secret")
        self._accounts.check_sync_secret(secret)
        resp.media = self._accounts.sync(secret, json_body(req), caller(req))


class Me:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation("The logged-in user", tags=TAGS, response=USER)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._accounts.me(req.context.principal)


class Logout:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation("End this session", tags=TAGS)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._accounts.logout(req.context.principal, caller(req))
        resp.status = falcon.HTTP_204


class LogoutEverywhere:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "End every session of the caller, on every device", tags=TAGS,
        description="Every token of the caller stops working on its next request (this one"
        " too); audited as LOGOUT_EVERYWHERE. Sign in again for a new token.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._accounts.logout_everywhere(req.context.principal, caller(req))
        resp.status = falcon.HTTP_204


SESSION = obj(
    ["id", "createdAt", "expiresAt", "current"],
    {"id": UUID, "createdAt": TIMESTAMP, "expiresAt": TIMESTAMP,
     "current": {"type": "boolean", "description": "the session of this request's token"}},
)


class OwnSessions:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "The caller's own live sessions, newest first", tags=TAGS,
        response=obj(["items", "total"], {"items": {"type": "array", "items": SESSION},
                                          "total": {"type": "integer"}}),
        description="Each sign-in opens a session until it expires, signs out or is ended;"
        " only the caller's own are listed, never another user's.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._accounts.sessions(req.context.principal)


class OwnSession:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "End one of the caller's own sessions", tags=TAGS,
        errors={404: "not a live session of the caller (another user's, ended, expired or unknown)"},
        description="Its token stops working on its next request; audited as SESSION_ENDED."
        " Ending the current session signs this client out.",
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        self._accounts.end_session(req.context.principal, id, caller(req))
        resp.status = falcon.HTTP_204


class Password:
    def __init__(self, accounts: Accounts):
        self._accounts = accounts

    @operation(
        "Change the password; ends every session and returns a new token",
        tags=TAGS, response=TOKEN_RESPONSE,
        request=obj(["currentPassword", "newPassword"],
                    {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
        errors={403: "the current password is wrong"},
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req)
        resp.media = self._accounts.change_password(
            req.context.principal, body["currentPassword"], body["newPassword"], caller(req)
        )
