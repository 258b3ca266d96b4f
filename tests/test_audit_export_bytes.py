"""The audit CSV export writes the same bytes on both engines: on PostgreSQL the database writes
the lines, on SQLite Python does, and both must equal what the export has always written (the
CSV writer over the neutralised cells, written out below as the reference): formula cells,
quoting, empty and missing values, time zones with odd offsets and both DST states."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import secrets
import uuid
import zoneinfo

import pytest

from appliance import tenancy
from appliance.models import AuditEntry, User
from appliance.services import audit_log
from appliance.services.audit import Audit
from appliance.services.audit_log import HEADERS, AuditFilter, audit_csv, neutralise
from tests.support.api import TEST_SETUP, founder

NAMES = ["=cmd|' /C calc'!A0", "Semi;colon", "Com,ma", 'Say "hi"', "Line\nbreak", "Car\rriage",
         "\tTab", "+49 170", "-minus", "@at", "|pipe", "Ümlaut ß 😀", "O'Brien", "", " spaced "]
ENTITIES = [(None, None), ("", "x"), ("patient", None), ("consent", "a;b"), ("x", '"q"'),
            ("gdt", "=1+1"), ("photo", "line\nbreak")]
IPS = [None, "198.51.100.7", "2001:db8::1", "-1", ""]
ZONES = ["Europe/Berlin", "America/St_Johns", "Asia/Kolkata", "UTC", "Pacific/Chatham",
         "America/Los_Angeles"]


def reference(entries: list[tuple[AuditEntry, str | None, str | None]], dialect: str,
              zone: zoneinfo.ZoneInfo) -> bytes:
    """The export as it was written in Python before the database wrote it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if dialect == "de" else ",", lineterminator="\r\n")
    writer.writerow(HEADERS[dialect])
    for entry, name, email in entries:
        moment = entry.created_at.replace(tzinfo=dt.UTC).astimezone(zone)
        entity = f"{entry.entity_type}:{entry.entity_id}" if entry.entity_type else ""
        writer.writerow([neutralise(str(v or "")) for v in (
            moment.isoformat(timespec="seconds"), entry.action, name, email, entity, entry.ip, entry.hash)])
    return (codecs.BOM_UTF8 if dialect == "de" else b"") + buffer.getvalue().encode()


@pytest.fixture
def chain(client, database, clock) -> uuid.UUID:
    """A practice whose chain holds entries of users with hostile names, over a year."""
    practice_id = uuid.UUID(founder(client).practice["id"])
    users = []
    with tenancy.unscoped(TEST_SETUP):
        for name in NAMES:
            users.append(User.create(practice_id=practice_id, role="EMPFANG", name=name,
                                     email=f"{secrets.token_hex(4)}+{name[:1]}@praxis.example",
                                     created_at=clock.now()))
    users.append(None)  # entries without a user
    audit = Audit(database, clock)
    for i in range(60):
        # about every 6 days and a fraction of a second: both DST states, rounding at :59.999
        clock.advance(days=6, hours=i % 5, microseconds=999_999 if i % 2 else 1)
        entity_type, entity_id = ENTITIES[i % len(ENTITIES)]
        user = users[i % len(users)]
        audit.record("VAULT_UNLOCKED" if i % 3 else "PATIENT_VIEWED", ip=IPS[i % len(IPS)],
                     user_id=user.id if user else None, practice_id=practice_id,
                     entity_type=entity_type, entity_id=entity_id)
    return practice_id


def _entries(practice_id: uuid.UUID, keep) -> list[tuple[AuditEntry, str | None, str | None]]:
    with tenancy.unscoped("test reads the chain"):
        rows = list(AuditEntry.select().where(AuditEntry.practice_id == practice_id).order_by(AuditEntry.seq))
        users = {u.id: u for u in User.select().where(User.practice_id == practice_id)}
    return [(row, users[row.user_id].name if row.user_id in users else None,
             users[row.user_id].email if row.user_id in users else None) for row in rows if keep(row)]


@pytest.mark.parametrize("zone_name", ZONES)
def test_the_export_is_byte_for_byte_the_reference(chain, zone_name, monkeypatch):
    monkeypatch.setattr(audit_log, "SQL_BATCH", 7)  # several batches on both paths
    monkeypatch.setattr(audit_log, "BATCH", 7)
    zone = zoneinfo.ZoneInfo(zone_name)
    for dialect in ("de", "rfc4180"):
        with tenancy.practice_scope(chain):
            exported = b"".join(audit_csv(AuditFilter(), dialect, zone))
        assert exported == reference(_entries(chain, lambda row: True), dialect, zone)


def test_filters_and_the_starting_entry_apply_alike(chain):
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    entries = _entries(chain, lambda row: True)
    middle = entries[len(entries) // 2][0]
    cases = [
        (AuditFilter(action="PATIENT_VIEWED"), 0, lambda row: row.action == "PATIENT_VIEWED"),
        (AuditFilter(start=middle.created_at), 0, lambda row: row.created_at >= middle.created_at),
        (AuditFilter(upto_seq=middle.seq), 5, lambda row: 5 < row.seq <= middle.seq),
        (AuditFilter(entity_type="patient"), 0, lambda row: row.entity_type == "patient"),
    ]
    for filters, after, keep in cases:
        with tenancy.practice_scope(chain):
            exported = b"".join(audit_csv(filters, "de", zone, after_seq=after))
        assert exported == reference(_entries(chain, keep), "de", zone), filters
