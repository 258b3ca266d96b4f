"""The audit CSV export against PostgreSQL's own COPY, on one practice's large audit chain.

One practice with a user and N audit entries (INSERT ... SELECT generate_series). For each size
in --rows (ascending; the chain is extended between sizes) the bench runs, in the same run:

* the appliance's export path: `audit_csv(AuditFilter(), "de", zone)` inside
  `tenancy.practice_scope`, models bound to the database as the application role (row-level
  security applies), counting rows and bytes and sampling the process's RSS after every batch;
* `COPY (SELECT the same columns ... WHERE chain = ... ORDER BY seq) TO STDOUT (FORMAT csv)`
  via psycopg2 `copy_expert` into a sink that only counts, as the same role and scope;

alternated --pairs times (export, COPY, export, COPY, ...) so that load from elsewhere hits both.
Medians are reported.

Prints rows/s of both, their ratio, peak RSS growth of the export, and the plan of one export
batch query. Runs on a throwaway cluster (tests/support/postgres.py) or APPLIANCE_TEST_DATABASE_URL,
in a database of its own that it drops at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
import uuid
import zoneinfo
from pathlib import Path

import peewee
import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import tenancy
from appliance.db import open_database
from appliance.models import AuditEntry, User
from appliance.models import database as database_proxy
from appliance.services.audit import chain_of
from appliance.services.audit_log import BATCH, AuditFilter, audit_csv
from tests.support.app_role import AppRole
from tests.support.postgres import start_postgres

PRACTICE = uuid.UUID("00000000-0000-0000-0000-000000000001")
USER = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
START = dt.datetime(2026, 1, 1)

SETUP_SQL = """
INSERT INTO practice (id, name, contact_email, public_key, encrypted_priv_key, lookup_salt,
                      created_at, updated_at)
VALUES (%(practice)s, 'Praxis Bench', 'praxis@bench.example', 'pk', '{}', 'salt', %(start)s, %(start)s);
INSERT INTO app_user (id, practice_id, role, email, name, created_at)
VALUES (%(user)s, %(practice)s, 'ADMIN', 'admin@bench.example', 'Dr. Anna Berger', %(start)s);
"""
#: Entries first..last of the chain; hashes have the right shape, the export does not verify.
ROWS_SQL = """
INSERT INTO audit_log (id, chain, seq, prev_hash, hash, practice_id, user_id, action, entity_type,
                       entity_id, ip, metadata, created_at)
SELECT md5(%(chain)s || g)::uuid, %(chain)s, g, md5('p' || g) || md5('q' || g),
       md5('h' || g) || md5('i' || g), %(practice)s, %(user)s, 'PATIENT_VIEWED', 'patient',
       g::text, '198.18.0.1', '{}', %(start)s::timestamp + g * interval '1 second'
FROM generate_series(%(first)s, %(last)s) AS g
"""
COPY_SQL = """
COPY (SELECT a.created_at, a.action, u.name, u.email, a.entity_type || ':' || a.entity_id, a.ip,
             a.hash
      FROM audit_log a LEFT JOIN app_user u ON u.id = a.user_id
      WHERE a.chain = %s ORDER BY a.seq) TO STDOUT (FORMAT csv)
