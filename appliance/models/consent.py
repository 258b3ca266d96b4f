"""Patients and consent forms: identities and answers are ciphertext the server cannot read."""

from __future__ import annotations

import peewee

from appliance.models.base import JSONField, TenantModel

CONSENT_TYPES = ("BOTOX", "FILLER", "LASER", "CHEMICAL_PEEL", "MICRONEEDLING", "PRP")
SIGNED_STATUSES = ("SIGNED", "PAID", "COMPLETED")


class Patient(TenantModel):
    lookup_hash = peewee.TextField()
    encrypted_first_name = peewee.TextField()
    encrypted_last_name = peewee.TextField()
    encrypted_date_of_birth = peewee.TextField()
    encrypted_email = peewee.TextField(null=True)
    encrypted_phone = peewee.TextField(null=True)
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
    comprehension = JSONField(null=True)
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
