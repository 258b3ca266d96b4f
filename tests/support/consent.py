"""Helpers for the patient and consent tests: practices with a team, sealed patient bodies,
encrypted submissions, and looking at the rows behind the API.

Patient bodies are sealed to the practice key as a client seals them. The lookupHash of
`patient_body` is random by default: the server only sees 64 hex characters, and the real
Argon2 derivation (`identity=`) costs 0.1-0.3 s, so tests use it where the hash must be the
one a patient's browser computes.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from pathlib import Path

import falcon.testing

from appliance import envelopes, tenancy
from appliance.app import create_app
from appliance.client import crypto
from appliance.client.api import Identity, sealed_identity
from appliance.clock import Clock
from appliance.models import ConsentForm, Patient
from appliance.settings import Settings
from appliance.storage import open_store
from tests.conftest import make_settings
from tests.support.api import Account, Founder, call, founder, member_with_role, open_session

IDENTITY = Identity("Jürgen", "Müller-Lüdenscheidt", "1980-02-29", email="jm@example.de")
ANSWERS = {"allergies": "Penicillin", "anticoagulants": False, "treatmentAreas": ["GLABELLA"]}


class Team:
    """A practice founded over HTTP (its ADMIN) and members with other roles."""

    def __init__(self, admin: Founder, members: dict[str, Account]):
        self.admin = admin
        self.members = members
        self._tokens = {"ADMIN": admin.token, **{role: m.token for role, m in members.items()}}

    @property
    def practice(self) -> dict:
        return self.admin.practice

    @property
    def practice_id(self) -> str:
        return self.admin.practice["id"]

    def user_id(self, role: str = "ADMIN") -> str:
        return self.admin.account.user_id if role == "ADMIN" else self.members[role].user_id

    def token(self, role: str = "ADMIN") -> str:
        return self._tokens[role]

    def renew(self, settings: Settings, clock: Clock) -> None:
        """New sessions after the clock moved past the access token lifetime."""
        self._tokens = {role: open_session(settings, clock, self.user_id(role)) for role in self._tokens}


def app_client(
    tmp_path: Path, database_url: str, database, clock: Clock, **sections
) -> falcon.testing.TestClient:
    """An in-process client of an app built with extra settings sections (proxies, SMTP)."""
    settings = make_settings(tmp_path, database_url, **sections)
    return falcon.testing.TestClient(create_app(settings, database, store=open_store(settings), clock=clock))


def team(client: falcon.testing.TestClient, *roles: str) -> Team:
    admin = founder(client)
    return Team(admin, {role: member_with_role(client, admin.practice["id"], role) for role in roles})


def patient_body(practice: dict, identity: Identity | None = None) -> dict:
    """A POST /api/patients body sealed to `practice`; the real lookupHash only with `identity`."""
    if identity is not None:
        return sealed_identity(practice["publicKey"], practice["lookupSalt"], identity)
    seal = crypto.seal_field
    return {
        "encryptedFirstName": seal(practice["publicKey"], "patient.firstName", "Erika"),
        "encryptedLastName": seal(practice["publicKey"], "patient.lastName", "Mustermann"),
        "encryptedDateOfBirth": seal(practice["publicKey"], "patient.dateOfBirth", "1964-08-12"),
        "lookupHash": secrets.token_hex(32),
    }


def create_patient(client: falcon.testing.TestClient, team: Team, body: dict | None = None) -> dict:
    result = call(client, "POST", "/api/patients", token=team.token(),
                  json=body or patient_body(team.practice))
    assert result.status_code == 201, result.text
    return result.json


def create_consent(client: falcon.testing.TestClient, team: Team, consent_type: str = "BOTOX",
                   role: str = "ADMIN", **fields) -> dict:
    result = call(client, "POST", "/api/consent", token=team.token(role),
                  json={"type": consent_type, **fields})
    assert result.status_code == 201, result.text
    return result.json


def submit_body(practice: dict, identity_body: dict | None = None, **extra) -> dict:
    """A submit as the patient page sends it: answers encrypted to the practice key, the
    identity sealed (pass a `patient_body` to reuse one, or None to leave it out)."""
    document = json.dumps({"v": 1, "type": "BOTOX", "answers": ANSWERS}).encode()
    wrapped_key, ciphertext = crypto.encrypt_payload(
        practice["publicKey"], document, envelopes.PURPOSE_CONSENT_ANSWERS
    )
    body = {"encryptedAnswers": base64.b64encode(ciphertext).decode(), "wrappedKey": wrapped_key}
    if identity_body is not None:
        sealed = dict(identity_body)
        body["lookupHash"] = sealed.pop("lookupHash")
        body["patient"] = sealed
    return {**body, **extra}


def submit(client: falcon.testing.TestClient, token: str, body: dict, **options) -> falcon.testing.Result:
    return call(client, "POST", f"/api/consent/{token}/submit", json=body, **options)


# --- rows behind the API -------------------------------------------------------------------


def consent_row(consent_id: str) -> ConsentForm:
    with tenancy.unscoped("test inspection"):
        return ConsentForm.get_by_id(uuid.UUID(consent_id))


def consent_rows() -> list[ConsentForm]:
    with tenancy.unscoped("test inspection"):
        return list(ConsentForm.select().order_by(ConsentForm.created_at))


def patient_rows() -> list[Patient]:
    with tenancy.unscoped("test inspection"):
        return list(Patient.select().order_by(Patient.created_at))


def raw_dump(database) -> bytes:
    """Every value of every table as bytes, to search for what must not be stored (PostgreSQL
    returns blobs as memoryview, SQLite as bytes)."""
    values = []
    for table in database.get_tables():
        for row in database.execute_sql(f"SELECT * FROM {table}").fetchall():
            values.extend(
                bytes(v) if isinstance(v, bytes | bytearray | memoryview) else str(v).encode() for v in row
            )
    return b"\n".join(values)


def assert_like_unknown(foreign: falcon.testing.Result, unknown: falcon.testing.Result) -> None:
    """Another practice's record answers exactly as a record that does not exist."""
    assert foreign.status_code == unknown.status_code == 404, (foreign.text, unknown.text)
    assert foreign.json["error"] == unknown.json["error"]
