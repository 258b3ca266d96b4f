"""The audit log: append-only in the database, hash-chained, listed, exported, verified."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import subprocess
import sys

import peewee
import pytest
import requests

from appliance import tenancy
from appliance.db import engine_of
from appliance.models import AuditEntry
from appliance.services.audit_log import neutralise, verify_chain
from tests.conftest import ROOT
from tests.support.api import auth_header, founder, member_with_role, register, set_membership


def _tamper(database, sql: str) -> None:
    """What an attacker with database superuser rights could do."""
    if engine_of(database) == "postgresql":
        with database.atomic():
            database.execute_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
            database.execute_sql(sql)
            database.execute_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
    else:
        database.execute_sql("DROP TRIGGER audit_log_no_update")
        database.execute_sql("DROP TRIGGER audit_log_no_delete")
        database.execute_sql(sql)


def _vault_events(client, token: str, count: int) -> None:
    for i in range(count):
        event = "VAULT_UNLOCKED" if i % 2 == 0 else "VAULT_LOCKED"
        result = client.simulate_post("/api/audit/vault-event", json={"event": event},
                                      headers=auth_header(token))
        assert result.status_code == 204, result.text


def test_the_database_refuses_update_and_delete(client, database):
    admin = founder(client)
    for statement in ("UPDATE audit_log SET action = 'LOGIN_SUCCESS'", "DELETE FROM audit_log"):
        with pytest.raises(peewee.PeeweeException, match="append-only"), database.atomic():
            database.execute_sql(statement)
    with tenancy.unscoped("test"):
        assert AuditEntry.select().where(AuditEntry.action == "PRACTICE_CREATED").count() == 1
    assert admin.practice["id"]


def test_tampering_is_found_by_the_verify_command(client, database, database_url, tmp_path):
    admin = founder(client)
    _vault_events(client, admin.token, 4)
    chain = admin.practice["id"].replace("-", "")
    assert verify_chain(chain)["ok"] is True

    _tamper(database, f"UPDATE audit_log SET ip = '6.6.6.6' WHERE chain = '{chain}' AND seq = 3")
    env = {"PATH": "/usr/bin:/bin", "APPLIANCE_DATABASE_URL": database_url,
           "APPLIANCE_APP_DATA_DIR": str(tmp_path / "var")}
    result = subprocess.run([sys.executable, "-m", "appliance", "audit", "verify", "--practice",
                             admin.practice["id"]], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN at entry 3" in result.stdout and "altered" in result.stdout

    api = client.simulate_get("/api/audit/verify", headers=auth_header(admin.token)).json
    assert api["ok"] is False and api["firstBroken"] == 3


def test_a_removed_entry_is_a_missing_link(client, database):
    admin = founder(client)
    _vault_events(client, admin.token, 3)
    chain = admin.practice["id"].replace("-", "")
    _tamper(database, f"DELETE FROM audit_log WHERE chain = '{chain}' AND seq = 2")
    result = verify_chain(chain)
    assert result == {"chain": chain, "ok": False, "entries": 1, "firstBroken": 2,
                      "problem": "entry 2 is missing"}


def test_fifty_concurrent_audited_actions_leave_an_unbroken_chain(client, live_server):
    admin = founder(client)
    server = live_server()

    def post(i):
        event = "VAULT_UNLOCKED" if i % 2 else "VAULT_LOCKED"
        return requests.post(server.url + "/api/audit/vault-event", json={"event": event},
                             headers=auth_header(admin.token), timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(50)))
    assert statuses == [204] * 50
    result = verify_chain(admin.practice["id"].replace("-", ""))
    assert result["ok"] is True and result["entries"] == 51  # PRACTICE_CREATED + 50


def test_list_filters_and_validation(client):
    admin = founder(client)
    _vault_events(client, admin.token, 2)
    headers = auth_header(admin.token)
    listed = client.simulate_get("/api/audit", headers=headers).json
    assert [e["action"] for e in listed["items"]] == ["VAULT_LOCKED", "VAULT_UNLOCKED", "PRACTICE_CREATED"]
    only = client.simulate_get("/api/audit", params={"action": "VAULT_LOCKED"}, headers=headers).json
    assert only["total"] == 1
    by_user = client.simulate_get("/api/audit", params={"userId": admin.account.user_id},
                                  headers=headers).json
    assert by_user["total"] == 3
    for bad in ({"action": "DROP_TABLES"}, {"from": "yesterday"}, {"to": "2026-13-01"},
                {"userId": "nope"}, {"entityType": "Robert'); --"}):
        result = client.simulate_get("/api/audit", params=bad, headers=headers)
        assert result.status_code == 400, bad
    arzt = member_with_role(client, admin.practice["id"], "ARZT")
    assert client.simulate_get("/api/audit", headers=auth_header(arzt.token)).status_code == 403


def test_other_practices_entries_are_invisible(client):
    first, second = founder(client), founder(client)
    _vault_events(client, second.token, 3)
    listed = client.simulate_get("/api/audit", headers=auth_header(first.token)).json
    assert listed["total"] == 1 and listed["items"][0]["action"] == "PRACTICE_CREATED"


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx",
                                   "|cmd '/C calc'!A0"])
def test_formula_cells_are_neutralised(value):
    assert neutralise(value) == "'" + value
    assert neutralise("Dr. Anna") == "Dr. Anna"


def test_export_is_german_csv_by_default_and_audited(client):
    admin = founder(client)
    _vault_events(client, admin.token, 1)
    headers = auth_header(admin.token)
    result = client.simulate_get("/api/audit/export", headers=headers)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/csv")
    assert result.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(result.content[3:].decode()), delimiter=";"))
    assert rows[0] == ["Zeitpunkt", "Aktion", "Benutzer", "E-Mail", "Objekt", "IP-Adresse", "Kettenhash"]
    assert [r[1] for r in rows[1:]] == ["PRACTICE_CREATED", "VAULT_UNLOCKED", "AUDIT_EXPORTED"]
    assert rows[1][0].endswith("+01:00")  # Europe/Berlin in November
    assert rows[1][2] == "Dr. Anna Berger"

    plain = client.simulate_get("/api/audit/export", params={"dialect": "rfc4180"}, headers=headers)
    comma = list(csv.reader(io.StringIO(plain.text)))
    assert comma[0][0] == "timestamp" and not plain.content.startswith(b"\xef\xbb\xbf")
    assert client.simulate_get("/api/audit/export", params={"dialect": "excel"},
                               headers=headers).status_code == 400


def test_export_neutralises_a_hostile_user_name(client):
    admin = founder(client)
    hostile = register(client, name="=cmd|' /C calc'!A0")
    set_membership(hostile.user_id, admin.practice["id"], "EMPFANG")
    _vault_events(client, hostile.token, 1)
    text = client.simulate_get("/api/audit/export", headers=auth_header(admin.token)).content[3:].decode()
    names = [row[2] for row in csv.reader(io.StringIO(text), delimiter=";")]
    assert "'=cmd|' /C calc'!A0" in names
    assert "=cmd|' /C calc'!A0" not in names


# --- anchors: removing the newest entries (issue 21.17) ----------------------------------------


@pytest.fixture
def ctx(database, clock, settings):
    from appliance.mail import DisabledMailer
    from appliance.services.container import build_services
    from appliance.storage import open_store

    return build_services(settings, database, clock, open_store(settings), DisabledMailer())


def _nightly(ctx, caplog) -> dict[str, str]:
    """Runs the nightly export; returns the anchors its journal lines name, by chain."""
    from appliance.scheduler import jobs

    caplog.clear()
    with caplog.at_level("INFO", logger="appliance.scheduler"):
        jobs.audit_exports(ctx)
    return {r.chain: r.anchor for r in caplog.records if r.getMessage() == "audit chain head"}


def _verify_command(database_url, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "APPLIANCE_DATABASE_URL": database_url,
           "APPLIANCE_APP_DATA_DIR": str(tmp_path / "var")}
    return subprocess.run([sys.executable, "-m", "appliance", "audit", "verify", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_removing_the_newest_entries_is_found_against_the_nightly_export(client, database, ctx, caplog):
    admin = founder(client)
    _vault_events(client, admin.token, 4)
    chain = admin.practice["id"].replace("-", "")
    _nightly(ctx, caplog)  # the export records entry 5 (PRACTICE_CREATED + 4 events)
    api = client.simulate_get("/api/audit/verify", headers=auth_header(admin.token)).json
    assert api["ok"] is True and api["anchors"][0]["seq"] == 5

    _tamper(database, f"DELETE FROM audit_log WHERE chain = '{chain}' AND seq >= 4")
    assert verify_chain(chain)["ok"] is True  # what is left still links up
    api = client.simulate_get("/api/audit/verify", headers=auth_header(admin.token)).json
    assert api["ok"] is False and api["firstBroken"] == 4
    assert "ends at entry 3" in api["problem"] and "newer entries were removed" in api["problem"]


def test_entries_rewritten_after_the_export_differ_from_its_anchor(client, database, ctx, caplog, clock):
    admin = founder(client)
    _vault_events(client, admin.token, 4)
    chain = admin.practice["id"].replace("-", "")
    _nightly(ctx, caplog)
    _tamper(database, f"DELETE FROM audit_log WHERE chain = '{chain}' AND seq >= 4")
    # and moves the chain's head back to what is left, so that new entries link up
    database.execute_sql(f"UPDATE audit_chain_head SET seq = 3, hash = (SELECT hash FROM audit_log"
                         f" WHERE chain = '{chain}' AND seq = 3) WHERE chain = '{chain}'")
    clock.advance(seconds=1)
    _vault_events(client, admin.token, 2)  # a well-linked chain of the same length again
    api = client.simulate_get("/api/audit/verify", headers=auth_header(admin.token)).json
    assert api["ok"] is False and api["firstBroken"] == 5
    assert "differs from the nightly export" in api["problem"]


def test_the_journal_line_of_the_nightly_run_anchors_what_came_after_the_export(
        client, database, database_url, ctx, caplog, tmp_path):
    admin = founder(client)
    chain = admin.practice["id"].replace("-", "")
    _vault_events(client, admin.token, 2)
    _nightly(ctx, caplog)  # export and journal: entry 3
    _vault_events(client, admin.token, 3)
    journal = _nightly(ctx, caplog)  # export and journal: entry 6
    assert journal[chain].startswith(f"{chain}:6:")
    # An attacker removes the newest entries and the export rows that recorded them.
    _tamper(database, f"DELETE FROM audit_log WHERE chain = '{chain}' AND seq >= 5")
    database.execute_sql("DELETE FROM audit_export WHERE last_seq = 6")

    without = _verify_command(database_url, tmp_path, "--practice", admin.practice["id"])
    assert without.returncode == 0, without.stdout + without.stderr  # the remaining export: entry 3
    anchored = _verify_command(database_url, tmp_path, "--anchor", journal[chain])
    assert anchored.returncode == 1, anchored.stdout + anchored.stderr
    assert f"{chain}: BROKEN at entry 5: the chain ends at entry 4" in anchored.stdout
    refused = _verify_command(database_url, tmp_path, "--anchor", "6:abc")
    assert refused.returncode == 2 and "CHAIN:SEQ:HASH" in refused.stderr
