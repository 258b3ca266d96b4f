"""Patient endpoints (ADMIN, ARZT; delete ADMIN only)."""

from __future__ import annotations

import uuid

import falcon

from appliance.http import pagination, query
from appliance.http.body import json_body
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.resources.auth import caller
from appliance.resources.schemas import TIMESTAMP, UUID, obj
from appliance.services.patients import Patients

TAGS = ("Patients",)
SEALED = {"type": "string", "maxLength": 4096,
          "description": "Sealed box to the practice key (docs/crypto.md), base64"}
LOOKUP_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
IDENTITY = {
    "encryptedFirstName": SEALED,
    "encryptedLastName": SEALED,
    "encryptedDateOfBirth": SEALED,
    "encryptedEmail": SEALED,
    "encryptedPhone": SEALED,
}
PATIENT = obj(
    ["id", "lookupHash", "encryptedFirstName", "encryptedLastName", "encryptedDateOfBirth",
     "createdAt"],
    {**IDENTITY, "encryptedEmail": {"type": ["string", "null"]},
     "encryptedPhone": {"type": ["string", "null"]}, "id": UUID, "lookupHash": LOOKUP_HASH,
     "createdAt": TIMESTAMP, "consentCount": {"type": "integer"}},
    extra=True,
)
STAFF = roles(ADMIN, ARZT)


class PatientCollection:
    def __init__(self, patients: Patients):
        self._patients = patients

    @operation(
        "List patients, newest first, with their consent counts", roles=STAFF, tags=TAGS,
        response=pagination.envelope_schema(PATIENT), query=tuple(pagination.PARAMETERS),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._patients.list(pagination.page_of(req))

    @operation(
        "Create a patient from a sealed identity", roles=STAFF, tags=TAGS, created=True,
        request=obj(["lookupHash", "encryptedFirstName", "encryptedLastName", "encryptedDateOfBirth"],
                    {**IDENTITY, "lookupHash": LOOKUP_HASH}),
        response=PATIENT, errors={409: "a patient with this lookupHash exists (duplicate_patient)"},
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._patients.create(req.context.principal, json_body(req), caller(req))
        resp.status = falcon.HTTP_201


class PatientItem:
    def __init__(self, patients: Patients):
        self._patients = patients

    @operation(
        "A patient with their consent history (audited as PATIENT_VIEWED)", roles=STAFF, tags=TAGS,
        response=PATIENT, errors={404: "no such patient in this practice"},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._patients.get(req.context.principal, id, caller(req))

    @operation(
        "Erase a patient and everything recorded about them (DSGVO Art. 17)",
        roles=roles(ADMIN), tags=TAGS,
        query=({"name": "confirmRetentionOverride", "in": "query",
                "schema": {"type": "string", "enum": ["true", "false"]},
                "description": "Required as true when signed consents are inside the 10-year"
                " retention period (BGB 630f)."},),
        response=obj(["deleted", "consentForms"], {"deleted": {"const": True},
                                                   "consentForms": {"type": "integer"}}),
        errors={404: "no such patient in this practice",
                409: "signed consents inside the retention period need the override"},
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        override = query.flag(req, "confirmRetentionOverride")
        resp.media = self._patients.delete(req.context.principal, id, override, caller(req))


class PatientLookup:
    def __init__(self, patients: Patients):
        self._patients = patients

    @operation(
        "Find a patient by lookupHash", roles=STAFF, tags=TAGS, response=PATIENT,
        errors={400: "not 64 lowercase hex characters", 404: "no patient with this hash"},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, hash: str) -> None:
        resp.media = self._patients.lookup(req.context.principal, hash, caller(req))
