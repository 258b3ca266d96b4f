"""Team invitations: who was invited to which practice, with which role, and what became of it."""

from __future__ import annotations

import peewee

from appliance.models.base import TenantModel

INVITE_STATUSES = ("PENDING", "EXPIRED", "ACCEPTED", "REVOKED")


class TeamInvite(TenantModel):
    """The token itself is never stored, only its SHA-256, so a database dump opens no door."""

    email = peewee.TextField()
    role = peewee.TextField()
    token_hash = peewee.TextField(unique=True)
    invited_by = peewee.UUIDField(null=True)
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField()
    email_sent_at = peewee.DateTimeField(null=True)
    accepted_at = peewee.DateTimeField(null=True)
    accepted_by = peewee.UUIDField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
    #: What became of the invite mail (appliance/outbox.py): pending, sent or failed.
    mail_status = peewee.TextField(null=True)
    mail_error = peewee.TextField(null=True)
    mail_updated_at = peewee.DateTimeField(null=True)

    def status(self, now) -> str:
        if self.accepted_at is not None:
            return "ACCEPTED"
        if self.revoked_at is not None:
            return "REVOKED"
        return "EXPIRED" if self.expires_at <= now else "PENDING"

    @classmethod
    def is_open(cls):
        """Neither accepted nor revoked (it may still have expired)."""
        return cls.accepted_at.is_null() & cls.revoked_at.is_null()
