"""Helpers for the isolation matrix: a practice with data in every tenant table, built through
the HTTP API, and what another practice must never see or change of it.

`build_tenant` makes users of every role, its own BOTOX form text, patients, consent forms in
every state, a template, a plan, a photo, a logo, invites, a vault challenge and GDT settings
over HTTP. `complete` adds what no HTTP route makes: a GDT import and an encrypted audit export
(both through the services the scheduler uses), plus, as test setup written straight into the
tables, an upload in flight (object_cleanup) and billing rows (billing is off in the matrix;
the rows are there so that a query that forgot its tenant filter would show them).

`snapshot` reads a practice's rows with the owner connection (no tenant filter, no row-level
security) and its objects from the store; `secret_values` turns the snapshot into the values
that identify that practice's data and occur nowhere in the other practice's rows.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import re
import secrets
import uuid
from pathlib import Path
from typing import Any

import falcon.testing
import peewee

from appliance import envelopes, tenancy
from appliance.client import crypto
from appliance.client.api import Identity
from appliance.models import ObjectCleanup, Practice, Subscription
from appliance.scheduler import jobs
from appliance.services.container import Services
from appliance.storage import ObjectStore
from tests.support import treatment
from tests.support.analytics import add_payment
from tests.support.api import Account, Founder, call, create_practice, fresh_email, member_with_role, register
from tests.support.consent import (
    archive_upload,
    consent_body,
    countersign_body,
    patient_body,
    submit,
    submit_body,
)
from tests.support.gdt import exchange_dir, pvs_file, pvs_request
from tests.support.photos import (
    TAKEN_AT,
    encrypt_photo,
    multipart,
    photo_fields,
    post_form,
    thumbnail_fields,
    upload,
)
from tests.support.team import invited, joined_member

ROLES = ("ADMIN", "ARZT", "EMPFANG")
#: A value shorter than this, an upper-case constant or a timestamp says nothing about a practice.
MIN_SECRET = 8
_CONSTANT = re.compile(r"^[A-Z0-9_]+$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}")


def tenant_tables(database: peewee.Database) -> list[str]:
    """Every table with a practice_id column, on either engine (from the catalogue)."""
    if isinstance(database, peewee.PostgresqlDatabase):
        from appliance.isolation import tenant_tables as postgres_tables

        return postgres_tables(database)
    return sorted(
        table for table in database.get_tables()
        if "practice_id" in {column.name for column in database.get_columns(table)}
    )


def _ok(result: falcon.testing.Result, status: int = 201) -> dict:
    assert result.status_code == status, result.text
    return result.json


@dataclasses.dataclass
class Tenant:
    """One practice of the matrix: its ADMIN, its members and the ids and tokens it owns."""

    label: str
    admin: Founder
    users: dict[str, Account]
    #: what -> id of the records made over HTTP (patient, consent_signed, plan, photo, ...).
    ids: dict[str, str]
    #: Consent link and invite tokens: the server keeps only their hashes.
    tokens: dict[str, str]
    lookup_hash: str
    exchange_dir: Path

    @property
    def practice(self) -> dict:
        return self.admin.practice

    @property
    def practice_id(self) -> str:
        return self.admin.practice["id"]

    def user_id(self, role: str) -> str:
        return self.users[role].user_id


def _consent(client, token: str, practice: dict, patient_id: str | None) -> dict:
    return _ok(call(client, "POST", "/api/consent", token=token, json=consent_body(practice, "BOTOX",
                                                                                   patient_id)))


def _logo(tag: str) -> bytes:
    """A PNG by its signature, different for every practice."""
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + tag.encode() + secrets.token_bytes(1500)


def build_tenant(client: falcon.testing.TestClient, label: str, exchange_root: Path) -> Tenant:
    """A practice with a record of every kind, made over HTTP as its staff would make it.

    Names, addresses and notes carry a random tag, so that they identify this practice.
    """
    tag = secrets.token_hex(4)
    account = register(client, email=fresh_email(f"{label.lower()}-admin"), name=f"Dr. {label} Admin {tag}")
    practice, keys = create_practice(client, account.token, name=f"Praxis {label} {tag}",
                                            contactEmail=f"kontakt-{tag}@praxis-{label.lower()}.example")
    admin = Founder(account, practice, keys)
    token, pid = admin.token, practice["id"]
    users = {"ADMIN": account,
             **{role: member_with_role(client, pid, role, email=fresh_email(f"{label}-{role}".lower()))
                for role in ("ARZT", "EMPFANG")},
             # invited and accepted: an ACCEPTED invite row and a member who joined the real way
             "JOINED": joined_member(client, token, "ARZT", name=f"Dr. {label} Kollege {tag}")}
    pending_invite = invited(client, token, fresh_email(f"{label.lower()}-invited"), "EMPFANG")

    # The practice's own BOTOX text (practice_form_text): the consents below name its revision.
    text = {"title": f"Preise {label} {tag}", "paragraphs": [f"Behandlung bei Dr. {label} {tag}: 290 Euro."]}
    _ok(call(client, "PATCH", "/api/settings", token=token, json={"practiceTexts": {"BOTOX": text}}), 200)
    first = patient_body(practice)
    patient = _ok(call(client, "POST", "/api/patients", token=token, json=first))["id"]
    second = _ok(call(client, "POST", "/api/patients", token=token, json=patient_body(practice)))["id"]
    pending = _consent(client, token, practice, patient)
    signed = _consent(client, token, practice, patient)
    identity = Identity(f"Erika {tag}", f"Muster {label}", "1980-02-29")
    _ok(submit(client, signed["token"], submit_body(client, practice, signed, identity)), 200)
    revoked = _consent(client, token, practice, patient)
    _ok(call(client, "PATCH", f"/api/consent/{revoked['token']}/revoke", token=token,
             json={"reason": f"Widerruf {label} {tag}"}), 200)
    withdrawn = _consent(client, token, practice, None)  # staff link the patient after reading it
    _ok(submit(client, withdrawn["token"], submit_body(client, practice, withdrawn, identity)), 200)
    _ok(call(client, "POST", f"/api/consent/{withdrawn['token']}/withdraw",
             json={"reason": f"Rückzug {label} {tag}"}), 200)

    completed = _consent(client, token, practice, patient)  # countersigned, with its archive copy
    _ok(submit(client, completed["token"], submit_body(client, practice, completed, identity)), 200)
    _ok(call(client, "POST", f"/api/consent/practice/{completed['id']}/countersignature", token=token,
             json=countersign_body(practice, completed["id"], "2026-01-02", f"Gespräch {label} {tag}")), 200)
    _ok(post_form(client, f"/api/consent/practice/{completed['id']}/archive", token,
                  *archive_upload(practice, completed["id"])))

    staff = treatment.Practice(admin, users["ARZT"])
    template = treatment.create_template(client, staff, name=f"Glabella {label} {tag}",
                                         notes=f"Vorlage {label} {tag}")
    plan = treatment.create_plan(client, staff, patient, consentFormId=signed["id"],
                                 templateId=template["id"])
    wrapped, ciphertext = encrypt_photo(practice, b"\xff\xd8\xff\xe0" + secrets.token_bytes(4000))
    photo_id = photo_fields(patient, wrapped)["id"]
    metadata = crypto.seal_field(practice["publicKey"], "photo.metadata", photo_id,
                                 {"note": f"Foto {label} {tag}"})
    fields, thumbnail = thumbnail_fields(photo_fields(
        patient, wrapped, consentFormId=signed["id"], treatmentPlanId=plan["id"],
        photoConsentGranted="true", encryptedMetadata=metadata),
        b"\xff\xd8\xff\xe0" + secrets.token_bytes(300))
    photo = _ok(upload(client, token, fields, ciphertext, parts={"thumbnail": thumbnail}))
    logo_body, content_type = multipart({}, _logo(tag), filename="logo.png")
    logo = _ok(post_form(client, "/api/settings/logo", token, logo_body, content_type), 200)
    challenge = _ok(call(client, "POST", "/api/practice/vault/challenge", token=token), 200)
    directory = exchange_dir(exchange_root, f"praxis-{label.lower()}-{tag}")
    _ok(call(client, "PATCH", "/api/gdt/settings", token=token,
             json={"exchangeDirectory": str(directory)}), 200)
    assert call(client, "POST", "/api/audit/vault-event", token=token,
                json={"event": "VAULT_UNLOCKED"}).status_code == 204

    ids = {"patient": patient, "patient_2": second, "consent_pending": pending["id"],
           "consent_signed": signed["id"], "consent_revoked": revoked["id"],
           "consent_withdrawn": withdrawn["id"], "consent_completed": completed["id"],
           "template": template["id"], "plan": plan["id"],
           "photo": photo["id"], "logo": logo["logoUrl"].rsplit("/", 1)[1],
           "challenge": challenge["challengeId"], "invite": pending_invite["id"]}
    tokens = {"consent_pending": pending["token"], "consent_signed": signed["token"],
              "consent_revoked": revoked["token"], "consent_withdrawn": withdrawn["token"],
              "invite": pending_invite["token"]}
    return Tenant(label, admin, users, ids, tokens, first["lookupHash"], directory)


def complete(services: Services, tenants: list[Tenant]) -> None:
    """What no route makes: a GDT import, an audit export, an upload in flight, billing rows."""
    for tenant in tenants:
        pvs_file(tenant.exchange_dir, pvs_request("EW-BOTOX"))
    results = services.gdt.import_all(settle_seconds=0)
    now = services.clock.now()
    for tenant in tenants:
        practice_id = uuid.UUID(tenant.practice_id)
        assert results[practice_id].imported == 1, results
        with tenancy.unscoped("test setup: the nightly export job"):
            practice = Practice.get_by_id(practice_id)
        assert jobs.export_practice_audit(services, practice) > 0
        with tenancy.practice_scope(practice_id):
            # Test setup: an upload whose object is still being written (the sweep waits an hour).
            ObjectCleanup.insert(id=uuid.uuid4(), object_key=f"{practice_id}/photos/{uuid.uuid4()}",
                                 reason="UPLOAD", not_before=now + dt.timedelta(hours=1), attempts=0,
                                 created_at=now).execute()
            Subscription.insert(id=uuid.uuid4(), plan="STARTER", billing_interval="monthly", status="ACTIVE",
                                trial_ends_at=now, stripe_customer_id=f"cus_{secrets.token_hex(8)}",
                                stripe_subscription_id=f"sub_{secrets.token_hex(8)}", created_at=now,
                                updated_at=now).execute()
        add_payment(tenant.practice_id, now, 4900)


# --- what a practice owns, as stored -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Snapshot:
    #: table -> the practice's rows (column -> value), in a stable order.
    rows: dict[str, list[dict[str, Any]]]
    #: object key -> the object's bytes.
    objects: dict[str, bytes]

    def ids(self, table: str) -> list[str]:
        return [canonical_uuid(row["id"]) for row in self.rows.get(table, [])]


def canonical_uuid(value: Any) -> str:
    return str(uuid.UUID(str(value)))


def _query(database: peewee.Database, sql: str, params: tuple) -> list[dict[str, Any]]:
    cursor = database.execute_sql(sql, params)
    columns = [column[0] for column in cursor.description]
    rows = [{column: bytes(value) if isinstance(value, memoryview | bytearray) else value
             for column, value in zip(columns, row, strict=True)} for row in cursor.fetchall()]
    return sorted(rows, key=repr)


def snapshot(database: peewee.Database, store: ObjectStore, tables: list[str], practice_id: str) -> Snapshot:
    """The practice's rows in every tenant table, its practice row, its members' sessions and
    its objects. `database` must be the owner connection: nothing filters what it reads."""
    param, key = database.param, uuid.UUID(practice_id).hex  # 32 hex digits: both engines' UUID input
    rows = {table: _query(database, f'SELECT * FROM "{table}" WHERE practice_id = {param}', (key,))
            for table in tables}
    rows["practice"] = _query(database, f"SELECT * FROM practice WHERE id = {param}", (key,))
    members = [uuid.UUID(str(row["id"])).hex for row in rows.get("app_user", [])]
    if members:
        marks = ", ".join([param] * len(members))
        rows["auth_session"] = _query(database, f"SELECT * FROM auth_session WHERE user_id IN ({marks})",
                                      tuple(members))
    objects = {info.key: store.get(info.key).read_all() for info in store.list(f"{practice_id}/")}
    return Snapshot(rows, objects)


def _leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return []


def _text_forms(value: Any) -> set[str]:
    """The forms in which a stored value could show up in an answer."""
    if isinstance(value, bytes):
        return {base64.b64encode(value).decode()} if len(value) >= MIN_SECRET else set()
    if not isinstance(value, str) or len(value) < MIN_SECRET:
        return set()
    if _CONSTANT.match(value) or _TIMESTAMP.match(value):
        return set()
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        pass
    else:
        return {str(parsed), parsed.hex}
    forms = {value, json.dumps(value)[1:-1]}  # and as JSON writes it with ensure_ascii
    if value[:1] in "{[":
        with contextlib.suppress(ValueError):
            forms |= {form for leaf in _leaves(json.loads(value)) for form in _text_forms(leaf)}
    return forms


def _all_forms(shot: Snapshot) -> set[str]:
    return {form for rows in shot.rows.values() for row in rows for value in row.values()
            for form in _text_forms(value)}


def secret_values(own: Snapshot, other: Snapshot, tokens: list[str]) -> set[str]:
    """Values of `own` that occur in none of `other`'s rows: seeing one means seeing `own`."""
    return (_all_forms(own) - _all_forms(other)) | set(tokens)


