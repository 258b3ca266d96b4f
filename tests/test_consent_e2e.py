"""The zero-knowledge consent flow end to end over real HTTP, driven by the reference client:
staff make and sign the link, the patient encrypts the form it shows, staff read and check
it, decide who the patient is, and everything else refuses what contract v2 refuses."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest
import requests

from appliance import envelopes, tenancy
from appliance.client import answers
from appliance.client.api import ApiError, Identity, PatientClient, StaffClient
from appliance.models import Patient
from tests.support.consent import raw_dump
from tests.support.forms import FORM, SIGNATURE, SIGNATURE_PNG, fill

IDENTITY = Identity("Jürgen", "Müller-Lüdenscheidt", "1980-02-29", email="jm@example.de")


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def staff(server):
    client = StaffClient(server.url)
    client.register("inhaberin@praxis-sonnenschein.de", "sehr-geheimes-passwort", "Dr. Anna Sonne")
    client.create_practice("Praxis Sonnenschein", "datenschutz@praxis-sonnenschein.de",
                           "Tresor hinter dem Bild, 2026!", city="Köln", postalCode="50667")
    return client


def shown(patient: PatientClient, link: str) -> dict:
    """The form document the link shows (the test form where the server serves none)."""
    return patient.open(link.rsplit("/", 1)[1].split("#")[0]).get("form") or FORM


def test_practice_to_patient_to_staff_reading_and_linking_the_answers(server, staff, database):
    consent = staff.create_consent("BOTOX")
    fingerprint = envelopes.key_fingerprint(staff.practice["publicKey"])
    assert consent["link"] == f"https://consent.example.test/consent/{consent['token']}#k={fingerprint}"
    assert consent["status"] == "PENDING"

    patient = PatientClient(server.url)
    page = patient.open(consent["token"])
    assert page["id"] == consent["id"] and page["practice"]["name"] == "Praxis Sonnenschein"
    assert set(page) == {"id", "type", "status", "expiresAt", "signedAt", "locale", "practice",
                         "publicKey", "lookupSalt", "form", "locales"}
    form = shown(patient, consent["link"])
    filled = fill(form)
    patient.submit(consent["link"], IDENTITY, filled, SIGNATURE, form=form)

    # Staff on another device: log in, unlock the vault with its password, read.
    reader = StaffClient(server.url)
    reader.login("inhaberin@praxis-sonnenschein.de", "sehr-geheimes-passwort")
    reader.unlock_vault("Tresor hinter dem Bild, 2026!")
    listed = reader.list_consents(status="SIGNED")
    assert [c["id"] for c in listed["items"]] == [consent["id"]]
    assert (listed["items"][0]["formId"], listed["items"][0]["formHash"]) == ("botox", form["formHash"])
    assert listed["items"][0]["patientId"] is None  # nobody was attached by a hash
    document = reader.read_consent(consent["id"], form=form)
    assert {k: document[k] for k in ("answers", "comprehension", "declaration")} == filled
    assert document["identity"] == IDENTITY.values() and document["identityMismatch"] is False
    assert document["signature"] == SIGNATURE and document["formHash"] == form["formHash"]

    created = reader.patient_from_consent(consent["id"])  # the staff decision
    record = reader.get_patient(created["id"])
    assert reader.decrypt_patient(record) == IDENTITY.values()
    assert [c["id"] for c in record["consents"]] == [consent["id"]]
    reader.verify_consent(reader.get_consent(consent["id"]))
    assert reader.read_consent(consent["id"], form=form)["identityMismatch"] is False

    dump = raw_dump(database)
    for secret in ("Jürgen", "Müller", "Lüdenscheidt", "1980-02-29", "jm@example.de",
                   *[str(v) for v in filled["answers"].values() if isinstance(v, str) and len(v) > 3],
                   "Tresor hinter dem Bild"):
        assert secret.encode() not in dump, f"{secret!r} is stored in clear"
    assert SIGNATURE_PNG[:64] not in dump
    assert consent["token"].encode() not in dump  # only its hash is stored


def test_a_submission_under_another_name_is_shown_as_a_mismatch(server, staff):
    known = staff.create_patient(IDENTITY)
    consent = staff.create_consent("BOTOX", patient_id=known["id"])
    patient = PatientClient(server.url)
    form = shown(patient, consent["link"])
    patient.submit(consent["link"], Identity("Eva", "Andere", "1990-01-01"), fill(form), SIGNATURE, form=form)
    document = staff.read_consent(consent["id"], form=form)
    assert document["identityMismatch"] is True
    assert staff.get_consent(consent["id"])["patientId"] == known["id"]


def test_the_patient_refuses_a_link_whose_fingerprint_the_served_key_does_not_match(server, staff):
    consent = staff.create_consent("BOTOX")
    link = consent["link"][:-22] + "A" * 22
    with pytest.raises(answers.crypto.KeyMismatch):
        PatientClient(server.url).submit(link, IDENTITY, fill(FORM), SIGNATURE, form=FORM)
    assert staff.get_consent(consent["id"])["status"] == "PENDING"


def test_twenty_concurrent_submits_exactly_one_wins(server, staff, database):
    consent = staff.create_consent("FILLER")
    page = PatientClient(server.url).open(consent["token"])
    form = page.get("form") or FORM
    page = {**page, "form": form}
    filled = fill(form)
    barrier = threading.Barrier(20)

    def submit(_):
        client = PatientClient(server.url)
        body = answers.build_submission(page, consent["token"], IDENTITY.values(), filled["answers"],
                                        filled["comprehension"], filled["declaration"], SIGNATURE)
        barrier.wait(timeout=60)
        try:
            client.call("POST", f"/api/consent/{consent['token']}/submit", body)
            return 200
        except ApiError as exc:
            return (exc.status, exc.code)

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(submit, range(20)))
    assert results.count(200) == 1, results
    assert results.count((409, "already_submitted")) == 19, results
    with tenancy.unscoped("test inspects the result"):
        assert Patient.select().count() == 0  # staff decide who submitted it


class AnswerLost(requests.adapters.HTTPAdapter):
    """Sends the first submit, lets the server commit it, then drops the answer (as when the
    worker dies or the network goes before the response arrives)."""

    dropped = 0

    def send(self, request, *args, **kwargs):
        response = super().send(request, *args, **kwargs)
        if request.url.endswith("/submit") and not self.dropped:
            self.dropped += 1
            response.close()
            raise requests.ConnectionError("connection dropped before the answer arrived")
        return response


def test_the_reference_client_repeats_a_submit_whose_answer_was_lost(server, staff):
    consent = staff.create_consent("BOTOX")
    session = requests.Session()
    lossy = AnswerLost()
    session.mount("http://", lossy)
    patient = PatientClient(server.url, session=session)
    form = shown(patient, consent["link"])
    answer = patient.submit(consent["link"], IDENTITY, fill(form), SIGNATURE, form=form)
    assert lossy.dropped == 1
    stored = staff.get_consent(consent["id"])
    assert answer == {"status": "SIGNED", "signedAt": stored["signedAt"]}


def test_withdraw_expiry_and_revocation_for_the_patient(server, staff):
    patient = PatientClient(server.url)
    signed = staff.create_consent("LASER")
    form = shown(patient, signed["link"])
    patient.submit(signed["link"], IDENTITY, fill(form), SIGNATURE, form=form)
    with pytest.raises(ApiError) as again:
        patient.submit(signed["link"], IDENTITY, fill(form), SIGNATURE, form=form)
    assert (again.value.status, again.value.code) == (409, "already_submitted")
    assert patient.withdraw(signed["token"], "Ich habe es mir anders überlegt")["status"] == "REVOKED"
    with pytest.raises(ApiError) as gone:
        patient.open(signed["token"])
    assert (gone.value.status, gone.value.code) == (410, "consent_revoked")

    revoked = staff.create_consent("PRP")
    prp_form = shown(patient, revoked["link"])
    staff.revoke_consent(revoked["token"], "falscher Typ")
    with pytest.raises(ApiError) as refused:
        patient.submit(revoked["link"], IDENTITY, fill(prp_form), SIGNATURE, form=prp_form)
    assert (refused.value.status, refused.value.code) == (410, "consent_revoked")
    with pytest.raises(ApiError) as twice:
        staff.revoke_consent(revoked["id"])
    assert twice.value.status == 409
