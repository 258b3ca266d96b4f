"""Treatment plans end to end over real HTTP (gunicorn, two workers), driven by the reference
client: create, read and decrypt; concurrent edits and template creates from many clients."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from appliance.client import crypto
from appliance.client.api import ApiError, Identity, StaffClient
from tests.support.consent import raw_dump
from tests.support.treatment import PLAN, PLAN_SECRETS, template_body

EMAIL, PASSWORD, VAULT = "inhaberin@praxis-am-dom.de", "sehr-geheimes-passwort", "vault-passwort-123"
CLIENTS = 10


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def staff(server):
    client = StaffClient(server.url)
    client.register(EMAIL, PASSWORD, "Dr. Clara Dom")
    client.create_practice("Praxis am Dom", "datenschutz@praxis-am-dom.de", VAULT)
    return client


def _same_session(server, staff: StaffClient) -> StaffClient:
    """Another client of the same member (login is rate limited per IP, so reuse the token)."""
    other = StaffClient(server.url)
    other.token, other.practice, other.keys = staff.token, staff.practice, staff.keys
    return other


def test_the_reference_client_creates_reads_updates_and_decrypts_plans(server, staff, database):
    patient = staff.create_patient(Identity("Jana", "Nowak", "1988-04-01"))
    consent = staff.create_consent("BOTOX", patient_id=patient["id"])
    template = staff.call("POST", "/api/treatment-templates", template_body())
    created = staff.create_plan(patient["id"], "BOTOX", PLAN, "2026-11-28T14:30:00Z",
                                consent_form_id=consent["id"], template_id=template["id"])
    assert created["version"] == 1 and created["photoIds"] == []

    reader = StaffClient(server.url)  # another device: log in, unlock the vault, read
    reader.login(EMAIL, PASSWORD)
    reader.unlock_vault(VAULT)
    listed = reader.list_plans(patient["id"])
    assert [p["id"] for p in listed["items"]] == [created["id"]]
    record = reader.get_plan(created["id"])
    assert reader.decrypt_plan(record) == PLAN

    changed = {**PLAN, "totalUnits": 12, "notes": "nachgespritzt"}
    updated = reader.update_plan(record, changed, performedAt="2026-11-29T10:00:00Z")
    assert updated["version"] == 2 and updated["performedAt"] == "2026-11-29T10:00:00.000Z"
    assert staff.decrypt_plan(staff.get_plan(created["id"])) == changed

    # A plan moved to another patient is not the one the practice signed.
    other = staff.create_patient(Identity("Olga", "Nowak", "1990-01-01"))
    moved = {**record, "patientId": other["id"]}
    with pytest.raises(crypto.SignatureInvalid):
        reader.decrypt_plan(moved)

    dump = raw_dump(database)
    for secret in (*PLAN_SECRETS, "nachgespritzt"):
        assert secret.encode() not in dump, f"{secret!r} is stored in clear"
    assert reader.delete_plan(created["id"]) == {"deleted": True, "photosUnlinked": 0}
    with pytest.raises(ApiError) as gone:
        reader.get_plan(created["id"])
    assert gone.value.status == 404


def test_concurrent_updates_from_the_same_version_store_exactly_one(server, staff):
    patient = staff.create_patient(Identity("Jana", "Nowak", "1988-04-01"))
    record = staff.create_plan(patient["id"], "BOTOX", PLAN, "2026-11-28T14:30:00Z")
    barrier = threading.Barrier(CLIENTS)

    def edit(number: int):
        client = _same_session(server, staff)
        barrier.wait(timeout=30)
        try:
            client.update_plan(record, {**PLAN, "notes": f"Fassung {number}"})
            return number
        except ApiError as exc:
            return (exc.status, exc.code, exc.details["currentVersion"])

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(edit, range(CLIENTS)))
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1, results
    refused = [r for r in results if not isinstance(r, int)]
    assert refused == [(412, "version_mismatch", 2)] * (CLIENTS - 1), results
    stored = staff.get_plan(record["id"])
    assert stored["version"] == 2
    assert staff.decrypt_plan(stored)["notes"] == f"Fassung {winners[0]}"


def test_concurrent_creates_of_one_template_name_store_exactly_one(server, staff):
    barrier = threading.Barrier(CLIENTS)

    def create(_):
        client = _same_session(server, staff)
        barrier.wait(timeout=30)
        try:
            client.call("POST", "/api/treatment-templates", template_body(name="Nasolabial 1 ml"))
            return 201
        except ApiError as exc:
            return (exc.status, exc.code)

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(create, range(CLIENTS)))
    assert results.count(201) == 1, results
    assert results.count((409, "duplicate_template")) == CLIENTS - 1, results
    assert staff.call("GET", "/api/treatment-templates")["total"] == 1
