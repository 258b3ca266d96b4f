"""Photo endpoints (ADMIN, ARZT): encrypted uploads streamed to the object store."""

from __future__ import annotations

import uuid

import falcon

from appliance.http import pagination, query
from appliance.http.body import json_body, validate
from appliance.http.errors import bad_request
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.models import BODY_REGIONS, PHOTO_TYPES
from appliance.resources.auth import caller
from appliance.resources.schemas import TIMESTAMP, UUID, obj
from appliance.resources.uploads import UploadForm
from appliance.services.photos import Photos

TAGS = ("Photos",)
STAFF = roles(ADMIN, ARZT)
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
#: The text fields of an upload, checked before the file part is read.
UPLOAD_FIELDS = obj(
    ["patientId", "type", "bodyRegion", "takenAt", "wrappedKey"],
    {"patientId": UUID, "type": {"enum": list(PHOTO_TYPES)}, "bodyRegion": {"enum": list(BODY_REGIONS)},
     "takenAt": {"type": "string", "maxLength": 40}, "wrappedKey": {"type": "string", "maxLength": 200},
     "encryptedMetadata": {"type": "string", "maxLength": 4096}, "consentFormId": UUID,
     "treatmentPlanId": UUID, "photoConsentGranted": {"enum": ["true", "false"]}},
)
PHOTO = obj(
    ["id", "patientId", "type", "bodyRegion", "takenAt", "wrappedKey", "photoConsentGranted",
     "sizeBytes", "createdAt"],
    {"id": UUID, "patientId": UUID, "consentFormId": NULLABLE_UUID, "treatmentPlanId": NULLABLE_UUID,
     "type": {"enum": list(PHOTO_TYPES)}, "bodyRegion": {"enum": list(BODY_REGIONS)},
     "takenAt": TIMESTAMP, "wrappedKey": {"type": "string"},
     "encryptedMetadata": {"type": ["string", "null"]}, "photoConsentGranted": {"type": "boolean"},
     "sizeBytes": {"type": "integer"}, "createdAt": TIMESTAMP},
)
UNAVAILABLE = "the object store is unreachable (object_store_unavailable); nothing was written"
UPLOAD_DESCRIPTION = """\
multipart/form-data, **fields first, the file last**: the text fields `patientId`, `type`
(BEFORE, AFTER), `bodyRegion`, `takenAt` (ISO 8601 date-time with offset), `wrappedKey` (the
file key sealed to the practice key, base64 of 80 bytes), optionally `encryptedMetadata` (a
sealed value, docs/crypto.md), `consentFormId` and `treatmentPlanId` (of the same patient) and
`photoConsentGranted` (true/false, default false); then the part `file`: the photo encrypted
as a secretstream payload with purpose `photo`. Each field is at most 8 KiB.

The file is streamed to the object store, never held whole; past `storage.max_photo_bytes`
(default 25 MiB) the upload stops with 413. The row is committed only after the object is
complete; a failed or cut upload leaves nothing behind."""


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
        errors={400: "invalid field, no secretstream header, or the upload was cut off",
                404: "the patient, consent form or treatment plan is not in this practice",
                408: "the upload took too long (upload_too_slow)",
                409: "the patient or a linked record was deleted during the upload",
                411: "no Content-Length", 413: "the photo exceeds storage.max_photo_bytes",
                415: "not multipart/form-data", 503: UNAVAILABLE},
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = UploadForm(req, frozenset(UPLOAD_FIELDS["properties"]), self._photos.max_bytes)
        fields, stream = form.fields_and_file()
        validate(fields, UPLOAD_FIELDS)
        resp.media = self._photos.upload(req.context.principal, fields, stream, caller(req),
                                         before_commit=form.finish)
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


class PhotoConsent:
    def __init__(self, photos: Photos):
        self._photos = photos

    @operation(
        "Grant or withdraw the photo's use for marketing or teaching (audited)", roles=STAFF,
        tags=TAGS, request=obj(["photoConsentGranted"], {"photoConsentGranted": {"type": "boolean"}}),
        response=PHOTO, errors={404: "no such photo in this practice"},
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: uuid.UUID) -> None:
        body = json_body(req)
        resp.media = self._photos.set_consent(req.context.principal, id, body["photoConsentGranted"],
                                              caller(req))
