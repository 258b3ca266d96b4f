"""The zero-knowledge consent flow end to end over real HTTP, driven by the reference client."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from appliance import tenancy
from appliance.client.api import ApiError, Identity, PatientClient, StaffClient
from appliance.models import Patient
from tests.support.consent import raw_dump

SIGNATURE_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
IDENTITY = Identity("Jürgen", "Müller-Lüdenscheidt", "1980-02-29", email="jm@example.de")
ANSWERS = {
    "allergies": "Penicillin-Allergie seit 2011",
    "medications": ["Ibuprofen"],
    "pregnant": False,
    "anticoagulants": False,
    "previousBotulinum": "2024, Glabella",
    "treatmentAreas": ["GLABELLA", "FOREHEAD"],
}


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def staff(server):
    client = StaffClient(server.url)
    client.register("inhaberin@praxis-sonnenschein.de", "sehr-geheimes-passwort", "Dr. Anna Sonne")
    client.create_practice("Praxis Sonnenschein", "datenschutz@praxis-sonnenschein.de",
                           "vault-passwort-123", city="Köln", postalCode="50667")
    return client


def test_practice_to_patient_to_staff_reading_the_answers(server, staff, database):
    consent = staff.create_consent("BOTOX")
    assert consent["link"].startswith("https://consent.example.test/consent/")
    assert consent["link"].endswith(consent["token"]) and consent["status"] == "PENDING"

    patient = PatientClient(server.url)
    form = patient.open(consent["token"])
    assert form["type"] == "BOTOX" and form["practice"]["name"] == "Praxis Sonnenschein"
    assert set(form) == {"type", "status", "expiresAt", "signedAt", "locale", "practice",
                         "publicKey", "lookupSalt"}
    patient.submit(consent["token"], IDENTITY, ANSWERS, SIGNATURE_PNG,
                   comprehension={"passed": True, "correct": 5, "total": 5})

    # Staff on another device: log in, unlock the vault with its password, read.
    reader = StaffClient(server.url)
    reader.login("inhaberin@praxis-sonnenschein.de", "sehr-geheimes-passwort")
    reader.unlock_vault("vault-passwort-123")
    listed = reader.list_consents(status="SIGNED")
    assert [c["id"] for c in listed["items"]] == [consent["id"]]
    document = reader.read_answers(consent["id"])
    assert document["answers"] == ANSWERS and document["type"] == "BOTOX"
    assert document["signature"]["data"] == SIGNATURE_PNG
    record = reader.get_patient(listed["items"][0]["patientId"])
    assert reader.decrypt_patient(record) == {
        "firstName": "Jürgen", "lastName": "Müller-Lüdenscheidt", "dateOfBirth": "1980-02-29",
        "email": "jm@example.de",
    }
    assert [c["status"] for c in record["consents"]] == ["SIGNED"]

    dump = raw_dump(database)
    for secret in ("Jürgen", "Müller", "Lüdenscheidt", "1980-02-29", "jm@example.de",
                   "Penicillin", "Ibuprofen", "Glabella", "vault-passwort-123"):
        assert secret.encode() not in dump, f"{secret!r} is stored in clear"
    assert SIGNATURE_PNG[:64] not in dump
    assert consent["token"].encode() not in dump  # only its hash is stored


def test_twenty_concurrent_submits_exactly_one_wins(server, staff, database):
    consent = staff.create_consent("FILLER")
    barrier = threading.Barrier(20)

    def submit(_):
        client = PatientClient(server.url)
        client.open(consent["token"])
        barrier.wait(timeout=30)
        try:
            client.submit(consent["token"], IDENTITY, ANSWERS, SIGNATURE_PNG)
            return 200
        except ApiError as exc:
            return (exc.status, exc.code)

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(submit, range(20)))
    assert results.count(200) == 1, results
    assert results.count((409, "already_submitted")) == 19, results
    with tenancy.unscoped("test inspects the result"):
        assert Patient.select().count() == 1


def test_withdraw_expiry_and_revocation_for_the_patient(server, staff):
    patient = PatientClient(server.url)
    signed = staff.create_consent("LASER")
    patient.submit(signed["token"], IDENTITY, ANSWERS, SIGNATURE_PNG)
    with pytest.raises(ApiError) as again:
        patient.submit(signed["token"], IDENTITY, ANSWERS, SIGNATURE_PNG)
    assert (again.value.status, again.value.code) == (409, "already_submitted")
    assert patient.withdraw(signed["token"], "Ich habe es mir anders überlegt")["status"] == "REVOKED"
    with pytest.raises(ApiError) as gone:
        patient.open(signed["token"])
    assert (gone.value.status, gone.value.code) == (410, "consent_revoked")

    revoked = staff.create_consent("PRP")
    staff.revoke_consent(revoked["token"], "falscher Typ")
    with pytest.raises(ApiError) as refused:
        patient.submit(revoked["token"], IDENTITY, ANSWERS, SIGNATURE_PNG)
    assert (refused.value.status, refused.value.code) == (410, "consent_revoked")
    with pytest.raises(ApiError) as twice:
        staff.revoke_consent(revoked["id"])
    assert twice.value.status == 409
