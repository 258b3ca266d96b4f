"""Patients: listed, read with their consent history, created once per lookupHash, found by
hash, and erased on request without silently destroying records inside the retention period."""

from __future__ import annotations

import json
import secrets
import uuid

from appliance import envelopes, tenancy
from appliance.client import crypto, lookup
from appliance.models import Patient
from tests.support.api import assert_error, audit_entries, call, keys_of, problem_fields
from tests.support.consent import (
    IDENTITY,
    assert_like_unknown,
    consent_rows,
    create_consent,
    create_patient,
    patient_body,
    patient_rows,
    sign_patient,
    submit,
    submit_body,
    team,
)


def _patients(client, token, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return call(client, "GET", "/api/patients" + (f"?{query}" if query else ""), token=token)


def test_patients_are_listed_newest_first_with_their_consent_counts(client, clock):
    practice = team(client)
    oldest = create_patient(client, practice)
    clock.advance(minutes=1)
    middle = create_patient(client, practice)
    clock.advance(minutes=1)
    newest = create_patient(client, practice)
    for _ in range(2):
        create_consent(client, practice, patientId=middle["id"])
    create_consent(client, practice, patientId=newest["id"])
    create_consent(client, practice)  # no patient yet: counts for nobody
    create_patient(client, team(client))  # another practice's patient is not listed

    first = _patients(client, practice.token(), limit=2)
    assert first.status_code == 200, first.text
    assert {k: first.json[k] for k in ("total", "page", "limit")} == {"total": 3, "page": 1, "limit": 2}
    assert [(p["id"], p["consentCount"]) for p in first.json["items"]] == [
        (newest["id"], 1), (middle["id"], 2),
    ]
    assert first.json["items"][1]["encryptedLastName"] == middle["encryptedLastName"]
    second = _patients(client, practice.token(), limit=2, page=2).json
    assert [(p["id"], p["consentCount"]) for p in second["items"]] == [(oldest["id"], 0)]
    assert (second["total"], second["page"]) == (3, 2)
    assert _patients(client, practice.token(), limit=2, page=3).json["items"] == []
    everything = _patients(client, practice.token()).json
    assert everything["limit"] == 50 and len(everything["items"]) == 3


def test_paging_parameters_out_of_range_are_refused(client):
    practice = team(client)
    for name, value in [("limit", "0"), ("limit", "201"), ("limit", "-1"), ("limit", "ten"),
                        ("page", "0"), ("page", "1.5")]:
        result = _patients(client, practice.token(), **{name: value})
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {name}, (name, value)
    assert _patients(client, practice.token(), limit=200, page=7).status_code == 200


def test_a_patient_is_read_with_the_consent_history_and_each_view_is_audited(client, clock, settings):
    practice = team(client, "ARZT")
    patient = create_patient(client, practice)
    first = create_consent(client, practice, "BOTOX", patientId=patient["id"])
    clock.advance(days=8)  # the first link expired unused, no expiry job has run
    practice.renew(settings, clock)
    second = create_consent(client, practice, "LASER", role="ARZT", patientId=patient["id"])

    result = call(client, "GET", f"/api/patients/{patient['id']}", token=practice.token("ARZT"))
    assert result.status_code == 200, result.text
    record = result.json
    assert {k: record[k] for k in patient} == patient | {"consentCount": 2}
    assert [(c["id"], c["type"], c["status"]) for c in record["consents"]] == [
        (second["id"], "LASER", "PENDING"), (first["id"], "BOTOX", "EXPIRED"),
    ]
    assert record["consents"][1]["expiresAt"] == first["expiresAt"]
    (viewed,) = audit_entries("PATIENT_VIEWED")
    assert (viewed.entity_type, viewed.entity_id) == ("patient", patient["id"])
    assert str(viewed.user_id) == practice.user_id("ARZT")
    assert str(viewed.practice_id) == practice.practice_id

    call(client, "GET", f"/api/patients/{patient['id']}", token=practice.token())
    assert len(audit_entries("PATIENT_VIEWED")) == 2


def test_creating_a_patient_once_per_lookup_hash_and_practice(client, clock):
    practice = team(client)
    body = patient_body(practice.practice)
    created = call(client, "POST", "/api/patients", token=practice.token(), json=body)
    assert created.status_code == 201, created.text
    patient = created.json
    assert {k: patient[k] for k in body} == body
    assert patient["consentCount"] == 0
    assert patient["createdAt"] == clock.now().isoformat(timespec="milliseconds") + "Z"
    uuid.UUID(patient["id"])
    (audited,) = audit_entries("PATIENT_CREATED")
    assert audited.entity_id == patient["id"] and audited.metadata == {}

    again = patient_body(practice.practice, lookup_hash=body["lookupHash"])
    assert_error(call(client, "POST", "/api/patients", token=practice.token(), json=again),
                 409, "duplicate_patient")
    assert [str(p.id) for p in patient_rows()] == [patient["id"]]

    other = team(client)
    elsewhere = patient_body(other.practice, lookup_hash=body["lookupHash"])
    result = call(client, "POST", "/api/patients", token=other.token(), json=elsewhere)
    assert result.status_code == 201, result.text
    assert len(patient_rows()) == 2


def test_a_patient_body_that_breaks_the_contract_creates_nothing(client):
    practice = team(client)
    body = patient_body(practice.practice)
    cases = {
        "encryptedLastName": {k: v for k, v in body.items() if k != "encryptedLastName"},
        "lookupHash": body | {"lookupHash": body["lookupHash"].upper()},
        "encryptedFirstName": body | {"encryptedFirstName": "bm90IHNlYWxlZA=="},  # 10 bytes
        "encryptedDateOfBirth": body | {"encryptedDateOfBirth": "not base64!"},
        "encryptedEmail": body | {"encryptedEmail": body["encryptedFirstName"][:-1]},
    }
    for field, bad in cases.items():
        result = call(client, "POST", "/api/patients", token=practice.token(), json=bad)
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), (field, result.json)
    assert patient_rows() == []


