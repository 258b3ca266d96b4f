"""Writes audit entries inside the caller's transaction, so the record and the change it
documents are committed together or not at all."""

from __future__ import annotations

import uuid

from appliance.clock import Clock
from appliance.models import AuditEntry

ACTIONS = frozenset(
    {
        "LOGIN_SUCCESS", "LOGIN_FAILED", "ACCOUNT_LOCKED", "LOGOUT", "PASSWORD_CHANGED",
        "TWO_FACTOR_ENABLED", "TWO_FACTOR_DISABLED", "USER_REGISTERED", "USER_SYNCED",
        "CONSENT_CREATED", "CONSENT_VIEWED", "CONSENT_SUBMITTED", "CONSENT_REVOKED",
        "CONSENT_WITHDRAWN", "CONSENT_EXPIRED",
        "PATIENT_CREATED", "PATIENT_VIEWED", "PATIENT_DELETED",
        "PHOTO_UPLOADED", "PHOTO_VIEWED", "PHOTO_DELETED", "PHOTO_CONSENT_CHANGED",
        "TREATMENT_PLAN_CREATED", "TREATMENT_PLAN_VIEWED", "TREATMENT_PLAN_UPDATED",
        "TREATMENT_PLAN_DELETED", "TEMPLATE_CHANGED",
        "TEAM_MEMBER_INVITED", "TEAM_MEMBER_JOINED", "TEAM_MEMBER_REMOVED",
        "TEAM_MEMBER_ROLE_CHANGED",
        "PRACTICE_CREATED", "PRACTICE_SETTINGS_UPDATED", "VAULT_ENVELOPE_REPLACED",
        "SUBSCRIPTION_CHANGED", "AUDIT_EXPORTED", "GDT_EXPORTED", "VAULT_UNLOCKED",
        "VAULT_LOCKED",
    }
)


class Audit:
    def __init__(self, clock: Clock):
        self._clock = clock

    def record(
        self,
        action: str,
        *,
        ip: str | None,
        user_id: uuid.UUID | None = None,
        practice_id: uuid.UUID | None = None,
        entity_type: str | None = None,
        entity_id: object = None,
        metadata: dict | None = None,
    ) -> None:
        """Appends one entry. Metadata must never hold patient names or e-mail addresses."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action}")
        row = {
            "user_id": user_id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": None if entity_id is None else str(entity_id),
            "ip": ip,
            "metadata": metadata or {},
            "created_at": self._clock.now(),
        }
        if practice_id is not None:
            row["practice_id"] = practice_id
        AuditEntry.insert(row).execute()
