"""Before/after photos: ciphertext streamed into the object store, clear facts in the row.

The client encrypts the image (secretstream, purpose `photo`, docs/crypto.md) and uploads the
ciphertext with its wrapped key. The server checks what it can (a header arrived, the size
limit, the links belong to the patient), never holds the whole file, and commits the row only
after the object is complete (see `appliance.services.objects`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import peewee

from appliance import envelopes
from appliance.clock import Clock, isoformat
from appliance.http.body import instant_field
from appliance.http.errors import ApiError, bad_envelope, bad_request, conflict, not_found
from appliance.http.pagination import Page
from appliance.models import ConsentForm, Patient, Photo, TreatmentPlan
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.objects import Objects, UploadExpired, store_unavailable
from appliance.storage import ObjectNotFound, ObjectStore, SourceError, StoredObject, StoreUnavailable
from appliance.storage.base import CHUNK_BYTES, Readable
from appliance.storage.keys import photo_key


class UploadTooLarge(SourceError):
    pass


class NotAPayload(SourceError):
    pass


class PayloadReader:
    """Reads an uploaded secretstream payload for the store.

    `start()` waits for the 24-byte header before anything reaches the store; every read
    counts, and one byte past `limit` stops the upload. Failures of the client's stream
    (cut connection, broken form) become `SourceError`, never a store error.
    """

    def __init__(self, stream: Readable, limit: int):
        self._stream = stream
        self._limit = limit
        self._head = b""
        self.size = 0

    def _pull(self, size: int) -> bytes:
        try:
            piece = self._stream.read(size)
        except Exception as exc:
            raise SourceError("the upload ended before it was complete") from exc
        self.size += len(piece)
        if self.size > self._limit:
            raise UploadTooLarge(f"more than {self._limit} bytes")
        return piece

    def start(self) -> None:
        head = b""
        while len(head) < envelopes.STREAM_HEADER_BYTES:
            piece = self._pull(envelopes.STREAM_HEADER_BYTES - len(head))
            if not piece:
                break
            head += piece
        if not envelopes.stream_header_ok(head):
            raise NotAPayload("does not start with a secretstream header")
        self._head = head

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._pull(size if size > 0 else CHUNK_BYTES)

    def finish(self) -> None:
        if self.size < envelopes.STREAM_MIN_BYTES:
            raise NotAPayload(f"must be at least {envelopes.STREAM_MIN_BYTES} bytes")


def photo_view(photo: Photo) -> dict:
    return {
        "id": str(photo.id),
        "patientId": str(photo.patient_id),
        "consentFormId": str(photo.consent_form_id) if photo.consent_form_id else None,
        "treatmentPlanId": str(photo.treatment_plan_id) if photo.treatment_plan_id else None,
        "type": photo.type,
        "bodyRegion": photo.body_region,
        "takenAt": isoformat(photo.taken_at),
        "wrappedKey": photo.wrapped_key,
        "encryptedMetadata": photo.encrypted_metadata,
        "photoConsentGranted": photo.photo_consent_granted,
        "sizeBytes": photo.size_bytes,
        "createdAt": isoformat(photo.created_at),
    }


class Photos:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, store: ObjectStore,
                 objects: Objects, max_bytes: int):
        self._db = database
        self._audit = audit
        self._clock = clock
        self._store = store
        self._objects = objects
        self.max_bytes = max_bytes

    # ----- upload -----

    @staticmethod
    def _checked_fields(fields: dict[str, str]) -> dict:
        """Fields the resource has checked against its form schema -> row values."""
        try:
            envelopes.validate_wrapped_key(fields["wrappedKey"])
            if "encryptedMetadata" in fields:
                envelopes.validate_sealed_value(fields["encryptedMetadata"], "encryptedMetadata")
        except envelopes.EnvelopeError as exc:
            raise bad_envelope("the photo's key or metadata is invalid", exc) from exc

        def optional_uuid(name: str) -> uuid.UUID | None:
            return uuid.UUID(fields[name]) if name in fields else None

        return {
            "patient_id": uuid.UUID(fields["patientId"]),
            "consent_form_id": optional_uuid("consentFormId"),
            "treatment_plan_id": optional_uuid("treatmentPlanId"),
            "type": fields["type"],
            "body_region": fields["bodyRegion"],
            "taken_at": instant_field(fields["takenAt"], "takenAt"),
            "wrapped_key": fields["wrappedKey"],
            "encrypted_metadata": fields.get("encryptedMetadata"),
            "photo_consent_granted": fields.get("photoConsentGranted") == "true",
        }

    @staticmethod
    def _check_links(row: dict) -> None:
        """The patient, and the consent form and plan when given, in this practice; the links
        must name the same patient."""
        if not Patient.select().where(Patient.id == row["patient_id"]).exists():
            raise not_found("patient")
        for field, model, column, what in (
            ("consentFormId", ConsentForm, "consent_form_id", "consent form"),
            ("treatmentPlanId", TreatmentPlan, "treatment_plan_id", "treatment plan"),
        ):
            if row[column] is None:
                continue
            linked = model.get_or_none(model.id == row[column])
            if linked is None:
                raise not_found(what)
            if linked.patient_id != row["patient_id"]:
                raise bad_request(f"the {what} belongs to another patient",
                                  [{"field": field, "problem": "belongs to another patient"}])

    def upload(self, principal: Principal, fields: dict[str, str], stream: Readable, caller: Caller,
               *, before_commit: Callable[[], None] = lambda: None) -> dict:
        """Streams the file into the store, then commits row, audit entry and cleanup claim.

        `before_commit` runs after the last byte was stored (the resource checks that the form
        ended there); whatever fails on the way removes the object again.
        """
        row = self._checked_fields(fields)
        with self._db.atomic():
            self._check_links(row)
        reader = PayloadReader(stream, self.max_bytes)
        try:
            reader.start()
        except SourceError as exc:
            raise self._refused(exc) from exc
        photo_id = uuid.uuid4()
        key = photo_key(principal.practice_id, photo_id)
        self._objects.begin_upload(principal.practice_id, key)
        try:
            self._store.put(key, reader)
            reader.finish()
            before_commit()
            now = self._clock.now()
            with self._db.atomic():
                self._objects.claim_upload(key)
                Photo.insert(id=photo_id, size_bytes=reader.size, uploaded_by=principal.user_id,
                             created_at=now, updated_at=now, **row).execute()
                self._audit.record(
                    "PHOTO_UPLOADED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="photo", entity_id=photo_id,
                    metadata={"type": row["type"], "bodyRegion": row["body_region"],
                              "sizeBytes": reader.size},
                )
        except BaseException as exc:
            self._objects.abandon_upload(key)
            refused = self._refused(exc)
            if refused is exc:
                raise
            raise refused from exc
        self._objects.maybe_sweep()
        return photo_view(Photo.get_by_id(photo_id))

    def _refused(self, exc: BaseException) -> BaseException:
        """The answer for a failed upload (the exception itself when it is not ours)."""
        if isinstance(exc, UploadTooLarge):
            return ApiError(413, "payload_too_large", f"the photo exceeds {self.max_bytes} bytes")
        if isinstance(exc, NotAPayload):
            return bad_request("the file is not an encrypted payload",
                               [{"field": "file", "problem": str(exc)}], code="invalid_payload")
        if isinstance(exc, SourceError):
            return bad_request("the upload ended before it was complete", code="upload_incomplete")
        if isinstance(exc, StoreUnavailable):
            return store_unavailable()
        if isinstance(exc, UploadExpired):
            return ApiError(408, "upload_too_slow", "the upload took too long; send it again")
        if isinstance(exc, peewee.IntegrityError):
            return conflict("link_deleted", "the patient or a linked record was deleted meanwhile")
        return exc

    # ----- reading -----

    def _get(self, photo_id: uuid.UUID) -> Photo:
        photo = Photo.get_or_none(Photo.id == photo_id)
        if photo is None:
            raise not_found("photo")
        return photo

    def list(self, patient_id: uuid.UUID, page: Page, photo_type: str | None, body_region: str | None,
             treatment_plan_id: uuid.UUID | None) -> dict:
        if not Patient.select().where(Patient.id == patient_id).exists():
            raise not_found("patient")
        query = Photo.select().where(Photo.patient_id == patient_id)
        if photo_type:
            query = query.where(Photo.type == photo_type)
        if body_region:
            query = query.where(Photo.body_region == body_region)
        if treatment_plan_id:
            query = query.where(Photo.treatment_plan_id == treatment_plan_id)
        total = query.count()
        rows = page.apply(query.order_by(Photo.taken_at.desc(), Photo.id))
        return page.envelope([photo_view(p) for p in rows], total)

    def get(self, photo_id: uuid.UUID) -> dict:
        return photo_view(self._get(photo_id))

    def download(self, principal: Principal, photo_id: uuid.UUID, caller: Caller) -> StoredObject:
        """The ciphertext as a stream; audited once the store has answered."""
        photo = self._get(photo_id)
        try:
            content = self._store.get(photo_key(photo.practice_id, photo.id))
        except StoreUnavailable as exc:
            raise store_unavailable() from exc
        except ObjectNotFound as exc:
            raise ApiError(500, "photo_content_missing", "the photo's content is missing") from exc
        try:
            with self._db.atomic():
                self._audit.record(
                    "PHOTO_VIEWED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="photo", entity_id=photo.id,
                )
        except BaseException:
            content.close()
            raise
        return content

    # ----- changes -----

    def set_consent(self, principal: Principal, photo_id: uuid.UUID, granted: bool, caller: Caller) -> dict:
        with self._db.atomic():
            photo = self._get(photo_id)
            if photo.photo_consent_granted != granted:
                Photo.update(photo_consent_granted=granted, updated_at=self._clock.now()).where(
                    Photo.id == photo.id
                ).execute()
                self._audit.record(
                    "PHOTO_CONSENT_CHANGED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="photo", entity_id=photo.id,
                    metadata={"granted": granted},
                )
            return photo_view(self._get(photo_id))

    def delete(self, principal: Principal, photo_id: uuid.UUID, caller: Caller) -> dict:
        """Row and audit entry commit together with the object's removal order; the object
        goes right after (or with the sweep, if the store is down now)."""
        with self._db.atomic():
            photo = self._get(photo_id)
            key = photo_key(photo.practice_id, photo.id)
            Photo.delete().where(Photo.id == photo.id).execute()
            self._objects.bury(photo.practice_id, [key])
            self._audit.record(
                "PHOTO_DELETED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="photo", entity_id=photo.id,
                metadata={"type": photo.type, "bodyRegion": photo.body_region},
            )
        removed = self._objects.purge([key])
        return {"deleted": True, "objectRemoved": removed}

    # ----- patient erasure -----

    def erase_for_patient(self, patient_id: uuid.UUID) -> list[str]:
        """Inside the erasure's transaction: deletes the patient's photo rows and queues their
        objects; returns the keys for `purge` after the commit."""
        rows = list(Photo.select(Photo.id, Photo.practice_id).where(Photo.patient_id == patient_id))
        if not rows:
            return []
        Photo.delete().where(Photo.patient_id == patient_id).execute()
        keys = [photo_key(p.practice_id, p.id) for p in rows]
        self._objects.bury(rows[0].practice_id, keys)
        return keys

    def purge(self, keys: list[str]) -> bool:
        return self._objects.purge(keys) if keys else True

