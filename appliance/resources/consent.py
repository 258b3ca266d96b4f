"""Consent endpoints: staff (ADMIN, ARZT) and public (the link's token is the credential)."""

from __future__ import annotations

import uuid

import falcon

from appliance.http import pagination, query
from appliance.http.body import json_body, optional_json_body
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.models import CONSENT_TYPES
from appliance.resources.auth import caller
from appliance.resources.patients import IDENTITY, LOOKUP_HASH
from appliance.resources.schemas import TIMESTAMP, UUID, obj
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
     "revokedAt": NULLABLE_TS, "revokedBy": {"type": ["string", "null"]}},
    extra=True,
)
CREATED = {**CONSENT, "required": [*CONSENT["required"], "token", "link"]}
REASON = obj([], {"reason": {"type": "string", "maxLength": 500}})
PUBLIC_RATE_LIMIT = "consent_public"


class ConsentCollection:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Create a consent form and its patient link", roles=STAFF, tags=TAGS, created=True,
        request=obj(["type"], {"type": {"enum": list(CONSENT_TYPES)}, "patientId": UUID,
                               "locale": {"enum": ["de", "en"]},
                               "patientEmail": {"type": "string", "format": "email", "maxLength": 254}}),
        response=CREATED,
        errors={400: "invalid, or the type is not enabled (consent_type_disabled)",
                404: "patientId is not a patient of this practice"},
        description="The expiry comes from the practice setting defaultConsentExpiry. With"
        " patientEmail the link is e-mailed (when SMTP is configured); the address is used for"
        " sending only, never stored or logged, and `emailSent` tells whether it went out.",
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
        request=obj([], {"patientEmail": {"type": "string", "format": "email", "maxLength": 254}}),
        errors={404: "no such consent in this practice", 409: "not pending, or expired"},
        description="For a lost e-mail, or a form created by the GDT import. Only hashes of links"
        " are stored, so a link cannot be shown twice; this replaces it. The deadline is kept.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        body = optional_json_body(req)
        resp.media = self._consents.new_link(req.context.principal, id, body.get("patientEmail"),
                                             caller(req))
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


class PublicConsent:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "What the patient page needs to show and encrypt a consent form",
        auth="public", rate_limit=PUBLIC_RATE_LIMIT, tags=TAGS,
        response=obj(
            ["type", "status", "expiresAt", "locale", "practice", "publicKey", "lookupSalt"],
            {"type": {"enum": list(CONSENT_TYPES)}, "status": {"enum": STATUSES},
             "expiresAt": TIMESTAMP, "signedAt": NULLABLE_TS, "locale": {"enum": ["de", "en"]},
             "practice": {"type": "object"}, "publicKey": {"type": "string"},
             "lookupSalt": {"type": "string"}},
        ),
        errors={404: "unknown token", 410: "expired (consent_expired) or revoked (consent_revoked)"},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        resp.media = self._consents.public_get(token)


class PublicSubmit:
    def __init__(self, consents: Consents):
        self._consents = consents

    @operation(
        "Submit the encrypted answers and signature (once)", auth="public",
        rate_limit=PUBLIC_RATE_LIMIT, tags=TAGS,
        request=obj(
            ["encryptedAnswers", "wrappedKey"],
            {"encryptedAnswers": {"type": "string", "description": "base64 secretstream payload,"
                                  " purpose consent.answers (docs/crypto.md)"},
             "wrappedKey": {"type": "string", "maxLength": 200},
             "lookupHash": LOOKUP_HASH,
             "patient": obj([], IDENTITY),
             "comprehension": obj(["passed"], {"passed": {"type": "boolean"},
                                               "correct": {"type": "integer", "minimum": 0},
                                               "total": {"type": "integer", "minimum": 0}})},
        ),
        response=obj(["status", "signedAt"], {"status": {"const": "SIGNED"}, "signedAt": TIMESTAMP}),
        errors={404: "unknown token", 409: "already submitted",
                410: "expired (consent_expired) or revoked (consent_revoked)"},
        description="The patient is linked by lookupHash, or created from the sealed identity,"
        " in the same transaction. Server time, client IP (trusted proxy chain) and user agent"
        " are recorded.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        body = json_body(req)
        resp.media = self._consents.submit(token, body, caller(req), req.user_agent)


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
