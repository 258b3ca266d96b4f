"""The practice logo: shown on the patient consent page, so it is stored in clear and served
without a login, but only through its own random id and only as an image.

The type is recognised from the bytes (PNG, JPEG, WebP), never from what the client declares:
a script or an HTML page renamed to logo.png is refused.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

import peewee

from appliance import tenancy
from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_request, conflict, not_found
from appliance.models import Practice, PracticeLogo
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.objects import Objects, UploadExpired, store_unavailable
from appliance.storage import ObjectNotFound, ObjectStore, StoredObject, StoreUnavailable
from appliance.storage.base import Readable, read_full
from appliance.storage.keys import logo_key

MAX_LOGO_BYTES = 2 * 1024 * 1024
PUBLIC_PATH = "/api/public/logo/"


def image_type(data: bytes) -> str | None:
    """The media type by magic number, for the three formats a consent page may show."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def logo_url(base_url: str, practice_id: uuid.UUID) -> str | None:
    """The public URL of a practice's logo, or None. The id changes with every upload, so the
    URL can be cached for good."""
    with tenancy.practice_scope(practice_id):
        logo_id = PracticeLogo.select(PracticeLogo.id).scalar()
    return f"{base_url.rstrip('/')}{PUBLIC_PATH}{logo_id}" if logo_id else None


class Logo:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, store: ObjectStore,
                 objects: Objects, base_url: str):
        self._db = database
        self._audit = audit
        self._clock = clock
        self._store = store
        self._objects = objects
        self._base_url = base_url

    def _view(self, logo: PracticeLogo) -> dict:
        practice = Practice.get_by_id(logo.practice_id)
        return {
            "logoUrl": f"{(practice.public_base_url or self._base_url).rstrip('/')}{PUBLIC_PATH}{logo.id}",
            "contentType": logo.content_type,
            "sizeBytes": logo.size_bytes,
            "uploadedAt": isoformat(logo.created_at),
        }

    def get(self) -> dict:
        logo = PracticeLogo.get_or_none()
        if logo is None:
            raise not_found("logo")
        return self._view(logo)

    def upload(self, principal: Principal, stream: Readable, caller: Caller,
               *, before_store: Callable[[], None] = lambda: None) -> dict:
        """Stores the new logo under a new key; the old row and object go once it committed.

        `before_store` runs once the image was read (the resource checks the form ends there).
        """
        data = _read_bounded(stream, MAX_LOGO_BYTES)
        before_store()
        content_type = image_type(data)
        if content_type is None:
            raise bad_request("the logo must be a PNG, JPEG or WebP image",
                              [{"field": "file", "problem": "is not a PNG, JPEG or WebP image"}],
                              code="unsupported_image")
        practice_id = principal.practice_id
        logo_id = uuid.uuid4()
        key = logo_key(practice_id, logo_id)
        self._objects.begin_upload(practice_id, key)
        try:
            self._store.put(key, io.BytesIO(data), content_type)
            with self._db.atomic():
                self._objects.claim_upload(key)
                old = PracticeLogo.get_or_none()
                if old is not None:
                    PracticeLogo.delete().where(PracticeLogo.id == old.id).execute()
                    self._objects.bury(practice_id, [logo_key(practice_id, old.id)])
                PracticeLogo.insert(id=logo_id, content_type=content_type, size_bytes=len(data),
                                    uploaded_by=principal.user_id, created_at=self._clock.now()).execute()
                self._audit.record(
                    "PRACTICE_SETTINGS_UPDATED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=practice_id, entity_type="practice", entity_id=practice_id,
                    metadata={"logo": "replaced" if old else "uploaded", "contentType": content_type,
                              "sizeBytes": len(data)},
                )
        except BaseException as exc:
            self._objects.abandon_upload(key)
            if isinstance(exc, StoreUnavailable):
                raise store_unavailable(exc) from exc
            if isinstance(exc, UploadExpired):
                raise ApiError(408, "upload_too_slow", "the upload took too long; send it again") from exc
            if isinstance(exc, peewee.IntegrityError):  # a concurrent upload won
                raise conflict("concurrent_logo_upload", "another logo upload finished first") from exc
            raise
        if old is not None:
            self._objects.purge([logo_key(practice_id, old.id)])
        return self._view(PracticeLogo.get_by_id(logo_id))

    def delete(self, principal: Principal, caller: Caller) -> None:
        with self._db.atomic():
            logo = PracticeLogo.get_or_none()
            if logo is None:
                raise not_found("logo")
            PracticeLogo.delete().where(PracticeLogo.id == logo.id).execute()
            key = logo_key(logo.practice_id, logo.id)
            self._objects.bury(logo.practice_id, [key])
            self._audit.record(
                "PRACTICE_SETTINGS_UPDATED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="practice",
                entity_id=principal.practice_id, metadata={"logo": "deleted"},
            )
        self._objects.purge([key])

    def public_get(self, logo_id: uuid.UUID) -> tuple[StoredObject, str]:
        """The logo named by its id, and nothing else: the key comes from the row."""
        with tenancy.unscoped("a public logo id names its practice"):
            logo = PracticeLogo.get_or_none(PracticeLogo.id == logo_id)
        if logo is None:
            raise not_found("logo")
        try:
            return self._store.get(logo_key(logo.practice_id, logo.id)), logo.content_type
        except StoreUnavailable as exc:
            raise store_unavailable(exc) from exc
        except ObjectNotFound as exc:
            raise not_found("logo") from exc


def _read_bounded(stream: Readable, limit: int) -> bytes:
    """A small upload read whole: 413 past `limit`, 400 when the client's stream breaks."""
    try:
        data = read_full(stream, limit + 1)
    except Exception as exc:  # a cut connection or a malformed form
        raise bad_request("the upload ended before it was complete", code="upload_incomplete") from exc
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"the logo exceeds {limit} bytes")
    return data
