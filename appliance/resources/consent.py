"""Consent endpoints: staff (ADMIN, ARZT) and public (the link's token is the credential)."""

from __future__ import annotations

import re
import uuid

import falcon

from appliance import envelopes
from appliance.forms.catalogue import LOCALES
from appliance.http import pagination, query
from appliance.http.body import json_body, optional_json_body
from appliance.http.errors import bad_request
from appliance.http.head import head_from_get
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.models import CONSENT_TYPES
from appliance.outbox import MAIL_SCHEMA
from appliance.resources.auth import caller
from appliance.resources.consent_archive import ARCHIVE
from appliance.resources.forms import FORM_DOCUMENT, HASH, LOCALE_PARAMETER
from appliance.resources.patients import IDENTITY
from appliance.resources.schemas import (
    KEY_FINGERPRINT,
    LINK_TOKEN,
    LOOKUP_HASH,
    RECORD_ID,
    SIGNATURE,
    TIMESTAMP,
    UUID,
    WRAPPED_KEY,
    obj,
    payload_b64,
)
from appliance.services.consents import Consents

TAGS = ("Consent",)
STAFF = roles(ADMIN, ARZT)
STATUSES = ["PENDING", "SIGNED", "PAID", "COMPLETED", "EXPIRED", "REVOKED"]
NULLABLE_TS = {"type": ["string", "null"], "format": "date-time"}
CONSENT = obj(
    ["id", "type", "status", "patientId", "createdAt", "expiresAt"],
    {"id": UUID, "type": {"enum": list(CONSENT_TYPES)}, "status": {"enum": STATUSES},
     "patientId": {"type": ["string", "null"]}, "locale": {"enum": ["de", "en"]},
     "createdAt": TIMESTAMP, "expiresAt": TIMESTAMP, "signedAt": NULLABLE_TS,
     "revokedAt": NULLABLE_TS, "revokedBy": {"type": ["string", "null"]},
     "linkCommitment": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
     "signature": {"type": ["string", "null"]},
     "formId": {"type": "string"}, "formVersion": {"type": "integer"},
     "formLocale": {"type": ["string", "null"]}, "formHash": {"type": ["string", "null"]},
     "countersignedAt": NULLABLE_TS, "countersignedBy": {"type": ["string", "null"]},
     "mail": MAIL_SCHEMA},
    extra=True,
)
COUNTERSIGNATURE = obj(
    ["encryptedCountersignature", "wrappedKey", "signature", "countersignedAt", "countersignedBy"],
    {"encryptedCountersignature": {"type": "string"}, "wrappedKey": {"type": "string"},
     "signature": {"type": "string"}, "countersignedAt": TIMESTAMP,
     "countersignedBy": {"type": ["string", "null"], "description": "the user who countersigned"}},
)
NULLABLE_COUNTERSIGNATURE = {**COUNTERSIGNATURE, "type": ["object", "null"]}
CREATED = {**CONSENT, "required": [*CONSENT["required"], "token", "link"]}
EMAIL = {"type": "string", "format": "email", "maxLength": 254}
LINK_FIELDS = {"token": LINK_TOKEN, "signature": SIGNATURE, "patientEmail": EMAIL,
               "keyFingerprint": KEY_FINGERPRINT}
LINKS = ("The staff client draws the link token (32 random bytes) and signs the consent statement"
         " {id, type, patientId, linkCommitment} with the practice signing key, where"
         " linkCommitment is the hash of the link proof of that token (docs/crypto.md, patient"
         " submissions). The answer's `link` has no fragment: the client appends `#k=` with the"
         " key fingerprint it computed from its vault; with patientEmail the e-mailed link carries"
         " `keyFingerprint` when given.")
REASON = obj([], {"reason": {"type": "string", "maxLength": 500}})
PUBLIC_RATE_LIMIT = "consent_public"
IDEMPOTENCY = re.compile(r"[A-Za-z0-9_-]{16,128}")
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "A random value the page draws once per submission (16-128 of A-Z a-z 0-9"
    " _ -) and sends again on a retry; the server keeps only its hash.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,128}$"},
}


