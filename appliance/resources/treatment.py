"""Treatment plan and treatment template endpoints (ADMIN, ARZT)."""

from __future__ import annotations

import re
import uuid

import falcon

from appliance.http import pagination, query
from appliance.http.body import json_body
from appliance.http.errors import ApiError, bad_request
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.models import BODY_REGIONS, CONSENT_TYPES, DIAGRAM_TYPES, DOSE_UNITS, TECHNIQUES
from appliance.resources.auth import caller
from appliance.resources.schemas import (
    NULLABLE_UUID,
    RECORD_ID,
    SIGNATURE,
    TIMESTAMP,
    UUID,
    WRAPPED_KEY,
    obj,
    payload_b64,
)
from appliance.services.treatment_plans import MAX_PLAN_BYTES, TreatmentPlans, etag
from appliance.services.treatment_templates import TreatmentTemplates

STAFF = roles(ADMIN, ARZT)
PLAN_TAGS = ("Treatment Plans",)
TEMPLATE_TAGS = ("Treatment Templates",)
CONSENT_TYPE = {"enum": list(CONSENT_TYPES)}
NULLABLE = {"type": ["string", "null"]}

# ----- treatment plans -----

PLAN_FIELDS = {
    "consentType": CONSENT_TYPE,
    "consentFormId": {**NULLABLE_UUID, "description": "a consent form of the same patient and type"},
    "templateId": {**NULLABLE_UUID, "description": "the template the plan started from"},
    "performedAt": {"type": "string", "format": "date-time", "maxLength": 40,
                    "description": "RFC 3339 date-time with offset"},
    "encryptedPlan": payload_b64(MAX_PLAN_BYTES, "treatment.plan, bound to the plan's id"),
    "wrappedKey": WRAPPED_KEY,
    "signature": {**SIGNATURE, "description": "the practice's signature of the plan statement"
                  " (docs/crypto.md) as it is after this request, with the version it will have"},
}
PLAN_SUMMARY = obj(
    ["id", "patientId", "consentType", "consentFormId", "templateId", "performedAt", "version",
     "createdAt", "updatedAt"],
    {"id": UUID, "patientId": UUID, "consentType": CONSENT_TYPE, "consentFormId": NULLABLE,
     "templateId": NULLABLE, "performedAt": TIMESTAMP, "version": {"type": "integer", "minimum": 1},
     "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP, "createdBy": NULLABLE, "updatedBy": NULLABLE,
     "signature": {"type": "string"}},
    extra=True,
)
PLAN = {
    **PLAN_SUMMARY,
    "required": [*PLAN_SUMMARY["required"], "encryptedPlan", "wrappedKey", "photoIds"],
    "properties": {**PLAN_SUMMARY["properties"], "encryptedPlan": {"type": "string"},
                   "wrappedKey": {"type": "string"},
                   "photoIds": {"type": "array", "items": UUID,
                                "description": "photos linked to this plan"}},
}
ETAG = re.compile(r'"([0-9]{1,9})"')
IF_MATCH = {
    "name": "If-Match", "in": "header", "required": True,
    "schema": {"type": "string", "pattern": '^"[0-9]{1,9}"$'},
    "description": "The ETag of the plan as read (GET, POST and PATCH answer it; it is the"
    " plan's `version` in quotes, e.g. \"3\").",
}
PLAN_DOCUMENT = (
    "The plan itself (diagram type, injection points with x and y in percent, product, units or"
    " ml, batch number, technique and notes, total units, notes) is JSON encrypted by the staff"
    " client; the server stores and returns the ciphertext and cannot read it."
)


def read_version(req: falcon.Request) -> int:
    """The plan version named by If-Match: exactly one strong ETag `"<version>"`."""
    header = req.get_header("If-Match")
    if header is None or not header.strip():
        raise ApiError(428, "precondition_required",
                       'an update needs If-Match with the ETag of the plan as read, e.g. If-Match: "3"')
    match = ETAG.fullmatch(header.strip())
    if match is None:
        raise bad_request("the If-Match header is invalid",
                          [{"field": "If-Match", "problem": 'must be one strong ETag of the plan, e.g. "3"'}],
                          code="invalid_precondition")
    return int(match[1])