"""


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class CountingSink:
    """Where COPY writes: counts lines and bytes, keeps nothing."""

    def __init__(self) -> None:
        self.lines = self.bytes = 0

    def write(self, data: bytes | str) -> None:
        data = data.encode() if isinstance(data, str) else data
        self.lines += data.count(b"\n")
        self.bytes += len(data)


def export(zone: zoneinfo.ZoneInfo) -> tuple[int, int, float, int]:
    """(rows, bytes, seconds, peak RSS growth in kB) of one full appliance export."""
    rows = size = 0
    baseline = peak = rss_kb()
    began = time.perf_counter()
    with tenancy.practice_scope(PRACTICE):
        for chunk in audit_csv(AuditFilter(), "de", zone):
            rows += chunk.count(b"\r\n")
            size += len(chunk)
            peak = max(peak, rss_kb())
    return rows - 1, size, time.perf_counter() - began, peak - baseline  # minus the header


def copy(raw) -> tuple[int, int, float]:
    sink = CountingSink()
    began = time.perf_counter()
    with tenancy.practice_scope(PRACTICE), raw.cursor() as cursor:
        cursor.execute(tenancy.postgres_scope_sql())
        cursor.copy_expert(cursor.mogrify(COPY_SQL, (chain_of(PRACTICE),)).decode(), sink)
    raw.commit()
    return sink.lines, sink.bytes, time.perf_counter() - began


def explain(database, loaded: int) -> str:
    """The plan of the last export batch: where a keyset scan on seq would start far in."""
    with tenancy.practice_scope(PRACTICE):
        query = (AuditEntry.select(AuditEntry, User.name, User.email)
                 .join(User, peewee.JOIN.LEFT_OUTER, on=User.id == AuditEntry.user_id)
                 .where(AuditEntry.seq > loaded - BATCH).order_by(AuditEntry.seq).limit(BATCH))
        sql, params = query.sql()
        cursor = database.execute_sql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params)
        return "\n".join(f"  {line}" for (line,) in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[25_000, 50_000, 100_000],
                        help="chain sizes to measure, ascending (default 25000 50000 100000)")
    parser.add_argument("--pairs", type=int, default=3, help="export/COPY pairs per size (default 3)")
    args = parser.parse_args()

    server = start_postgres()
    role = AppRole(server, "appliance_bench")
    opened = []
    try:
        owner_url, app_url = role.database("appliance_bench")
        loader = psycopg2.connect(owner_url)  # the superuser: bulk loading, not subject to RLS
        loader.autocommit = True
        raw = psycopg2.connect(app_url)
        database = open_database(app_url, pool_size=2)
        opened += [loader, raw]
        database_proxy.initialize(database)
        zone = zoneinfo.ZoneInfo("Europe/Berlin")
        params = {"practice": str(PRACTICE), "user": str(USER), "chain": chain_of(PRACTICE), "start": START}
        with loader.cursor() as cursor:
            cursor.execute(SETUP_SQL, params)
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        print(f"PostgreSQL {version}, {os.cpu_count()} cores, Python {platform.python_version()},"
              f" {args.pairs} pairs (median), load average {os.getloadavg()[0]:.1f}")
        print("\n    rows   load s   export s  export rows/s   COPY s  COPY rows/s  export/COPY"
              "  RSS growth MB  CSV MB")
        loaded = 0
        for total in sorted(args.rows):
            began = time.perf_counter()
            with loader.cursor() as cursor:
                cursor.execute(ROWS_SQL, {**params, "first": loaded + 1, "last": total})
                cursor.execute("VACUUM ANALYZE audit_log")
            loaded, load_s = total, time.perf_counter() - began
            exports, copies, growth_kb = [], [], 0
            for _ in range(args.pairs):
                rows, size, seconds, growth = export(zone)
                database.close()
                exports.append(seconds)
                growth_kb = max(growth_kb, growth)
                copied, _, seconds = copy(raw)
                copies.append(seconds)
                assert rows == copied == total, (rows, copied, total)
            export_s, copy_s = statistics.median(exports), statistics.median(copies)
            print(f"{total:>8} {load_s:>8.1f} {export_s:>10.2f} {rows / export_s:>14,.0f}"
                  f" {copy_s:>8.2f} {copied / copy_s:>12,.0f} {copy_s / export_s:>11.3f}x"
                  f" {growth_kb / 1024:>14.1f} {size / 1e6:>7.1f}", flush=True)
        print(f"\nplan of one export batch at {loaded} rows:\n{explain(database, loaded)}")
        database.close_all()
        return 0
    finally:
        for connection in opened:
            connection.close()
        role.drop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
