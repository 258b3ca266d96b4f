"""Consent forms: the staff side (create, list, read, revoke) and the patient side (open,
submit once, withdraw). Answers arrive encrypted to the practice key; the server stores them."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable
from typing import Protocol

import peewee

from appliance import envelopes, tenancy
from appliance.clock import Clock, isoformat
from appliance.http.errors import ApiError, bad_request, conflict, not_found
from appliance.http.pagination import Page
from appliance.mail import consent_link_mail
from appliance.models import COUNTERSIGNABLE_STATUSES, SIGNED_STATUSES, ConsentForm, Patient, Practice
from appliance.outbox import Outbox, mail_view
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.services.consent_archives import archive_of
from appliance.services.forms import Forms
from appliance.services.link_tokens import TOKEN, find_by_token, new_token, token_hash
from appliance.services.logo import logo_url
from appliance.services.patients import submitted_identity
from appliance.services.signatures import check_signature

log = logging.getLogger("appliance.consents")
REVOCABLE = ("PENDING", *SIGNED_STATUSES)
#: What a submit's claim returns: what the form checks and the audit entry read.
CLAIMED = (ConsentForm.id, ConsentForm.practice_id, ConsentForm.patient_id, ConsentForm.type,
           ConsentForm.form_id, ConsentForm.form_version, ConsentForm.practice_text_id)


def _statement(form_id: str, consent_type: str, patient_id: uuid.UUID | None, commitment: str | None) -> dict:
    """The consent statement (docs/crypto.md) that staff sign when they issue a link."""
    return {"id": form_id, "type": consent_type, "patientId": str(patient_id) if patient_id else None,
            "linkCommitment": commitment}


def _gone(status: str) -> ApiError:
    if status == "REVOKED":
        return ApiError(410, "consent_revoked", "this consent form was revoked")
    return ApiError(410, "consent_expired", "this consent link has expired")


def _payload(body: dict, field: str, max_bytes: int, message: str) -> bytes:
    """A payload (base64) and its wrappedKey from a request body, checked as far as a server
    can (docs/crypto.md): both problems at once, as a 400."""
    problems: list[dict[str, str]] = []
    payload = b""
    try:
        payload = envelopes.decode_payload(body[field], field, max_bytes=max_bytes)
    except envelopes.EnvelopeError as exc:
        problems.append({"field": exc.field, "problem": exc.problem})
    try:
        envelopes.validate_wrapped_key(body["wrappedKey"])
    except envelopes.EnvelopeError as exc:
        problems.append({"field": exc.field, "problem": exc.problem})
    if problems:
        raise bad_request(message, problems)
    return payload


def _not_countersignable(status: str) -> ApiError:
    if status == "COMPLETED":
        return conflict("already_countersigned", "this consent is countersigned already")
    return conflict("consent_not_signed", "only a consent the patient signed (SIGNED or PAID) can be"
                    " countersigned")


def countersignature_view(form: ConsentForm) -> dict | None:
    """The stored countersignature as a reader checks it (docs/crypto.md), or None."""
    if form.countersignature is None:
        return None
    return {
        "encryptedCountersignature": base64.b64encode(bytes(form.countersignature)).decode(),
        "wrappedKey": form.countersignature_wrapped_key,
        "signature": form.countersignature_signature,
        "countersignedAt": isoformat(form.countersigned_at),
        "countersignedBy": str(form.countersigned_by) if form.countersigned_by else None,
    }


class ConsentQuota(Protocol):
    """The seam for the monthly consent limit (billing plans): asked inside the creating
    transaction; raises an ApiError to refuse."""

    def check_consent_quota(self, practice: Practice) -> None: ...


class Consents:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, outbox: Outbox,
                 public_base_url: str, forms: Forms, quota: ConsentQuota | None = None,
                 legal_links: tuple[str, str] = ("", "")):
        self._db = database
        self._forms = forms
        self._audit = audit
        self._clock = clock
        self._outbox = outbox
        self._base_url = public_base_url.rstrip("/")
        self._quota = quota
        #: The operator's Impressum and privacy notice, for practices without their own.
        self._legal_links = legal_links
        self._claim_sql: str | None = None

    # ----- staff side (inside the caller's practice scope) -----

    def _link(self, practice: Practice, token: str) -> str:
        return f"{(practice.public_base_url or self._base_url)}/consent/{token}"

    def create(self, principal: Principal, body: dict, caller: Caller) -> dict:
        """A form with the link a staff client made: its id and token drawn by the client,
        the consent statement signed by the practice (docs/crypto.md, patient submissions)."""
        token = body["token"]
        commitment = envelopes.link_commitment(token)
        patient_id = uuid.UUID(body["patientId"]) if body.get("patientId") else None

        def check(practice: Practice) -> None:
            check_signature(practice, "consent", _statement(body["id"], body["type"], patient_id, commitment),
                            body["signature"])

        form, practice = self._create(principal, uuid.UUID(body["id"]), body, patient_id, caller,
                                      token=token, commitment=commitment, signature=body["signature"],
                                      check=check)
        return self._issued(form, practice, token, body)

    def create_unlinked(self, principal: Principal, consent_type: str, patient_id: uuid.UUID,
                        caller: Caller) -> None:
        """A form the GDT import asks for: no link yet (its token is drawn here and shown to
        nobody) and no signature; staff issue the link with `new_link`."""
        self._create(principal, uuid.uuid4(), {"type": consent_type}, patient_id, caller,
                     token=new_token(), commitment=None, signature=None)

    def _create(self, principal: Principal, form_id: uuid.UUID, body: dict, patient_id: uuid.UUID | None,
                caller: Caller, *, token: str, commitment: str | None, signature: str | None,
                check: Callable[[Practice], None] = lambda practice: None) -> tuple[ConsentForm, Practice]:
        now = self._clock.now()
        try:
            with self._db.atomic():
                practice = Practice.get_by_id(principal.practice_id)
                if body["type"] not in practice.enabled_consent_types:
                    raise bad_request("this consent type is not enabled in the settings",
                                      [{"field": "type", "problem": "is not enabled"}],
                                      code="consent_type_disabled")
                if self._quota is not None:
                    self._quota.check_consent_quota(practice)
                if patient_id is not None and not Patient.select().where(Patient.id == patient_id).exists():
                    raise not_found("patient")
                check(practice)
                form = ConsentForm.create(
                    id=form_id, patient_id=patient_id, created_by=principal.user_id,
                    type=body["type"], status="PENDING", token_hash=token_hash(token),
                    link_commitment=commitment, signature=signature,
                    locale=body.get("locale") or practice.locale, created_at=now,
                    expires_at=now + dt.timedelta(days=practice.default_consent_expiry_days),
                    updated_at=now, **self._forms.for_new_consent(body["type"]),
                )
                self._audit.record(
                    "CONSENT_CREATED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                    metadata={"type": form.type, "emailRequested": bool(body.get("patientEmail"))},
                )
        except peewee.IntegrityError as exc:  # the client's id or token is in use
            raise conflict("id_taken", "a consent form with this id or link token exists;"
                           " draw new ones") from exc
        return form, practice

    def _issued(self, form: ConsentForm, practice: Practice, token: str, body: dict) -> dict:
        """The answer to a staff client that issued a link, after the commit; the e-mail
        carries the key fingerprint the client computed (docs/crypto.md), never one of ours."""
        link = self._link(practice, token)
        view = {**self._staff_view(form, form.status), "token": token, "link": link}
        if body.get("patientEmail"):
            fingerprint = body.get("keyFingerprint")
            mailed = f"{link}#k={fingerprint}" if fingerprint else link
            view["emailSent"] = self._send_link(body["patientEmail"].strip(), form, practice, mailed)
            view["mail"] = mail_view(ConsentForm.get_by_id(form.id), self._clock.now())
        return view

    def new_link(self, principal: Principal, consent_id: uuid.UUID, body: dict, caller: Caller) -> dict:
        """A fresh link for a PENDING form (lost mail, or a form the GDT import created),
        made and signed by a staff client like the first.

        Only token hashes are stored, so the old link cannot be shown again: it is replaced
        and stops working. The deadline stays as it was.
        """
        now = self._clock.now()
        token = body["token"]
        commitment = envelopes.link_commitment(token)
        try:
            with self._db.atomic():
                form = ConsentForm.get_or_none(ConsentForm.id == consent_id)
                if form is None:
                    raise not_found("consent")
                practice = Practice.get_by_id(principal.practice_id)
                check_signature(practice, "consent",
                                _statement(str(form.id), form.type, form.patient_id, commitment),
                                body["signature"])
                changed = ConsentForm.update(
                    token_hash=token_hash(token), link_commitment=commitment, signature=body["signature"],
                    updated_at=now, mail_status=None, mail_error=None, mail_updated_at=None,
                ).where(
                    ConsentForm.id == form.id, ConsentForm.status == "PENDING", ConsentForm.expires_at > now,
                    ConsentForm.patient_id.is_null() if form.patient_id is None
                    else ConsentForm.patient_id == form.patient_id,
                ).execute()
                if not changed:
                    raise conflict("consent_not_pending", "only a pending, unexpired form gets a new link")
                self._audit.record(
                    "CONSENT_LINK_ISSUED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                    metadata={"emailRequested": bool(body.get("patientEmail"))},
                )
        except peewee.IntegrityError as exc:
            raise conflict("id_taken", "this link token is in use; draw a new one") from exc
        return self._issued(ConsentForm.get_by_id(form.id), practice, token, body)

    def _send_link(self, address: str, form: ConsentForm, practice: Practice, link: str) -> bool:
        """After the commit: queued for the outbox, whose result staff see as the form's
        `mail`; the link can be copied meanwhile. False when it cannot go out at all (no
        SMTP, or a practice name from before names were checked cannot be a subject)."""
        queued = self._outbox.queue(ConsentForm, form, practice.id, lambda: consent_link_mail(
            address, form.locale, practice.name, link, form.expires_at, practice.timezone))
        if not queued:
            log.warning("consent link e-mail not sent", extra={"consent_id": str(form.id)})
        return queued

    def _staff_view(self, form: ConsentForm, status: str) -> dict:
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
            "formId": form.form_id,
            "formVersion": form.form_version,
            "formLocale": form.form_locale,
            "formHash": form.form_hash,
            "linkCommitment": form.link_commitment,
            "signature": form.signature,
            "countersignedAt": isoformat(form.countersigned_at),
            "countersignedBy": str(form.countersigned_by) if form.countersigned_by else None,
            "mail": mail_view(form, self._clock.now()),
        }

    def list(self, page: Page, status: str | None, consent_type: str | None,
             created_from: dt.datetime | None, created_to: dt.datetime | None) -> dict:
        now = self._clock.now()
        effective = ConsentForm.effective_status(now)
        query = ConsentForm.select(
            *[f for f in ConsentForm._meta.sorted_fields
              if f.name not in ("encrypted_answers", "countersignature")],
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
            "identity": form.identity,
            "lookupHash": form.lookup_hash,
            "practiceTextRevision": self._forms.revision_of(form),
            "countersignature": countersignature_view(form),
            "archive": archive_of(form.id),
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

    def countersign(self, principal: Principal, consent_id: uuid.UUID, body: dict, caller: Caller) -> dict:
        """The physician confirms the information talk: SIGNED (or PAID) becomes COMPLETED.

        The server checks the practice's signature over the statement with the digest of the
        answers it stores, so a countersignature always names the answers it confirms; the
        conditional UPDATE lets exactly one of two concurrent countersignatures win.
        """
        document = _payload(body, "encryptedCountersignature", envelopes.COUNTERSIGNATURE_MAX_BYTES,
                            "the encrypted countersignature is invalid")
        now = self._clock.now()
        with self._db.atomic():
            form = ConsentForm.get_or_none(ConsentForm.id == consent_id)
            if form is None:
                raise not_found("consent")
            if form.status not in COUNTERSIGNABLE_STATUSES:
                raise _not_countersignable(form.status)
            answers_sha256 = hashlib.sha256(bytes(form.encrypted_answers)).hexdigest()
            check_signature(Practice.get_by_id(principal.practice_id), "consent.countersignature",
                            {"consentId": str(form.id), "answersSha256": answers_sha256,
                             "wrappedKey": body["wrappedKey"]}, body["signature"])
            changed = ConsentForm.update(
                status="COMPLETED", countersignature=document,
                countersignature_wrapped_key=body["wrappedKey"],
                countersignature_signature=body["signature"], countersigned_at=now,
                countersigned_by=principal.user_id, updated_at=now,
            ).where(ConsentForm.id == form.id, ConsentForm.status.in_(COUNTERSIGNABLE_STATUSES)).execute()
            if not changed:
                raise _not_countersignable(ConsentForm.get_by_id(form.id).status)
            self._audit.record(
                "CONSENT_COUNTERSIGNED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                metadata={"previousStatus": form.status},
            )
            form = ConsentForm.get_by_id(form.id)
            return {**self._staff_view(form, form.status), "countersignature": countersignature_view(form)}

    # ----- patient side (public: the token is the credential) -----

    def _by_token(self, token: str) -> ConsentForm:
        form = find_by_token(ConsentForm, token)
        if form is None:
            raise not_found("consent")
        return form

    @staticmethod
    def _refuse_if_gone(form: ConsentForm, now: dt.datetime) -> None:
        if form.status in ("REVOKED", "EXPIRED") or (form.status == "PENDING" and form.expires_at <= now):
            raise _gone(form.status)

    def public_get(self, token: str, locale: str | None = None) -> dict:
        """Only what the patient page needs to render and encrypt, nothing else: the form
        document the link names, in its locale or the one asked for."""
        form = self._by_token(token)
        self._refuse_if_gone(form, self._clock.now())
        with tenancy.practice_scope(form.practice_id):
            practice = Practice.get_by_id(form.practice_id)
            document, locales = self._forms.consent_document(form, locale or form.locale)
        return {
            "id": str(form.id),
            "type": form.type,
            "status": form.status,
            "expiresAt": isoformat(form.expires_at),
            "signedAt": isoformat(form.signed_at),
            "locale": form.locale,
            "practice": {"name": practice.name, "brandColor": practice.brand_color,
                         "logoUrl": logo_url(practice.public_base_url or self._base_url, practice.id),
                         "impressumUrl": practice.impressum_url or self._legal_links[0] or None,
                         "privacyUrl": practice.privacy_url or self._legal_links[1] or None},
            "publicKey": practice.public_key,
            "lookupSalt": practice.lookup_salt,
            "form": document,
            "locales": locales,
        }

    def submit(self, token: str, body: dict, caller: Caller, user_agent: str | None,
               idempotency_key: str | None = None) -> dict:
        """Exactly one submit wins: the form is found and claimed by one conditional UPDATE
        ... RETURNING by its token, not by a read. Checks of the submitted form that fail after
        the claim roll it back; a claim that fails is explained by a read, in the same order of
        checks (missing, gone, wrong form, already submitted).

        The identity stays with the form, sealed to it, whoever it names: a lookupHash anyone
        can compute never attaches a submission to a patient; staff decide after decrypting.
        A retry with the winning submit's `idempotency_key` (its answer was lost with the
        connection) gets the same answer again instead of 409, and changes nothing.
        """
        key_hash = token_hash(idempotency_key) if idempotency_key else None
        answers = _payload(body, "encryptedAnswers", envelopes.ANSWERS_MAX_BYTES,
                           "the encrypted answers are invalid")
        identity = submitted_identity(body)
        if not TOKEN.fullmatch(token):
            raise not_found("consent")
        now = self._clock.now()
        with self._db.atomic():
            with tenancy.unscoped("a consent link token names its practice"):
                form = self._claim({
                    "status": "SIGNED", "signed_at": now, "encrypted_answers": answers,
                    "wrapped_key": body["wrappedKey"], "signature_ip": caller.ip,
                    "signature_user_agent": (user_agent or "")[:512] or None,
                    "identity": identity, "lookup_hash": body["lookupHash"], "updated_at": now,
                    "form_locale": body["locale"], "form_hash": body["formHash"], "submit_key_hash": key_hash,
                }, token_hash(token), now)
            if form is None:
                return self._not_claimed(token, body, key_hash, now)
            with tenancy.practice_scope(form.practice_id):
                # Forms: the submit names published content of this consent (stored in clear).
                self._forms.check_submitted(form, body)
                self._audit.record(
                    "CONSENT_SUBMITTED", ip=caller.ip, practice_id=form.practice_id,
                    entity_type="consent", entity_id=form.id,
                    metadata={"type": form.type, "patientLinked": form.patient_id is not None},
                )
        return {"status": "SIGNED", "signedAt": isoformat(now)}

    def _claim(self, changes: dict, hashed_token: str, now: dt.datetime) -> ConsentForm | None:
        """The claiming UPDATE, its SQL built once: peewee composing it per submit was the
        biggest piece of the submit's own CPU time. The columns' own conversions apply."""
        fields = ConsentForm._meta.fields
        if self._claim_sql is None:
            param = self._db.param
            self._claim_sql = (
                f"UPDATE consent_form SET {', '.join(f'{name} = {param}' for name in changes)}"  # noqa: S608
                f" WHERE token_hash = {param} AND status = 'PENDING' AND expires_at > {param}"
                f" RETURNING {', '.join(field.column_name for field in CLAIMED)}")
        params = [fields[name].db_value(value) for name, value in changes.items()]
        params += [hashed_token, ConsentForm.expires_at.db_value(now)]
        row = self._db.execute_sql(self._claim_sql, params).fetchone()
        if row is None:
            return None
        return ConsentForm(**{field.name: field.python_value(value)
                              for field, value in zip(CLAIMED, row, strict=True)})

    def _not_claimed(self, token: str, body: dict, key_hash: str | None, now: dt.datetime) -> dict:
        """What a submit that claimed nothing answers: the winner's answer again for its retry,
        else an error."""
        form = self._by_token(token)
        self._refuse_if_gone(form, now)
        with tenancy.practice_scope(form.practice_id):
            self._forms.check_submitted(form, body)
        if form.status == "PENDING":  # expired between the claim and this read
            raise _gone(form.status)
        if _same_submit(form.submit_key_hash, key_hash):
            return {"status": "SIGNED", "signedAt": isoformat(form.signed_at)}
        raise conflict("already_submitted", "this consent form was already submitted")

    def link_patient(self, principal: Principal, consent_id: uuid.UUID, body: dict, caller: Caller) -> dict:
        """The staff decision after reading a submission: it belongs to this patient. Staff sign
        the consent statement with the patient named; the link token stays the same."""
        patient_id = uuid.UUID(body["patientId"])
        with self._db.atomic():
            form = ConsentForm.get_or_none(ConsentForm.id == consent_id)
            if form is None:
                raise not_found("consent")
            if not Patient.select().where(Patient.id == patient_id).exists():
                raise not_found("patient")
            if form.patient_id is not None:
                raise conflict("patient_already_linked", "this consent form already belongs to a patient")
            practice = Practice.get_by_id(principal.practice_id)
            check_signature(practice, "consent",
                            _statement(str(form.id), form.type, patient_id, form.link_commitment),
                            body["signature"])
            ConsentForm.update(patient_id=patient_id, signature=body["signature"],
                               updated_at=self._clock.now()).where(
                ConsentForm.id == form.id, ConsentForm.patient_id.is_null()
            ).execute()
            self._audit.record(
                "CONSENT_PATIENT_LINKED", ip=caller.ip, user_id=principal.user_id,
                practice_id=principal.practice_id, entity_type="consent", entity_id=form.id,
                metadata={"patientId": str(patient_id)},
            )
            return self._staff_view(ConsentForm.get_by_id(form.id), form.status)

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


def _same_submit(stored: str | None, key_hash: str | None) -> bool:
    """Whether a retry carries the key of the submit that won (compared in constant time)."""
    return stored is not None and key_hash is not None and hmac.compare_digest(stored, key_hash)
