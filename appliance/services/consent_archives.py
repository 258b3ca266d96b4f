"""The archive copy of a completed consent: the PDF the staff client made (patient copy,
countersignature, verification data), encrypted to the practice (purpose `consent.archive`,
bound to the consent form) and signed; streamed into the object store like a photo.

One per consent form, written once: it is the practice's record of what was agreed, so it is
not replaced (a new PDF of the same consent would say nothing new). Its object goes only with
the patient's erasure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import peewee

from appliance import envelopes
from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_envelope, conflict, not_found
from appliance.models import ConsentArchive, ConsentForm, Practice
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.objects import Objects, audited_read
from appliance.services.payload_uploads import PayloadReader, upload_refusal
from appliance.services.signatures import check_signature
from appliance.storage import ObjectStore, SourceError, StoredObject
from appliance.storage.base import Readable
from appliance.storage.keys import archive_key


def archive_view(archive: ConsentArchive) -> dict:
    return {
        "consentId": str(archive.consent_form_id),
        "wrappedKey": archive.wrapped_key,
        "signature": archive.signature,
        "sizeBytes": archive.size_bytes,
        "createdAt": isoformat(archive.created_at),
        "createdBy": str(archive.uploaded_by) if archive.uploaded_by else None,
    }


def archive_of(consent_id: uuid.UUID) -> dict | None:
    """The archive copy of a consent of the current practice, or None."""
    archive = ConsentArchive.get_or_none(ConsentArchive.consent_form_id == consent_id)
    return None if archive is None else archive_view(archive)


def _archive_exists() -> ApiError:
    return conflict("archive_exists", "this consent has its archive copy already; it is kept as it is")


class ConsentArchives:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, store: ObjectStore,
                 objects: Objects, max_bytes: int):
        self._db = database
        self._audit = audit
        self._clock = clock
        self._store = store
        self._objects = objects
        self.max_bytes = max_bytes

    @staticmethod
    def _completed(consent_id: uuid.UUID) -> ConsentForm:
        form = ConsentForm.get_or_none(ConsentForm.id == consent_id)
        if form is None:
            raise not_found("consent")
        if form.status != "COMPLETED":
            raise conflict("consent_not_completed", "only a countersigned (COMPLETED) consent is archived")
        return form

    def store(self, principal: Principal, consent_id: uuid.UUID, fields: dict[str, str], stream: Readable,
              caller: Caller, *, before_commit: Callable[[], None] = lambda: None) -> dict:
        """Checks, streams the ciphertext into the store, then commits row and audit entry; a
        failure on the way removes the object again (appliance.services.objects)."""
        try:
            envelopes.validate_wrapped_key(fields["wrappedKey"])
        except envelopes.EnvelopeError as exc:
            raise bad_envelope("the archive's key is invalid", exc) from exc
        with self._db.atomic():
            form = self._completed(consent_id)
            if ConsentArchive.select().where(ConsentArchive.consent_form_id == form.id).exists():
                raise _archive_exists()
            check_signature(Practice.get_by_id(principal.practice_id), "consent.archive",
                            {"consentId": str(form.id), "wrappedKey": fields["wrappedKey"]},
                            fields["signature"])
        reader = PayloadReader(stream, self.max_bytes)
        try:
            reader.start()
        except SourceError as exc:
            raise self._refused(exc) from exc
        archive_id = uuid.uuid4()
        key = archive_key(principal.practice_id, archive_id)
        self._objects.begin_upload(principal.practice_id, key)
        try:
            self._store.put(key, reader)
            reader.finish()
            before_commit()
            with self._db.atomic():
                self._completed(consent_id)  # still completed (not erased meanwhile)
                self._objects.claim_upload(key)
                ConsentArchive.insert(
                    id=archive_id, consent_form_id=consent_id, wrapped_key=fields["wrappedKey"],
                    signature=fields["signature"], size_bytes=reader.size, uploaded_by=principal.user_id,
                    created_at=self._clock.now(),
                ).execute()
                self._audit.record(
                    "CONSENT_ARCHIVED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="consent", entity_id=consent_id,
                    metadata={"sizeBytes": reader.size},
                )
        except BaseException as exc:
            self._objects.abandon_upload(key)
            refused = self._refused(exc)
            if refused is exc:
                raise
            raise refused from exc
        self._objects.maybe_sweep()
        return self.get(consent_id)

    def _refused(self, exc: BaseException) -> BaseException:
        refused = upload_refusal(exc, "archive", self.max_bytes)
        if refused is not None:
            return refused
        if isinstance(exc, peewee.IntegrityError):  # a concurrent upload for the same consent won
            return _archive_exists()
        return exc

    @staticmethod
    def _archive(consent_id: uuid.UUID) -> ConsentArchive:
        if not ConsentForm.select().where(ConsentForm.id == consent_id).exists():
            raise not_found("consent")
        archive = ConsentArchive.get_or_none(ConsentArchive.consent_form_id == consent_id)
        if archive is None:
            raise not_found("archive")
        return archive

    def get(self, consent_id: uuid.UUID) -> dict:
        return archive_view(self._archive(consent_id))

    def download(self, principal: Principal, consent_id: uuid.UUID, caller: Caller) -> StoredObject:
        """The ciphertext as a stream; audited once the store has answered."""
        archive = self._archive(consent_id)
        return audited_read(
            self._db, self._store, archive_key(archive.practice_id, archive.id),
            ApiError(500, "archive_content_missing", "the archive's content is missing"),
            lambda: self._audit.record(
                "CONSENT_ARCHIVE_VIEWED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="consent", entity_id=consent_id,
            ),
        )

    # ----- patient erasure -----

    def erase_for_patient(self, patient_id: uuid.UUID) -> list[str]:
        """Inside the erasure's transaction, before its consent forms go: deletes their archive
        rows and queues the objects; returns the keys for `purge` after the commit."""
        forms = ConsentForm.select(ConsentForm.id).where(ConsentForm.patient_id == patient_id)
        rows = list(ConsentArchive.select(ConsentArchive.id, ConsentArchive.practice_id)
                    .where(ConsentArchive.consent_form_id.in_(forms)))
        if not rows:
            return []
        ConsentArchive.delete().where(ConsentArchive.id.in_([row.id for row in rows])).execute()
        keys = [archive_key(row.practice_id, row.id) for row in rows]
        self._objects.bury(rows[0].practice_id, keys)
        return keys
