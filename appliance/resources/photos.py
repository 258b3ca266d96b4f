"""Photo endpoints (ADMIN, ARZT): encrypted uploads streamed to the object store."""

from __future__ import annotations

import uuid

import falcon

from appliance import envelopes
from appliance.http import pagination, query
from appliance.http.body import json_body, validate
from appliance.http.errors import bad_request
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.models import BODY_REGIONS, PHOTO_TYPES
from appliance.resources.auth import caller
from appliance.resources.schemas import RECORD_ID, SEALED, SIGNATURE, TIMESTAMP, UUID, WRAPPED_KEY, obj
from appliance.resources.uploads import UploadForm
from appliance.services.photos import THUMBNAIL_PART, Photos

TAGS = ("Photos",)
STAFF = roles(ADMIN, ARZT)
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
#: The text fields of an upload, checked before the file part is read.
UPLOAD_FIELDS = obj(
    ["id", "patientId", "type", "bodyRegion", "takenAt", "wrappedKey", "signature"],
    {"id": RECORD_ID, "patientId": UUID, "type": {"enum": list(PHOTO_TYPES)},
     "bodyRegion": {"enum": list(BODY_REGIONS)}, "takenAt": {"type": "string", "maxLength": 40},
     "wrappedKey": WRAPPED_KEY, "encryptedMetadata": SEALED, "consentFormId": UUID,
     "treatmentPlanId": UUID, "photoConsentGranted": {"enum": ["true", "false"]},
     "signature": SIGNATURE, "thumbnailWrappedKey": WRAPPED_KEY, "thumbnailSignature": SIGNATURE},
)
THUMBNAIL = {"type": ["object", "null"], "required": ["wrappedKey", "signature", "sizeBytes"],
             "additionalProperties": False,
             "properties": {"wrappedKey": {"type": "string"}, "signature": {"type": "string"},
                            "sizeBytes": {"type": "integer"}}}
PHOTO = obj(
    ["id", "patientId", "type", "bodyRegion", "takenAt", "wrappedKey", "photoConsentGranted",
     "sizeBytes", "createdAt"],
    {"id": UUID, "patientId": UUID, "consentFormId": NULLABLE_UUID, "treatmentPlanId": NULLABLE_UUID,
     "type": {"enum": list(PHOTO_TYPES)}, "bodyRegion": {"enum": list(BODY_REGIONS)},
     "takenAt": TIMESTAMP, "wrappedKey": {"type": "string"},
     "encryptedMetadata": {"type": ["string", "null"]}, "photoConsentGranted": {"type": "boolean"},
     "signature": {"type": "string"},
     "sizeBytes": {"type": "integer"}, "createdAt": TIMESTAMP, "thumbnail": THUMBNAIL},
)
UNAVAILABLE = "the object store is unreachable (object_store_unavailable); nothing was written"
FULL = "the object store has no space left (storage_full); nothing was written"
UPLOAD_DESCRIPTION = """\
multipart/form-data, **fields first, the file last**: the text fields `id` (a random UUID the
client chose), `patientId`, `type` (BEFORE, AFTER), `bodyRegion`, `takenAt` (ISO 8601 date-time
with offset), `wrappedKey` (the file key sealed to the practice key, base64 of 80 bytes),
`signature` (the practice's signature of the photo statement, docs/crypto.md), optionally
`encryptedMetadata` (a sealed value, field `photo.metadata`, bound to the photo's id),
`consentFormId` and `treatmentPlanId` (of the same patient) and `photoConsentGranted`
(true/false, default false); optionally a thumbnail: the fields `thumbnailWrappedKey` and
`thumbnailSignature` (the signature of the `photo.thumbnail` statement) and the part
`thumbnail` (a small image encrypted with purpose `photo.thumbnail`, bound to the photo's id,
41..{thumbnail_max} bytes), all three or none, before the file; then the part `file`: the
photo encrypted as a secretstream payload with purpose `photo`, bound to the photo's id. Each
field is at most 8 KiB.

The file is streamed to the object store, never held whole; past `storage.max_photo_bytes`
(default 25 MiB) the upload stops with 413. The row is committed only after the object is
complete (the thumbnail in the same transaction); a failed or cut upload leaves nothing
behind. The thumbnail is part of the photo: no audit entry of its own, deleted with it."""
UPLOAD_DESCRIPTION = UPLOAD_DESCRIPTION.replace("{thumbnail_max}", str(envelopes.THUMBNAIL_MAX_BYTES))


def _uuid_param(req: falcon.Request, name: str) -> uuid.UUID | None:
    value = req.get_param(name)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise bad_request(f"query parameter {name} is invalid",
                          [{"field": name, "problem": "must be a UUID"}]) from None


