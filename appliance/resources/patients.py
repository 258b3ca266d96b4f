"""Patient endpoints (ADMIN, ARZT; delete ADMIN only)."""

from __future__ import annotations

import uuid

import falcon

from appliance.http import pagination, query
from appliance.http.body import json_body
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.resources.auth import caller
from appliance.resources.schemas import LOOKUP_HASH, RECORD_ID, SEALED, SIGNATURE, TIMESTAMP, UUID, obj
from appliance.services.patients import Patients

TAGS = ("Patients",)
IDENTITY = {
    "encryptedFirstName": SEALED,
    "encryptedLastName": SEALED,
    "encryptedDateOfBirth": SEALED,
    "encryptedEmail": SEALED,
    "encryptedPhone": SEALED,
}
PATIENT = obj(
    ["id", "lookupHash", "encryptedFirstName", "encryptedLastName", "encryptedDateOfBirth",
     "signature", "createdAt"],
    {**IDENTITY, "encryptedEmail": {"type": ["string", "null"]},
     "encryptedPhone": {"type": ["string", "null"]}, "id": UUID, "lookupHash": LOOKUP_HASH,
     "signature": {"type": ["string", "null"], "description": "the staff signature; null for a"
                   " patient the GDT import made, until staff confirm it"},
     "createdAt": TIMESTAMP, "consentCount": {"type": "integer"}},
    extra=True,
)
SIGNING = ("Each identity value is sealed to the field and to the patient's id; the signature"
           " signs the patient statement (docs/crypto.md) and is checked with the practice's"
           " signing key.")
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
        "Create a patient from a sealed identity, signed by the practice", roles=STAFF, tags=TAGS,
        created=True,
        request=obj(["id", "lookupHash", "encryptedFirstName", "encryptedLastName",
                     "encryptedDateOfBirth", "signature"],
                    {**IDENTITY, "id": RECORD_ID, "lookupHash": LOOKUP_HASH, "signature": SIGNATURE}),
        response=PATIENT,
        errors={400: "invalid, or the signature does not sign this patient (invalid_signature)",
                409: "a patient with this lookupHash (duplicate_patient) or a record with this id"
                     " (id_taken) exists"},
        description=SIGNING,
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


class PatientSignature:
    def __init__(self, patients: Patients):
        self._patients = patients

    @operation(
        "Confirm a patient the GDT import made: staff sign it after checking the identity",
        roles=STAFF, tags=TAGS, request=obj(["signature"], {"signature": SIGNATURE}), response=PATIENT,
        errors={400: "the signature does not sign this patient (invalid_signature)",
                404: "no such patient in this practice",
                409: "the patient is signed already (already_signed)"},
        description="The import seals the identity the practice management system sent, with the"
        " server's copy of the public key, and cannot sign: readers show such a patient as"
        " unconfirmed until a staff client signs its statement. " + SIGNING,
    )
    def on_put(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._patients.confirm(req.context.principal, id, json_body(req)["signature"],
                                            caller(req))


class PatientLookup:
    def __init__(self, patients: Patients):
        self._patients = patients

    @operation(
        "Find a patient by lookupHash", roles=STAFF, tags=TAGS, response=PATIENT,
        errors={400: "not 64 lowercase hex characters", 404: "no patient with this hash"},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, hash: str) -> None:
        resp.media = self._patients.lookup(req.context.principal, hash, caller(req))
