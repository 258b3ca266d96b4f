"""Helpers for the patient and consent tests: practices with a team, sealed and signed patient
bodies, consents with their links, encrypted submissions, and looking at the rows behind the API.

Patient bodies are sealed and signed with the practice keys as a staff client makes them. The
lookupHash of `patient_body` is random by default: the server only sees 64 hex characters, and
the real Argon2 derivation (`identity=`) costs 0.1-0.3 s, so tests use it where the hash must
be the one a browser computes. Submissions are encrypted as the patient page encrypts them
(`tests/support/forms.py` holds the form document they answer).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from pathlib import Path

import falcon.testing

from appliance import envelopes, tenancy
from appliance.app import create_app
from appliance.client import answers, countersignature, crypto
from appliance.client.api import Identity, form_named, sealed_identity
from appliance.clock import Clock
from appliance.models import ConsentForm, Patient
from appliance.settings import Settings
from appliance.storage import open_store
from tests.conftest import make_settings
from tests.support.api import Account, Founder, call, founder, keys_of, member_with_role, open_session
from tests.support.forms import FORM, SIGNATURE, fill
from tests.support.photos import multipart

IDENTITY = Identity("Jürgen", "Müller-Lüdenscheidt", "1980-02-29", email="jm@example.de")


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


def patient_body(practice: dict, identity: Identity | None = None, *, lookup_hash: str | None = None) -> dict:
    """A POST /api/patients body sealed to `practice` and signed by it, under a new random id;
    the real lookupHash only with `identity`, a random one or `lookup_hash` without."""
    keys = keys_of(practice)
    if identity is not None:
        return sealed_identity(keys, practice["lookupSalt"], identity)
    patient_id = str(uuid.uuid4())

    def seal(field: str, value: str) -> str:
        return crypto.seal_field(practice["publicKey"], f"patient.{field}", patient_id, value)

    body = {
        "encryptedFirstName": seal("firstName", "Erika"),
        "encryptedLastName": seal("lastName", "Mustermann"),
        "encryptedDateOfBirth": seal("dateOfBirth", "1964-08-12"),
        "lookupHash": lookup_hash or secrets.token_hex(32),
    }
    return sign_patient(practice, patient_id, body)


def sign_patient(practice: dict, patient_id: str, body: dict) -> dict:
    """`body` with its id and the practice's signature of the patient statement."""
    statement = {"id": patient_id, **{name: body.get(name) for name in
                                      envelopes.STATEMENT_FIELDS["patient"] if name != "id"}}
    return {**body, "id": patient_id,
            "signature": crypto.sign_statement(keys_of(practice), "patient", statement)}


def create_patient(client: falcon.testing.TestClient, team: Team, body: dict | None = None) -> dict:
    result = call(client, "POST", "/api/patients", token=team.token(),
                  json=body or patient_body(team.practice))
    assert result.status_code == 201, result.text
    return result.json


def consent_body(practice: dict, consent_type: str = "BOTOX", patient_id: str | None = None,
                 consent_id: str | None = None, **fields) -> dict:
    """A POST /api/consent body as a staff client makes it: its id, a link token and the
    practice's signature of the consent statement."""
    consent_id, token = consent_id or str(uuid.uuid4()), secrets.token_urlsafe(32)
    statement = {"id": consent_id, "type": consent_type, "patientId": patient_id,
                 "linkCommitment": envelopes.link_commitment(token)}
    body = {"id": consent_id, "type": consent_type, "token": token,
            "signature": crypto.sign_statement(keys_of(practice), "consent", statement), **fields}
    if patient_id is not None:
        body["patientId"] = patient_id
    return body


def link_body(practice: dict, consent: dict, **fields) -> dict:
    """A POST .../link body for `consent` (as the staff API answered it)."""
    body = consent_body(practice, consent["type"], consent["patientId"], consent["id"], **fields)
    return {name: body[name] for name in ("token", "signature", *fields)}


def create_consent(client: falcon.testing.TestClient, team: Team, consent_type: str = "BOTOX",
                   role: str = "ADMIN", **fields) -> dict:
    body = consent_body(team.practice, consent_type, fields.pop("patientId", None), **fields)
    result = call(client, "POST", "/api/consent", token=team.token(role), json=body)
    assert result.status_code == 201, result.text
    return result.json


