"""Analytics for one practice among 1 000 000 consent forms of 1 000 practices.

Two databases on one PostgreSQL server hold the same two practices, byte for byte: a small one
(50 consent forms) and a big one (5 000). In `alone` that is all; in `full` 998 other practices
add 994 950 forms, 1 000 000 in all. For each practice and figure (`overview`, `by-period` per
day and per month) the bench times the analytics service call and the very statements that
call sent, replayed directly on a psycopg2 connection, in both databases, round by round
interleaved so that load from elsewhere on the machine hits all of them alike. A small
practice's time must not grow with the other practices' data. See bench/README.md.

Runs on a throwaway PostgreSQL cluster (tests/support/postgres.py) or on
APPLIANCE_TEST_DATABASE_URL, in databases of its own that it drops at the end.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import peewee
import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import tenancy
from appliance.clock import FixedClock
from appliance.db import open_database
from appliance.models import database as database_proxy
from appliance.principal import Principal
from appliance.services.analytics import Analytics, Period
from tests.support.app_role import AppRole
from tests.support.postgres import start_postgres

TOTAL_FORMS = 1_000_000
PRACTICES = 1_000
SMALL, BIG = 50, 5_000
#: Forms are created over the year before NOW; 60 % are signed within a day.
NOW = dt.datetime(2026, 12, 1, 9, 0)
YEAR_SECONDS = 365 * 86_400
WARM_UP = 3

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

CALLS: dict[str, Callable[[Analytics, Principal], dict]] = {
    "overview": lambda a, p: a.overview(p, Period()),
    "by-period day": lambda a, p: a.by_period(p, Period(), "day"),
    "by-period month": lambda a, p: a.by_period(p, Period(), "month"),
}
PRACTICE_SIZES = {"small": 0, "big": 1}  # practice index


def practice_id(index: int) -> uuid.UUID:
    """Practice 0 is the small one, 1 the big one, 2..999 the others."""
    return uuid.UUID(int=index + 1)


def insert_forms(cursor, first: int, count: int, forms: int, tag: str) -> None:
    cursor.execute(FORMS_SQL, {"first": first, "count": count, "forms": forms, "tag": tag,
                               "start": NOW - dt.timedelta(seconds=YEAR_SECONDS), "year": YEAR_SECONDS})


@dataclass
class Target:
    """One database: the service on the application role, and a raw connection as that role."""

    label: str
    database: peewee.Database
    raw: object
    analytics: Analytics = field(init=False)
    recorded: list[tuple[str, tuple]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.analytics = Analytics(self.database, FixedClock(NOW), None)
        original = self.database.execute_sql

        def recording(sql, params=None, *args, **kwargs):
            self.recorded.append((sql, tuple(params or ())))
            return original(sql, params, *args, **kwargs)

        self.database.execute_sql = recording

    def service(self, call, principal: Principal) -> None:
        database_proxy.initialize(self.database)  # the models read through the proxy
        with tenancy.practice_scope(principal.practice_id):
            call(self.analytics, principal)

    def statements(self, call, principal: Principal) -> tuple[str, list[tuple[str, tuple]]]:
        """What the database layer prefixes to each statement, and the statements of one call."""
        self.recorded.clear()
        self.service(call, principal)
        with tenancy.practice_scope(principal.practice_id):
            return tenancy.postgres_scope_sql(), list(self.recorded)

    def replay(self, scope: str, statements: list[tuple[str, tuple]]) -> None:
        with self.raw.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(scope + sql, params)
                cursor.fetchall()


def elapsed_ms(call: Callable[[], None]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def measure(targets: list[Target], rounds: int) -> dict[tuple[str, str, str], dict]:
    """(database, practice, figure) -> median ms of the service call and of its raw SQL.

    Each round times every combination once, so slow moments of the machine spread evenly."""
    cases = []
    for size, index in PRACTICE_SIZES.items():
        principal = Principal(uuid.uuid4(), None, practice_id(index), "ADMIN", "bench@bench.example", "Bench")
        for figure, call in CALLS.items():
            for target in targets:
                scope, statements = target.statements(call, principal)
                cases.append(((target.label, size, figure), target, call, principal, scope, statements))
    samples: dict[tuple[str, str, str], dict[str, list[float]]] = {
        key: {"service": [], "raw": []} for key, *_ in cases
    }
    for round_number in range(WARM_UP + rounds):
        for key, target, call, principal, scope, statements in cases:
            service = elapsed_ms(lambda t=target, c=call, p=principal: t.service(c, p))
            raw = elapsed_ms(lambda t=target, s=scope, st=statements: t.replay(s, st))
            if round_number >= WARM_UP:
                samples[key]["service"].append(service)
                samples[key]["raw"].append(raw)
    return {key: {"service": statistics.median(samples[key]["service"]),
                  "raw": statistics.median(samples[key]["raw"]), "statements": len(statements)}
            for key, _, _, _, _, statements in cases}


def load(owner_url: str, *, others: bool) -> str:
    """Fills a database: the practices, the small and the big one's forms, and (with `others`)
    the other practices' forms. Answers what it did."""
    loader = psycopg2.connect(owner_url)  # the superuser: bulk loading, not subject to RLS
    loader.autocommit = True
    cursor = loader.cursor()
    # Generated rows reference existing practices: skip the per-row foreign-key triggers.
    cursor.execute("SET session_replication_role = replica")
    cursor.execute(PRACTICES_SQL, {"start": NOW - dt.timedelta(days=400), "practices": PRACTICES})
    insert_forms(cursor, 0, 1, SMALL, "0")
    insert_forms(cursor, 1, 1, BIG, "1")
    note = ""
    if others:
        # Secondary indexes are dropped for the bulk insert and built again afterwards (much
        # faster than a million index inserts); the figures run with exactly the migrated indexes.
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'consent_form'"
                       " AND indexname NOT IN (SELECT conname FROM pg_constraint)")
        indexes = cursor.fetchall()
        began = time.perf_counter()
        for index, _ in indexes:
            cursor.execute(f'DROP INDEX "{index}"')
        insert_forms(cursor, 2, PRACTICES - 2, TOTAL_FORMS - SMALL - BIG, "2")
        for _, definition in indexes:
            cursor.execute(definition)
        note = f", loaded in {time.perf_counter() - began:.1f} s with {len(indexes)} indexes rebuilt"
    cursor.execute("VACUUM ANALYZE consent_form")
    cursor.execute("SELECT count(*), count(DISTINCT practice_id) FROM consent_form")
    forms, practices = cursor.fetchone()
    loader.close()
    return f"{forms} forms of {practices} practices{note}"


