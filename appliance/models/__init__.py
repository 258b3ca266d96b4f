"""Peewee models. Tables are created by the SQL migrations, never by the models."""

from appliance.models.accounts import (
    AuditEntry,
    AuthSession,
    Practice,
    RateLimitHit,
    User,
    VaultChallenge,
)
from appliance.models.base import database
from appliance.models.consent import CONSENT_TYPES, SIGNED_STATUSES, ConsentForm, Patient

__all__ = [
    "CONSENT_TYPES",
    "SIGNED_STATUSES",
    "AuditEntry",
    "AuthSession",
    "ConsentForm",
    "Patient",
    "Practice",
    "RateLimitHit",
    "User",
    "VaultChallenge",
    "database",
]
