"""HTTP helpers for the API tests: accounts, tokens, practices, members and declared routes.

Everything goes through the public HTTP API, except where the API has no way to do it yet.
Those helpers are test setup and say so:

* `set_membership` / `member_with_role` put a user into a practice with a role through the
  models (the auth tests predate the team endpoints, and this skips mail and invites);
* `open_session` starts a session the way a successful login does, without paying Argon2
  for every request of the role matrix.

Requests that count against the per-IP rate limit (register, login, sync, 2FA verify) are
sent from a fresh client address each time unless a test passes `ip=` itself, so that the
limit only shows up in the tests that are about it.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import itertools
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import falcon.testing

from appliance import tenancy
from appliance.app import operations_of
from appliance.client import crypto
from appliance.clock import Clock, FixedClock
from appliance.http.assets import WebAssets
from appliance.http.operation import Operation
from appliance.models import AuditEntry, AuthSession, Practice, User, VaultChallenge
from appliance.routes import build_page_routes, build_routes
from appliance.services import totp
from appliance.services.sessions import Sessions
from appliance.settings import Settings

PASSWORD = "Korrekt-Pferd-Batterie-42"
VAULT_PASSWORD = "Tresor im Keller, 2026!"
TEST_SETUP = "test setup: memberships are written directly, not through team invites"

_FIRST_IP = int(ipaddress.IPv4Address("198.18.0.1"))  # RFC 2544 benchmarking range
_ip_counter = itertools.count()
_email_counter = itertools.count(1)


def fresh_ip() -> str:
    """A client address no other request of the session has used."""
    return str(ipaddress.IPv4Address(_FIRST_IP + next(_ip_counter)))


def fresh_email(prefix: str = "user") -> str:
    return f"{prefix}-{next(_email_counter)}-{uuid.uuid4().hex[:6]}@praxis.example"


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    client: falcon.testing.TestClient,
    method: str,
    path: str,
    *,
    token: str | None = None,
    json: Any = None,
    ip: str | None = None,
    headers: dict[str, str] | None = None,
) -> falcon.testing.Result:
    """One request, with a Bearer token if given, from `ip` or a fresh client address."""
    all_headers = {**(auth_header(token) if token else {}), **(headers or {})}
    return client.simulate_request(
        method, path, json=json, headers=all_headers or None, remote_addr=ip or fresh_ip()
    )


def assert_error(result: falcon.testing.Result, status: int, code: str) -> dict:
    """The one error shape: {"error": {code, message, details}, "requestId"}."""
    assert result.status_code == status, f"{result.status_code} {result.text}"
    body = result.json
    assert set(body) == {"error", "requestId"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["requestId"] == result.headers["X-Request-Id"]
    return body


def problem_fields(result: falcon.testing.Result) -> set[str]:
    """The fields a 400 names in its details."""
    return {problem["field"] for problem in result.json["error"]["details"] or []}


# --- accounts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    token: str
    user_id: str
    email: str
    password: str


def register(
    client: falcon.testing.TestClient,
    email: str | None = None,
    password: str = PASSWORD,
    name: str = "Dr. Anna Berger",
) -> Account:
    email = email or fresh_email()
    result = call(client, "POST", "/api/auth/register",
                  json={"email": email, "password": password, "name": name})
    assert result.status_code == 201, result.text
    body = result.json
    return Account(body["token"], body["user"]["id"], body["user"]["email"], password)


def login(
    client: falcon.testing.TestClient, email: str, password: str = PASSWORD, *, ip: str | None = None
) -> falcon.testing.Result:
    return call(client, "POST", "/api/auth/login", json={"email": email, "password": password}, ip=ip)


def login_token(client: falcon.testing.TestClient, email: str, password: str = PASSWORD) -> str:
    result = login(client, email, password)
    assert result.status_code == 200, result.text
    return result.json["token"]


def me(client: falcon.testing.TestClient, token: str) -> falcon.testing.Result:
    return call(client, "GET", "/api/auth/me", token=token)


# --- practices and members -----------------------------------------------------------------


def practice_body(keys: crypto.PracticeKeys, envelope: dict, **details: Any) -> dict:
    return {
        "name": "Praxis Dr. Berger",
        "contactEmail": "kontakt@praxis-berger.example",
        "publicKey": keys.public_key,
        "signingKey": keys.signing_key,
        "encryptedPrivKey": envelope,
        **details,
    }


#: The keys of every practice the tests founded, by public key: helpers that get a practice's
#: JSON seal, encrypt and sign with them as its staff client would.
_KEYS: dict[str, crypto.PracticeKeys] = {}


def keys_of(practice: dict) -> crypto.PracticeKeys:
    return _KEYS[practice["publicKey"]]


def remember_keys(keys: crypto.PracticeKeys) -> None:
    """For a practice a reference client founded: the helpers sign with its keys too."""
    _KEYS[keys.public_key] = keys


def create_practice(
    client: falcon.testing.TestClient, token: str, password: str = VAULT_PASSWORD, **details: Any
) -> tuple[dict, crypto.PracticeKeys]:
    """Founds a practice like a staff client does: keys and vault made locally."""
    keys = crypto.generate_practice_keys()
    envelope = crypto.make_vault_envelope(keys, password)
    result = call(client, "POST", "/api/practice", token=token,
                  json=practice_body(keys, envelope, **details))
    assert result.status_code == 201, result.text
    remember_keys(keys)
    return result.json, keys


@dataclass(frozen=True)
class Founder:
    account: Account
    practice: dict
    keys: crypto.PracticeKeys

    @property
    def token(self) -> str:
        return self.account.token


def founder(client: falcon.testing.TestClient, vault_password: str = VAULT_PASSWORD) -> Founder:
    """A new account that founds a practice and so becomes its ADMIN."""
    account = register(client, name="Dr. Anna Berger")
    practice, keys = create_practice(client, account.token, vault_password)
    return Founder(account, practice, keys)


def set_membership(user_id: str, practice_id: str | None, role: str | None) -> None:
    """Test setup: moves a user into (or out of) a practice as the team endpoints will."""
    with tenancy.unscoped(TEST_SETUP):
        changed = User.update(
            practice_id=uuid.UUID(practice_id) if practice_id else None,
            role=role,
            joined_at=dt.datetime(2026, 1, 1) if practice_id else None,
        ).where(User.id == uuid.UUID(user_id)).execute()
    assert changed == 1


def member_with_role(
    client: falcon.testing.TestClient, practice_id: str, role: str, *, email: str | None = None
) -> Account:
    """Test setup: a registered account put into the practice with `role`.

    The registration token stays valid: sessions re-read practice and role every request.
    """
    account = register(client, email=email, name=f"{role.title()} Mitarbeiterin")
    set_membership(account.user_id, practice_id, role)
    return account


def open_session(settings: Settings, clock: Clock, user_id: str) -> str:
    """Test setup: a session and access token as a successful login would create them."""
    with tenancy.unscoped("test setup: a session without the cost of a password login"):
        user = User.get_by_id(uuid.UUID(user_id))
    sessions = Sessions(settings.auth.jwt_secret, settings.auth.access_token_ttl, clock)
    token, _ = sessions.start(user)
    return token


# --- database inspection -------------------------------------------------------------------


def row_counts() -> dict[str, int]:
    """Rows of every table a request might write (rate-limit hits aside)."""
    with tenancy.unscoped("test inspection"):
        return {
            model.__name__: model.select().count()
            for model in (Practice, User, AuthSession, VaultChallenge, AuditEntry)
        }


def audit_actions(user_id: str | None = None) -> Counter[str]:
    """How often each audit action was written, optionally for one user."""
    with tenancy.unscoped("test inspection"):
        query = AuditEntry.select(AuditEntry.action)
        if user_id is not None:
            query = query.where(AuditEntry.user_id == uuid.UUID(user_id))
        return Counter(row.action for row in query)


def audit_entries(action: str) -> list[AuditEntry]:
    with tenancy.unscoped("test inspection"):
        return list(AuditEntry.select().where(AuditEntry.action == action))


def user_row(user_id: str) -> User:
    with tenancy.unscoped("test inspection"):
        return User.get_by_id(uuid.UUID(user_id))


# --- TOTP ----------------------------------------------------------------------------------


def totp_code(secret: str, clock: FixedClock, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows at the FixedClock's time."""
    now = int(clock.now().replace(tzinfo=dt.UTC).timestamp())
    return totp.code_at(secret, now // totp.STEP_SECONDS + steps_ahead)


# --- declared routes -----------------------------------------------------------------------


class _Collaborators:
    """Stands in for the services: resources only keep their collaborators when built
    (settings are read by some, for numbers they keep: any value does)."""

    def __getattr__(self, name: str) -> object:
        return _Collaborators() if name in ("settings", "storage") else None


def declared_operations() -> dict[tuple[str, str], Operation]:
    """(template, METHOD) -> Operation of every responder in the route table.

    Needs no database or settings; tests that have an app compare it with what the app
    serves (falcon.inspect), so the two cannot drift apart.
    """
    return operations_of(build_routes(_Collaborators()))


def declared_pages() -> set[tuple[str, str]]:
    """(template, METHOD) of the browser pages and bundles: served beside the API, GET and
    HEAD only, and no API operations (not in the OpenAPI document)."""
    return {(route.template, method) for route in build_page_routes(WebAssets(Path("/nonexistent")))
            for method in ("GET", "HEAD")}


_PARAM = re.compile(r"\{(\w+)(?::(\w+)[^}]*)?\}")


def fill_path(template: str) -> str:
    """A concrete path for a route template: every parameter a random UUID (or number)."""

    def value(match: re.Match) -> str:
        return "1" if match.group(2) == "int" else str(uuid.uuid4())

    return _PARAM.sub(value, template)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
