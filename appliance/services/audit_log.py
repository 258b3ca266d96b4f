"""Reading the audit log: list, CSV export for the data-protection officer, chain verification."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import uuid
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import peewee

from appliance import tenancy
from appliance.clock import Clock, isoformat
from appliance.db import engine_of
from appliance.http.errors import not_found
from appliance.http.pagination import Page
from appliance.models import AuditEntry, AuditExport, Practice, User
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import GENESIS, SYSTEM_CHAIN, Audit, chain_of, content_of, entry_hash
from appliance.services.objects import store_unavailable
from appliance.storage import ObjectNotFound, StoredObject, StoreUnavailable

BATCH = 1000
#: Lines the database writes per batch on PostgreSQL (about 170 bytes each).
SQL_BATCH = 10000
CHUNK_BYTES = 64 * 1024
DELIMITERS = {"de": ";", "rfc4180": ","}
#: Cells a spreadsheet would run as a formula (or, with "|", as a DDE call); prefixed with '
#: in exports.
FORMULA_START = ("=", "+", "-", "@", "|", "\t", "\r")
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


@dataclass(frozen=True)
class Anchor:
    """A chain's head as recorded somewhere else: entry `seq` had hash `hash`.

    The chain alone cannot show that its newest entries were removed (what is left still
    links up), so it is compared with anchors: the nightly export's record (`audit_export`),
    and a copy the operator keeps outside the database, e.g. from the journal line of the
    nightly run (docs/operations.md, "Audit log anchors")."""

    seq: int
    hash: str
    source: str

    def view(self) -> dict:
        return {"seq": self.seq, "hash": self.hash, "source": self.source}


ANCHOR = re.compile(rf"^([0-9a-f]{{32}}|{SYSTEM_CHAIN}):([1-9][0-9]{{0,17}}):([0-9a-f]{{64}})$")


def anchor_text(chain: str, seq: int, digest: str) -> str:
    """How the nightly run logs a chain's head, and how `audit verify --anchor` takes it back."""
    return f"{chain}:{seq}:{digest}"


def parse_anchor(text: str) -> tuple[str, Anchor]:
    """The chain and anchor of `CHAIN:SEQ:HASH` (ValueError otherwise)."""
    found = ANCHOR.match(text.strip().lower())
    if not found:
        raise ValueError("an anchor is CHAIN:SEQ:HASH, as the nightly audit-exports run logs it")
    return found[1], Anchor(int(found[2]), found[3], "anchor given")


def anchored_chains() -> list[str]:
    """Chains with an export anchor, even when every entry of the chain is gone."""
    with tenancy.unscoped("listing the chains the nightly exports anchored"):
        return [chain_of(practice_id) for (practice_id,) in
                AuditExport.select(AuditExport.practice_id).distinct().tuples()]


def export_anchor(chain: str) -> Anchor | None:
    """The newest nightly export's record of the chain's head, if the chain has one."""
    if chain == SYSTEM_CHAIN:
        return None
    with tenancy.unscoped("the anchors of one chain"):
        row = (AuditExport.select(AuditExport.last_seq, AuditExport.head_hash, AuditExport.created_at)
               .where(AuditExport.practice_id == uuid.UUID(hex=chain), AuditExport.last_seq.is_null(False))
               .order_by(AuditExport.last_seq.desc()).first())
    if row is None:
        return None
    return Anchor(row.last_seq, row.head_hash, f"nightly export of {isoformat(row.created_at)}")


def verify_chain(chain: str, anchors: Sequence[Anchor] = ()) -> dict:
    """Walks one chain in order; reports the first missing, reordered or altered entry, then
    compares the chain with each anchor: a chain shorter than an anchor lost its newest
    entries, a different hash at the anchored entry means they were replaced."""
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    anchored = {anchor.seq: None for anchor in anchors}
    with tenancy.unscoped("verifying a whole chain"):
        while True:
            rows = list(
                AuditEntry.select()
                .where(AuditEntry.chain == chain, AuditEntry.seq >= expected_seq)
                .order_by(AuditEntry.seq)
                .limit(BATCH)
            )
            if not rows:
                break
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
                            "problem": problem, **_anchor_views(anchors)}
                if row.seq in anchored:
                    anchored[row.seq] = row.hash
                expected_seq, prev_hash, checked = row.seq + 1, row.hash, checked + 1
    for anchor in anchors:
        problem = None
        if checked < anchor.seq:
            problem = (f"the chain ends at entry {checked}, but the {anchor.source} records entry"
                       f" {anchor.seq}: newer entries were removed")
        elif anchored[anchor.seq] != anchor.hash:
            problem = f"entry {anchor.seq} differs from the {anchor.source}"
        if problem:
            return {"chain": chain, "ok": False, "entries": checked,
                    "firstBroken": min(checked + 1, anchor.seq), "problem": problem,
                    **_anchor_views(anchors)}
    return {"chain": chain, "ok": True, "entries": checked, "headHash": prev_hash, **_anchor_views(anchors)}


def _anchor_views(anchors: Sequence[Anchor]) -> dict:
    return {"anchors": [anchor.view() for anchor in anchors]} if anchors else {}


def all_chains() -> list[str]:
    with tenancy.unscoped("listing every audit chain"):
        return [c for (c,) in AuditEntry.select(AuditEntry.chain).distinct().tuples()]