def idempotency_key(req: falcon.Request) -> str | None:
    value = req.get_header("Idempotency-Key")
    if value is not None and not IDEMPOTENCY.fullmatch(value):
        raise bad_request("the Idempotency-Key header is invalid",
                          [{"field": "Idempotency-Key", "problem": "16-128 of A-Z a-z 0-9 _ -"}])
    return value
#: What a submit names of the published form (forms, issue 17); kept in clear.
FORM_NAMED = {"formId": {"type": "string", "maxLength": 40}, "version": {"type": "integer", "minimum": 1},
              "locale": {"enum": list(LOCALES)}, "formHash": HASH}


class ConsentCollection:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Create a consent form and its patient link", roles=STAFF, tags=TAGS, created=True,
        request=obj(["id", "type", "token", "signature"],
                    {"id": RECORD_ID, "type": {"enum": list(CONSENT_TYPES)}, "patientId": UUID,
                     "locale": {"enum": ["de", "en"]}, **LINK_FIELDS}),
        response=CREATED,
        errors={400: "invalid, the type is not enabled (consent_type_disabled), or the signature"
                     " does not sign this consent (invalid_signature)",
                404: "patientId is not a patient of this practice",
                409: "the id or the link token is in use (id_taken)"},
        description="The expiry comes from the practice setting defaultConsentExpiry. With"
        " patientEmail the link is e-mailed (when SMTP is configured); the address is used for"
        " sending only, never stored or logged. The mail leaves in the background (retried with"
        " back-off): `emailSent` says it was queued, `mail` (also in the lists) whether it went"
        " out: pending, sent, or failed with a reason. " + LINKS,
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._consents.create(req.context.principal, json_body(req), caller(req))
        resp.status = falcon.HTTP_201


class ConsentList:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "List the practice's consent forms, newest first", roles=STAFF, tags=TAGS,
        response=pagination.envelope_schema(CONSENT),
        query=(*pagination.PARAMETERS,
               {"name": "status", "in": "query", "schema": {"enum": STATUSES}},
               {"name": "type", "in": "query", "schema": {"enum": list(CONSENT_TYPES)}},
               {"name": "from", "in": "query", "schema": {"type": "string"},
                "description": "created at or after (ISO 8601 date or date-time, UTC)"},
               {"name": "to", "in": "query", "schema": {"type": "string"},
                "description": "created at or before (a bare date includes the whole day)"}),
        description="A PENDING form past its expiry is listed as EXPIRED.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._consents.list(
            pagination.page_of(req),
            query.choice(req, "status", STATUSES),
            query.choice(req, "type", CONSENT_TYPES),
            query.instant(req, "from"),
            query.instant(req, "to", end_of_day=True),
        )


class ConsentItem:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "One consent form with its encrypted answers (audited as CONSENT_VIEWED)",
        roles=STAFF, tags=TAGS, errors={404: "no such consent in this practice"},
        response={**CONSENT, "properties": {
            **CONSENT["properties"],
            "encryptedAnswers": {"type": ["string", "null"]},
            "wrappedKey": {"type": ["string", "null"]},
            "identity": {"type": ["object", "null"], "description": "the identity the patient"
                         " submitted, sealed to this form (fields consent.firstName ...)"},
            "lookupHash": {"type": ["string", "null"], "description": "as the patient's page"
                           " computed it: recompute it from the decrypted identity"},
            "countersignature": NULLABLE_COUNTERSIGNATURE,
            "archive": {**ARCHIVE, "type": ["object", "null"]},
        }},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._consents.get(req.context.principal, id, caller(req))