class PhotoCollection:
    def __init__(self, photos: Photos):
        self._photos = photos

    @operation(
        "Upload an encrypted photo", roles=STAFF, tags=TAGS, created=True,
        request_media="multipart/form-data", response=PHOTO, description=UPLOAD_DESCRIPTION,
        errors={400: "invalid field, no secretstream header, half a thumbnail or a thumbnail too"
                     " large or with an invalid signature, or the upload was cut off",
                404: "the patient, consent form or treatment plan is not in this practice",
                408: "the upload took too long (upload_too_slow)",
                409: "the patient or a linked record was deleted during the upload",
                411: "no Content-Length", 413: "the photo exceeds storage.max_photo_bytes",
                415: "not multipart/form-data", 503: UNAVAILABLE, 507: FULL},
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = UploadForm(req, frozenset(UPLOAD_FIELDS["properties"]), self._photos.max_bytes,
                          {THUMBNAIL_PART: envelopes.THUMBNAIL_MAX_BYTES})
        fields, parts, stream = form.parts_and_file()
        validate(fields, UPLOAD_FIELDS)
        resp.media = self._photos.upload(req.context.principal, fields, stream, caller(req),
                                         parts=parts, before_commit=form.finish)
        resp.status = falcon.HTTP_201


class PatientPhotos:
    def __init__(self, photos: Photos):
        self._photos = photos

    @operation(
        "A patient's photos, newest first", roles=STAFF, tags=TAGS,
        response=pagination.envelope_schema(PHOTO),
        query=(*pagination.PARAMETERS,
               {"name": "type", "in": "query", "schema": {"enum": list(PHOTO_TYPES)}},
               {"name": "bodyRegion", "in": "query", "schema": {"enum": list(BODY_REGIONS)}},
               {"name": "treatmentPlanId", "in": "query", "schema": UUID}),
        errors={404: "no such patient in this practice"},
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, patient_id: uuid.UUID) -> None:
        resp.media = self._photos.list(
            patient_id, pagination.page_of(req), query.choice(req, "type", PHOTO_TYPES),
            query.choice(req, "bodyRegion", BODY_REGIONS), _uuid_param(req, "treatmentPlanId"),
        )


class PhotoItem:
    def __init__(self, photos: Photos):
        self._photos = photos

    @operation("A photo's details and wrapped key", roles=STAFF, tags=TAGS, response=PHOTO,
               errors={404: "no such photo in this practice"})
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._photos.get(id)

    @operation(
        "Delete a photo and its stored file (audited)", roles=STAFF, tags=TAGS,
        response=obj(["deleted", "objectRemoved"], {"deleted": {"const": True},
                                                    "objectRemoved": {"type": "boolean"}}),
        errors={404: "no such photo in this practice"},
        description="The row goes at once; the file right after, or (objectRemoved false, when"
        " the object store is unreachable) as soon as the store's cleanup sweep reaches it.",
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.media = self._photos.delete(req.context.principal, id, caller(req))


class PhotoDownload:
    def __init__(self, photos: Photos):
        self._photos = photos

    @operation(
        "Download the encrypted photo (audited as PHOTO_VIEWED)", roles=STAFF, tags=TAGS,
        response_media="application/octet-stream",
        errors={404: "no such photo in this practice", 503: UNAVAILABLE},
        description="The ciphertext exactly as uploaded, with its Content-Length; decrypt it"
        " with the photo's wrappedKey (purpose `photo`).",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        content = self._photos.download(req.context.principal, id, caller(req))
        resp.content_type = "application/octet-stream"
        resp.content_length = content.size
        resp.stream = content


class PhotoThumbnailDownload:
    def __init__(self, photos: Photos):
        self._photos = photos

    @operation(
        "Download the photo's encrypted thumbnail", roles=STAFF, tags=TAGS,
        response_media="application/octet-stream",
        errors={404: "no such photo in this practice, or the photo has no thumbnail"},
        description="The thumbnail's ciphertext; decrypt it with the photo's"
        " `thumbnail.wrappedKey` (purpose `photo.thumbnail`, bound to the photo's id) after"
        " checking `thumbnail.signature`. Part of the photo's record: not audited on its own"
        " (the photo's download is).",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        resp.content_type = "application/octet-stream"
        resp.data = self._photos.thumbnail(id)


class PhotoConsent:
    def __init__(self, photos: Photos):
        self._photos = photos

    @operation(
        "Grant or withdraw the photo's use for marketing or teaching (audited)", roles=STAFF,
        tags=TAGS, request=obj(["photoConsentGranted", "signature"],
                               {"photoConsentGranted": {"type": "boolean"}, "signature": SIGNATURE}),
        response=PHOTO,
        errors={400: "the signature does not sign the photo with the new flag (invalid_signature)",
                404: "no such photo in this practice"},
        description="The flag is part of the signed photo statement (docs/crypto.md): the client"
        " signs the photo as it is with the new flag. Setting the flag it already has changes"
        " nothing (and checks no signature).",
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        body = json_body(req)
        resp.media = self._photos.set_consent(req.context.principal, id, body["photoConsentGranted"],
                                              body["signature"], caller(req))