def test_a_patient_needs_the_practices_signature_of_exactly_what_it_stores(client):
    """A sealed value needs only the public key: without the signature, anyone who can write
    to the API or the database could put a valid-looking identity into a patient record."""
    practice, other = team(client), team(client)
    body = patient_body(practice.practice)
    resealed = crypto.seal_field(practice.practice["publicKey"], "patient.lastName", body["id"], "Fälscher")
    for bad in (body | {"encryptedLastName": resealed},
                body | {"lookupHash": secrets.token_hex(32)},
                body | {"encryptedEmail": crypto.seal_field(practice.practice["publicKey"], "patient.email",
                                                            body["id"], "x@example.org")},
                body | {"id": str(uuid.uuid4())},
                patient_body(other.practice) | {k: body[k] for k in body if k != "signature"}):
        result = call(client, "POST", "/api/patients", token=practice.token(), json=bad)
        assert_error(result, 400, "invalid_signature")
        assert problem_fields(result) == {"signature"}
    for missing in ("id", "signature"):
        result = call(client, "POST", "/api/patients", token=practice.token(),
                      json={k: v for k, v in body.items() if k != missing})
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {missing}
    assert patient_rows() == []
    created = call(client, "POST", "/api/patients", token=practice.token(), json=body)
    assert created.status_code == 201, created.text
    assert created.json["id"] == body["id"] and created.json["signature"] == body["signature"]


def test_a_client_chosen_patient_id_in_use_is_refused_in_any_practice(client):
    practice, other = team(client), team(client)
    patient = create_patient(client, practice)
    for owner in (practice, other):
        again = patient_body(owner.practice)
        again = sign_patient(owner.practice, patient["id"], {k: v for k, v in again.items()
                                                              if k not in ("id", "signature")})
        assert_error(call(client, "POST", "/api/patients", token=owner.token(), json=again), 409, "id_taken")
    assert [str(p.id) for p in patient_rows()] == [patient["id"]]


