"""The form catalogue for staff: which forms the practice sends, and any published version.

EMPFANG may read them too: the content is what every patient of the practice is shown before
signing (no patient data), and reception is who answers a patient's questions about it on the
phone or at the desk.
"""

from __future__ import annotations

import falcon

from appliance.forms.catalogue import LOCALES
from appliance.http import query
from appliance.http.errors import bad_request
from appliance.http.operation import ADMIN, ARZT, EMPFANG, operation, roles
from appliance.models import CONSENT_TYPES
from appliance.services.forms import Forms

TAGS = ("Forms",)
READERS = roles(ADMIN, ARZT, EMPFANG)
HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
BY_LOCALE = {"type": "object", "propertyNames": {"enum": list(LOCALES)}}
#: The form document (docs/forms.md); its full schema is appliance/forms/form.schema.json.
FORM_DOCUMENT = {
    "type": "object",
    "required": ["formId", "version", "locale", "type", "title", "sections", "fieldGroups",
                 "comprehension", "declaration", "privacy", "practiceText", "signature", "formHash"],
    "properties": {"formId": {"type": "string"}, "version": {"type": "integer"},
                   "locale": {"enum": list(LOCALES)}, "type": {"enum": list(CONSENT_TYPES)},
                   "practiceText": {"type": ["object", "null"]}, "formHash": HASH},
    "description": "A consent form in one locale; formHash is the SHA-256 of its RFC 8785"
    " canonical JSON without formHash (docs/forms.md).",
}
LOCALE_PARAMETER = {"name": "locale", "in": "query", "schema": {"enum": list(LOCALES)}}
FORM_SUMMARY = {
    "type": "object",
    "required": ["type", "formId", "version", "locales", "titles", "formHashes", "practiceTextRevision"],
    "properties": {"type": {"enum": list(CONSENT_TYPES)}, "formId": {"type": "string"},
                   "version": {"type": "integer"},
                   "locales": {"type": "array", "items": {"enum": list(LOCALES)}},
                   "titles": BY_LOCALE, "formHashes": {**BY_LOCALE, "additionalProperties": HASH},
                   "practiceTextRevision": {"type": ["integer", "null"]}},
}


def _revision(req: falcon.Request) -> int | None:
    value = req.get_param("practiceTextRevision")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise bad_request("query parameter practiceTextRevision is invalid",
                          [{"field": "practiceTextRevision", "problem": "must be a whole number from 0"}])
    return int(value)


class FormList:
    def __init__(self, forms: Forms):
        self._forms = forms

    @operation(
        "The consent forms this practice sends: its enabled types with their current version",
        roles=READERS, tags=TAGS,
        response={"type": "object", "required": ["items"],
                  "properties": {"items": {"type": "array", "items": FORM_SUMMARY}}},
        description="One item per enabled consent type (at most six, so no paging): the newest"
        " catalogue version, which a new link gets, its title and formHash per locale with the"
        " practice's current text, and that text's revision (null without one).",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._forms.list(req.context.principal)


class FormItem:
    def __init__(self, forms: Forms):
        self._forms = forms

    @operation(
        "One published form version as a patient sees it", roles=READERS, tags=TAGS,
        response=FORM_DOCUMENT,
        query=(LOCALE_PARAMETER,
               {"name": "practiceTextRevision", "in": "query",
                "schema": {"type": "integer", "minimum": 0},
                "description": "with this revision of the practice's text, as a consent form that"
                " named it shows it (0: without a practice text); default: the current text"}),
        errors={400: "an unknown locale or an invalid revision",
                404: "no such form version, or no such revision of this practice's text"},
        description="Any version of the catalogue, also of types the practice has switched off"
        " (forms sent earlier name them). Without ?locale= the practice's locale.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, form_id: str, version: int) -> None:
        resp.media = self._forms.get(req.context.principal, form_id, version,
                                     query.choice(req, "locale", LOCALES), _revision(req))
