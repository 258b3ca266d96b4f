"""Helpers for the treatment tests: a practice with an ARZT, patients and consent forms made over
HTTP, plan bodies encrypted as the reference client encrypts them, and the rows behind the API."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

import falcon.testing
import jsonschema

from appliance import envelopes, tenancy
from appliance.client import crypto
from appliance.client.api import compact_json, instant, plan_statement
from appliance.models import TreatmentPlan, TreatmentTemplate
from tests.support.api import Account, Founder, call, founder, member_with_role
from tests.support.consent import consent_body, patient_body

#: A plan as a staff client records it; every string must stay out of the database in clear.
PLAN = {
    "diagramType": "FACE_FRONT",
    "points": [
        {"x": 50, "y": 22.5, "product": "Bocouture", "units": 4, "unit": "U",
         "batchNumber": "C-778812", "technique": "BOLUS", "notes": "Glabella Mitte, tief"},
        {"x": 41.5, "y": 24, "product": "Bocouture", "units": 4, "unit": "U",
         "batchNumber": "C-778812", "technique": "BOLUS", "notes": "Corrugator links"},
    ],
    "totalUnits": 8,
    "notes": "Kontrolle in 14 Tagen, Patientin wünscht natürliche Mimik",
}
PLAN_SECRETS = ("Bocouture", "C-778812", "Glabella Mitte", "Corrugator", "natürliche Mimik")
PERFORMED_AT = "2026-11-28T14:30:00Z"


@dataclass(frozen=True)
class Practice:
    """A practice founded over HTTP (its ADMIN) with one ARZT."""

    admin: Founder
    arzt: Account

    @property
    def data(self) -> dict:
        return self.admin.practice

    @property
    def keys(self) -> crypto.PracticeKeys:
        return self.admin.keys


def practice(client: falcon.testing.TestClient) -> Practice:
    admin = founder(client)
    return Practice(admin, member_with_role(client, admin.practice["id"], "ARZT"))


def _ok(result: falcon.testing.Result, status: int = 201) -> dict:
    assert result.status_code == status, result.text
    return result.json


def create_patient(client: falcon.testing.TestClient, practice: Practice) -> dict:
    """A patient with a random lookupHash: the server only sees 64 hex characters."""
    return _ok(call(client, "POST", "/api/patients", token=practice.arzt.token,
                    json=patient_body(practice.data)))


def create_consent(client: falcon.testing.TestClient, practice: Practice, patient_id: str | None,
                   consent_type: str = "BOTOX") -> dict:
    return _ok(call(client, "POST", "/api/consent", token=practice.arzt.token,
                    json=consent_body(practice.data, consent_type, patient_id)))


def sealed_plan(practice: Practice, plan_id: str, statement: dict, plan: dict = PLAN) -> dict:
    """encryptedPlan, wrappedKey and signature as `StaffClient` makes them; `statement` holds
    the plan's other signed fields (patientId, consentType, consentFormId, performedAt, version)."""
    wrapped_key, ciphertext = crypto.encrypt_payload(
        practice.data["publicKey"], compact_json(plan), envelopes.PURPOSE_TREATMENT_PLAN, plan_id
    )
    signed = plan_statement(plan_id, {**statement, "wrappedKey": wrapped_key,
                                      "performedAt": instant(statement["performedAt"])})
    return {"encryptedPlan": base64.b64encode(ciphertext).decode(), "wrappedKey": wrapped_key,
            "signature": crypto.sign_statement(practice.keys, "treatment.plan", signed)}


def plan_body(practice: Practice, patient_id: str, consent_type: str = "BOTOX", plan: dict = PLAN,
              **fields) -> dict:
    """A POST body for a new plan under a new random id, signed with `fields` as sent."""
    plan_id = str(uuid.uuid4())
    body = {"id": plan_id, "patientId": patient_id, "consentType": consent_type,
            "performedAt": PERFORMED_AT, **fields}
    statement = {**body, "consentFormId": body.get("consentFormId"), "version": 1}
    return {**body, **sealed_plan(practice, plan_id, statement, plan)}


def update_body(practice: Practice, record: dict, plan: dict = PLAN, **changes) -> dict:
    """A PATCH body for `record` (as read): the new ciphertext, `changes`, signed as the plan
    will be after the update."""
    merged = {**record, **changes, "version": record["version"] + 1}
    return {**changes, **sealed_plan(practice, record["id"], merged, plan)}


def create_plan(client: falcon.testing.TestClient, practice: Practice, patient_id: str, **fields) -> dict:
    body = plan_body(practice, patient_id, **fields)
    return _ok(call(client, "POST", "/api/treatment-plans", token=practice.arzt.token, json=body))


def open_plan(practice: Practice, record: dict) -> dict:
    """The clear plan document of a GET answer, opened with the practice secret key."""
    plain = crypto.decrypt_payload(practice.keys, record["wrappedKey"],
                                   base64.b64decode(record["encryptedPlan"]),
                                   envelopes.PURPOSE_TREATMENT_PLAN, record["id"])
    return json.loads(plain)


def if_match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


def template_body(**changes) -> dict:
    body = {
        "name": "Glabella 20 U in 5 Punkten",
        "type": "BOTOX",
        "bodyRegion": "GLABELLA",
        "diagramType": "FACE_FRONT",
        "points": [
            {"x": 50, "y": 22, "units": 4, "unit": "U", "product": "Vistabel", "technique": "BOLUS"},
            {"x": 44, "y": 24, "units": 4, "unit": "U"},
            {"x": 56, "y": 24, "units": 4, "unit": "U"},
            {"x": 40, "y": 20, "units": 4, "unit": "U", "notes": "oberflächlich"},
            {"x": 60, "y": 20, "units": 4, "unit": "U", "technique": "MICRODROPLET"},
        ],
        "notes": "Standard Glabella, Frauen",
    }
    body.update(changes)
    return body


def create_template(client: falcon.testing.TestClient, practice: Practice, **changes) -> dict:
    return _ok(call(client, "POST", "/api/treatment-templates", token=practice.arzt.token,
                    json=template_body(**changes)))


# --- rows behind the API -------------------------------------------------------------------


def plan_rows() -> list[TreatmentPlan]:
    with tenancy.unscoped("test inspection"):
        return list(TreatmentPlan.select().order_by(TreatmentPlan.created_at))


def plan_row(plan_id: str) -> TreatmentPlan:
    with tenancy.unscoped("test inspection"):
        return TreatmentPlan.get_by_id(uuid.UUID(plan_id))


def template_rows() -> list[TreatmentTemplate]:
    with tenancy.unscoped("test inspection"):
        return list(TreatmentTemplate.select().order_by(TreatmentTemplate.name))


def assert_documented(client: falcon.testing.TestClient, method: str, path: str,
                      result: falcon.testing.Result) -> None:
    """The answer matches the response schema the OpenAPI document declares for it."""
    document = client.simulate_get("/api/openapi.json").json
    response = document["paths"][path][method.lower()]["responses"][str(result.status_code)]
    jsonschema.validate(result.json, response["content"]["application/json"]["schema"])