def report(results: dict[tuple[str, str, str], dict]) -> None:
    print("\ndatabase  practice  figure            service ms  raw SQL ms  service/raw")
    for (label, size, figure), row in results.items():
        print(f"{label:<9} {size:<9} {figure:<16} {row['service']:>11.2f} {row['raw']:>11.2f}"
              f" {row['service'] / row['raw']:>11.2f}x")
    print("\nfull / alone (the same practice and figure, 1 000 000 forms against 5 050):")
    for (label, size, figure), row in results.items():
        if label == "full":
            alone = results[("alone", size, figure)]
            print(f"  {size:<6} {figure:<16} service {row['service'] / alone['service']:.2f}x"
                  f"  raw SQL {row['raw'] / alone['raw']:.2f}x")


def explain(target: Target) -> None:
    """The plans of the small practice's statements in the full database."""
    principal = Principal(uuid.uuid4(), None, practice_id(0), "ADMIN", "bench@bench.example", "Bench")
    for figure, call in CALLS.items():
        scope, statements = target.statements(call, principal)
        for sql, params in statements:
            with target.raw.cursor() as cursor:
                cursor.execute(scope + "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
                print(f"\n-- {figure} (small practice, full database)\n"
                      + "\n".join(line for (line,) in cursor.fetchall()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40,
                        help="timed rounds (default 40), after 3 warm-up rounds")
    parser.add_argument("--explain", action="store_true",
                        help="print the plans of the small practice's statements in the full database")
    args = parser.parse_args()

    server = start_postgres()
    role = AppRole(server, "appliance_bench")
    opened: list[Target] = []
    try:
        targets = []
        for label in ("alone", "full"):
            owner_url, app_url = role.database("appliance_bench")
            began = time.perf_counter()
            what = load(owner_url, others=label == "full")
            print(f"{label}: {what} ({time.perf_counter() - began:.1f} s in all)", flush=True)
            raw = psycopg2.connect(app_url)  # the application role: row-level security applies
            raw.autocommit = True
            opened.append(Target(label, open_database(app_url, pool_size=2), raw))
            targets.append(opened[-1])
        with psycopg2.connect(server.maintenance_url) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        conn.close()
        print(f"PostgreSQL {version}, {os.cpu_count()} cores, Python {platform.python_version()},"
              f" {args.rounds} rounds (median)", flush=True)
        report(measure(targets, args.rounds))
        if args.explain:
            explain(targets[1])
        return 0
    finally:
        for target in opened:
            target.raw.close()
            target.database.close_all()
        role.drop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
