"""Analytics for one practice among 1 000 000 consent forms of 1 000 practices.

Measures the analytics service (`overview`, `by-period` per day and per month) for a small
practice (50 forms) and a big one (5 000 forms), each call against the same SQL statements
replayed directly on a psycopg2 connection in the same run, first with only those two
practices' forms in the database, then after 994 950 forms of 998 other practices were added.
A small practice's time must not grow with the other practices' data. See bench/README.md.

Runs on a throwaway PostgreSQL cluster (tests/support/postgres.py) or on
APPLIANCE_TEST_DATABASE_URL, in a database of its own that it drops at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import tenancy
from appliance.clock import FixedClock
from appliance.db import open_database
from appliance.migrator import upgrade
from appliance.models import database as database_proxy
from appliance.principal import Principal
from appliance.services.analytics import Analytics, Period
from tests.support.postgres import start_postgres

TOTAL_FORMS = 1_000_000
PRACTICES = 1_000
SMALL, BIG = 50, 5_000
#: Forms are created over the year before NOW, signed (60 % of them) within a day.
NOW = dt.datetime(2026, 12, 1, 9, 0)
YEAR_SECONDS = 365 * 86_400


def practice_id(index: int) -> uuid.UUID:
    """Practice 0 is the small one, 1 the big one, 2..999 the others."""
    return uuid.UUID(int=index + 1)


PRACTICES_SQL = """
INSERT INTO practice (id, name, contact_email, public_key, encrypted_priv_key, lookup_salt,
                      created_at, updated_at)
SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(i + 1), 12, '0'))::uuid, 'Praxis ' || i,
       'praxis' || i || '@bench.example', 'pk', '{}', 'salt', %(start)s, %(start)s
FROM generate_series(0, %(practices)s - 1) AS i
"""

#: Form g goes to practice first + g % count, with a type, a status (50 % SIGNED, 10 % COMPLETED,
#: 10 % REVOKED, 10 % EXPIRED, 20 % PENDING), a creation time (forms arrive in time order over
#: the year before NOW, as they do in use) and, for the SIGNED and COMPLETED ones, a signature
#: up to a day later. Ids and token hashes ascend too, which keeps their index inserts cheap.
FORMS_SQL = """
INSERT INTO consent_form (id, practice_id, type, status, token_hash, locale, created_at,
                          expires_at, signed_at, updated_at)
SELECT ('00000000-0000-4000-8' || %(tag)s || lpad(to_hex(g), 14, '0'))::uuid,
       ('00000000-0000-0000-0000-' || lpad(to_hex(%(first)s + g %% %(count)s + 1), 12, '0'))::uuid,
       (ARRAY['BOTOX','FILLER','LASER','CHEMICAL_PEEL','MICRONEEDLING','PRP'])[1 + g %% 6],
       CASE WHEN g %% 10 < 5 THEN 'SIGNED' WHEN g %% 10 = 5 THEN 'COMPLETED'
            WHEN g %% 10 = 6 THEN 'REVOKED' WHEN g %% 10 = 7 THEN 'EXPIRED' ELSE 'PENDING' END,
       %(tag)s || lpad(g::text, 7, '0'), 'de', c, c + interval '7 days',
       CASE WHEN g %% 10 < 6 THEN c + ((g::bigint * 7919) %% 86400) * interval '1 second' END, c
FROM generate_series(0, %(forms)s - 1) AS g,
     LATERAL (SELECT %(start)s::timestamp + (g::bigint * %(year)s / %(forms)s) * interval '1 second') AS t(c)
