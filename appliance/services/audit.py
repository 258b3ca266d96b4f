"""Writes audit entries inside the caller's transaction, so the record and the change it
documents are committed together or not at all."""

from __future__ import annotations

import contextlib
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
        "LOGIN_SUCCESS", "LOGIN_FAILED", "ACCOUNT_LOCKED", "LOGOUT", "LOGOUT_EVERYWHERE", "PASSWORD_CHANGED",
        "SESSION_ENDED",
        "TWO_FACTOR_ENABLED", "TWO_FACTOR_DISABLED", "USER_REGISTERED", "USER_SYNCED",
        "CONSENT_CREATED", "CONSENT_VIEWED", "CONSENT_SUBMITTED", "CONSENT_REVOKED",
        "CONSENT_WITHDRAWN", "CONSENT_EXPIRED", "CONSENT_LINK_ISSUED", "CONSENT_PATIENT_LINKED",
        "CONSENT_COUNTERSIGNED", "CONSENT_ARCHIVED", "CONSENT_ARCHIVE_VIEWED",
        "PATIENT_CREATED", "PATIENT_VIEWED", "PATIENT_DELETED", "PATIENT_CONFIRMED",
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
#: The chain head row: `hash` is the hash of entry `seq` (between `advance` and `set_hash`,
#: inside one transaction, of the entry before it).
HEAD_SQL = {
    "advance": "UPDATE audit_chain_head SET seq = seq + 1 WHERE chain = {p} RETURNING seq, hash",
    "start": "INSERT INTO audit_chain_head (chain, seq, hash) VALUES ({p}, {p}, {p})"
             " ON CONFLICT (chain) DO NOTHING",
    "set_hash": "UPDATE audit_chain_head SET hash = {p} WHERE chain = {p}",
}
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


#: Where the entry's number goes in its canonical text (keys sorted: "seq" comes last but
#: "userId", after "metadata", so the last occurrence is the entry's own).
SEQ_MARKER = '"seq":0,"userId":'
APPEND_FIELDS = (AuditEntry.id, AuditEntry.chain, AuditEntry.practice_id, AuditEntry.user_id,
                 AuditEntry.action, AuditEntry.entity_type, AuditEntry.entity_id, AuditEntry.ip,
                 AuditEntry.metadata, AuditEntry.created_at)
#: The head row locked (FOR UPDATE: the newest version once a concurrent writer committed),
#: advanced, with the hash of the new entry (sha256 of the previous hash and the canonical
#: text, as `entry_hash`), and the entry inserted from what the UPDATE returned.
APPEND_SQL = """
WITH head AS (
    UPDATE audit_chain_head AS h
    SET seq = h.seq + 1,
        hash = encode(sha256(convert_to(old.hash || %(before)s || (h.seq + 1)::text || %(after)s,
                                        'UTF8')), 'hex')
    FROM (SELECT hash FROM audit_chain_head WHERE chain = %(chain)s FOR UPDATE) AS old
    WHERE h.chain = %(chain)s
    RETURNING h.seq, old.hash AS prev_hash, h.hash
)
INSERT INTO audit_log (id, chain, seq, prev_hash, hash, practice_id, user_id, action, entity_type,
                       entity_id, ip, metadata, created_at)
SELECT %(id)s, %(chain)s, seq, prev_hash, hash, %(practice_id)s, %(user_id)s, %(action)s,
       %(entity_type)s, %(entity_id)s, %(ip)s, %(metadata)s, %(created_at)s
FROM head
RETURNING seq"""


class Audit:
    def __init__(self, database: peewee.Database, clock: Clock):
        self._db = database
        self._clock = clock
        self._sql = {name: sql.format(p=database.param) for name, sql in HEAD_SQL.items()}

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

        The chain's head has its own row (`audit_chain_head`): advancing it with one UPDATE
        ... RETURNING locks it until the caller's transaction ends and says the entry's number
        and predecessor in the same round trip, whatever the planner knows about `audit_log`.
        Concurrent writers queue on that row instead of forking the chain. Inside the caller's
        transaction no savepoint is taken: a failure here fails the whole use case anyway.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action}")
        chain = chain_of(practice_id)
        own = contextlib.nullcontext() if self._db.in_transaction() else self._db.atomic()
        with own, tenancy.unscoped("the audit chain head spans the practice"):
            row = AuditEntry(
                id=uuid.uuid4(), chain=chain, seq=0, prev_hash=GENESIS, practice_id=practice_id,
                user_id=user_id, action=action, entity_type=entity_type,
                entity_id=None if entity_id is None else str(entity_id), ip=ip,
                metadata=metadata or {}, created_at=self._clock.now(),
            )
            if engine_of(self._db) == "postgresql" and self._append(row):
                return
            row.seq, row.prev_hash = self._advance(chain)
            row.hash = entry_hash(row.prev_hash, content_of(row))
            row.save(force_insert=True)
            self._db.execute_sql(self._sql["set_hash"], (row.hash, chain))

    def _append(self, row: AuditEntry) -> bool:
        """PostgreSQL: the head advanced, the hash computed and the entry written in one
        statement, so a busy chain's lock is held for one round trip and the commit. False
        when the chain has no head row yet (its first entry)."""
        before, marker, after = canonical(content_of(row)).rpartition(SEQ_MARKER)
        if not marker:
            raise ValueError("the canonical entry has no seq")
        values = {field.name: field.db_value(getattr(row, field.name)) for field in APPEND_FIELDS}
        cursor = self._db.execute_sql(APPEND_SQL, {
            **values, "before": before + '"seq":', "after": ',"userId":' + after,
        })
        return cursor.fetchone() is not None

    def _advance(self, chain: str) -> tuple[int, str]:
        """The next number of `chain` and the hash before it, with the head row locked.

        A chain without a head row (its first entry) gets one from its newest entry; of two
        writers starting it at once, the second's insert waits for the first and does nothing.
        """
        head = self._db.execute_sql(self._sql["advance"], (chain,)).fetchone()
        if head is None:
            newest = (
                AuditEntry.select(AuditEntry.seq, AuditEntry.hash)
                .where(AuditEntry.chain == chain)
                .order_by(AuditEntry.seq.desc())
                .first()
            )
            start = (newest.seq, newest.hash) if newest else (0, GENESIS)
            self._db.execute_sql(self._sql["start"], (chain, *start))
            head = self._db.execute_sql(self._sql["advance"], (chain,)).fetchone()
        return head[0], head[1]
