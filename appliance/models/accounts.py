"""Practices, their staff, sessions, rate-limit hits, vault challenges and the audit log."""

from __future__ import annotations

import peewee

from appliance.models.base import BaseModel, JSONField, TenantModel, database


class Practice(BaseModel):
    """The tenant. Its id is the practice_id of everything it owns."""

    name = peewee.TextField()
    contact_email = peewee.TextField()
    street = peewee.TextField(default="")
    postal_code = peewee.TextField(default="")
    city = peewee.TextField(default="")
    country = peewee.TextField(default="DE")
    phone = peewee.TextField(default="")
    public_key = peewee.TextField()
    signing_key = peewee.TextField(null=True)
    encrypted_priv_key = JSONField()
    lookup_salt = peewee.TextField()
    enabled_consent_types = JSONField()
    default_consent_expiry_days = peewee.IntegerField(default=7)
    brand_color = peewee.TextField(default="#0f766e")
    timezone = peewee.TextField(default="Europe/Berlin")
    locale = peewee.TextField(default="de")
    public_base_url = peewee.TextField(null=True)
    impressum_url = peewee.TextField(null=True)
    privacy_url = peewee.TextField(null=True)
    vault_idle_minutes = peewee.IntegerField(default=15)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()


class User(TenantModel):
    practice_id = peewee.UUIDField(null=True)
    practice_optional = True
    role = peewee.TextField(null=True)
    email = peewee.TextField(unique=True)
    name = peewee.TextField()
    password_hash = peewee.TextField(null=True)
    sso_provider = peewee.TextField(null=True)
    sso_subject = peewee.TextField(null=True)
    totp_secret = peewee.TextField(null=True)
    totp_enabled = peewee.BooleanField(default=False)
    totp_last_step = peewee.BigIntegerField(default=0)
    joined_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "app_user"


class LoginLockout(peewee.Model):
    """Failed logins per e-mail address, keyed by its HMAC: known and unknown addresses alike."""

    email_hash = peewee.TextField(primary_key=True)
    failed_logins = peewee.IntegerField(default=0)
    locked_until = peewee.DateTimeField(null=True)
    updated_at = peewee.DateTimeField()

    class Meta:
        database = database
        table_name = "login_lockout"


class AuthSession(BaseModel):
    user_id = peewee.UUIDField()
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)


class RateLimitHit(BaseModel):
    bucket = peewee.TextField()
    at = peewee.DateTimeField()


class VaultChallenge(TenantModel):
    challenge_hash = peewee.TextField()
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)


class AuditEntry(TenantModel):
    """Append-only (the database refuses UPDATE and DELETE) and hash-chained per practice."""

    chain = peewee.TextField()
    seq = peewee.BigIntegerField()
    prev_hash = peewee.TextField()
    hash = peewee.TextField()
    practice_id = peewee.UUIDField(null=True)
    practice_optional = True
    user_id = peewee.UUIDField(null=True)
    action = peewee.TextField()
    entity_type = peewee.TextField(null=True)
    entity_id = peewee.TextField(null=True)
    ip = peewee.TextField(null=True)
    metadata = JSONField(default=dict)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "audit_log"
