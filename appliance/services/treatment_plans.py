"""Treatment plans: what was done to a patient, encrypted by the staff client to the practice key.

The server never reads a plan. It checks the envelope's shape and the links (patient, consent
form, template: all of the caller's practice, the consent form of the same patient and type).
An update replaces the whole ciphertext and names the version it read; the row is changed by
a conditional UPDATE on that version, so of two edits made from the same version exactly one
is stored and the other is refused instead of silently overwritten.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import peewee

from appliance import envelopes
from appliance.clock import Clock, isoformat
from appliance.http.body import instant_field
from appliance.http.errors import ApiError, bad_request, conflict, not_found
from appliance.http.pagination import Page
from appliance.models import ConsentForm, Patient, Photo, Practice, TreatmentPlan, TreatmentTemplate
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.patients import id_taken
from appliance.services.signatures import check_signature

#: A plan is JSON of a few hundred points at most; 256 KiB of plaintext leaves ample room and
#: keeps the base64 body well below the smallest JSON body limit.
MAX_PLAN_PLAIN = 256 * 1024
MAX_PLAN_BYTES = envelopes.payload_limit(MAX_PLAN_PLAIN)

#: The columns of a plan without its ciphertext, for lists.
_SUMMARY = [f for f in TreatmentPlan._meta.sorted_fields if f.name != "encrypted_plan"]


def etag(version: int) -> str:
    return f'"{version}"'


def encrypted_plan(body: dict) -> tuple[bytes, str]:
    """The ciphertext and wrapped key of a request, checked as far as the server can."""
    problems, payload = [], b""
    try:
        payload = envelopes.decode_payload(body["encryptedPlan"], "encryptedPlan", max_bytes=MAX_PLAN_BYTES)
    except envelopes.EnvelopeError as exc:
        problems.append({"field": exc.field, "problem": exc.problem})
    try:
        envelopes.validate_wrapped_key(body["wrappedKey"])
    except envelopes.EnvelopeError as exc:
        problems.append({"field": exc.field, "problem": exc.problem})
    if problems:
        raise bad_request("the encrypted plan is invalid", problems)
    return payload, body["wrappedKey"]


def _optional_uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def statement_fields(plan_id: uuid.UUID, row: dict) -> dict:
    """The treatment plan statement (docs/crypto.md) of a plan's columns. The template link
    is not part of it: deleting a template unlinks it from plans."""
    return {
        "id": str(plan_id), "patientId": str(row["patient_id"]), "consentType": row["consent_type"],
        "consentFormId": None if row["consent_form_id"] is None else str(row["consent_form_id"]),
        "performedAt": isoformat(row["performed_at"]), "version": row["version"],
        "wrappedKey": row["wrapped_key"],
    }


def plan_view(plan: TreatmentPlan) -> dict:
    def text(value: object) -> str | None:
        return None if value is None else str(value)

    return {
        "id": str(plan.id),
        "patientId": str(plan.patient_id),
        "consentType": plan.consent_type,
        "consentFormId": text(plan.consent_form_id),
        "templateId": text(plan.template_id),
        "performedAt": isoformat(plan.performed_at),
        "version": plan.version,
        "createdAt": isoformat(plan.created_at),
        "updatedAt": isoformat(plan.updated_at),
        "createdBy": text(plan.created_by),
        "updatedBy": text(plan.updated_by),
        "signature": plan.signature,
    }


def _stale(current: int) -> ApiError:
    return ApiError(
        412, "version_mismatch",
        f"the plan was changed meanwhile (now version {current}); reload it and apply the change again",
        {"currentVersion": current}, headers={"ETag": etag(current)},
    )


def _link_vanished() -> ApiError:
    """A linked row deleted between our check and our write (a foreign key refused it)."""
    return conflict("link_changed", "a linked patient, consent form or template was just deleted; try again")


class TreatmentPlans:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock):
        self._db = database
        self._audit = audit
        self._clock = clock

    # ----- checks of the links, inside the use case's transaction -----

    @staticmethod
    def _check_patient(patient_id: uuid.UUID) -> None:
        if not Patient.select().where(Patient.id == patient_id).exists():
            raise not_found("patient")

    @staticmethod
    def _check_consent_form(form_id: uuid.UUID, patient_id: uuid.UUID, consent_type: str) -> None:
        form = (
            ConsentForm.select(ConsentForm.id, ConsentForm.patient_id, ConsentForm.type)
            .where(ConsentForm.id == form_id)
            .first()
        )
        if form is None:
            raise not_found("consent form")
        if form.patient_id != patient_id:
            problem = "is not a consent form of this patient"
        elif form.type != consent_type:
            problem = f"is a {form.type} consent, not {consent_type}"
        else:
            return
        raise bad_request("the consent form does not belong to this plan",
                          [{"field": "consentFormId", "problem": problem}], code="consent_form_mismatch")

    @staticmethod
    def _check_template(template_id: uuid.UUID) -> None:
        if not TreatmentTemplate.select().where(TreatmentTemplate.id == template_id).exists():
            raise not_found("treatment template")

    @staticmethod
    def _get(plan_id: uuid.UUID) -> TreatmentPlan:
        plan = TreatmentPlan.get_or_none(TreatmentPlan.id == plan_id)
        if plan is None:
            raise not_found("treatment plan")
        return plan

    # ----- photos: linked to a plan by their nullable treatment_plan_id -----

    @staticmethod
    def _photo_ids(plan_id: uuid.UUID) -> list[str]:
        query = (
            Photo.select(Photo.id)
            .where(Photo.treatment_plan_id == plan_id)
            .order_by(Photo.taken_at, Photo.id)
        )
        return [str(photo.id) for photo in query]

    @staticmethod
    def _unlink_photos(plan_id: uuid.UUID, now: dt.datetime) -> int:
        """Photos are the patient's record, not the plan's: they stay, without the link."""
        return (
            Photo.update(treatment_plan_id=None, updated_at=now)
            .where(Photo.treatment_plan_id == plan_id)
            .execute()
        )

    # ----- use cases -----

    def _full_view(self, plan: TreatmentPlan) -> dict:
        return {
            **plan_view(plan),
            "encryptedPlan": base64.b64encode(bytes(plan.encrypted_plan)).decode("ascii"),
            "wrappedKey": plan.wrapped_key,
            "photoIds": self._photo_ids(plan.id),
        }

    def create(self, principal: Principal, body: dict, caller: Caller) -> dict:
        """A plan under the id the staff client chose, signed by the practice."""
        payload, wrapped_key = encrypted_plan(body)
        plan_id = uuid.UUID(body["id"])
        row = {
            "patient_id": uuid.UUID(body["patientId"]), "consent_type": body["consentType"],
            "consent_form_id": _optional_uuid(body.get("consentFormId")),
            "performed_at": instant_field(body["performedAt"], "performedAt"),
            "version": 1, "wrapped_key": wrapped_key,
        }
        patient_id, form_id = row["patient_id"], row["consent_form_id"]
        template_id = _optional_uuid(body.get("templateId"))
        now = self._clock.now()
        try:
            with self._db.atomic():
                self._check_patient(patient_id)
                if form_id is not None:
                    self._check_consent_form(form_id, patient_id, body["consentType"])
                if template_id is not None:
                    self._check_template(template_id)
                if TreatmentPlan.select().where(TreatmentPlan.id == plan_id).exists():
                    raise id_taken()
                check_signature(Practice.get_by_id(principal.practice_id), "treatment.plan",
                                statement_fields(plan_id, row), body["signature"])
                plan = TreatmentPlan.create(
                    id=plan_id, template_id=template_id, encrypted_plan=payload,
                    signature=body["signature"], created_by=principal.user_id,
                    updated_by=principal.user_id, created_at=now, updated_at=now, **row,
                )
                self._audit.record(
                    "TREATMENT_PLAN_CREATED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="treatment_plan", entity_id=plan.id,
                    metadata={"consentType": plan.consent_type, "consentFormLinked": form_id is not None,
                              "templateLinked": template_id is not None},
                )
                return self._full_view(TreatmentPlan.get_by_id(plan.id))
        except peewee.IntegrityError as exc:
            with self._db.atomic():
                linked = Patient.select().where(Patient.id == patient_id).exists()
            raise (id_taken() if linked else _link_vanished()) from exc

    def list_for_patient(self, page: Page, patient_id: uuid.UUID) -> dict:
        """Newest treatment first; without ciphertexts (GET one plan to read it)."""
        self._check_patient(patient_id)
        query = TreatmentPlan.select(*_SUMMARY).where(TreatmentPlan.patient_id == patient_id)
        total = query.count()
        rows = page.apply(query.order_by(
            TreatmentPlan.performed_at.desc(), TreatmentPlan.created_at.desc(), TreatmentPlan.id
        ))
        return page.envelope([plan_view(plan) for plan in rows], total)

    def get(self, principal: Principal, plan_id: uuid.UUID, caller: Caller) -> dict:
        with self._db.atomic():
            plan = self._get(plan_id)
            view = self._full_view(plan)
            self._audit.record(
                "TREATMENT_PLAN_VIEWED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="treatment_plan", entity_id=plan.id,
            )
        return view

    def update(self, principal: Principal, plan_id: uuid.UUID, read_version: int, body: dict,
               caller: Caller) -> dict:
        """Replaces the ciphertext (and the given links) if the plan is still at `read_version`."""
        payload, wrapped_key = encrypted_plan(body)
        changes: dict = {"encrypted_plan": payload, "wrapped_key": wrapped_key,
                         "signature": body["signature"]}
        if "performedAt" in body:
            changes["performed_at"] = instant_field(body["performedAt"], "performedAt")
        if "consentType" in body:
            changes["consent_type"] = body["consentType"]
        if "consentFormId" in body:
            changes["consent_form_id"] = _optional_uuid(body["consentFormId"])
        if "templateId" in body:
            changes["template_id"] = _optional_uuid(body["templateId"])
        now = self._clock.now()
        try:
            with self._db.atomic():
                current = self._get(plan_id)
                if current.version != read_version:
                    raise _stale(current.version)
                form_id = changes.get("consent_form_id", current.consent_form_id)
                if form_id is not None and ("consentFormId" in body or "consentType" in body):
                    self._check_consent_form(
                        form_id, current.patient_id, changes.get("consent_type", current.consent_type)
                    )
                if changes.get("template_id") is not None:
                    self._check_template(changes["template_id"])
                signed = {name: changes.get(name, getattr(current, name)) for name in (
                    "patient_id", "consent_type", "consent_form_id", "performed_at", "wrapped_key")}
                check_signature(Practice.get_by_id(principal.practice_id), "treatment.plan",
                                statement_fields(current.id, {**signed, "version": read_version + 1}),
                                body["signature"])
                stored = TreatmentPlan.update(
                    **changes, version=TreatmentPlan.version + 1, updated_by=principal.user_id,
                    updated_at=now,
                ).where(TreatmentPlan.id == current.id, TreatmentPlan.version == read_version).execute()
                if not stored:  # another update committed after our read
                    raise _stale(self._get(plan_id).version)
                self._audit.record(
                    "TREATMENT_PLAN_UPDATED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="treatment_plan", entity_id=current.id,
                    metadata={"version": read_version + 1,
                              "fields": sorted(set(body) - {"encryptedPlan", "wrappedKey", "signature"})},
                )
                return self._full_view(TreatmentPlan.get_by_id(current.id))
        except peewee.IntegrityError as exc:
            raise _link_vanished() from exc

    def delete(self, principal: Principal, plan_id: uuid.UUID, caller: Caller) -> dict:
        """The plan goes; its photos stay with the patient, without the link to the plan."""
        with self._db.atomic():
            plan = self._get(plan_id)
            unlinked = self._unlink_photos(plan.id, self._clock.now())
            TreatmentPlan.delete().where(TreatmentPlan.id == plan.id).execute()
            self._audit.record(
                "TREATMENT_PLAN_DELETED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="treatment_plan", entity_id=plan.id,
                metadata={"consentType": plan.consent_type, "photosUnlinked": unlinked},
            )
        return {"deleted": True, "photosUnlinked": unlinked}
