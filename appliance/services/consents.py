"""Consent forms: the staff side (create, list, read, revoke) and the patient side (open,
submit once, withdraw). Answers arrive encrypted to the practice key; the server stores them."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import uuid
from typing import Protocol

import peewee

from appliance import envelopes, tenancy
from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_envelope, bad_request, conflict, not_found
from appliance.http.pagination import Page
from appliance.mail import Mailer, MailUnavailable, consent_link_mail
from appliance.models import SIGNED_STATUSES, ConsentForm, Patient, Practice
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.link_tokens import TOKEN, find_by_token, new_token, token_hash
from appliance.services.logo import logo_url
from appliance.services.patients import sealed_identity

log = logging.getLogger("appliance.consents")
REVOCABLE = ("PENDING", *SIGNED_STATUSES)
MAX_ANSWERS_BYTES = 768 * 1024



def _gone(status: str) -> ApiError:
    if status == "REVOKED":
        return ApiError(410, "consent_revoked", "this consent form was revoked")
    return ApiError(410, "consent_expired", "this consent link has expired")


class ConsentQuota(Protocol):
    """The seam for the monthly consent limit (billing plans): asked inside the creating
    transaction; raises an ApiError to refuse."""

    def check_consent_quota(self, practice: Practice) -> None: ...


class Consents:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, mailer: Mailer,
                 public_base_url: str, quota: ConsentQuota | None = None):
        self._db = database
        self._audit = audit
        self._clock = clock
        self._mailer = mailer
        self._base_url = public_base_url.rstrip("/")
        self._quota = quota

    # ----- staff side (inside the caller's practice scope) -----

    def _link(self, practice: Practice, token: str) -> str:
        return f"{(practice.public_base_url or self._base_url)}/consent/{token}"

    def create(self, principal: Principal, body: dict, caller: Caller) -> dict:
        now = self._clock.now()
        token = new_token()
        with self._db.atomic():
            practice = Practice.get_by_id(principal.practice_id)
            if body["type"] not in practice.enabled_consent_types:
                raise bad_request("this consent type is not enabled in the settings",
                                  [{"field": "type", "problem": "is not enabled"}],
                                  code="consent_type_disabled")
            if self._quota is not None:
                self._quota.check_consent_quota(practice)
            patient_id = body.get("patientId")
            if patient_id is not None and not Patient.select().where(
                Patient.id == uuid.UUID(patient_id)
            ).exists():
                raise not_found("patient")
            form = ConsentForm.create(
                id=uuid.uuid4(), patient_id=patient_id, created_by=principal.user_id,
                type=body["type"], status="PENDING", token_hash=token_hash(token),
                locale=body.get("locale") or practice.locale, created_at=now,
                expires_at=now + dt.timedelta(days=practice.default_consent_expiry_days),
                updated_at=now,
            )
            self._audit.record(
                "CONSENT_CREATED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                metadata={"type": form.type, "emailRequested": bool(body.get("patientEmail"))},
            )
        link = self._link(practice, token)
        view = {**self._staff_view(form, form.status), "token": token, "link": link}
        if body.get("patientEmail"):
            view["emailSent"] = self._send_link(body["patientEmail"].strip(), form, practice, link)
        return view

    def new_link(self, principal: Principal, consent_id: uuid.UUID, patient_email: str | None,
                 caller: Caller) -> dict:
        """A fresh link for a PENDING form (lost mail, or a form the GDT import created).

        Only token hashes are stored, so the old link cannot be shown again: it is replaced
        and stops working. The deadline stays as it was.
        """
        now = self._clock.now()
        token = new_token()
        with self._db.atomic():
            form = ConsentForm.get_or_none(ConsentForm.id == consent_id)
            if form is None:
                raise not_found("consent")
            changed = ConsentForm.update(token_hash=token_hash(token), updated_at=now).where(
                ConsentForm.id == form.id, ConsentForm.status == "PENDING", ConsentForm.expires_at > now
            ).execute()
            if not changed:
                raise conflict("consent_not_pending", "only a pending, unexpired form gets a new link")
            practice = Practice.get_by_id(principal.practice_id)
            self._audit.record(
                "CONSENT_LINK_ISSUED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                metadata={"emailRequested": bool(patient_email)},
            )
        link = self._link(practice, token)
        view = {**self._staff_view(form, form.status), "token": token, "link": link}
        if patient_email:
            view["emailSent"] = self._send_link(patient_email.strip(), form, practice, link)
        return view

    def _send_link(self, address: str, form: ConsentForm, practice: Practice, link: str) -> bool:
        """After the commit: a mail failure never loses the form; the link can be copied."""
        mail = consent_link_mail(address, form.locale, practice.name, link, form.expires_at,
                                 practice.timezone)
        try:
            self._mailer.send(mail)
        except MailUnavailable as exc:
            log.warning("consent link e-mail not sent", extra={"consent_id": str(form.id),
                                                                "reason": str(exc)})
            return False
        return True

    @staticmethod
    def _staff_view(form: ConsentForm, status: str) -> dict:
        return {
            "id": str(form.id),
            "type": form.type,
            "status": status,
            "patientId": str(form.patient_id) if form.patient_id else None,
            "locale": form.locale,
            "createdAt": isoformat(form.created_at),
            "expiresAt": isoformat(form.expires_at),
            "signedAt": isoformat(form.signed_at),
            "revokedAt": isoformat(form.revoked_at),
            "revokedBy": form.revoked_by,
        }

    def list(self, page: Page, status: str | None, consent_type: str | None,
             created_from: dt.datetime | None, created_to: dt.datetime | None) -> dict:
        now = self._clock.now()
        effective = ConsentForm.effective_status(now)
        query = ConsentForm.select(
            *[f for f in ConsentForm._meta.sorted_fields if f.name != "encrypted_answers"],
            effective.alias("effective"),
        )
        if status:
            query = query.where(effective == status)
        if consent_type:
            query = query.where(ConsentForm.type == consent_type)
        if created_from:
            query = query.where(ConsentForm.created_at >= created_from)
        if created_to:
            query = query.where(ConsentForm.created_at <= created_to)
        total = query.count()
        rows = page.apply(query.order_by(ConsentForm.created_at.desc(), ConsentForm.id))
        return page.envelope([self._staff_view(f, f.effective) for f in rows], total)

    def get(self, principal: Principal, consent_id: uuid.UUID, caller: Caller) -> dict:
        """One form with its ciphertext, for a staff client holding the unlocked vault."""
        now = self._clock.now()
        with self._db.atomic():
            form = ConsentForm.get_or_none(ConsentForm.id == consent_id)
            if form is None:
                raise not_found("consent")
            if form.encrypted_answers is not None:
                self._audit.record(
                    "CONSENT_VIEWED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                )
        status = "EXPIRED" if form.status == "PENDING" and form.expires_at <= now else form.status
        answers = form.encrypted_answers
        return {
            **self._staff_view(form, status),
            "revokeReason": form.revoke_reason,
            "encryptedAnswers": base64.b64encode(bytes(answers)).decode() if answers else None,
            "wrappedKey": form.wrapped_key,
            "signatureIp": form.signature_ip,
            "signatureUserAgent": form.signature_user_agent,
            "comprehension": form.comprehension,
        }

    def revoke(self, principal: Principal, token_or_id: str, reason: str | None,
               caller: Caller) -> dict:
        """REVOKED and EXPIRED forms stay as they are (409); anything else becomes REVOKED."""
        now = self._clock.now()
        with self._db.atomic():
            form = self._staff_lookup(token_or_id)
            changed = ConsentForm.update(
                status="REVOKED", revoked_at=now, revoked_by="PRACTICE", revoke_reason=reason,
                updated_at=now,
            ).where(
                ConsentForm.id == form.id,
                ConsentForm.status.in_(REVOCABLE),
                ~((ConsentForm.status == "PENDING") & (ConsentForm.expires_at <= now)),
            ).execute()
            if not changed:
                raise conflict("consent_not_revocable", "the consent form is already revoked or expired")
            self._audit.record(
                "CONSENT_REVOKED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                metadata={"previousStatus": form.status, "by": "PRACTICE"},
            )
            return self._staff_view(ConsentForm.get_by_id(form.id), "REVOKED")

    def _staff_lookup(self, token_or_id: str) -> ConsentForm:
        try:
            condition = ConsentForm.id == uuid.UUID(token_or_id)
        except ValueError:
            if not TOKEN.fullmatch(token_or_id):
                raise not_found("consent") from None
            condition = ConsentForm.token_hash == token_hash(token_or_id)
        form = ConsentForm.get_or_none(condition)
        if form is None:
            raise not_found("consent")
        return form

    # ----- patient side (public: the token is the credential) -----

    def _by_token(self, token: str) -> ConsentForm:
        form = find_by_token(ConsentForm, token)
        if form is None:
            raise not_found("consent")
        return form

    def public_get(self, token: str) -> dict:
        """Only what the patient page needs to render and encrypt, nothing else."""
        form = self._by_token(token)
        now = self._clock.now()
        if form.status in ("REVOKED", "EXPIRED") or (form.status == "PENDING" and form.expires_at <= now):
            raise _gone(form.status)
        with tenancy.practice_scope(form.practice_id):
            practice = Practice.get_by_id(form.practice_id)
        return {
            "type": form.type,
            "status": form.status,
            "expiresAt": isoformat(form.expires_at),
            "signedAt": isoformat(form.signed_at),
            "locale": form.locale,
            "practice": {"name": practice.name, "brandColor": practice.brand_color,
                         "logoUrl": logo_url(practice.public_base_url or self._base_url, practice.id)},
            "publicKey": practice.public_key,
            "lookupSalt": practice.lookup_salt,
        }

    def submit(self, token: str, body: dict, caller: Caller, user_agent: str | None) -> dict:
        """Exactly one submit wins: the form is claimed by a conditional UPDATE, not by a read."""
        answers = self._answers(body)
        try:
            envelopes.validate_wrapped_key(body["wrappedKey"])
        except envelopes.EnvelopeError as exc:
            raise bad_envelope("the wrapped key is invalid", exc) from exc
        form = self._by_token(token)
        identity = sealed_identity({**body.get("patient", {}), "lookupHash": body.get("lookupHash")}) \
            if form.patient_id is None or "lookupHash" in body else None
        now = self._clock.now()
        with tenancy.practice_scope(form.practice_id), self._db.atomic():
            claimed = ConsentForm.update(
                status="SIGNED", signed_at=now, encrypted_answers=answers,
                wrapped_key=body["wrappedKey"], signature_ip=caller.ip,
                signature_user_agent=(user_agent or "")[:512] or None,
                comprehension=body.get("comprehension"), updated_at=now,
            ).where(
                ConsentForm.id == form.id, ConsentForm.status == "PENDING", ConsentForm.expires_at > now
            ).execute()
            if not claimed:
                current = ConsentForm.get_by_id(form.id)
                if current.status == "PENDING" or current.status in ("REVOKED", "EXPIRED"):
                    raise _gone(current.status)
                raise conflict("already_submitted", "this consent form was already submitted")
            patient_id, created = form.patient_id, False
            if patient_id is None:
                patient_id, created = self._link_patient(identity, now)
                ConsentForm.update(patient_id=patient_id).where(ConsentForm.id == form.id).execute()
            self._audit.record(
                "CONSENT_SUBMITTED", ip=caller.ip, practice_id=form.practice_id,
                entity_type="consent", entity_id=form.id,
                metadata={"type": form.type, "patientCreated": created,
                          "comprehensionPassed": (body.get("comprehension") or {}).get("passed")},
            )
        return {"status": "SIGNED", "signedAt": isoformat(now)}

    @staticmethod
    def _answers(body: dict) -> bytes:
        raw = body["encryptedAnswers"]
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise bad_request("encryptedAnswers must be base64",
                              [{"field": "encryptedAnswers", "problem": "must be base64"}]) from exc
        try:
            return envelopes.validate_stream_payload(data, "encryptedAnswers", max_bytes=MAX_ANSWERS_BYTES)
        except envelopes.EnvelopeError as exc:
            raise bad_envelope("the encrypted answers are invalid", exc) from exc

    @staticmethod
    def _link_patient(identity: dict, now: dt.datetime) -> tuple[uuid.UUID, bool]:
        """Finds the patient by lookupHash or creates them; safe against a concurrent create."""
        new_id = uuid.uuid4()
        Patient.insert(
            id=new_id, created_at=now, updated_at=now, **identity
        ).on_conflict_ignore().execute()
        patient_id = Patient.select(Patient.id).where(
            Patient.lookup_hash == identity["lookup_hash"]
        ).scalar()
        return patient_id, patient_id == new_id

    def withdraw(self, token: str, reason: str | None, caller: Caller) -> dict:
        """DSGVO Art. 7(3): withdrawing is as easy as consenting, and audited."""
        form = self._by_token(token)
        now = self._clock.now()
        with tenancy.practice_scope(form.practice_id), self._db.atomic():
            changed = ConsentForm.update(
                status="REVOKED", revoked_at=now, revoked_by="PATIENT", revoke_reason=reason,
                updated_at=now,
            ).where(ConsentForm.id == form.id, ConsentForm.status.in_(SIGNED_STATUSES)).execute()
            if not changed:
                current = ConsentForm.get_by_id(form.id)
                if current.status == "REVOKED":
                    raise conflict("already_revoked", "this consent was already withdrawn or revoked")
                raise conflict("not_signed", "only a signed consent can be withdrawn")
            self._audit.record(
                "CONSENT_WITHDRAWN", ip=caller.ip, practice_id=form.practice_id,
                entity_type="consent", entity_id=form.id, metadata={"by": "PATIENT"},
            )
        return {"status": "REVOKED", "revokedAt": isoformat(now)}
