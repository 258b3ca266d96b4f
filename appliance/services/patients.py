"""Patients: sealed identities signed by staff, found by lookupHash, erased on request
(DSGVO Art. 17)."""

from __future__ import annotations

import datetime as dt
import uuid

import peewee

from appliance import envelopes
from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_envelope, bad_request, conflict, not_found
from appliance.http.pagination import Page
from appliance.models import ConsentForm, Patient, Practice, TreatmentPlan
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.consent_archives import ConsentArchives
from appliance.services.photos import Photos
from appliance.services.signatures import check_signature

#: BGB 630f: medical records are kept ten years.
RETENTION = dt.timedelta(days=3653)
#: API name -> (column, required). Each value is a sealed box naming its field.
SEALED_FIELDS = {
    "encryptedFirstName": ("encrypted_first_name", True),
    "encryptedLastName": ("encrypted_last_name", True),
    "encryptedDateOfBirth": ("encrypted_date_of_birth", True),
    "encryptedEmail": ("encrypted_email", False),
    "encryptedPhone": ("encrypted_phone", False),
}


def sealed_identity(body: dict) -> dict:
    """Validates the sealed identity fields of a request; returns column -> value."""
    columns, problems = {}, []
    for api, (column, required) in SEALED_FIELDS.items():
        value = body.get(api)
        if value is None:
            if required:
                problems.append({"field": api, "problem": "is required"})
            continue
        try:
            envelopes.validate_sealed_value(value, api)
        except envelopes.EnvelopeError as exc:
            problems.append({"field": exc.field, "problem": exc.problem})
        columns[column] = value
    try:
        columns["lookup_hash"] = envelopes.validate_lookup_hash(body.get("lookupHash"))
    except envelopes.EnvelopeError as exc:
        problems.append({"field": exc.field, "problem": exc.problem})
    if problems:
        raise bad_request("the patient data is invalid", problems)
    return columns


#: The sealed identity a patient submits with a consent: the same fields, bound to the form.
SUBMITTED_FIELDS = {api: required for api, (_, required) in SEALED_FIELDS.items()}


def submitted_identity(body: dict) -> dict:
    """Validates the sealed identity and lookupHash of a submit; returns the identity to store
    with the consent form (API names, as the staff client reads them back)."""
    sealed, problems = body["identity"], []
    for api, required in SUBMITTED_FIELDS.items():
        value = sealed.get(api)
        if value is None:
            if required:
                problems.append({"field": f"identity.{api}", "problem": "is required"})
            continue
        try:
            envelopes.validate_sealed_value(value, f"identity.{api}")
        except envelopes.EnvelopeError as exc:
            problems.append({"field": exc.field, "problem": exc.problem})
    try:
        envelopes.validate_lookup_hash(body["lookupHash"])
    except envelopes.EnvelopeError as exc:
        problems.append({"field": exc.field, "problem": exc.problem})
    if problems:
        raise bad_request("the submitted identity is invalid", problems)
    return {api: sealed[api] for api in SUBMITTED_FIELDS if api in sealed}


def statement_fields(patient_id: str, columns: dict) -> dict:
    """The patient statement (docs/crypto.md) of a record, from its columns."""
    return {"id": patient_id, "lookupHash": columns["lookup_hash"],
            **{api: columns.get(column) for api, (column, _) in SEALED_FIELDS.items()}}


def id_taken() -> ApiError:
    """A client-chosen id that is in use; the same answer whichever practice holds it (only
    someone who already knows an id can ask about it)."""
    return conflict("id_taken", "a record with this id exists; choose a new random id")


def patient_view(patient: Patient, consent_count: int | None = None) -> dict:
    view = {api: getattr(patient, column) for api, (column, _) in SEALED_FIELDS.items()}
    view.update(
        id=str(patient.id), lookupHash=patient.lookup_hash, signature=patient.signature,
        createdAt=isoformat(patient.created_at),
    )
    if consent_count is not None:
        view["consentCount"] = consent_count
    return view