"""


def insert_forms(cursor, first: int, count: int, forms: int, tag: str) -> float:
    began = time.perf_counter()
    cursor.execute(FORMS_SQL, {"first": first, "count": count, "forms": forms, "tag": tag,
                               "start": NOW - dt.timedelta(seconds=YEAR_SECONDS), "year": YEAR_SECONDS})
    return time.perf_counter() - began


class Recorder:
    """Records the statements the service sends, to replay them directly."""

    def __init__(self, database):
        self.statements: list[tuple[str, tuple]] = []
        self._original = database.execute_sql
        database.execute_sql = self._execute

    def _execute(self, sql, params=None, *args, **kwargs):
        self.statements.append((sql, tuple(params or ())))
        return self._original(sql, params, *args, **kwargs)


def timed(call: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def measure(analytics: Analytics, recorder: Recorder, raw, index: int, name: str, call, rounds: int) -> dict:
    """Median ms of the service call and of its statements replayed on `raw`, interleaved."""
    pid = practice_id(index)
    principal = Principal(uuid.uuid4(), None, pid, "ADMIN", "bench@bench.example", "Bench")
    with tenancy.practice_scope(pid):
        recorder.statements.clear()
        call(analytics, principal)
        statements = list(recorder.statements)
        scope = tenancy.postgres_scope_sql()  # what the database layer prefixes to each statement

    def service() -> None:
        with tenancy.practice_scope(pid):
            call(analytics, principal)

    def direct() -> None:
        with raw.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(scope + sql, params)
                cursor.fetchall()

    for _ in range(3):  # warm-up: caches, plans, connections
        service()
        direct()
    service_ms, raw_ms = [], []
    for _ in range(rounds):
        service_ms += timed(service, 1)
        raw_ms += timed(direct, 1)
    return {"name": name, "service": statistics.median(service_ms), "raw": statistics.median(raw_ms),
            "statements": len(statements)}


CALLS = {
    "overview": lambda a, p: a.overview(p, Period()),
    "by-period day": lambda a, p: a.by_period(p, Period(), "day"),
    "by-period month": lambda a, p: a.by_period(p, Period(), "month"),
}


def run_phase(label: str, analytics: Analytics, recorder: Recorder, raw, rounds: int) -> list[dict]:
    rows = []
    for index, size in ((0, "small"), (1, "big")):
        for name, call in CALLS.items():
            row = measure(analytics, recorder, raw, index, name, call, rounds)
            rows.append({"phase": label, "practice": size, **row})
            print(f"  {label:<9} {size:<6} {name:<16} service {row['service']:7.2f} ms"
                  f"  raw SQL {row['raw']:7.2f} ms  ({row['statements']} statements)", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="timed calls per measurement (default 40)")
    parser.add_argument("--explain", action="store_true",
                        help="print the plans of the small practice's statements among 1M forms")
    args = parser.parse_args()

    server = start_postgres()
    name = f"appliance_bench_{secrets.token_hex(4)}"
    role, password = f"appliance_bench_{secrets.token_hex(4)}", secrets.token_hex(16)
    owner_url = server.create_database(name)
    try:
        owner = open_database(owner_url)
        owner.execute_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        upgrade(owner, app_role=role)
        owner.close_all()
        parts = urlsplit(owner_url)
        app_url = urlunsplit(parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}"))
        return bench(owner_url, app_url, args)
    finally:
        server.drop_database(name)
        cleanup = psycopg2.connect(server.maintenance_url)
        cleanup.autocommit = True
        with cleanup.cursor() as cursor:
            cursor.execute(f"DROP ROLE IF EXISTS {role}")
        cleanup.close()
        server.stop()


def bench(owner_url: str, app_url: str, args) -> int:
    loader = psycopg2.connect(owner_url)  # the superuser: bulk loading, not subject to RLS
    loader.autocommit = True
    cursor = loader.cursor()
    # Generated rows reference existing practices: skip the per-row foreign-key triggers.
    cursor.execute("SET session_replication_role = replica")
    cursor.execute("SHOW server_version")
    version = cursor.fetchone()[0]
    cursor.execute(PRACTICES_SQL, {"start": NOW - dt.timedelta(days=400), "practices": PRACTICES})
    insert_forms(cursor, 0, 1, SMALL, "0")
    insert_forms(cursor, 1, 1, BIG, "1")
    cursor.execute("VACUUM ANALYZE consent_form")

    database = open_database(app_url, pool_size=2)  # the application role: row-level security applies
    database_proxy.initialize(database)
    analytics = Analytics(database, FixedClock(NOW), None)
    recorder = Recorder(database)
    raw = psycopg2.connect(app_url)
    raw.autocommit = True

    print(f"analytics bench: PostgreSQL {version}, {os.cpu_count()} cores,"
          f" Python {platform.python_version()}, {args.rounds} timed calls per figure (median)", flush=True)
    rows = run_phase("alone", analytics, recorder, raw, args.rounds)

    others = TOTAL_FORMS - SMALL - BIG
    print(f"  loading {others} forms of {PRACTICES - 2} other practices ...", flush=True)
    seconds = insert_forms(cursor, 2, PRACTICES - 2, others, "2")
    began = time.perf_counter()
    cursor.execute("VACUUM ANALYZE consent_form")
    vacuum = time.perf_counter() - began
    cursor.execute("SELECT count(*), count(DISTINCT practice_id) FROM consent_form")
    forms, practices = cursor.fetchone()
    print(f"  loaded in {seconds:.1f} s (VACUUM ANALYZE {vacuum:.1f} s):"
          f" {forms} forms of {practices} practices", flush=True)
    rows += run_phase("among 1M", analytics, recorder, raw, args.rounds)

    print("\nphase      practice  figure            service ms  raw SQL ms  service/raw")
    for row in rows:
        print(f"{row['phase']:<10} {row['practice']:<9} {row['name']:<16} {row['service']:>11.2f}"
              f" {row['raw']:>11.2f} {row['service'] / row['raw']:>11.2f}x")
    print("\ngrowth from alone to among 1M forms (same practice, same figure):")
    alone = {(r["practice"], r["name"]): r for r in rows if r["phase"] == "alone"}
    for row in rows:
        if row["phase"] != "alone":
            before = alone[(row["practice"], row["name"])]
            service, direct = row["service"] / before["service"], row["raw"] / before["raw"]
            print(f"  {row['practice']:<6} {row['name']:<16} service {service:.2f}x  raw SQL {direct:.2f}x")

    if args.explain:
        explain(analytics, recorder, raw)
    raw.close()
    loader.close()
    database.close_all()
    return 0


def explain(analytics: Analytics, recorder: Recorder, raw) -> None:
    pid = practice_id(0)
    principal = Principal(uuid.uuid4(), None, pid, "ADMIN", "bench@bench.example", "Bench")
    for name, call in CALLS.items():
        with tenancy.practice_scope(pid):
            recorder.statements.clear()
            call(analytics, principal)
            scope = tenancy.postgres_scope_sql()
        for sql, params in recorder.statements:
            with raw.cursor() as cursor:
                cursor.execute(scope + "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
                print(f"\n-- {name} (small practice, among 1M forms)\n"
                      + "\n".join(line for (line,) in cursor.fetchall()))


if __name__ == "__main__":
    sys.exit(main())