def test_a_patient_the_gdt_import_made_is_confirmed_by_a_staff_signature(client):
    practice = team(client, "EMPFANG")
    imported = create_patient(client, practice)
    with tenancy.unscoped("test setup: a patient as the GDT import leaves it, unsigned"):
        Patient.update(signature=None).where(Patient.id == uuid.UUID(imported["id"])).execute()
    statement = {name: imported.get(name) for name in envelopes.STATEMENT_FIELDS["patient"]}
    signature = crypto.sign_statement(keys_of(practice.practice), "patient", statement)
    path = f"/api/patients/{imported['id']}/signature"

    assert_error(call(client, "PUT", path, token=practice.token("EMPFANG"), json={"signature": signature}),
                 403, "forbidden")
    wrong = crypto.sign_statement(keys_of(practice.practice), "patient", {**statement,
                                                                          "lookupHash": "0" * 64})
    assert_error(call(client, "PUT", path, token=practice.token(), json={"signature": wrong}),
                 400, "invalid_signature")
    confirmed = call(client, "PUT", path, token=practice.token(), json={"signature": signature})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json["signature"] == signature
    (audited,) = audit_entries("PATIENT_CONFIRMED")
    assert audited.entity_id == imported["id"]
    assert_error(call(client, "PUT", path, token=practice.token(), json={"signature": signature}),
                 409, "already_signed")
    foreign = team(client)
    assert_error(call(client, "PUT", path, token=foreign.token(), json={"signature": signature}),
                 404, "not_found")


def test_a_patient_is_found_by_the_hash_the_client_computes(client):
    practice = team(client)
    patient = create_patient(client, practice, patient_body(practice.practice, IDENTITY))
    digest = lookup.lookup_hash(practice.practice["lookupSalt"], "  MÜLLER-lüdenscheidt ",
                                "jürgen", IDENTITY.date_of_birth)
    found = call(client, "GET", f"/api/patients/lookup/{digest}", token=practice.token())
    assert found.status_code == 200, found.text
    assert found.json["id"] == patient["id"]
    assert found.json["encryptedFirstName"] == patient["encryptedFirstName"]
    (viewed,) = audit_entries("PATIENT_VIEWED")
    assert viewed.entity_id == patient["id"] and viewed.metadata == {"via": "lookup"}

    missing = call(client, "GET", f"/api/patients/lookup/{secrets.token_hex(32)}", token=practice.token())
    assert_error(missing, 404, "not_found")
    for malformed in (digest.upper(), digest[:-1], digest + "0", "g" * 64, "x"):
        result = call(client, "GET", f"/api/patients/lookup/{malformed}", token=practice.token())
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {"hash"}
    assert len(audit_entries("PATIENT_VIEWED")) == 1


def _delete(client, token, patient_id, override=None):
    suffix = f"?confirmRetentionOverride={override}" if override is not None else ""
    return call(client, "DELETE", f"/api/patients/{patient_id}{suffix}", token=token)


def _sign(client, practice, patient):
    consent = create_consent(client, practice, patientId=patient["id"])
    result = submit(client, consent["token"], submit_body(client, practice.practice, consent))
    assert result.status_code == 200, result.text
    return consent


def _assert_counts_only(entry, patient: dict, **expected) -> None:
    """The erasure's audit entry names the record by id and counts, nothing of the person."""
    assert {k: entry.metadata.get(k) for k in expected} == expected
    stored = json.dumps(entry.metadata)
    for key, value in patient.items():
        if value and (key.startswith("encrypted") or key == "lookupHash"):
            assert value not in stored
    assert all(isinstance(v, int) for v in entry.metadata.values())


