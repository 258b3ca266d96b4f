"""Practice settings (ADMIN)."""

from __future__ import annotations

import falcon

from appliance.http.body import json_body
from appliance.http.operation import ADMIN, operation, roles
from appliance.models import CONSENT_TYPES
from appliance.resources.auth import caller
from appliance.resources.schemas import TIMESTAMP, obj
from appliance.services.practice_settings import PracticeSettings

TAGS = ("Settings",)
#: Long enough for a consultation, short enough that an unattended screen does not keep the
#: practice keys for a morning; every member reads it with GET /api/practice.
VAULT_IDLE_MINUTES = {"type": "integer", "minimum": 1, "maximum": 240, "default": 15,
                      "description": "Minutes without use after which staff clients lock the vault"}
FIELDS = {
    "enabledConsentTypes": {"type": "array", "items": {"enum": list(CONSENT_TYPES)},
                            "uniqueItems": True, "minItems": 1, "maxItems": len(CONSENT_TYPES),
                            "description": "At least one: without any, no consent can be sent"},
    "defaultConsentExpiry": {"type": "integer", "minimum": 1, "maximum": 90,
                             "description": "Days a consent link stays valid"},
    "brandColor": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
    "timezone": {"type": "string", "maxLength": 64, "description": "IANA time zone"},
    "locale": {"enum": ["de", "en"]},
    "publicBaseUrl": {"type": ["string", "null"], "maxLength": 200,
                      "description": "Overrides app.public_base_url for this practice's links"},
    "impressumUrl": {"type": ["string", "null"], "maxLength": 500,
                     "description": "https URL of the practice's Impressum, linked from its patient"
                     " pages; null: the operator's (app.impressum_url)"},
    "privacyUrl": {"type": ["string", "null"], "maxLength": 500,
                   "description": "https URL of the practice's privacy notice, linked from its patient"
                   " pages; null: the operator's (app.privacy_url)"},
    "vaultIdleMinutes": VAULT_IDLE_MINUTES,
}
#: Plain text: no control characters (line breaks included: paragraphs are list items), and
#: something other than spaces.
PLAIN = {"type": "string", "pattern": r"\S", "not": {"pattern": "[\u0000-\u001f\u007f]"}}
PRACTICE_TEXT = obj(["title", "paragraphs"], {
    "title": {**PLAIN, "minLength": 1, "maxLength": 120},
    "paragraphs": {"type": "array", "minItems": 1, "maxItems": 10,
                   "items": {**PLAIN, "minLength": 1, "maxLength": 2000}},
})
PRACTICE_TEXTS = {
    "type": "object", "additionalProperties": False,
    "properties": {kind: {**PRACTICE_TEXT, "type": ["object", "null"]} for kind in CONSENT_TYPES},
    "description": "The practice's own block per consent type (e.g. prices, its physician's name),"
    " shown in the consent form and covered by its formHash; null removes it. At most 6000"
    " characters per type. Every change is a new revision: forms already sent keep the text they"
    " named.",
}
STORED_TEXT = obj(["title", "paragraphs", "revision", "createdAt"], {
    **PRACTICE_TEXT["properties"], "revision": {"type": "integer", "minimum": 1}, "createdAt": TIMESTAMP,
})
SETTINGS = obj([*FIELDS, "practiceTexts"], {
    **FIELDS,
    "practiceTexts": {"type": "object", "additionalProperties": False,
                      "properties": {kind: STORED_TEXT for kind in CONSENT_TYPES}},
})


class SettingsResource:
    def __init__(self, settings: PracticeSettings):
        self._settings = settings

    @operation("The practice settings", roles=roles(ADMIN), tags=TAGS, response=SETTINGS)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._settings.get(req.context.principal)

    @operation(
        "Change practice settings; invalid values change nothing", roles=roles(ADMIN), tags=TAGS,
        request={**obj([], {**FIELDS, "practiceTexts": PRACTICE_TEXTS}), "minProperties": 1},
        response=SETTINGS,
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._settings.update(req.context.principal, json_body(req), caller(req))
