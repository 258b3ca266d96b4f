"""Patients and consent forms: identities and answers are ciphertext the server cannot read."""

from __future__ import annotations

import peewee

from appliance.models.base import JSONField, TenantModel

CONSENT_TYPES = ("BOTOX", "FILLER", "LASER", "CHEMICAL_PEEL", "MICRONEEDLING", "PRP")
SIGNED_STATUSES = ("SIGNED", "PAID", "COMPLETED")
#: A physician's countersignature moves a form from these to COMPLETED.
COUNTERSIGNABLE_STATUSES = ("SIGNED", "PAID")


class Patient(TenantModel):
    lookup_hash = peewee.TextField()
    encrypted_first_name = peewee.TextField()
    encrypted_last_name = peewee.TextField()
    encrypted_date_of_birth = peewee.TextField()
    encrypted_email = peewee.TextField(null=True)
    encrypted_phone = peewee.TextField(null=True)
    signature = peewee.TextField(null=True)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()


class ConsentForm(TenantModel):
    patient_id = peewee.UUIDField(null=True)
    created_by = peewee.UUIDField(null=True)
    type = peewee.TextField()
    status = peewee.TextField()
    token_hash = peewee.TextField(unique=True)
    locale = peewee.TextField()
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField()
    signed_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
    revoked_by = peewee.TextField(null=True)
    revoke_reason = peewee.TextField(null=True)
    encrypted_answers = peewee.BlobField(null=True)
    wrapped_key = peewee.TextField(null=True)
    signature_ip = peewee.TextField(null=True)
    signature_user_agent = peewee.TextField(null=True)
    identity = JSONField(null=True)
    lookup_hash = peewee.TextField(null=True)
    link_commitment = peewee.TextField(null=True)
    signature = peewee.TextField(null=True)
    #: The catalogue form and version and the practice-text revision fixed when the link was
    #: made; on submit, the locale and formHash of what the patient's page showed.
    form_id = peewee.TextField(null=True)
    form_version = peewee.IntegerField(null=True)
    practice_text_id = peewee.UUIDField(null=True)
    form_locale = peewee.TextField(null=True)
    form_hash = peewee.TextField(null=True)
    #: The physician's countersignature (docs/crypto.md): what made the form COMPLETED.
    countersignature = peewee.BlobField(null=True)
    countersignature_wrapped_key = peewee.TextField(null=True)
    countersignature_signature = peewee.TextField(null=True)
    countersigned_at = peewee.DateTimeField(null=True)
    countersigned_by = peewee.UUIDField(null=True)
    #: SHA-256 of the Idempotency-Key the submitting page sent: its retry is recognised.
    submit_key_hash = peewee.TextField(null=True)
    #: What became of the link mail (appliance/outbox.py): pending, sent or failed.
    mail_status = peewee.TextField(null=True)
    mail_error = peewee.TextField(null=True)
    mail_updated_at = peewee.DateTimeField(null=True)
    updated_at = peewee.DateTimeField()

    @classmethod
    def effective_status(cls, now):
        """The status as the patient and staff see it: a PENDING form past its deadline is
        EXPIRED whether or not the scheduled expiry job has run yet."""
        return peewee.Case(
            None,
            [(((cls.status == "PENDING") & (cls.expires_at <= now)), "EXPIRED")],
            cls.status,
        )


class ConsentArchive(TenantModel):
    """The archive copy of a completed consent: ciphertext in the object store, one per form."""

    consent_form_id = peewee.UUIDField(unique=True)
    wrapped_key = peewee.TextField()
    signature = peewee.TextField()
    size_bytes = peewee.BigIntegerField()
    uploaded_by = peewee.UUIDField(null=True)
    created_at = peewee.DateTimeField()