class PlanCollection:
    def __init__(self, plans: TreatmentPlans):
        self._plans = plans

    @operation(
        "Create a treatment plan (encrypted)", roles=STAFF, tags=PLAN_TAGS, created=True,
        request=obj(["id", "patientId", "consentType", "performedAt", "encryptedPlan", "wrappedKey",
                     "signature"],
                    {"id": RECORD_ID, "patientId": UUID, **PLAN_FIELDS}),
        response=PLAN,
        errors={400: "invalid, the consent form is of another patient or type (consent_form_mismatch),"
                     " or the signature does not sign this plan (invalid_signature)",
                404: "patientId, consentFormId or templateId is not of this practice",
                409: "a linked record was deleted at the same moment (link_changed), or the id is"
                     " in use (id_taken)"},
        description=PLAN_DOCUMENT + " The answer carries the plan's ETag for the first update.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._plans.create(req.context.principal, json_body(req), caller(req))
        resp.etag = etag(resp.media["version"])
        resp.status = falcon.HTTP_201


class PatientPlans:
    def __init__(self, plans: TreatmentPlans):
        self._plans = plans

    @operation(
        "List a patient's treatment plans, newest treatment first", roles=STAFF, tags=PLAN_TAGS,
        response=pagination.envelope_schema(PLAN_SUMMARY), query=tuple(pagination.PARAMETERS),
        errors={404: "no such patient in this practice"},
        description="Without the ciphertexts: GET a plan to read it (that is audited).",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, patient_id: uuid.UUID) -> None:
        resp.media = self._plans.list_for_patient(pagination.page_of(req), patient_id)


class PlanItem:
    def __init__(self, plans: TreatmentPlans):
        self._plans = plans

    @operation(
        "A treatment plan with its ciphertext and photo ids (audited as TREATMENT_PLAN_VIEWED)",
        roles=STAFF, tags=PLAN_TAGS, response=PLAN, errors={404: "no such plan in this practice"},
        description="The ETag header is the plan's version, for If-Match on the next update.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._plans.get(req.context.principal, id, caller(req))
        resp.etag = etag(resp.media["version"])

    @operation(
        "Replace a treatment plan's encrypted content (optimistic concurrency)", roles=STAFF,
        tags=PLAN_TAGS, request=obj(["encryptedPlan", "wrappedKey", "signature"], PLAN_FIELDS), response=PLAN,
        query=(IF_MATCH,),
        errors={400: "invalid body or If-Match, the consent form does not fit (consent_form_mismatch),"
                     " or the signature does not sign the plan as updated (invalid_signature)",
                404: "no such plan (or linked consent form or template) in this practice",
                409: "a linked record was deleted at the same moment (link_changed)",
                412: "the plan was changed since the version in If-Match (version_mismatch);"
                     " details.currentVersion and the ETag header name the current version",
                428: "If-Match is missing (precondition_required)"},
        description="Concurrency: send `If-Match` with the ETag (the `version` in quotes) of the"
        " plan you edited. The update is stored only if the plan is still at that version and"
        " increments it; two updates made from the same version: one is stored, the other gets"
        " 412 and must reload, decrypt and apply its change again. encryptedPlan and wrappedKey"
        " replace the whole payload; performedAt, consentType, consentFormId and templateId"
        " change only when given (null unlinks). " + PLAN_DOCUMENT,
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        body = json_body(req)
        resp.media = self._plans.update(req.context.principal, id, read_version(req), body, caller(req))
        resp.etag = etag(resp.media["version"])

    @operation(
        "Delete a treatment plan; its photos stay, without the link", roles=STAFF, tags=PLAN_TAGS,
        response=obj(["deleted", "photosUnlinked"], {"deleted": {"const": True},
                                                     "photosUnlinked": {"type": "integer"}}),
        errors={404: "no such plan in this practice"},
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._plans.delete(req.context.principal, id, caller(req))


# ----- treatment templates -----

MAX_POINTS = 100
POINT = obj(
    ["x", "y", "units", "unit"],
    {"x": {"type": "number", "minimum": 0, "maximum": 100, "description": "percent of the diagram width"},
     "y": {"type": "number", "minimum": 0, "maximum": 100, "description": "percent of the diagram height"},
     "units": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
     "unit": {"enum": list(DOSE_UNITS), "description": "U (units, botulinum) or ml"},
     "product": {"type": "string", "minLength": 1, "maxLength": 120},
     "technique": {"enum": list(TECHNIQUES)},
     "notes": {"type": "string", "maxLength": 500}},
)
TEMPLATE_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 120, "pattern": r"\S",
             "description": "unique per practice and type; leading and trailing spaces are removed"},
    "type": CONSENT_TYPE,
    "bodyRegion": {"enum": list(BODY_REGIONS)},
    "diagramType": {"enum": list(DIAGRAM_TYPES)},
    "points": {"type": "array", "minItems": 1, "maxItems": MAX_POINTS, "items": POINT},
    "notes": {"type": "string", "maxLength": 2000},
}
TEMPLATE = obj(
    ["id", *TEMPLATE_FIELDS, "createdAt", "updatedAt"],
    {**TEMPLATE_FIELDS, "id": UUID, "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP},
)
TEMPLATE_ERRORS = {409: "a template of this type with this name exists (duplicate_template)"}


class TemplateCollection:
    def __init__(self, templates: TreatmentTemplates):
        self._templates = templates

    @operation(
        "List the practice's treatment templates, sorted by name", roles=STAFF, tags=TEMPLATE_TAGS,
        response=pagination.envelope_schema(TEMPLATE),
        query=(*pagination.PARAMETERS,
               {"name": "type", "in": "query", "schema": CONSENT_TYPE},
               {"name": "bodyRegion", "in": "query", "schema": {"enum": list(BODY_REGIONS)}}),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._templates.list(
            pagination.page_of(req), query.choice(req, "type", CONSENT_TYPES),
            query.choice(req, "bodyRegion", BODY_REGIONS),
        )

    @operation(
        "Create a treatment template", roles=STAFF, tags=TEMPLATE_TAGS, created=True,
        request=obj(["name", "type", "bodyRegion", "diagramType", "points"], TEMPLATE_FIELDS),
        response=TEMPLATE, errors=TEMPLATE_ERRORS,
        description="Templates are practice knowledge, stored in clear: never put patient data"
        f" into them. Techniques: {', '.join(TECHNIQUES)}. At most {MAX_POINTS} points.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._templates.create(req.context.principal, json_body(req), caller(req))
        resp.status = falcon.HTTP_201


class TemplateItem:
    def __init__(self, templates: TreatmentTemplates):
        self._templates = templates

    @operation(
        "Change a treatment template (the given fields)", roles=STAFF, tags=TEMPLATE_TAGS,
        request={**obj([], TEMPLATE_FIELDS), "minProperties": 1}, response=TEMPLATE,
        errors={404: "no such template in this practice", **TEMPLATE_ERRORS},
        description="Plans made from the template keep what they recorded.",
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._templates.update(req.context.principal, id, json_body(req), caller(req))

    @operation(
        "Delete a treatment template; plans made from it keep their data", roles=STAFF,
        tags=TEMPLATE_TAGS,
        response=obj(["deleted", "plansUnlinked"], {"deleted": {"const": True},
                                                    "plansUnlinked": {"type": "integer"}}),
        errors={404: "no such template in this practice"},
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._templates.delete(req.context.principal, id, caller(req))