def audit_csv(filters: AuditFilter, dialect: str, zone: zoneinfo.ZoneInfo,
              after_seq: int = 0) -> Iterator[bytes]:
    """The current practice's entries as CSV bytes, in chain order, a batch at a time.

    On PostgreSQL the database writes the lines (`_sql_lines`), byte for byte what the Python
    path writes on SQLite; Python only joins them. Building each row in Python (the CSV
    writer, row conversion, time zones) took 90 % of the export's time."""
    header = io.StringIO()
    csv.writer(header, delimiter=DELIMITERS[dialect], lineterminator="\r\n").writerow(HEADERS[dialect])
    yield (codecs.BOM_UTF8 if dialect == "de" else b"") + header.getvalue().encode()
    database = AuditEntry._meta.database
    if engine_of(getattr(database, "obj", database)) == "postgresql":
        yield from _sql_lines(database, filters, dialect, zone, after_seq)
    else:
        yield from _python_lines(filters, dialect, zone, after_seq)


def _exported(filters: AuditFilter, after_seq: int, batch: int):
    """The exported columns of the next `batch` entries after `after_seq`."""
    return (
        filters.apply(
            AuditEntry.select(AuditEntry.seq, AuditEntry.created_at, AuditEntry.action,
                              User.name.alias("name"), User.email.alias("email"), AuditEntry.entity_type,
                              AuditEntry.entity_id, AuditEntry.ip, AuditEntry.hash)
            .join(User, peewee.JOIN.LEFT_OUTER, on=User.id == AuditEntry.user_id)
            # The chain names the practice too, and (chain, seq) is the index each batch
            # starts from: without it every batch would read the whole log.
            .where(AuditEntry.chain == chain_of(tenancy.current()), AuditEntry.seq > after_seq)
        )
        .order_by(AuditEntry.seq)
        .limit(batch)
    )


def _python_lines(filters: AuditFilter, dialect: str, zone: zoneinfo.ZoneInfo,
                  after_seq: int) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITERS[dialect], lineterminator="\r\n")
    encoder = codecs.getincrementalencoder("utf-8")()
    last_seq = after_seq
    while True:
        # Plain tuples of the exported columns: building model objects took most of the time.
        rows = list(_exported(filters, last_seq, BATCH).tuples())
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


def _neutralised(value: str) -> str:
    """`neutralise(str(value or ""))` in SQL."""
    text = f"coalesce({value}, '')"
    starts = ", ".join(str(ord(c)) for c in FORMULA_START)  # ascii('') is 0
    return f"CASE WHEN ascii({text}) IN ({starts}) THEN '''' || {text} ELSE {text} END"


def _quoted(cell: str, delimiter: str) -> str:
    """A cell as csv.writer writes it (QUOTE_MINIMAL): in quotes, its quotes doubled, when it
    holds the delimiter, a quote, CR or LF."""
    needs = " OR ".join(f"strpos({cell}, {c}) > 0" for c in (f"'{delimiter}'", "'\"'", "chr(13)", "chr(10)"))
    return f"CASE WHEN {needs} THEN '\"' || replace({cell}, '\"', '\"\"') || '\"' ELSE {cell} END"


#: `isoformat(timespec="seconds")` of the entry's moment in the zone, with the statement's
#: TimeZone set to the practice's zone (offsets in whole minutes: every zone's since 1900).
_STAMP = "to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM')"
_CELLS = ("action", "name", "email", "entity", "ip", "hash")


def _line_sql(dialect: str, inner: str) -> str:
    """The last seq, the count and the finished CSV lines (as `_python_lines` writes them) of
    the entries of the `inner` query.
    Built from constants and peewee's query; every value is a parameter. OFFSET 0 keeps the
    cells computed once per row: flattened, every use of a cell would compute it again."""
    delimiter = DELIMITERS[dialect]
    line = f" || '{delimiter}' || ".join(["cell.stamp", *(_quoted(f"cell.{c}", delimiter) for c in _CELLS)])
    entity = "CASE WHEN e.entity_type <> '' THEN e.entity_type || ':' || coalesce(e.entity_id, 'None') END"
    return (
        "SELECT set_config('TimeZone', %s, true);"  # noqa: S608
        f" SELECT max(e.seq), count(*), string_agg({line} || chr(13) || chr(10), '' ORDER BY e.seq)"
        f" FROM ({inner}) AS e"
        f" CROSS JOIN LATERAL (SELECT {_STAMP} AS stamp, {_neutralised('e.action')} AS action,"
        f" {_neutralised('e.name')} AS name, {_neutralised('e.email')} AS email,"
        f" {_neutralised(entity)} AS entity, {_neutralised('e.ip')} AS ip,"
        f" {_neutralised('e.hash')} AS hash OFFSET 0) AS cell"
    )


def _sql_lines(database: peewee.Database, filters: AuditFilter, dialect: str, zone: zoneinfo.ZoneInfo,
               after_seq: int) -> Iterator[bytes]:
    """A batch's lines come as one text, so Python does nothing per row."""
    last_seq = after_seq
    while True:
        inner, params = _exported(filters, last_seq, SQL_BATCH).sql()
        cursor = database.execute_sql(_line_sql(dialect, inner), (zone.key, *params))
        last_seq, count, text = cursor.fetchone()
        data = (text or "").encode()
        for start in range(0, len(data), CHUNK_BYTES):  # sent on as it comes, not 1.7 MB at once
            yield data[start:start + CHUNK_BYTES]
        if count < SQL_BATCH:
            return


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
            raise store_unavailable(exc) from exc
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
        chain = chain_of(principal.practice_id)
        anchor = export_anchor(chain)
        return verify_chain(chain, [anchor] if anchor else [])

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
