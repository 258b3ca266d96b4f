"""Scale-out: two `appliance serve` nodes on one PostgreSQL and one S3, behind nginx with the
reverse_proxy role's site rendered for both, each with its `appliance scheduler` (tests/support/scale.py).

Sessions, rate limits, the one-submission rule, the audit chain and job runs live in PostgreSQL,
so they hold across nodes; nginx moves new requests away from a node that dies. Under a bounded
load, one node is killed (SIGKILL, workers and all): every write that was acknowledged is there
afterwards, and the only requests that failed are those that were in flight at that moment.

The numbers each test prints (pytest -s) are the ones docs/operations.md quotes.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import threading
import time
import uuid

import pytest

from appliance import tenancy
from appliance.client.api import ApiError, Identity
from appliance.db import open_database
from appliance.models import AuditEntry, ConsentForm, JobRun, Photo
from appliance.models import database as database_proxy
from appliance.services.audit import chain_of
from appliance.services.audit_log import verify_chain
from tests.conftest import _truncate
from tests.support.forms import FORM, SIGNATURE, fill
from tests.support.s3 import fresh_bucket
from tests.support.scale import AppCluster, Load

IDENTITY = Identity("Greta", "Großmann", "1975-06-01")
PASSWORD = "zwei-knoten-ein-passwort"
VAULT = "tresor-für-zwei-knoten"
SUBMITTERS = 50


@pytest.fixture(scope="module")
def owner_database(pg_databases):
    """The suite's database as its owner, emptied once for the module, for looking at rows."""
    database = open_database(pg_databases[0], pool_size=4)
    _truncate(database)
    database_proxy.initialize(database)
    yield database
    database.close_all()


@pytest.fixture(scope="module")
def bucket():
    return fresh_bucket()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, pg_databases, owner_database, s3_server, bucket):
    cluster = AppCluster(tmp_path_factory.mktemp("scale-out"), pg_databases[1], s3_server.environment(bucket))
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def staff(cluster):
    client = cluster.staff()
    email = f"inhaber-{secrets.token_hex(3)}@mvz.example"
    client.register(email, PASSWORD, "Dr. Zwei Knoten")
    client.create_practice("MVZ Zwei Standorte", email, VAULT, city="Kassel")
    client.email = email
    return client


def test_a_session_made_on_one_node_works_on_the_other(cluster, staff):
    first, second = cluster.nodes
    on_first = cluster.staff()
    on_first.base_url = first.url
    on_first.login(staff.email, PASSWORD)
    on_second = cluster.staff(on_first.token)
    on_second.base_url = second.url
    assert on_second.call("GET", "/api/auth/me")["email"] == staff.email
    on_second.call("POST", "/api/auth/logout")
    with pytest.raises(ApiError) as refused:
        on_first.call("GET", "/api/auth/me")
    assert refused.value.status == 401  # the logout on the second node ended it on the first


def test_the_login_limit_holds_across_nodes(cluster):
    before = [cluster.routes_served(node)["/api/auth/login"] for node in cluster.nodes]
    client = cluster.staff()  # one address for every attempt
    statuses = []
    for _ in range(8):
        try:
            client.login("niemand@mvz.example", "falsches-passwort")
        except ApiError as exc:
            statuses.append((exc.status, exc.code))
    after = cluster.served_until("/api/auth/login", lambda counts: all(
        a > b for a, b in zip(counts, before, strict=True)))
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)  # both nodes answered
    assert statuses == [(401, "invalid_credentials")] * 5 + [(429, "rate_limited")] * 3


def test_fifty_concurrent_submits_of_one_link_have_one_winner(cluster, staff):
    consent = staff.create_consent("BOTOX")
    patients = [cluster.patient() for _ in range(SUBMITTERS)]
    opened = patients[0].open(consent["token"])
    form = opened.get("form") or FORM
    # One Argon2id, fifty senders.
    body = patients[0].submission(consent["link"], {**opened, "form": form}, IDENTITY, fill(form), SIGNATURE)
    barrier = threading.Barrier(SUBMITTERS)
    before = [cluster.routes_served(node)["/api/consent/{token}/submit"] for node in cluster.nodes]

    def submit(patient) -> object:
        patient.open(consent["token"])
        barrier.wait(timeout=60)
        try:
            patient.call("POST", f"/api/consent/{consent['token']}/submit", body)
            return 200
        except ApiError as exc:
            return exc.status, exc.code

    load = Load([("submit", lambda p=p: submit(p)) for p in patients], threads=SUBMITTERS)
    load.run()
    results = [o.value for o in load.outcomes]
    after = cluster.served_until("/api/consent/{token}/submit", lambda counts: all(
        a > b for a, b in zip(counts, before, strict=True)))
    assert results.count(200) == 1, results
    assert results.count((409, "already_submitted")) == SUBMITTERS - 1, results
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
    with tenancy.unscoped("test inspects the result"):
        assert ConsentForm.get_by_id(consent["id"]).status == "SIGNED"


