"""The archive copy of a completed consent (ADMIN, ARZT): an encrypted PDF in the object store."""

from __future__ import annotations

import uuid

import falcon

from appliance.http.body import validate
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.resources.auth import caller
from appliance.resources.photos import FULL, UNAVAILABLE
from appliance.resources.schemas import SIGNATURE, TIMESTAMP, UUID, WRAPPED_KEY, obj
from appliance.resources.uploads import UploadForm
from appliance.services.consent_archives import ConsentArchives

TAGS = ("Consent",)
#: Reception neither reads consents nor patients; the archive holds both.
STAFF = roles(ADMIN, ARZT)
UPLOAD_FIELDS = obj(["wrappedKey", "signature"], {"wrappedKey": WRAPPED_KEY, "signature": SIGNATURE})
ARCHIVE = obj(
    ["consentId", "wrappedKey", "signature", "sizeBytes", "createdAt", "createdBy"],
    {"consentId": UUID, "wrappedKey": {"type": "string"}, "signature": {"type": "string"},
     "sizeBytes": {"type": "integer"}, "createdAt": TIMESTAMP,
     "createdBy": {"type": ["string", "null"], "description": "the user who stored it"}},
)
NOT_FOUND = "no such consent in this practice, or it has no archive copy"


class ArchiveItem:
    def __init__(self, archives: ConsentArchives):
        self._archives = archives

    @operation(
        "Store the encrypted archive copy of a completed consent (once)", roles=STAFF, tags=TAGS,
        created=True, request_media="multipart/form-data", response=ARCHIVE,
        errors={400: "invalid field, no secretstream header, the upload was cut off, or the"
                     " signature does not sign the archive statement (invalid_signature)",
                404: "no such consent in this practice",
                408: "the upload took too long (upload_too_slow)",
                409: "the consent is not COMPLETED (consent_not_completed), or has its archive copy"
                     " already (archive_exists)",
                411: "no Content-Length", 413: "the file exceeds storage.max_archive_bytes",
                415: "not multipart/form-data", 503: UNAVAILABLE, 507: FULL},
        description="multipart/form-data, **fields first, the file last**: `wrappedKey` (the file"
        " key sealed to the practice key, base64 of 80 bytes) and `signature` (the practice's"
        " signature of the consent.archive statement {consentId, wrappedKey}, docs/crypto.md);"
        " then the part `file`: the archive PDF (the patient's copy with the countersignature and"
        " the verification data, made by the staff client) encrypted as a secretstream payload"
        " with purpose `consent.archive`, bound to the consent's id. Streamed to the object store,"
        " never held whole; past `storage.max_archive_bytes` (default 20 MiB) 413. One archive"
        " copy per consent, never replaced: the row is committed only after the object is"
        " complete, a failed upload leaves nothing behind and may be repeated. Audited as"
        " CONSENT_ARCHIVED.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        form = UploadForm(req, frozenset(UPLOAD_FIELDS["properties"]), self._archives.max_bytes)
        fields, stream = form.fields_and_file()
        validate(fields, UPLOAD_FIELDS)
        resp.media = self._archives.store(req.context.principal, id, fields, stream, caller(req),
                                          before_commit=form.finish)
        resp.status = falcon.HTTP_201

    @operation("The archive copy's wrapped key, signature and size", roles=STAFF, tags=TAGS,
               response=ARCHIVE, errors={404: NOT_FOUND})
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._archives.get(id)


class ArchiveDownload:
    def __init__(self, archives: ConsentArchives):
        self._archives = archives

    @operation(
        "Download the encrypted archive copy (audited as CONSENT_ARCHIVE_VIEWED)", roles=STAFF,
        tags=TAGS, response_media="application/octet-stream",
        errors={404: NOT_FOUND, 503: UNAVAILABLE},
        description="The ciphertext exactly as uploaded, with its Content-Length; check the"
        " signature, then decrypt it with the archive's wrappedKey (purpose `consent.archive`,"
        " the consent's id).",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        content = self._archives.download(req.context.principal, id, caller(req))
        resp.content_type = "application/octet-stream"
        resp.content_length = content.size
        resp.stream = content