def test_erasing_a_patient_removes_the_patient_and_their_consent_forms(client):
    practice = team(client, "ARZT")
    patient = create_patient(client, practice)
    other = create_patient(client, practice)
    doomed = {create_consent(client, practice, patientId=patient["id"])["id"] for _ in range(2)}
    kept = create_consent(client, practice, patientId=other["id"])

    refused = _delete(client, practice.token("ARZT"), patient["id"])
    assert_error(refused, 403, "forbidden")
    assert len(patient_rows()) == 2 and len(consent_rows()) == 3

    result = _delete(client, practice.token(), patient["id"])
    assert result.status_code == 200, result.text
    assert result.json == {"deleted": True, "consentForms": 2}
    assert [str(p.id) for p in patient_rows()] == [other["id"]]
    assert [str(c.id) for c in consent_rows()] == [kept["id"]]
    assert not doomed & {str(c.id) for c in consent_rows()}
    assert_error(call(client, "GET", f"/api/patients/{patient['id']}", token=practice.token()),
                 404, "not_found")
    assert_error(_delete(client, practice.token(), patient["id"]), 404, "not_found")

    (entry,) = audit_entries("PATIENT_DELETED")
    assert (entry.entity_type, entry.entity_id) == ("patient", patient["id"])
    assert str(entry.user_id) == practice.user_id()
    _assert_counts_only(entry, patient, consentForms=2, signedConsentsInRetention=0, retentionOverride=False)


def test_signed_consents_inside_the_retention_period_need_the_override(client, clock, settings):
    practice = team(client)
    patient = create_patient(client, practice)
    _sign(client, practice, patient)
    create_consent(client, practice, patientId=patient["id"])  # pending: no record to keep
    clock.advance(days=365 * 9)
    practice.renew(settings, clock)

    for override in (None, "false"):
        refused = _delete(client, practice.token(), patient["id"], override)
        body = assert_error(refused, 409, "retention_period")
        assert body["error"]["details"] == {"signedConsentsInRetention": 1, "treatmentPlansInRetention": 0}
    assert_error(_delete(client, practice.token(), patient["id"], "yes"), 400, "validation_failed")
    assert len(patient_rows()) == 1 and len(consent_rows()) == 2
    assert audit_entries("PATIENT_DELETED") == []

    result = _delete(client, practice.token(), patient["id"], "true")
    assert result.status_code == 200, result.text
    assert result.json == {"deleted": True, "consentForms": 2}
    assert patient_rows() == [] and consent_rows() == []
    (entry,) = audit_entries("PATIENT_DELETED")
    _assert_counts_only(entry, patient, consentForms=2, signedConsentsInRetention=1, retentionOverride=True)


def test_a_consent_signed_more_than_ten_years_ago_does_not_block_erasure(client, clock, settings):
    practice = team(client)
    patient = create_patient(client, practice)
    _sign(client, practice, patient)  # 2026-11-30; ten years later is 2036-11-30
    clock.advance(days=3652)  # 2036-11-29: one day short of ten years
    practice.renew(settings, clock)
    assert_error(_delete(client, practice.token(), patient["id"]), 409, "retention_period")
    clock.advance(days=2)  # 2036-12-01
    practice.renew(settings, clock)
    result = _delete(client, practice.token(), patient["id"])
    assert result.status_code == 200, result.text
    assert patient_rows() == [] and consent_rows() == []
    (entry,) = audit_entries("PATIENT_DELETED")
    _assert_counts_only(entry, patient, consentForms=1, signedConsentsInRetention=0, retentionOverride=False)


def test_another_practices_patient_answers_like_one_that_does_not_exist(client):
    mine, theirs = team(client), team(client)
    foreign = create_patient(client, theirs)
    create_consent(client, theirs, patientId=foreign["id"])
    token = mine.token()
    unknown_id = str(uuid.uuid4())

    assert_like_unknown(call(client, "GET", f"/api/patients/{foreign['id']}", token=token),
                        call(client, "GET", f"/api/patients/{unknown_id}", token=token))
    assert_like_unknown(_delete(client, token, foreign["id"], "true"),
                        _delete(client, token, unknown_id, "true"))
    assert_like_unknown(
        call(client, "GET", f"/api/patients/lookup/{foreign['lookupHash']}", token=token),
        call(client, "GET", f"/api/patients/lookup/{secrets.token_hex(32)}", token=token),
    )
    assert _patients(client, token).json["total"] == 0
    assert [str(p.id) for p in patient_rows()] == [foreign["id"]] and len(consent_rows()) == 1
    assert audit_entries("PATIENT_VIEWED") == [] and audit_entries("PATIENT_DELETED") == []