class ConsentLink:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Issue a new patient link for a pending form (the old link stops working)",
        roles=STAFF, tags=TAGS, created=True, response=CREATED,
        request=obj(["token", "signature"], LINK_FIELDS),
        errors={400: "invalid, or the signature does not sign this consent with the new link"
                     " (invalid_signature)",
                404: "no such consent in this practice",
                409: "not pending, or expired (consent_not_pending); the token is in use (id_taken)"},
        description="For a lost e-mail, or a form created by the GDT import. Only hashes of links"
        " are stored, so a link cannot be shown twice; this replaces it. The deadline is kept. "
        + LINKS,
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._consents.new_link(req.context.principal, id, json_body(req), caller(req))
        resp.status = falcon.HTTP_201


class ConsentRevoke:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Revoke a consent form (by its token or id)", roles=STAFF, tags=TAGS, request=REASON,
        response=CONSENT,
        errors={404: "no such consent in this practice", 409: "already revoked or expired"},
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        body = optional_json_body(req)
        resp.media = self._consents.revoke(req.context.principal, token, body.get("reason"), caller(req))


class ConsentCountersignature:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Countersign a signed consent: the physician confirms the information talk (SIGNED or"
        " PAID -> COMPLETED)", roles=STAFF, tags=TAGS,
        request=obj(["encryptedCountersignature", "wrappedKey", "signature"], {
            "encryptedCountersignature": payload_b64(
                envelopes.COUNTERSIGNATURE_MAX_BYTES,
                "the countersignature document (docs/crypto.md), purpose consent.countersignature,"
                " bound to the consent form's id"),
            "wrappedKey": WRAPPED_KEY, "signature": SIGNATURE}),
        response={**CONSENT, "required": [*CONSENT["required"], "countersignature"],
                  "properties": {**CONSENT["properties"], "countersignature": COUNTERSIGNATURE}},
        errors={400: "invalid body (strict base64, exact lengths), or the signature does not sign"
                     " the countersignature statement with the stored answers (invalid_signature)",
                404: "no such consent in this practice",
                409: "countersigned already (already_countersigned), or not signed by the patient:"
                     " pending, expired or revoked (consent_not_signed)"},
        description="The staff client writes the countersignature document (the date of the"
        " information talk and an optional note), encrypts it to the practice key with purpose"
        " consent.countersignature bound to the form's id, and signs the statement {consentId,"
        " answersSha256, wrappedKey}, where answersSha256 is the hex SHA-256 of the decoded"
        " encryptedAnswers it read (docs/crypto.md). The server checks that signature against the"
        " answers it stores, then the form becomes COMPLETED, once: a second countersignature is a"
        " 409. Audited as CONSENT_COUNTERSIGNED; the countersigner and the time are kept in clear.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._consents.countersign(req.context.principal, id, json_body(req), caller(req))


class PublicConsent:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "What the patient page needs to show and encrypt a consent form",
        auth="public", rate_limit=PUBLIC_RATE_LIMIT, tags=TAGS,
        response=obj(
            ["id", "type", "status", "expiresAt", "locale", "practice", "publicKey", "lookupSalt", "form",
             "locales"],
            {"id": {**UUID, "description": "the consent form's id: the answers and the identity"
                    " are bound to it (docs/crypto.md)"},
             "type": {"enum": list(CONSENT_TYPES)}, "status": {"enum": STATUSES},
             "expiresAt": TIMESTAMP, "signedAt": NULLABLE_TS, "locale": {"enum": ["de", "en"]},
             "practice": obj(["name", "brandColor", "logoUrl", "impressumUrl", "privacyUrl"], {
                 "name": {"type": "string"}, "brandColor": {"type": "string"},
                 "logoUrl": {"type": ["string", "null"]},
                 "impressumUrl": {"type": ["string", "null"], "description": "the practice's Impressum,"
                                  " else the operator's (app.impressum_url); for the page footer"},
                 "privacyUrl": {"type": ["string", "null"], "description": "the practice's privacy"
                                " notice, else the operator's (app.privacy_url)"}}),
             "publicKey": {"type": "string"},
             "lookupSalt": {"type": "string"}, "form": FORM_DOCUMENT,
             "locales": {"type": "array", "items": {"enum": list(LOCALES)}}},
        ),
        query=(LOCALE_PARAMETER,),
        errors={400: "an unknown locale", 404: "unknown token",
                410: "expired (consent_expired) or revoked (consent_revoked)"},
        description="`form` is the form document the link names (its catalogue version and the"
        " practice text of the moment it was made), in the link's locale or in ?locale=;"
        " `locales` lists the locales it can be shown in. Nothing about the patient.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        resp.media = self._consents.public_get(token, query.choice(req, "locale", LOCALES))

    on_head = head_from_get(on_get)


class PublicSubmit:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Submit the encrypted answers and signature (once)", auth="public",
        rate_limit=PUBLIC_RATE_LIMIT, tags=TAGS,
        request=obj(
            ["encryptedAnswers", "wrappedKey", *FORM_NAMED, "identity", "lookupHash"],
            {"encryptedAnswers": payload_b64(envelopes.ANSWERS_MAX_BYTES,
                                             "consent.answers, bound to the consent form's id"),
             "wrappedKey": WRAPPED_KEY,
             **FORM_NAMED,
             "identity": obj(["encryptedFirstName", "encryptedLastName", "encryptedDateOfBirth"],
                             IDENTITY),
             "lookupHash": LOOKUP_HASH},
        ),
        response=obj(["status", "signedAt"], {"status": {"const": "SIGNED"}, "signedAt": TIMESTAMP}),
        query=(IDEMPOTENCY_KEY,),
        errors={400: "invalid body (strict base64, exact lengths: docs/crypto.md), or the form named"
                     " is not the one published for this consent (unknown_form_hash), or an"
                     " invalid Idempotency-Key",
                404: "unknown token",
                409: "already submitted (by a request with another or no Idempotency-Key)",
                410: "expired (consent_expired) or revoked (consent_revoked)"},
        description="The answers document (docs/crypto.md) encrypted to the practice key and bound"
        " to the consent form; the identity the patient gave sealed to the form (fields"
        " consent.firstName ...) with its lookupHash. formId, version, locale and formHash name"
        " the form document the patient was shown (from GET /api/consent/{token}); they are"
        " stored in clear, and a hash the server did not publish for this consent's form version"
        " is refused with nothing changed. The submission stays with the form: it is never"
        " attached to a patient by the hash (anyone with the link and a name can compute it);"
        " staff link it after decrypting (PUT /api/consent/practice/{id}/patient). Server time,"
        " client IP (trusted proxy chain) and user agent are recorded. A page that sends an"
        " Idempotency-Key (a fresh random value per submission) may repeat the request when the"
        " answer was lost: the repeat of the submit that won answers 200 with its result.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        key = idempotency_key(req)
        body = json_body(req)
        resp.media = self._consents.submit(token, body, caller(req), req.user_agent, key)


class ConsentPatient:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Link a consent form without a patient to one (staff decision after decrypting)",
        roles=STAFF, tags=TAGS,
        request=obj(["patientId", "signature"], {"patientId": UUID, "signature": SIGNATURE}),
        response=CONSENT,
        errors={400: "invalid, or the signature does not sign the consent with this patient"
                     " (invalid_signature)",
                404: "no such consent or patient in this practice",
                409: "the form belongs to a patient already (patient_already_linked)"},
        description="After reading a submission (its identity, and a lookupHash the staff client"
        " recomputed from it), staff choose the patient, or create one from the identity first."
        " They sign the consent statement with that patientId (docs/crypto.md); audited as"
        " CONSENT_PATIENT_LINKED.",
    )
    def on_put(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._consents.link_patient(req.context.principal, id, json_body(req), caller(req))


class PublicWithdraw:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Withdraw a given consent (DSGVO Art. 7(3))", auth="public",
        rate_limit=PUBLIC_RATE_LIMIT, tags=TAGS, request=REASON,
        response=obj(["status", "revokedAt"], {"status": {"const": "REVOKED"}, "revokedAt": TIMESTAMP}),
        errors={404: "unknown token", 409: "not signed, or already withdrawn"},
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        body = optional_json_body(req)
        resp.media = self._consents.withdraw(token, body.get("reason"), caller(req))
