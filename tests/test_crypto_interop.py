"""The two clients of contract v2 interoperate through a live server (gunicorn, on PostgreSQL
and SQLite): what the JavaScript module writes (a patient's submission; a staff member's
patient, plan and consent link) the Python reference client reads, and the other way round.
Node runs tests/web/live_client.mjs, one JSON command per run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from appliance.client import answers
from appliance.client.api import Identity, PatientClient, StaffClient
from tests.support.forms import FORM, SIGNATURE, fill

SCRIPT = Path(__file__).parent / "web" / "live_client.mjs"
EMAIL, PASSWORD = "inhaberin@praxis-am-fluss.de", "sehr-geheimes-passwort"
VAULT = "Tresor am Fluss, Schrank 3!"
IDENTITY = Identity("Jürgen", "Müller-Lüdenscheidt", "1980-02-29", email="jm@example.de")
PLAN = {"diagramType": "FACE_FRONT", "points": [{"x": 50, "y": 22.5, "units": 4, "product": "Bocouture"}],
        "notes": "Kontrolle in 14 Tagen"}


def node(command: dict) -> dict:
    run = subprocess.run(["node", str(SCRIPT)], input=json.dumps(command), capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert "error" not in answer, answer["error"]
    return answer["ok"]


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def staff(server) -> StaffClient:
    client = StaffClient(server.url)
    client.register(EMAIL, PASSWORD, "Dr. Fluss")
    client.create_practice("Praxis am Fluss", "datenschutz@praxis-am-fluss.de", VAULT, city="Bonn")
    return client


def shown_form(server, link: str) -> dict:
    """The form document the patient is shown (the fixture where the server serves none)."""
    token = link.rsplit("/", 1)[1].split("#")[0]
    return PatientClient(server.url).open(token).get("form") or FORM


def test_javascript_writes_and_python_reads(server, staff):
    written = node({"op": "staffWrites", "baseUrl": server.url, "token": staff.token, "password": VAULT,
                    "identity": IDENTITY.values(), "plan": PLAN, "performedAt": "2026-11-28T14:30:00+01:00"})
    reader = StaffClient(server.url)
    reader.login(EMAIL, PASSWORD)
    reader.unlock_vault(VAULT)
    patient = reader.get_patient(written["patientId"])
    assert reader.decrypt_patient(patient) == IDENTITY.values()
    plan = reader.get_plan(written["planId"])
    assert plan["performedAt"] == "2026-11-28T13:30:00.000Z"
    assert reader.decrypt_plan(plan) == PLAN
    consent = reader.get_consent(written["consentId"])
    reader.verify_consent(consent)
    assert consent["patientId"] == patient["id"]

    form = shown_form(server, written["link"])
    filled = fill(form)
    submitted = node({"op": "submit", "baseUrl": server.url, "link": written["link"],
                      "identity": IDENTITY.values(), "filled": filled, "signature": SIGNATURE, "form": form})
    assert submitted["answer"]["status"] == "SIGNED"
    document = reader.read_consent(written["consentId"], form=form)
    assert {k: document[k] for k in ("answers", "comprehension", "declaration")} == filled
    assert document["identity"] == IDENTITY.values() and document["signature"] == SIGNATURE
    assert document["identityMismatch"] is False
    stored = reader.get_consent(written["consentId"])
    assert answers.submission_digest(stored["encryptedAnswers"]) == submitted["submissionDigest"]


def test_python_writes_and_javascript_reads(server, staff):
    patient = staff.create_patient(IDENTITY)
    plan = staff.create_plan(patient["id"], "BOTOX", PLAN, "2026-11-28T14:30:00Z")
    consent = staff.create_consent("BOTOX", patient_id=patient["id"])
    form = shown_form(server, consent["link"])
    filled = fill(form)
    PatientClient(server.url).submit(consent["link"], IDENTITY, filled, SIGNATURE, form=form)

    read = node({"op": "staffReads", "baseUrl": server.url, "token": staff.token, "password": VAULT,
                 "patientId": patient["id"], "planId": plan["id"], "consentId": consent["id"], "form": form})
    assert read["identity"] == IDENTITY.values()
    assert read["plan"] == PLAN
    assert {k: read["document"][k] for k in ("answers", "comprehension", "declaration")} == filled
    assert read["document"]["identity"] == IDENTITY.values()
    assert read["identityMismatch"] is False


def test_the_javascript_patient_page_refuses_a_link_whose_key_the_server_does_not_serve(server, staff):
    consent = staff.create_consent("BOTOX")
    base, fragment = consent["link"].split("#")
    wrong = f"{base}#k={'A' * 22}"
    run = subprocess.run(["node", str(SCRIPT)], capture_output=True, text=True, timeout=120, check=False,
                         input=json.dumps({"op": "submit", "baseUrl": server.url, "link": wrong,
                                           "identity": IDENTITY.values(), "filled": fill(FORM),
                                           "signature": SIGNATURE, "form": FORM}))
    assert json.loads(run.stdout)["error"]["name"] == "KeyMismatch"
    assert fragment.startswith("k=")
    assert staff.get_consent(consent["id"])["status"] == "PENDING"
