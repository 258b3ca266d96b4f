"""Team helpers for the API tests: invite, read the delivered mail, accept, join.

Everything goes through the public HTTP API (in-process `call` or `requests` against a live
server); `joined_member` is the way to get a practice member the way production does it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import falcon.testing

from appliance import tenancy
from appliance.models import TeamInvite, User
from tests.support.api import PASSWORD, Account, call, fresh_email
from tests.support.smtp import SmtpSink

BASE_URL = "https://consent.example.test"  # app.public_base_url of the test settings
INVITE_LINK = re.compile(r"^(https?://\S+)/invite/([A-Za-z0-9_-]{43})$", re.MULTILINE)


def smtp_section(sink: SmtpSink) -> dict[str, Any]:
    """The `smtp` settings that deliver to a running sink (plain SMTP on 127.0.0.1)."""
    return {"host": sink.host, "port": sink.port, "security": "none",
            "sender": "Praxis-Team <noreply@praxis.example>", "timeout": 5}


def smtp_env(sink: SmtpSink) -> dict[str, str]:
    """The same settings as environment variables, for `live_server(**env)`."""
    return {f"APPLIANCE_SMTP_{key.upper()}": str(value) for key, value in smtp_section(sink).items()}


def invite(client: falcon.testing.TestClient, admin_token: str, email: str,
           role: str = "ARZT") -> falcon.testing.Result:
    return call(client, "POST", "/api/team/invite", token=admin_token, json={"email": email, "role": role})


def invited(client: falcon.testing.TestClient, admin_token: str, email: str, role: str = "ARZT") -> dict:
    result = invite(client, admin_token, email, role)
    assert result.status_code == 201, result.text
    return result.json


def accept(client: falcon.testing.TestClient, token: str, *, bearer: str | None = None,
           **body: Any) -> falcon.testing.Result:
    return call(client, "POST", f"/api/team/invite/{token}/accept", token=bearer, json=body)


def joined_member(client: falcon.testing.TestClient, admin_token: str, role: str,
                  name: str = "Dr. Ben Kollege") -> Account:
    """A new person invited by the ADMIN who accepts and so becomes a member with `role`."""
    email = fresh_email(role.lower())
    token = invited(client, admin_token, email, role)["token"]
    result = accept(client, token, name=name, password=PASSWORD)
    assert result.status_code == 200, result.text
    return Account(result.json["token"], result.json["user"]["id"], email, PASSWORD)


def link_in(text: str) -> tuple[str, str]:
    """(base URL, token) of the one invite link on a line of its own in a mail's text."""
    (found,) = {match.groups() for match in INVITE_LINK.finditer(text)}
    return found


def stored_invite(invite_id: str) -> TeamInvite:
    with tenancy.unscoped("test inspection"):
        return TeamInvite.get_by_id(uuid.UUID(invite_id))


def admins_of(practice_id: str) -> list[str]:
    with tenancy.unscoped("test inspection"):
        return [str(user.id) for user in User.select().where(
            User.practice_id == uuid.UUID(practice_id), User.role == "ADMIN")]
