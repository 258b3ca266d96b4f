"""Before/after photos: ciphertext streamed into the object store, clear facts in the row.

The client encrypts the image (secretstream, purpose `photo`, docs/crypto.md) and uploads the
ciphertext with its wrapped key, and usually a thumbnail it made (purpose `photo.thumbnail`,
signed on its own), which is part of the photo: stored with its row, deleted with it. The
server checks what it can (a header arrived, the size limit, the links belong to the
patient), never holds the whole file, and commits the row only after the object is complete
(see `appliance.services.objects`).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import peewee

from appliance import envelopes
from appliance.clock import Clock, isoformat
from appliance.http.body import instant_field
from appliance.http.errors import ApiError, bad_envelope, bad_request, conflict, not_found
from appliance.http.pagination import Page
from appliance.models import ConsentForm, Patient, Photo, PhotoThumbnail, Practice, TreatmentPlan
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.objects import Objects, audited_read
from appliance.services.payload_uploads import PayloadReader, upload_refusal
from appliance.services.signatures import check_signature
from appliance.storage import ObjectStore, SourceError, StoredObject
from appliance.storage.base import Readable
from appliance.storage.keys import photo_key


def statement_fields(photo_id: uuid.UUID, row: dict) -> dict:
    """The photo statement (docs/crypto.md) of a photo's columns. The plan link is not part of
    it: deleting a plan unlinks its photos."""
    return {
        "id": str(photo_id), "patientId": str(row["patient_id"]),
        "consentFormId": None if row["consent_form_id"] is None else str(row["consent_form_id"]),
        "type": row["type"], "bodyRegion": row["body_region"], "takenAt": isoformat(row["taken_at"]),
        "photoConsentGranted": row["photo_consent_granted"], "wrappedKey": row["wrapped_key"],
        "encryptedMetadata": row["encrypted_metadata"],
    }


def _id_taken() -> ApiError:
    return conflict("id_taken", "a record with this id exists; choose a new random id")


#: The upload's text fields of a thumbnail; with the `thumbnail` part all or none.
THUMBNAIL_FIELDS = ("thumbnailWrappedKey", "thumbnailSignature")
THUMBNAIL_PART = "thumbnail"


def thumbnail_view(thumbnail: PhotoThumbnail | None) -> dict | None:
    if thumbnail is None:
        return None
    return {"wrappedKey": thumbnail.wrapped_key, "signature": thumbnail.signature,
            "sizeBytes": thumbnail.size_bytes}


def _thumbnails(photo_ids: list[uuid.UUID]) -> dict[uuid.UUID, PhotoThumbnail]:
    """The thumbnails of these photos, without their ciphertext."""
    if not photo_ids:
        return {}
    rows = PhotoThumbnail.select(PhotoThumbnail.id, PhotoThumbnail.wrapped_key, PhotoThumbnail.signature,
                                 PhotoThumbnail.size_bytes).where(PhotoThumbnail.id.in_(photo_ids))
    return {row.id: row for row in rows}


def photo_view(photo: Photo, thumbnail: PhotoThumbnail | None = None) -> dict:
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
        "signature": photo.signature,
        "sizeBytes": photo.size_bytes,
        "createdAt": isoformat(photo.created_at),
        "thumbnail": thumbnail_view(thumbnail),
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
            "id": uuid.UUID(fields["id"]),
            "signature": fields["signature"],
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
    def _checked_thumbnail(fields: dict[str, str], parts: dict[str, bytes]) -> dict | None:
        """The thumbnail's row values, or None when the upload has none; half a thumbnail
        (a field or the part missing) is refused."""
        given = [name for name in (*THUMBNAIL_FIELDS, THUMBNAIL_PART) if name in fields or name in parts]
        if not given:
            return None
        missing = [name for name in (*THUMBNAIL_FIELDS, THUMBNAIL_PART) if name not in given]
        if missing:
            raise bad_request("a thumbnail needs its key, its signature and its part", [
                {"field": name, "problem": "is required with a thumbnail"} for name in missing])
        try:
            envelopes.validate_wrapped_key(fields["thumbnailWrappedKey"], "thumbnailWrappedKey")
            ciphertext = envelopes.validate_stream_payload(parts[THUMBNAIL_PART], THUMBNAIL_PART,
                                                           max_bytes=envelopes.THUMBNAIL_MAX_BYTES)
        except envelopes.EnvelopeError as exc:
            raise bad_envelope("the thumbnail is invalid", exc) from exc
        return {"wrapped_key": fields["thumbnailWrappedKey"], "signature": fields["thumbnailSignature"],
                "ciphertext": ciphertext, "size_bytes": len(ciphertext)}

    @staticmethod
    def _check_thumbnail_signature(practice: Practice, photo_id: uuid.UUID, thumbnail: dict) -> None:
        try:
            envelopes.verify_statement(base64.b64decode(practice.signing_key), "photo.thumbnail",
                                       {"photoId": str(photo_id), "wrappedKey": thumbnail["wrapped_key"]},
                                       thumbnail["signature"])
        except envelopes.EnvelopeError as exc:
            raise bad_request("the thumbnail signature does not sign this photo's thumbnail",
                              [{"field": "thumbnailSignature", "problem": exc.problem}],
                              code="invalid_signature") from exc

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
               *, parts: dict[str, bytes] | None = None,
               before_commit: Callable[[], None] = lambda: None) -> dict:
        """Streams the file into the store, then commits row, thumbnail, audit entry and
        cleanup claim.

        `parts` holds the thumbnail part when the form had one. `before_commit` runs after the
        last byte was stored (the resource checks that the form ended there); whatever fails
        on the way removes the object again.
        """
        row = self._checked_fields(fields)
        thumbnail = self._checked_thumbnail(fields, parts or {})
        photo_id = row.pop("id")
        with self._db.atomic():
            self._check_links(row)
            if Photo.select().where(Photo.id == photo_id).exists():
                raise _id_taken()
            practice = Practice.get_by_id(principal.practice_id)
            check_signature(practice, "photo", statement_fields(photo_id, row), row["signature"])
            if thumbnail is not None:
                self._check_thumbnail_signature(practice, photo_id, thumbnail)
        reader = PayloadReader(stream, self.max_bytes)
        try:
            reader.start()
        except SourceError as exc:
            raise self._refused(exc) from exc
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
                if thumbnail is not None:
                    PhotoThumbnail.insert(id=photo_id, **thumbnail).execute()
                self._audit.record(
                    "PHOTO_UPLOADED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="photo", entity_id=photo_id,
                    metadata={"type": row["type"], "bodyRegion": row["body_region"],
                              "sizeBytes": reader.size, "thumbnail": thumbnail is not None},
                )
        except BaseException as exc:
            self._objects.abandon_upload(key)
            refused = self._refused(exc, row["patient_id"])
            if refused is exc:
                raise
            raise refused from exc
        self._objects.maybe_sweep()
        return self.get(photo_id)

    def _refused(self, exc: BaseException, patient_id: uuid.UUID | None = None) -> BaseException:
        """The answer for a failed upload (the exception itself when it is not ours)."""
        refused = upload_refusal(exc, "photo", self.max_bytes)
        if refused is not None:
            return refused
        if isinstance(exc, peewee.IntegrityError):
            with self._db.atomic():
                linked = Patient.select().where(Patient.id == patient_id).exists()
            if linked:  # the client's id is used by a photo of another practice
                return _id_taken()
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
        rows = list(page.apply(query.order_by(Photo.taken_at.desc(), Photo.id)))
        thumbnails = _thumbnails([p.id for p in rows])
        return page.envelope([photo_view(p, thumbnails.get(p.id)) for p in rows], total)

    def get(self, photo_id: uuid.UUID) -> dict:
        photo = self._get(photo_id)
        return photo_view(photo, _thumbnails([photo.id]).get(photo.id))

    def thumbnail(self, photo_id: uuid.UUID) -> bytes:
        """The thumbnail's ciphertext (not audited: it is part of the photo's record, which
        lists show without an audit entry; opening the photo itself is PHOTO_VIEWED)."""
        self._get(photo_id)
        row = PhotoThumbnail.get_or_none(PhotoThumbnail.id == photo_id)
        if row is None:
            raise not_found("thumbnail")
        return bytes(row.ciphertext)

    def download(self, principal: Principal, photo_id: uuid.UUID, caller: Caller) -> StoredObject:
        """The ciphertext as a stream; audited once the store has answered."""
        photo = self._get(photo_id)
        return audited_read(
            self._db, self._store, photo_key(photo.practice_id, photo.id),
            ApiError(500, "photo_content_missing", "the photo's content is missing"),
            lambda: self._audit.record(
                "PHOTO_VIEWED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="photo", entity_id=photo.id,
            ),
        )

    # ----- changes -----

    def set_consent(self, principal: Principal, photo_id: uuid.UUID, granted: bool, signature: str,
                    caller: Caller) -> dict:
        """The flag is part of the signed photo statement: staff sign the photo as changed."""
        with self._db.atomic():
            photo = self._get(photo_id)
            if photo.photo_consent_granted != granted:
                row = {name: getattr(photo, name) for name in (
                    "patient_id", "consent_form_id", "type", "body_region", "taken_at", "wrapped_key",
                    "encrypted_metadata")}
                check_signature(Practice.get_by_id(principal.practice_id), "photo",
                                statement_fields(photo.id, {**row, "photo_consent_granted": granted}),
                                signature)
                Photo.update(photo_consent_granted=granted, signature=signature,
                             updated_at=self._clock.now()).where(Photo.id == photo.id).execute()
                self._audit.record(
                    "PHOTO_CONSENT_CHANGED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="photo", entity_id=photo.id,
                    metadata={"granted": granted},
                )
            return self.get(photo_id)

    def delete(self, principal: Principal, photo_id: uuid.UUID, caller: Caller) -> dict:
        """Row and audit entry commit together with the object's removal order; the object
        goes right after (or with the sweep, if the store is down now)."""
        with self._db.atomic():
            photo = self._get(photo_id)
            key = photo_key(photo.practice_id, photo.id)
            PhotoThumbnail.delete().where(PhotoThumbnail.id == photo.id).execute()
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
        PhotoThumbnail.delete().where(PhotoThumbnail.id.in_([p.id for p in rows])).execute()
        Photo.delete().where(Photo.patient_id == patient_id).execute()
        keys = [photo_key(p.practice_id, p.id) for p in rows]
        self._objects.bury(rows[0].practice_id, keys)
        return keys

    def purge(self, keys: list[str]) -> bool:
        return self._objects.purge(keys) if keys else True