def submit_body(client: falcon.testing.TestClient, practice: dict, consent: dict,
                identity: Identity = IDENTITY, **extra) -> dict:
    """A submit as the patient page sends it for `consent` (as created, with its token): the form
    the link shows answered (`fill`), encrypted and bound to the form, the identity sealed to
    it. A link that no longer opens answers the test form."""
    opened = call(client, "GET", f"/api/consent/{consent['token']}")
    form = (opened.json.get("form") if opened.status_code == 200 else None) or FORM
    public = {"id": consent["id"], "publicKey": practice["publicKey"], "lookupSalt": practice["lookupSalt"],
              "form": form}
    filled = fill(form)
    body = answers.build_submission(public, consent["token"], identity.values(), filled["answers"],
                                    filled["comprehension"], filled["declaration"], SIGNATURE)
    return {**body, **extra}


#: What a submit names when the link cannot be opened (unknown, expired, revoked): the server
#: answers that before it compares the form.
UNOPENED_FORM = {"formId": "botox", "version": 1, "locale": "de", "formHash": "0" * 64}


def form_fields(client: falcon.testing.TestClient, token: str, locale: str | None = None) -> dict:
    """The submit fields naming the form the link shows, as the patient page sends them."""
    opened = call(client, "GET", f"/api/consent/{token}" + (f"?locale={locale}" if locale else ""))
    return form_named(opened.json["form"]) if opened.status_code == 200 else dict(UNOPENED_FORM)


def submit(client: falcon.testing.TestClient, token: str, body: dict, **options) -> falcon.testing.Result:
    """POSTs `body`, adding the fields that name the form from the link's GET unless given."""
    if "formHash" not in body:
        body = {**form_fields(client, token), **body}
    return call(client, "POST", f"/api/consent/{token}/submit", json=body, **options)


#: Not a real PDF, but it starts like one; the server never sees it in clear anyway.
ARCHIVE_PDF = b"%PDF-1.7\n" + secrets.token_bytes(90_000) + b"\n%%EOF\n"


def countersign_body(practice: dict, consent_id: str, talk_date: str, note: str | None = None, *,
                     answers_sha256: str | None = None, record: str | None = None) -> dict:
    """What a staff client sends: the digest of the stored answers unless given, the document
    bound to the consent unless `record` names another."""
    keys = keys_of(practice)
    digest = answers_sha256 or hashlib.sha256(bytes(consent_row(consent_id).encrypted_answers)).hexdigest()
    wrapped, ciphertext = crypto.encrypt_payload(
        keys.public_key, countersignature.make_document(talk_date, note),
        envelopes.PURPOSE_CONSENT_COUNTERSIGNATURE, record or consent_id)
    statement = {"consentId": consent_id, "answersSha256": digest, "wrappedKey": wrapped}
    return {"encryptedCountersignature": base64.b64encode(ciphertext).decode(), "wrappedKey": wrapped,
            "signature": crypto.sign_statement(keys, "consent.countersignature", statement)}


def archive_fields(practice: dict, consent_id: str, pdf: bytes = ARCHIVE_PDF, *, record: str | None = None,
                   signed_for: str | None = None) -> tuple[dict[str, str], bytes]:
    """(fields, ciphertext) as a staff client sends them: the PDF bound to `record` (the consent
    unless given), the statement signed for `signed_for` (the consent unless given)."""
    keys = keys_of(practice)
    wrapped, ciphertext = crypto.encrypt_payload(keys.public_key, pdf, envelopes.PURPOSE_CONSENT_ARCHIVE,
                                                 record or consent_id)
    signature = crypto.sign_statement(keys, "consent.archive",
                                      {"consentId": signed_for or consent_id, "wrappedKey": wrapped})
    return {"wrappedKey": wrapped, "signature": signature}, ciphertext


def archive_upload(practice: dict, consent_id: str, pdf: bytes = ARCHIVE_PDF, **options) -> tuple[bytes, str]:
    """(body, content type) of `archive_fields`."""
    return multipart(*archive_fields(practice, consent_id, pdf, **options), filename="archive.pdf.enc")


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