def _operations(cluster, staff, tokens: list[dict], patient_id: str) -> list[tuple[str, object]]:
    """A bounded mix: consents created, links submitted, photos uploaded, logins, audited vault
    events; each returns what the server acknowledged."""
    def create():
        return cluster.staff(staff.token, staff.practice, staff.keys).create_consent("FILLER")["id"]

    def submit(consent):
        patient = cluster.patient()
        form = patient.open(consent["token"]).get("form") or FORM
        patient.submit(consent["link"], IDENTITY, fill(form), SIGNATURE, form=form)
        return consent["id"]

    def photo():
        image = io.BytesIO(b"\xff\xd8\xff\xe0" + secrets.token_bytes(48_000))
        uploaded = cluster.staff(staff.token, staff.practice, staff.keys).upload_photo(
            patient_id, image, "BEFORE", "CHEEKS", "2026-11-28T09:15:00+01:00")
        return uploaded["id"], uploaded["sizeBytes"]

    def login():
        client = cluster.staff()
        client.login(staff.email, PASSWORD)
        return client.token

    def vault_event():
        cluster.staff(staff.token).call("POST", "/api/audit/vault-event", {"event": "VAULT_UNLOCKED"})
        return 1

    kinds = ([("consent", create)] * 30 + [("submit", lambda c=c: submit(c)) for c in tokens]
             + [("photo", photo)] * 12 + [("login", login)] * 4 + [("vault", vault_event)] * 24)
    order = secrets.SystemRandom()
    order.shuffle(kinds)
    return kinds


def test_a_node_killed_under_load_loses_no_acknowledged_write(cluster, staff, s3_server, bucket):
    practice_id = staff.practice["id"]
    patient_id = staff.create_patient(Identity("Paula", "Vorher-Nachher", "1990-01-01"))["id"]
    tokens = [staff.create_consent("PRP") for _ in range(30)]
    load = Load(_operations(cluster, staff, tokens, patient_id), threads=8)
    victim = cluster.nodes[0]
    kill: dict = {}

    def served() -> list[int]:
        return [sum(cluster.routes_served(node).values()) for node in cluster.nodes]

    def kill_first_node():
        kill["from"] = time.monotonic()
        victim.kill()
        kill["to"] = time.monotonic()
        kill["served"] = served()  # after the kill: nothing the victim answered comes later

    before = served()
    started = time.monotonic()
    load.run(when_done=len(load.operations) // 3, then=kill_first_node)
    seconds = time.monotonic() - started
    after = served()

    failed = load.failed()
    in_flight = [o for o in load.outcomes if o.in_flight(kill["from"], kill["to"])]
    after_kill = [o for o in load.outcomes if o.started > kill["to"]]
    print(f"\nscale-out load: {len(load.outcomes)} operations ({len(load.operations)} planned) in "
          f"{seconds:.1f} s, requests answered per node before the kill "
          f"{[k - b for k, b in zip(kill['served'], before, strict=True)]}, after it "
          f"{[a - k for a, k in zip(after, kill['served'], strict=True)]}; {len(in_flight)} operations "
          f"in flight at the kill, {len(failed)} failed: {[o.error[:40] for o in failed]}; "
          f"{len(after_kill)} started after it, all answered; nginx: {cluster.nginx.upstream_errors()}")
    assert victim.process.poll() is not None and after[0] == kill["served"][0]
    assert all(o.in_flight(kill["from"], kill["to"]) for o in failed), [(o.kind, o.error) for o in failed]
    assert len(after_kill) > len(load.operations) // 2 and all(o.ok for o in after_kill)
    assert len(load.outcomes) == len(load.operations)

    with tenancy.unscoped("test inspects the acknowledged writes"):
        created = set(load.acknowledged("consent"))
        assert {str(f.id) for f in ConsentForm.select().where(ConsentForm.id.in_(list(created)))} == created
        submitted = load.acknowledged("submit")
        assert {f.status for f in ConsentForm.select().where(ConsentForm.id.in_(submitted))} <= {"SIGNED"}
        assert ConsentForm.select().where(ConsentForm.id.in_(submitted)).count() == len(submitted)
        photos = dict(load.acknowledged("photo"))
        rows = {str(p.id): p.size_bytes for p in Photo.select().where(Photo.id.in_(list(photos)))}
        assert rows == photos
        vault_events = AuditEntry.select().where(AuditEntry.action == "VAULT_UNLOCKED").count()
        assert vault_events >= len(load.acknowledged("vault"))
    stored = {key.rsplit("/", 1)[1] for key in s3_server.keys(bucket)}
    assert set(photos) <= stored
    for token in load.acknowledged("login"):
        assert cluster.staff(token).call("GET", "/api/auth/me")["email"] == staff.email
    chain = verify_chain(chain_of(uuid.UUID(practice_id)))
    assert chain["ok"] is True, chain


def test_two_schedulers_run_each_job_once(cluster, owner_database):
    """Each scheduler fires every job at the same minute; the database gives each run to one."""
    started = dt.datetime.fromtimestamp(cluster.schedulers_started, dt.UTC).replace(tzinfo=None)
    boundary = started.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)  # naive UTC, as stored
    deadline = time.monotonic() + 120
    runs: list[JobRun] = []
    while time.monotonic() < deadline:
        runs = list(JobRun.select().where(JobRun.started_at >= boundary))
        if runs and all(run.finished_at for run in runs) and dt.datetime.now(dt.UTC).replace(
                tzinfo=None) > boundary + dt.timedelta(seconds=5):
            break
        time.sleep(1)
    assert runs, "no job ran within two minutes"
    assert all(s.process.poll() is None for s in cluster.schedulers)
    keys = [(run.job, run.run_key) for run in runs]
    assert len(keys) == len(set(keys)) and {run.attempts for run in runs} == {1}
    assert {run.outcome for run in runs} == {"ok"}
    finished = [run for s in cluster.schedulers for run in s.finished_runs()]
    mine = [key for key in finished if key in set(keys)]
    assert sorted(mine) == sorted(keys)  # each run finished once, in one of the two processes
    print(f"\nscale-out schedulers: {len(keys)} runs, by "
          f"{sorted({run.holder.rsplit(':', 1)[1] for run in runs})}")
