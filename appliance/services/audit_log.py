"""Reading the audit log: list, CSV export for the data-protection officer, chain verification."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import uuid
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

import peewee

from appliance import tenancy
from appliance.clock import Clock, isoformat
from appliance.http.errors import not_found
from appliance.http.pagination import Page
from appliance.models import AuditEntry, AuditExport, Practice, User
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import GENESIS, Audit, chain_of, content_of, entry_hash
from appliance.services.objects import store_unavailable
from appliance.storage import ObjectNotFound, StoredObject, StoreUnavailable

BATCH = 1000
#: Cells a spreadsheet would run as a formula; prefixed with ' in exports.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADERS = {
    "de": ["Zeitpunkt", "Aktion", "Benutzer", "E-Mail", "Objekt", "IP-Adresse", "Kettenhash"],
    "rfc4180": ["timestamp", "action", "user name", "user email", "entity", "ip", "chain hash"],
}


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    user_id: uuid.UUID | None = None
    entity_type: str | None = None
    upto_seq: int | None = None

    def apply(self, query):
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.start:
            query = query.where(AuditEntry.created_at >= self.start)
        if self.end:
            query = query.where(AuditEntry.created_at <= self.end)
        if self.user_id:
            query = query.where(AuditEntry.user_id == self.user_id)
        if self.entity_type:
            query = query.where(AuditEntry.entity_type == self.entity_type)
        if self.upto_seq is not None:
            query = query.where(AuditEntry.seq <= self.upto_seq)
        return query


def neutralise(cell: str) -> str:
    """Defuses formula injection: a cell a spreadsheet would evaluate becomes plain text."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def entry_view(row: AuditEntry) -> dict:
    return {
        "id": str(row.id),
        "seq": row.seq,
        "action": row.action,
        "userId": str(row.user_id) if row.user_id else None,
        "entityType": row.entity_type,
        "entityId": row.entity_id,
        "ip": row.ip,
        "metadata": row.metadata,
        "createdAt": isoformat(row.created_at),
        "hash": row.hash,
    }


def verify_chain(chain: str) -> dict:
    """Walks one chain in order; reports the first missing, reordered or altered entry."""
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    with tenancy.unscoped("verifying a whole chain"):
        while True:
            rows = list(
                AuditEntry.select()
                .where(AuditEntry.chain == chain, AuditEntry.seq >= expected_seq)
                .order_by(AuditEntry.seq)
                .limit(BATCH)
            )
            if not rows:
                return {"chain": chain, "ok": True, "entries": checked, "headHash": prev_hash}
            for row in rows:
                problem = None
                if row.seq != expected_seq:
                    problem = f"entry {expected_seq} is missing"
                elif row.prev_hash != prev_hash:
                    problem = f"entry {row.seq} does not link to entry {row.seq - 1}"
                elif row.hash != entry_hash(row.prev_hash, content_of(row)):
                    problem = f"entry {row.seq} was altered"
                if problem:
                    return {"chain": chain, "ok": False, "entries": checked, "firstBroken": expected_seq,
                            "problem": problem}
                expected_seq, prev_hash, checked = row.seq + 1, row.hash, checked + 1


def all_chains() -> list[str]:
    with tenancy.unscoped("listing every audit chain"):
        return [c for (c,) in AuditEntry.select(AuditEntry.chain).distinct().tuples()]


