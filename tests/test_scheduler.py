"""Scheduled jobs: expiry, pruning and encrypted nightly audit exports, each run exactly once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
import uuid
import zoneinfo

import pytest

from appliance import tenancy
from appliance.client.api import StaffClient
from appliance.mail import DisabledMailer
from appliance.models import AuditEntry, AuditExport, ConsentForm, JobRun, RateLimitHit, TeamInvite
from appliance.scheduler import jobs
from appliance.scheduler.runner import JobRunner
from appliance.scheduler.schedule import JOBS, Scheduler, run_key, trigger
from appliance.services.container import build_services
from appliance.storage import open_store
from tests.conftest import ROOT
from tests.support.api import auth_header, founder
from tests.support.consent import consent_body

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.fixture
def ctx(database, clock, settings):
    return build_services(settings, database, clock, open_store(settings), DisabledMailer())


def _pending_consent(client, admin) -> str:
    result = client.simulate_post("/api/consent", json=consent_body(admin.practice),
                                  headers=auth_header(admin.token))
    assert result.status_code == 201, result.text
    return result.json["id"]


def test_expiry_job_expires_only_forms_past_their_deadline(client, ctx, clock):
    admin = founder(client)
    headers = auth_header(admin.token)
    client.simulate_patch("/api/settings", json={"defaultConsentExpiry": 1}, headers=headers)
    old = _pending_consent(client, admin)
    client.simulate_patch("/api/settings", json={"defaultConsentExpiry": 2}, headers=headers)
    fresh = _pending_consent(client, admin)
    clock.advance(days=1, seconds=1)
    assert jobs.expire_consents(ctx) == {"expired": 1}
    with tenancy.unscoped("test"):
        statuses = {str(f.id): f.status for f in ConsentForm.select()}
        expired = AuditEntry.select().where(AuditEntry.action == "CONSENT_EXPIRED")
        expired_audit = [e.entity_id for e in expired]
    assert statuses == {old: "EXPIRED", fresh: "PENDING"}
    assert expired_audit == [old]
    assert jobs.expire_consents(ctx) == {"expired": 0}


def test_prune_removes_only_old_rows(ctx, clock):
    now = clock.now()
    RateLimitHit.insert_many([
        {"id": uuid.uuid4(), "bucket": "auth:x", "at": now - dt.timedelta(hours=2)},
        {"id": uuid.uuid4(), "bucket": "auth:x", "at": now - dt.timedelta(minutes=5)},
    ]).execute()
    assert jobs.prune(ctx)["rateLimitHits"] == 1
    assert RateLimitHit.select().count() == 1


def test_a_run_happens_once_per_key_and_a_dead_holders_run_is_taken_over(database, clock):
    first, second = JobRunner(database, clock, "a"), JobRunner(database, clock, "b")
    calls = []
    assert first.run("demo", "2026-11-30", lambda: calls.append("a") or {}) == "ok"
    assert second.run("demo", "2026-11-30", lambda: calls.append("b") or {}) is None
    assert calls == ["a"]

    # A holder that died mid-run: unfinished, lease running -> nobody else may start it ...
    JobRun.create(id=uuid.uuid4(), job="demo", run_key="2026-12-01", holder="dead",
                  started_at=clock.now(), lease_until=clock.now() + dt.timedelta(minutes=30))
    assert second.run("demo", "2026-12-01", lambda: calls.append("b") or {}) is None
    # ... until its lease has expired.
    clock.advance(minutes=31)
    assert second.run("demo", "2026-12-01", lambda: calls.append("b") or {"n": 1}) == "ok"
    run = JobRun.get((JobRun.job == "demo") & (JobRun.run_key == "2026-12-01"))
    assert (run.holder, run.attempts, run.outcome, run.counts) == ("b", 2, "ok", {"n": 1})


def test_a_failing_job_is_recorded_as_an_error(database, clock):
    def boom():
        raise RuntimeError("disk full")

    assert JobRunner(database, clock, "a").run("demo", "k", boom) == "error"
    run = JobRun.get(JobRun.job == "demo")
    assert run.outcome == "error" and run.counts == {"error": "RuntimeError"} and run.finished_at


def test_two_scheduler_processes_run_each_job_once(client, database_url, tmp_path):
    admin = founder(client)
    client.simulate_post("/api/audit/vault-event", json={"event": "VAULT_UNLOCKED"},
                         headers=auth_header(admin.token))
    env = {"PATH": "/usr/bin:/bin", "APPLIANCE_DATABASE_URL": database_url,
           "APPLIANCE_APP_DATA_DIR": str(tmp_path / "var"), "APPLIANCE_AUTH_JWT_SECRET": "s" * 40}
    command = [sys.executable, "-m", "appliance", "scheduler", "--once"]
    processes = [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    ran = [line for out in outputs for line in out.splitlines() if line.endswith(": ok")]
    assert sorted(ran) == sorted(f"{job.name}: ok" for job in JOBS), outputs
    with tenancy.unscoped("test"):
        assert AuditExport.select().count() == 1
    assert JobRun.select().count() == len(JOBS)


def test_nightly_export_is_encrypted_and_opens_with_the_vault(client, ctx, live_server, database):
    admin = founder(client)
    for event in ("VAULT_UNLOCKED", "VAULT_LOCKED"):
        client.simulate_post("/api/audit/vault-event", json={"event": event},
                             headers=auth_header(admin.token))
    assert jobs.audit_exports(ctx)["rows"] == 3
    assert jobs.audit_exports(ctx)["rows"] == 0  # nothing new since

    server = live_server()
    staff = StaffClient(server.url)
    staff.token = admin.token
    staff.keys = admin.keys
    [export] = staff.audit_exports()["items"]
    assert (export["firstSeq"], export["lastSeq"], export["rows"]) == (1, 3, 3)
    raw = open_store_object(ctx, export)
    assert b"VAULT_UNLOCKED" not in raw and b"PRACTICE_CREATED" not in raw
    rows = list(csv.reader(io.StringIO(staff.audit_export_csv(export)), delimiter=";"))
    assert [r[1] for r in rows[1:]] == ["PRACTICE_CREATED", "VAULT_UNLOCKED", "VAULT_LOCKED"]
    assert rows[-1][6] == export["headHash"]


def open_store_object(ctx, export) -> bytes:
    with tenancy.unscoped("test"):
        row = AuditExport.get_by_id(uuid.UUID(export["id"]))
    return ctx.store.get(row.object_key).read_all()


@pytest.mark.parametrize("nightly", [job for job in JOBS if job.daily], ids=lambda job: job.name)
@pytest.mark.parametrize("start", [dt.datetime(2026, 3, 27), dt.datetime(2026, 10, 23)])
def test_daylight_saving_changes_neither_skip_nor_double_the_nightly_run(start, nightly):
    cron = trigger(nightly, BERLIN)
    fire = start.replace(tzinfo=BERLIN)
    seen = []
    for _ in range(6):
        fire = cron.get_next_fire_time(None, fire + dt.timedelta(seconds=1))
        seen.append(fire)
    keys = [run_key(nightly, f.astimezone(dt.UTC).replace(tzinfo=None), BERLIN) for f in seen]
    days = [(start.date() + dt.timedelta(days=i)).isoformat() for i in range(6)]
    assert keys == days
    wanted = (int(nightly.cron["hour"]), int(nightly.cron["minute"]))
    assert all((f.hour, f.minute) == wanted for f in seen)


def test_the_scheduler_runs_every_job_in_process(ctx, clock):
    scheduler = Scheduler(ctx, BERLIN, holder="test")
    assert scheduler.run_all_once() == {job.name: "ok" for job in JOBS}
    assert scheduler.run_all_once() == {job.name: None for job in JOBS}
    clock.advance(minutes=5)
    assert scheduler.run_all_once()["expire-consents"] == "ok"


def test_old_invites_are_purged_with_their_addresses(client, ctx, clock):
    admin = founder(client)
    invited = client.simulate_post("/api/team/invite", json={"email": "neu@praxis.example",
                                                             "role": "ARZT"},
                                   headers=auth_header(admin.token))
    assert invited.status_code == 201, invited.text
    clock.advance(days=30)
    assert jobs.purge_invites(ctx) == {"invitesRemoved": 0}  # expired after 7 days, kept 30 more
    clock.advance(days=8)
    assert jobs.purge_invites(ctx) == {"invitesRemoved": 1}
    with tenancy.unscoped("test"):
        assert TeamInvite.select().count() == 0
