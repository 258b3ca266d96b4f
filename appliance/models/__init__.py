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

__all__ = [
    "AuditEntry",
    "AuthSession",
    "Practice",
    "RateLimitHit",
    "User",
    "VaultChallenge",
    "database",
]
