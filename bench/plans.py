"""The patients page and the consent list of one practice among 1 000 000 consent forms of
1 000 practices, without and with table statistics: plans must not depend on luck.

One PostgreSQL database (the test suite's throwaway cluster), migrated for the application
role (`appliance migrate`: its ANALYZE runs on the empty tables, so the statistics say "no
rows"), autovacuum off for the two tables, then filled in bulk as the superuser: 1 000
practices with 50 patients each and the forms of bench/analytics.py, each linked to one of its
practice's patients. Measured as the application role through the services
(`Patients.list`, `Consents.list`, first page of 25, in the practice's tenancy scope):

* **stale**: statistics as migrate left them (empty tables), 1 000 000 forms inside;
* **analysed**: after `ANALYZE`, as `appliance migrate` or autovacuum leave them.

Each phase alternates the calls for the small practice (50 forms) and the big one (5 000),
--rounds times; medians. Around 1x between the phases means the plan did not depend on
statistics. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics import (
    BIG,
    NOW,
    PRACTICES,
    PRACTICES_SQL,
    SMALL,
    TOTAL_FORMS,
    insert_forms,
    practice_id,
)

from appliance import tenancy
from appliance.clock import FixedClock
from appliance.db import open_database
from appliance.forms import catalogue
from appliance.http.pagination import Page
from appliance.models import database as database_proxy
from appliance.services.audit import Audit
from appliance.services.consents import Consents
from appliance.services.forms import Forms
from appliance.services.patients import Patients
from tests.support.app_role import AppRole
from tests.support.postgres import start_postgres

PATIENTS_PER_PRACTICE = 50
PATIENTS_SQL = """
INSERT INTO patient (id, practice_id, lookup_hash, encrypted_first_name, encrypted_last_name,
                     encrypted_date_of_birth, created_at, updated_at)
SELECT uuid_in(lpad(to_hex(p * 1000 + n + 1), 32, '0')::cstring),
       ('00000000-0000-0000-0000-' || lpad(to_hex(p + 1), 12, '0'))::uuid,
       'lookup-' || p || '-' || n, 'x', 'x', 'x', %(start)s, %(start)s
FROM generate_series(0, %(practices)s - 1) AS p, generate_series(0, %(patients)s - 1) AS n
"""
#: Every form to one of its practice's patients (by its id's number).
LINK_SQL = """
UPDATE consent_form SET patient_id = uuid_in(lpad(to_hex(
    (('x' || right(replace(practice_id::text, '-', ''), 8))::bit(32)::int - 1) * 1000
    + (('x' || right(replace(id::text, '-', ''), 8))::bit(32)::int %% %(patients)s) + 1), 32, '0')::cstring)
"""
CALLS = ("patients page", "consent list")


def load(owner_url: str) -> str:
    loader = psycopg2.connect(owner_url)
    loader.autocommit = True
    cursor = loader.cursor()
    for table in ("consent_form", "patient"):
        cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    cursor.execute("SET session_replication_role = replica")  # no per-row foreign-key triggers
    began = time.perf_counter()
    cursor.execute(PRACTICES_SQL, {"start": NOW.replace(year=NOW.year - 2), "practices": PRACTICES})
    cursor.execute(PATIENTS_SQL, {"start": NOW.replace(year=NOW.year - 2), "practices": PRACTICES,
                                  "patients": PATIENTS_PER_PRACTICE})
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'consent_form'"
                   " AND indexname NOT IN (SELECT conname FROM pg_constraint)")
    indexes = cursor.fetchall()
    for index, _ in indexes:
        cursor.execute(f'DROP INDEX "{index}"')
    insert_forms(cursor, 0, 1, SMALL, "0")
    insert_forms(cursor, 1, 1, BIG, "1")
    insert_forms(cursor, 2, PRACTICES - 2, TOTAL_FORMS - SMALL - BIG, "2")
    cursor.execute(LINK_SQL, {"patients": PATIENTS_PER_PRACTICE})
    for _, definition in indexes:
        cursor.execute(definition)
    cursor.execute("SELECT count(*), count(patient_id) FROM consent_form")
    forms, linked = cursor.fetchone()
    loader.close()
    return f"{forms} forms ({linked} linked to patients) of {PRACTICES} practices, loaded in" \
           f" {time.perf_counter() - began:.1f} s"


def measure(patients: Patients, consents: Consents, rounds: int) -> dict[tuple[str, str], float]:
    samples: dict[tuple[str, str], list[float]] = {}
    page = Page(limit=25, page=1)
    for round_number in range(rounds + 2):
        for size, index in (("small", 0), ("big", 1)):
            with tenancy.practice_scope(practice_id(index)):
                for name, call in (("patients page", lambda: patients.list(page)),
                                   ("consent list", lambda: consents.list(page, None, None, None, None))):
                    began = time.perf_counter()
                    answer = call()
                    elapsed = (time.perf_counter() - began) * 1000
                    assert answer["total"] > 0, (name, size)
                    if round_number >= 2:  # two warm-up rounds
                        samples.setdefault((size, name), []).append(elapsed)
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    server = start_postgres()
    role = AppRole(server, "appliance_bench_plans")
    try:
        owner_url, app_url = role.database("appliance_bench_plans")
        print(load(owner_url))
        database = open_database(app_url, pool_size=2)
        database_proxy.initialize(database)
        clock = FixedClock(NOW)
        patients = Patients(database, Audit(database, clock), clock, photos=None, archives=None)
        consents = Consents(database, Audit(database, clock), clock, None, "https://bench.example",
                            Forms(catalogue.packaged()))
        print(f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.rounds} rounds (median),"
              f" load average {os.getloadavg()[0]:.1f}")
        stale = measure(patients, consents, args.rounds)
        database.close()
        with psycopg2.connect(owner_url) as owner, owner.cursor() as cursor:
            owner.autocommit = True
            cursor.execute("ANALYZE")
        analysed = measure(patients, consents, args.rounds)
        print(f"\n{'practice':<9} {'call':<14} {'stale ms':>9} {'analysed ms':>12} {'stale/analysed':>15}")
        for key in stale:
            print(f"{key[0]:<9} {key[1]:<14} {stale[key]:>9.2f} {analysed[key]:>12.2f}"
                  f" {stale[key] / analysed[key]:>14.2f}x")
        print(f"\nload average after: {os.getloadavg()[0]:.1f}")
        database.close_all()
        return 0
    finally:
        role.drop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
