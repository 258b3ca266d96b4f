"""GDT endpoints: the consent record for the PVS (any member) and the GDT settings (ADMIN)."""

from __future__ import annotations

import falcon

from appliance.gdt.record import QUIRKS, WRITABLE
from appliance.http.body import json_body
from appliance.http.operation import ADMIN, MEMBERS, operation, roles
from appliance.models import CONSENT_TYPES
from appliance.resources.auth import caller
from appliance.resources.schemas import UUID, obj
from appliance.services.gdt import Gdt

TAGS = ("GDT",)
GDT_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,8}$",
          "description": "GDT id: 1 to 8 letters, digits, _ or - (it is part of file names)"}
#: Printable text without control characters (a CR or LF would end a GDT line).
TEXT = r"^[^\u0000-\u001f\u007f-\u009f]*\S[^\u0000-\u001f\u007f-\u009f]*$"
#: An 8402 or 8410 value as a PVS sends it, compared without case and surrounding spaces.
GDT_VALUE = {"type": ["string", "null"], "minLength": 1, "maxLength": 60, "pattern": TEXT}
GENERATE = obj(
    ["consentId", "patientNumber", "lastName", "firstName", "dateOfBirth"],
    {
        "consentId": UUID,
        # Lengths are GDT 2.1's field lengths for 3000, 3101 and 3102.
        "patientNumber": {"type": "string", "minLength": 1, "maxLength": 10, "pattern": TEXT,
                          "description": "the patient number in the PVS (3000)"},
        "lastName": {"type": "string", "minLength": 1, "maxLength": 28, "pattern": TEXT},
        "firstName": {"type": "string", "minLength": 1, "maxLength": 28, "pattern": TEXT},
        "dateOfBirth": {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "sex": {"enum": ["M", "W"], "description": "3110: M = 1 (maennlich), W = 2 (weiblich)"},
        "receiverId": {**GDT_ID, "description": "8315; default: the practice's defaultReceiverId"},
        "exchange": {"type": "boolean",
                     "description": "also write the record into the practice's exchange directory"},
    },
)
SETTINGS_FIELDS = {
    "exchangeDirectory": {"type": ["string", "null"], "minLength": 1, "maxLength": 1024,
                          "description": "absolute path inside the server's gdt.exchange_root;"
                          " null switches the exchange directory off"},
    "senderId": {**GDT_ID, "description": "8316: this appliance's GDT id"},
    "defaultReceiverId": {**GDT_ID, "description": "8315: the PVS's GDT id"},
    "charset": {"enum": list(WRITABLE), "description": "9206: ISO-8859-1 (3) or CP437 (2)"},
    "requestMapping": {
        "type": "array", "maxItems": 100,
        "description": "The practice's own 8402 procedure and 8410 test values and the consent type"
        " each asks for, beyond the built-in EW-* test ids (docs/gdt.md). A rule with both applies"
        " to that pair; with only a test, to that test under any procedure; with only a procedure,"
        " to a 6302 of that procedure that names no test.",
        "items": {**obj(["consentType"], {"procedure": GDT_VALUE, "test": GDT_VALUE,
                                         "consentType": {"enum": list(CONSENT_TYPES)}}),
                  "anyOf": [{"required": ["procedure"]}, {"required": ["test"]}]},
    },
    "defaultConsentType": {"enum": [*CONSENT_TYPES, None],
                           "description": "for a 6302 that names no test (8410) and whose procedure"
                           " (8402) has no rule; null: such a request is rejected"},
    "tolerate": {"type": "array", "uniqueItems": True, "items": {"enum": list(QUIRKS)},
                 "description": "quirks of the PVS's files the import accepts (and logs): LF instead"
                 " of CR LF, a Ctrl-Z after the last line, an 8100 that does not match the length."
                 " Default: all three; everything else is rejected"},
}
SETTINGS = obj(
    [*SETTINGS_FIELDS, "exchangeRoot"],
    {**SETTINGS_FIELDS, "exchangeRoot": {"type": ["string", "null"],
                                         "description": "where exchange directories may lie"}},
)


class GdtGenerate:
    def __init__(self, gdt: Gdt):
        self._gdt = gdt

    @operation(
        "The GDT 6310 record of a signed consent, as a file download", roles=MEMBERS, tags=TAGS,
        request=GENERATE, response_media="application/octet-stream",
        errors={400: "invalid, or a character the practice's GDT character set cannot write"
                     " (gdt_not_encodable)",
                404: "no such consent in this practice",
                409: "not signed (consent_not_signed), no exchange directory (gdt_exchange_off), or"
                     " the PVS has not picked up the previous file yet (gdt_exchange_busy)",
                503: "the exchange directory cannot be written (gdt_exchange_unavailable)"},
        description="The client sends the patient identity it decrypted; the server uses it for"
        " this file only and never stores or logs it. Audited as GDT_EXPORTED. With"
        " `exchange: true` the same bytes are also written to the exchange directory as"
        " `<receiver><sender>.gdt` (named in the X-Gdt-Exchange-File header).",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        result = self._gdt.generate(req.context.principal, json_body(req), caller(req))
        resp.content_type = "application/octet-stream"
        resp.downloadable_as = result.name
        resp.data = result.data
        if result.exchange_name:
            resp.set_header("X-Gdt-Exchange-File", result.exchange_name)


class GdtSettings:
    def __init__(self, gdt: Gdt):
        self._gdt = gdt

    @operation("The practice's GDT settings", roles=roles(ADMIN), tags=TAGS, response=SETTINGS)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._gdt.settings(req.context.principal)

    @operation(
        "Change the practice's GDT settings; invalid values change nothing", roles=roles(ADMIN),
        tags=TAGS, request={**obj([], SETTINGS_FIELDS), "minProperties": 1}, response=SETTINGS,
        description="An exchange directory must exist inside the server's gdt.exchange_root and"
        " must not overlap another directory in use.",
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._gdt.update_settings(req.context.principal, json_body(req), caller(req))
