"""Practice settings (ADMIN)."""

from __future__ import annotations

import falcon

from appliance.http.body import json_body
from appliance.http.operation import ADMIN, operation, roles
from appliance.models import CONSENT_TYPES
from appliance.resources.auth import caller
from appliance.resources.schemas import obj
from appliance.services.practice_settings import PracticeSettings

TAGS = ("Settings",)
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
}
SETTINGS = obj(list(FIELDS), FIELDS)


class SettingsResource:
    def __init__(self, settings: PracticeSettings):
        self._settings = settings

    @operation("The practice settings", roles=roles(ADMIN), tags=TAGS, response=SETTINGS)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._settings.get(req.context.principal)

    @operation(
        "Change practice settings; invalid values change nothing", roles=roles(ADMIN), tags=TAGS,
        request={**obj([], FIELDS), "minProperties": 1}, response=SETTINGS,
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._settings.update(req.context.principal, json_body(req), caller(req))