def audit_csv(filters: AuditFilter, dialect: str, zone: zoneinfo.ZoneInfo,
              after_seq: int = 0) -> Iterator[bytes]:
    """The current practice's entries as CSV bytes, in chain order, a batch at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if dialect == "de" else ",", lineterminator="\r\n")
    encoder = codecs.getincrementalencoder("utf-8")()
    yield codecs.BOM_UTF8 if dialect == "de" else b""
    writer.writerow(HEADERS[dialect])
    chain = chain_of(tenancy.current())
    last_seq = after_seq
    while True:
        # Plain tuples of the exported columns: building model objects took most of the time.
        rows = list(
            filters.apply(
                AuditEntry.select(AuditEntry.seq, AuditEntry.created_at, AuditEntry.action, User.name,
                                  User.email, AuditEntry.entity_type, AuditEntry.entity_id,
                                  AuditEntry.ip, AuditEntry.hash)
                .join(User, peewee.JOIN.LEFT_OUTER, on=User.id == AuditEntry.user_id)
                # The chain names the practice too, and (chain, seq) is the index each batch
                # starts from: without it every batch would read the whole log.
                .where(AuditEntry.chain == chain, AuditEntry.seq > last_seq)
            )
            .order_by(AuditEntry.seq)
            .limit(BATCH)
            .tuples()
        )
        for _, created_at, action, name, email, entity_type, entity_id, ip, digest in rows:
            moment = created_at.replace(tzinfo=dt.UTC).astimezone(zone)
            entity = f"{entity_type}:{entity_id}" if entity_type else ""
            writer.writerow([neutralise(str(v or "")) for v in (
                moment.isoformat(timespec="seconds"), action, name, email, entity, ip, digest)])
        yield encoder.encode(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < BATCH:
            return
        last_seq = rows[-1][0]


def export_view(row: AuditExport) -> dict:
    return {
        "id": str(row.id),
        "createdAt": isoformat(row.created_at),
        "rangeStart": isoformat(row.range_start),
        "rangeEnd": isoformat(row.range_end),
        "firstSeq": row.first_seq,
        "lastSeq": row.last_seq,
        "rows": row.row_count,
        "headHash": row.head_hash,
        "sizeBytes": row.size_bytes,
        "wrappedKey": row.wrapped_key,
    }


class AuditLog:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, store):
        self._db = database
        self._audit = audit
        self._clock = clock
        self._store = store

    def exports(self, page: Page) -> dict:
        query = AuditExport.select()
        rows = page.apply(query.order_by(AuditExport.created_at.desc(), AuditExport.id))
        return page.envelope([export_view(r) for r in rows], query.count())

    def download_export(self, principal: Principal, export_id: uuid.UUID, caller: Caller) -> StoredObject:
        """The encrypted nightly export (gzip CSV inside the payload envelope, docs/crypto.md)."""
        row = AuditExport.get_or_none(AuditExport.id == export_id)
        if row is None:
            raise not_found("audit export")
        try:
            content = self._store.get(row.object_key)
        except StoreUnavailable as exc:
            raise store_unavailable() from exc
        except ObjectNotFound as exc:
            raise not_found("audit export content") from exc
        try:
            with self._db.atomic():
                self._audit.record("AUDIT_EXPORTED", ip=caller.ip, user_id=principal.user_id,
                                   practice_id=principal.practice_id, entity_type="audit_export",
                                   entity_id=row.id)
        except BaseException:
            content.close()
            raise
        return content

    def list(self, page: Page, filters: AuditFilter) -> dict:
        query = filters.apply(AuditEntry.select())
        total = query.count()
        rows = page.apply(query.order_by(AuditEntry.created_at.desc(), AuditEntry.seq.desc()))
        return page.envelope([entry_view(r) for r in rows], total)

    def verify(self, principal: Principal) -> dict:
        return verify_chain(chain_of(principal.practice_id))

    def vault_event(self, principal: Principal, event: str, caller: Caller) -> None:
        """Who and when come from the request, never from the body."""
        with self._db.atomic():
            self._audit.record(event, ip=caller.ip, user_id=principal.user_id,
                               practice_id=principal.practice_id, entity_type="vault")

    def export(self, principal: Principal, filters: AuditFilter, dialect: str, caller: Caller
               ) -> Iterator[bytes]:
        """Audits the export, then streams the CSV in batches: memory does not grow with rows."""
        with self._db.atomic():
            self._audit.record("AUDIT_EXPORTED", ip=caller.ip, user_id=principal.user_id,
                               practice_id=principal.practice_id, entity_type="audit",
                               metadata={"dialect": dialect, "action": filters.action})
        zone = zoneinfo.ZoneInfo(Practice.get_by_id(principal.practice_id).timezone)
        return self._rows_as_csv(principal.practice_id, filters, dialect, zone)

    def _rows_as_csv(self, practice_id: uuid.UUID, filters: AuditFilter, dialect: str,
                     zone: zoneinfo.ZoneInfo) -> Iterator[bytes]:
        # Runs after the request's middleware has finished: it sets its own tenancy scope and
        # hands its connection back to the pool when done.
        try:
            with tenancy.practice_scope(practice_id):
                yield from audit_csv(filters, dialect, zone)
        finally:
            if not self._db.is_closed():
                self._db.close()