def object_samples(shot: Snapshot) -> dict[str, bytes]:
    """A 32-byte slice from the middle of each object: found in an answer, it leaked."""
    return {key: data[len(data) // 2: len(data) // 2 + 32] for key, data in shot.objects.items()}


def digest(shot: Snapshot) -> dict[str, Any]:
    """The snapshot in a form that compares quickly and prints briefly."""
    objects = {key: hashlib.sha256(data).hexdigest() for key, data in shot.objects.items()}
    return {**shot.rows, "objects": objects}


# --- request bodies from the declared schemas ----------------------------------------------


def sample_value(name: str, schema: dict, samples: dict[str, Any]) -> Any:
    """A value that the schema accepts: a known sample for the property name, else one made
    from the schema (enum -> first value, formats, minimum lengths and counts)."""
    if name in samples:
        value = samples[name]
        return value() if callable(value) else value
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return next(value for value in schema["enum"] if value is not None)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        properties = schema.get("properties", {})
        names = list(schema.get("required", []))
        missing = max(schema.get("minProperties", 0) - len(names), 0)  # PATCH bodies: some property
        names += [key for key in properties if key not in names][:missing]
        return {key: sample_value(key, properties.get(key, {}), samples) for key in names}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [sample_value(name, schema.get("items", {}), samples) for _ in range(count)]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "email":
        return fresh_email("matrix")
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return TAKEN_AT
    if fmt == "date":
        return "2026-11-30"
    return "x" * max(schema.get("minLength", 1), 1)


def samples_for(tenant: Tenant) -> dict[str, Any]:
    """Valid values of the tenant's own, by property name, for bodies the schema alone cannot
    make (ciphertexts, keys, its own ids)."""
    practice, ids = tenant.practice, tenant.ids
    plan = treatment.plan_body(treatment.Practice(tenant.admin, tenant.users["ARZT"]), ids["patient"])
    identity = patient_body(practice)
    del identity["lookupHash"]
    return {
        **identity,
        **{name: plan[name] for name in ("encryptedPlan", "wrappedKey")},
        "id": lambda: str(uuid.uuid4()),
        "token": lambda: secrets.token_urlsafe(32),
        "keyFingerprint": envelopes.key_fingerprint(practice["publicKey"]),
        "signingKey": practice["signingKey"],
        "patientId": ids["patient"], "consentFormId": ids["consent_signed"],
        "consentId": ids["consent_signed"], "templateId": ids["template"], "treatmentPlanId": ids["plan"],
        "userId": tenant.user_id("ADMIN"),
        "challengeId": ids["challenge"],
        "challengeResponse": base64.b64encode(secrets.token_bytes(envelopes.CHALLENGE_BYTES)).decode(),
        "encryptedPrivKey": practice["encryptedPrivKey"], "publicKey": practice["publicKey"],
        "lookupHash": lambda: secrets.token_hex(32),
        "name": lambda: f"Matrix {secrets.token_hex(3)}",
        "performedAt": treatment.PERFORMED_AT, "takenAt": TAKEN_AT,
        "points": treatment.template_body()["points"][:1],
        "patientNumber": "8812345678", "lastName": "Muster", "firstName": "Erika",
        "dateOfBirth": "1980-02-29",
        "code": "000000",
    }