class Patients:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, *, photos: Photos,
                 archives: ConsentArchives):
        self._db = database
        self._audit = audit
        self._clock = clock
        self._photos = photos
        self._archives = archives

    def list(self, page: Page) -> dict:
        count = peewee.fn.COUNT(ConsentForm.id)
        query = (
            Patient.select(Patient, count.alias("consent_count"))
            .join(ConsentForm, peewee.JOIN.LEFT_OUTER, on=ConsentForm.patient_id == Patient.id)
            .group_by(Patient.id)
            .order_by(Patient.created_at.desc(), Patient.id)
        )
        items = [patient_view(p, p.consent_count) for p in page.apply(query)]
        return page.envelope(items, Patient.select().count())

    def _get(self, patient_id: uuid.UUID) -> Patient:
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None:
            raise not_found("patient")
        return patient

    def get(self, principal: Principal, patient_id: uuid.UUID, caller: Caller) -> dict:
        now = self._clock.now()
        with self._db.atomic():
            patient = self._get(patient_id)
            status = ConsentForm.effective_status(now).alias("effective")
            history = (
                ConsentForm.select(ConsentForm, status)
                .where(ConsentForm.patient_id == patient.id)
                .order_by(ConsentForm.created_at.desc())
            )
            self._audit.record(
                "PATIENT_VIEWED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="patient", entity_id=patient.id,
            )
        return {
            **patient_view(patient, len(history)),
            "consents": [
                {"id": str(c.id), "type": c.type, "status": c.effective,
                 "createdAt": isoformat(c.created_at), "signedAt": isoformat(c.signed_at),
                 "expiresAt": isoformat(c.expires_at)}
                for c in history
            ],
        }

    def create(self, principal: Principal, body: dict, caller: Caller) -> dict:
        """A patient a staff client sealed and signed, under the id it chose."""
        columns = sealed_identity(body)
        practice = Practice.get_by_id(principal.practice_id)
        check_signature(practice, "patient", statement_fields(body["id"], columns), body["signature"])
        return self._insert(principal, uuid.UUID(body["id"]), {**columns, "signature": body["signature"]},
                            caller)

    def create_imported(self, principal: Principal, patient_id: uuid.UUID, columns: dict,
                        caller: Caller) -> None:
        """A patient the GDT import sealed with the server's copy of the public key: unsigned,
        so readers show it as unconfirmed until staff sign it (`confirm`)."""
        self._insert(principal, patient_id, columns, caller)

    def _insert(self, principal: Principal, patient_id: uuid.UUID, columns: dict, caller: Caller) -> dict:
        now = self._clock.now()
        try:
            with self._db.atomic():
                if Patient.select().where(Patient.lookup_hash == columns["lookup_hash"]).exists():
                    raise conflict("duplicate_patient", "a patient with this lookupHash exists")
                patient = Patient.create(id=patient_id, created_at=now, updated_at=now, **columns)
                self._audit.record(
                    "PATIENT_CREATED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="patient", entity_id=patient.id,
                )
        except peewee.IntegrityError as exc:  # lost a race with an identical create, or the id is used
            with self._db.atomic():
                duplicate = Patient.select().where(Patient.lookup_hash == columns["lookup_hash"]).exists()
            if duplicate:
                raise conflict("duplicate_patient", "a patient with this lookupHash exists") from exc
            raise id_taken() from exc
        return patient_view(Patient.get_by_id(patient.id), 0)

    def confirm(self, principal: Principal, patient_id: uuid.UUID, signature: str, caller: Caller) -> dict:
        """Staff sign a patient the import made, after checking the decrypted identity."""
        with self._db.atomic():
            patient = self._get(patient_id)
            if patient.signature is not None:
                raise conflict("already_signed", "this patient is signed already")
            columns = {column: getattr(patient, column) for column, _ in SEALED_FIELDS.values()}
            columns["lookup_hash"] = patient.lookup_hash
            practice = Practice.get_by_id(principal.practice_id)
            check_signature(practice, "patient", statement_fields(str(patient.id), columns), signature)
            Patient.update(signature=signature, updated_at=self._clock.now()).where(
                Patient.id == patient.id, Patient.signature.is_null()
            ).execute()
            self._audit.record(
                "PATIENT_CONFIRMED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="patient", entity_id=patient.id,
            )
            return patient_view(Patient.get_by_id(patient.id))

    def lookup(self, principal: Principal, lookup_hash: str, caller: Caller) -> dict:
        try:
            envelopes.validate_lookup_hash(lookup_hash, "hash")
        except envelopes.EnvelopeError as exc:
            raise bad_envelope("the lookup hash is invalid", exc) from exc
        with self._db.atomic():
            patient = Patient.get_or_none(Patient.lookup_hash == lookup_hash)
            if patient is None:
                raise not_found("patient")
            self._audit.record(
                "PATIENT_VIEWED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="patient", entity_id=patient.id,
                metadata={"via": "lookup"},
            )
        return patient_view(patient)

    def delete(self, principal: Principal, patient_id: uuid.UUID, override: bool, caller: Caller) -> dict:
        """Erases the patient and everything recorded about them, audited with counts only.

        Signed consents and treatment plans younger than the retention period are records the
        practice must keep (BGB 630f): erasing them needs an explicit override by the ADMIN.
        """
        now = self._clock.now()
        with self._db.atomic():
            patient = self._get(patient_id)
            retained = (
                ConsentForm.select()
                .where(
                    ConsentForm.patient_id == patient.id,
                    ConsentForm.signed_at >= now - RETENTION,
                )
                .count()
            )
            retained_plans = TreatmentPlan.select().where(
                TreatmentPlan.patient_id == patient.id, TreatmentPlan.performed_at >= now - RETENTION
            ).count()
            if (retained or retained_plans) and not override:
                raise ApiError(
                    409, "retention_period",
                    "the patient has signed consents or treatment records inside the 10-year"
                    " retention period; repeat with confirmRetentionOverride=true to erase them anyway",
                    {"signedConsentsInRetention": retained, "treatmentPlansInRetention": retained_plans},
                )
            # Photo rows go with the patient; their objects are queued in this transaction.
            photo_keys = self._photos.erase_for_patient(patient.id)
            archive_keys = self._archives.erase_for_patient(patient.id)
            plans = TreatmentPlan.delete().where(TreatmentPlan.patient_id == patient.id).execute()
            consents = ConsentForm.delete().where(ConsentForm.patient_id == patient.id).execute()
            Patient.delete().where(Patient.id == patient.id).execute()
            self._audit.record(
                "PATIENT_DELETED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="patient", entity_id=patient.id,
                metadata={"consentForms": consents, "signedConsentsInRetention": retained,
                          "treatmentPlans": plans, "treatmentPlansInRetention": retained_plans,
                          "retentionOverride": bool((retained or retained_plans) and override),
                          "photos": len(photo_keys), "consentArchives": len(archive_keys)},
            )
        # after the commit; what the store refuses, the sweep retries
        self._photos.purge(photo_keys + archive_keys)
        return {"deleted": True, "consentForms": consents}
