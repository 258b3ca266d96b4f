"""Writes audit entries inside the caller's transaction, so the record and the change it
documents are committed together or not at all."""

from __future__ import annotations

import hashlib
import json
import uuid

import peewee

from appliance import tenancy
from appliance.clock import Clock
from appliance.db import engine_of
from appliance.models import AuditEntry

ACTIONS = frozenset(
    {
        "LOGIN_SUCCESS", "LOGIN_FAILED", "ACCOUNT_LOCKED", "LOGOUT", "PASSWORD_CHANGED",
        "TWO_FACTOR_ENABLED", "TWO_FACTOR_DISABLED", "USER_REGISTERED", "USER_SYNCED",
        "CONSENT_CREATED", "CONSENT_VIEWED", "CONSENT_SUBMITTED", "CONSENT_REVOKED",
        "CONSENT_WITHDRAWN", "CONSENT_EXPIRED", "CONSENT_LINK_ISSUED",
        "PATIENT_CREATED", "PATIENT_VIEWED", "PATIENT_DELETED",
        "PHOTO_UPLOADED", "PHOTO_VIEWED", "PHOTO_DELETED", "PHOTO_CONSENT_CHANGED",
        "TREATMENT_PLAN_CREATED", "TREATMENT_PLAN_VIEWED", "TREATMENT_PLAN_UPDATED",
        "TREATMENT_PLAN_DELETED", "TEMPLATE_CHANGED",
        "TEAM_MEMBER_INVITED", "TEAM_MEMBER_JOINED", "TEAM_MEMBER_REMOVED",
        "TEAM_MEMBER_ROLE_CHANGED", "TEAM_INVITE_REVOKED",
        "PRACTICE_CREATED", "PRACTICE_SETTINGS_UPDATED", "VAULT_ENVELOPE_REPLACED",
        "SUBSCRIPTION_CHANGED", "AUDIT_EXPORTED", "GDT_EXPORTED", "VAULT_UNLOCKED",
        "VAULT_LOCKED",
        "GDT_IMPORTED",
    }
)


GENESIS = "0" * 64
SYSTEM_CHAIN = "system"


def chain_of(practice_id: uuid.UUID | None) -> str:
    """Each practice has its own chain; entries without a practice form the system chain."""
    return practice_id.hex if practice_id is not None else SYSTEM_CHAIN


def canonical(entry: dict) -> str:
    """The exact text that is hashed: stable key order, no whitespace, UTF-8 as is."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, content: dict) -> str:
    return hashlib.sha256((prev_hash + canonical(content)).encode()).hexdigest()


def content_of(row: AuditEntry) -> dict:
    """What the hash covers: every column but the hash itself."""
    return {
        "chain": row.chain,
        "seq": row.seq,
        "practiceId": str(row.practice_id) if row.practice_id else None,
        "userId": str(row.user_id) if row.user_id else None,
        "action": row.action,
        "entityType": row.entity_type,
        "entityId": row.entity_id,
        "ip": row.ip,
        "metadata": row.metadata,
        "createdAt": row.created_at.isoformat(timespec="microseconds"),
    }


class Audit:
    def __init__(self, database: peewee.Database, clock: Clock):
        self._db = database
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
        """Appends one entry to its chain. Metadata must never hold patient names or e-mails.

        The chain head is read and extended under a per-chain lock held until the caller's
        transaction ends (an advisory lock on PostgreSQL, the write lock on SQLite), so
        concurrent writers queue instead of forking the chain.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action}")
        chain = chain_of(practice_id)
        with self._db.atomic(), tenancy.unscoped("the audit chain head spans the practice"):
            if engine_of(self._db) == "postgresql":
                self._db.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", ("audit:" + chain,))
            head = (
                AuditEntry.select(AuditEntry.seq, AuditEntry.hash)
                .where(AuditEntry.chain == chain)
                .order_by(AuditEntry.seq.desc())
                .first()
            )
            row = AuditEntry(
                id=uuid.uuid4(), chain=chain, seq=head.seq + 1 if head else 1,
                prev_hash=head.hash if head else GENESIS, practice_id=practice_id,
                user_id=user_id, action=action, entity_type=entity_type,
                entity_id=None if entity_id is None else str(entity_id), ip=ip,
                metadata=metadata or {}, created_at=self._clock.now(),
            )
            row.hash = entry_hash(row.prev_hash, content_of(row))
            row.save(force_insert=True)
