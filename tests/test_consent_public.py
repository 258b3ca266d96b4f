"""Consent forms, the patient's side: the link's token is the only credential. Open, submit
once, withdraw; expired and revoked links are gone; the public endpoints are rate limited."""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from nacl.utils import random as random_bytes

from appliance.client.api import sealed_identity
from tests.support.api import assert_error, audit_entries, call, fresh_ip, problem_fields
from tests.support.consent import (
    IDENTITY,
    app_client,
    consent_row,
    create_consent,
    create_patient,
    patient_body,
    patient_rows,
    submit,
    submit_body,
    team,
)

PUBLIC_KEYS = {"type", "status", "expiresAt", "signedAt", "locale", "practice", "publicKey", "lookupSalt"}
BROWSER = "Mozilla/5.0 (Linux; Android 14) Firefox/132.0"


def ts(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def _open(client, token, **options):
    return call(client, "GET", f"/api/consent/{token}", **options)


def _withdraw(client, token, reason=None, **options):
    return call(client, "POST", f"/api/consent/{token}/withdraw",
                json={"reason": reason} if reason else None, **options)


def _b64(size: int) -> str:
    return base64.b64encode(random_bytes(size)).decode()


def test_the_patient_page_gets_exactly_what_it_needs_and_nothing_else(client, clock):
    practice = team(client)
    call(client, "PATCH", "/api/settings", token=practice.token(), json={"brandColor": "#AA3366"})
    created = create_consent(client, practice, "CHEMICAL_PEEL", locale="en")

    result = _open(client, created["token"])
    assert result.status_code == 200, result.text
    form = result.json
    assert set(form) == PUBLIC_KEYS
    assert form == {
        "type": "CHEMICAL_PEEL", "status": "PENDING", "expiresAt": created["expiresAt"], "signedAt": None,
        "locale": "en", "practice": {"name": "Praxis Dr. Berger", "brandColor": "#aa3366", "logoUrl": None},
        "publicKey": practice.practice["publicKey"], "lookupSalt": practice.practice["lookupSalt"],
    }

    body = submit_body(practice.practice, patient_body(practice.practice))
    assert submit(client, created["token"], body, ip="198.51.100.77",
                  headers={"User-Agent": BROWSER}).status_code == 200
    signed = _open(client, created["token"])
    assert signed.status_code == 200, signed.text
    assert set(signed.json) == PUBLIC_KEYS
    assert (signed.json["status"], signed.json["signedAt"]) == ("SIGNED", ts(clock.now()))
    (patient,) = patient_rows()
    for secret in (created["id"], practice.practice_id, str(patient.id), practice.user_id(),
                   "198.51.100.77", BROWSER, body["encryptedAnswers"][:40], body["wrappedKey"],
                   body["lookupHash"], created["token"]):
        assert secret not in signed.text


def test_unknown_or_malformed_tokens_are_not_found(client):
    practice = team(client)
    created = create_consent(client, practice)
    body = submit_body(practice.practice, patient_body(practice.practice))
    for token in (secrets.token_urlsafe(32), created["token"][:-1], created["token"] + "A",
                  "!" * 43, created["id"]):
        assert_error(_open(client, token), 404, "not_found")
        assert_error(submit(client, token, body), 404, "not_found")
        assert_error(_withdraw(client, token), 404, "not_found")
    assert consent_row(created["id"]).status == "PENDING"


def test_an_expired_link_is_gone_without_any_job_having_run(client, clock):
    practice = team(client)
    created = create_consent(client, practice)
    body = submit_body(practice.practice, patient_body(practice.practice))
    clock.advance(days=7, seconds=-1)
    assert _open(client, created["token"]).status_code == 200
    clock.advance(seconds=1)  # now == expiresAt

    assert_error(_open(client, created["token"]), 410, "consent_expired")
    assert_error(submit(client, created["token"], body), 410, "consent_expired")
    assert_error(_withdraw(client, created["token"]), 409, "not_signed")
    row = consent_row(created["id"])
    assert (row.status, row.signed_at, row.encrypted_answers) == ("PENDING", None, None)
    assert patient_rows() == [] and audit_entries("CONSENT_SUBMITTED") == []


def test_a_revoked_link_is_gone(client):
    practice = team(client)
    created = create_consent(client, practice)
    call(client, "PATCH", f"/api/consent/{created['token']}/revoke", token=practice.token())
    assert_error(_open(client, created["token"]), 410, "consent_revoked")
    body = submit_body(practice.practice, patient_body(practice.practice))
    assert_error(submit(client, created["token"], body), 410, "consent_revoked")
    row = consent_row(created["id"])
    assert (row.status, row.encrypted_answers, row.patient_id) == ("REVOKED", None, None)
    assert patient_rows() == []


def test_a_submit_records_server_time_client_ip_user_agent_and_comprehension(client, clock):
    practice = team(client)
    created = create_consent(client, practice, "MICRONEEDLING")
    clock.advance(hours=3, minutes=21)
    identity = patient_body(practice.practice)
    body = submit_body(practice.practice, identity, comprehension={"passed": False, "correct": 2, "total": 5})

    result = submit(client, created["token"], body, ip="198.51.100.4", headers={"User-Agent": BROWSER})
    assert result.status_code == 200, result.text
    assert result.json == {"status": "SIGNED", "signedAt": ts(clock.now())}
    row = consent_row(created["id"])
    assert (row.status, row.signed_at) == ("SIGNED", clock.now())
    assert (row.signature_ip, row.signature_user_agent) == ("198.51.100.4", BROWSER)
    assert row.comprehension == {"passed": False, "correct": 2, "total": 5}
    assert bytes(row.encrypted_answers) == base64.b64decode(body["encryptedAnswers"])
    assert row.wrapped_key == body["wrappedKey"]
    (patient,) = patient_rows()
    assert row.patient_id == patient.id
    assert patient.lookup_hash == identity["lookupHash"]
    assert patient.encrypted_last_name == identity["encryptedLastName"]
    (audited,) = audit_entries("CONSENT_SUBMITTED")
    assert (audited.user_id, audited.ip, audited.entity_id) == (None, "198.51.100.4", created["id"])
    assert audited.metadata == {"type": "MICRONEEDLING", "patientCreated": True, "comprehensionPassed": False}

    with_a_date = submit_body(practice.practice, identity, signedAt="2020-01-01T00:00:00Z")
    other = create_consent(client, practice)
    assert_error(submit(client, other["token"], with_a_date), 400, "validation_failed")


def test_the_client_ip_is_taken_from_the_trusted_proxy_chain_only(tmp_path, database_url, database, clock):
    proxied = app_client(tmp_path, database_url, database, clock, server={"trusted_proxies": ["10.0.0.0/8"]})
    practice = team(proxied)
    cases = [
        ("10.1.2.3", "198.51.100.23, 10.0.0.7", "198.51.100.23"),  # through two of our proxies
        ("10.1.2.3", "203.0.113.66, 198.51.100.24", "198.51.100.24"),  # the left part is hearsay
        ("203.0.113.9", "198.51.100.25", "203.0.113.9"),  # not our proxy: header ignored
    ]
    for remote, forwarded, stored in cases:
        created = create_consent(proxied, practice)
        body = submit_body(practice.practice, patient_body(practice.practice))
        result = submit(proxied, created["token"], body, ip=remote, headers={"X-Forwarded-For": forwarded})
        assert result.status_code == 200, result.text
        assert consent_row(created["id"]).signature_ip == stored, (remote, forwarded)
    assert [e.ip for e in audit_entries("CONSENT_SUBMITTED")] == [stored for *_, stored in cases]


def test_a_submit_links_the_existing_patient_with_the_same_lookup_hash(client):
    practice = team(client)
    existing = create_patient(client, practice, patient_body(practice.practice, IDENTITY))
    created = create_consent(client, practice)
    page = _open(client, created["token"]).json
    typed_again = sealed_identity(page["publicKey"], page["lookupSalt"], IDENTITY)  # the patient's browser
    assert typed_again["lookupHash"] == existing["lookupHash"]
    assert typed_again["encryptedLastName"] != existing["encryptedLastName"]

    result = submit(client, created["token"], submit_body(practice.practice, typed_again))
    assert result.status_code == 200, result.text
    (patient,) = patient_rows()
    assert str(patient.id) == existing["id"]
    assert patient.encrypted_last_name == existing["encryptedLastName"]  # not overwritten
    assert str(consent_row(created["id"]).patient_id) == existing["id"]
    (audited,) = audit_entries("CONSENT_SUBMITTED")
    assert audited.metadata["patientCreated"] is False


def test_a_form_created_for_a_patient_keeps_that_patient(client):
    practice = team(client)
    patient = create_patient(client, practice)
    with_identity = create_consent(client, practice, patientId=patient["id"])
    without = create_consent(client, practice, patientId=patient["id"])
    someone_else = patient_body(practice.practice)

    for form, identity in ((with_identity, someone_else), (without, None)):
        result = submit(client, form["token"], submit_body(practice.practice, identity))
        assert result.status_code == 200, result.text
    assert str(consent_row(with_identity["id"]).patient_id) == patient["id"]
    assert str(consent_row(without["id"]).patient_id) == patient["id"]
    assert [str(p.id) for p in patient_rows()] == [patient["id"]]


def test_bad_submissions_are_refused_and_the_form_stays_pending(client):
    practice = team(client)
    created = create_consent(client, practice)
    identity = patient_body(practice.practice)
    good = submit_body(practice.practice, identity)
    without_patient = {k: v for k, v in good.items() if k != "patient"}
    cases = [
        (good | {"encryptedAnswers": "das ist kein base64!"}, "encryptedAnswers"),
        (good | {"encryptedAnswers": _b64(40)}, "encryptedAnswers"),  # shorter than header + one chunk
        (good | {"wrappedKey": _b64(79)}, "wrappedKey"),
        (good | {"wrappedKey": _b64(81)}, "wrappedKey"),
        (good | {"lookupHash": identity["lookupHash"].upper()}, "lookupHash"),
        (good | {"lookupHash": identity["lookupHash"][:-1]}, "lookupHash"),
        ({k: v for k, v in good.items() if k not in ("patient", "lookupHash")}, "lookupHash"),
        (without_patient, "encryptedFirstName"),
        (good | {"patient": {**good["patient"], "encryptedLastName": _b64(10)}}, "encryptedLastName"),
        ({k: v for k, v in good.items() if k != "encryptedAnswers"}, "encryptedAnswers"),
        (good | {"comprehension": {"passed": "ja"}}, "comprehension.passed"),
    ]
    for body, field in cases:
        result = submit(client, created["token"], body)
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), (field, result.json)
    row = consent_row(created["id"])
    assert (row.status, row.signed_at, row.encrypted_answers, row.patient_id) == ("PENDING", None, None, None)
    assert patient_rows() == [] and audit_entries("CONSENT_SUBMITTED") == []
    assert submit(client, created["token"], good).status_code == 200


def test_a_signed_consent_is_withdrawn_once_at_any_time(client, clock, settings):
    practice = team(client)
    created = create_consent(client, practice)
    assert_error(_withdraw(client, created["token"]), 409, "not_signed")
    assert submit(client, created["token"], submit_body(practice.practice,
                                                        patient_body(practice.practice))).status_code == 200
    clock.advance(days=30)  # long after the link's deadline: withdrawing is always possible

    result = _withdraw(client, created["token"], "Ich möchte die Behandlung nicht mehr", ip="198.51.100.8")
    assert result.status_code == 200, result.text
    assert result.json == {"status": "REVOKED", "revokedAt": ts(clock.now())}
    row = consent_row(created["id"])
    assert (row.status, row.revoked_by, row.revoked_at) == ("REVOKED", "PATIENT", clock.now())
    assert row.revoke_reason == "Ich möchte die Behandlung nicht mehr"
    (audited,) = audit_entries("CONSENT_WITHDRAWN")
    assert (audited.user_id, audited.ip, audited.entity_id) == (None, "198.51.100.8", created["id"])
    assert audited.metadata == {"by": "PATIENT"}

    assert_error(_withdraw(client, created["token"]), 409, "already_revoked")
    assert_error(_open(client, created["token"]), 410, "consent_revoked")
    assert len(audit_entries("CONSENT_WITHDRAWN")) == 1

    practice.renew(settings, clock)
    by_practice = create_consent(client, practice, patientId=str(row.patient_id))
    assert submit(client, by_practice["token"], submit_body(practice.practice, None)).status_code == 200
    call(client, "PATCH", f"/api/consent/{by_practice['id']}/revoke", token=practice.token())
    assert_error(_withdraw(client, by_practice["token"]), 409, "already_revoked")


def test_the_public_endpoints_share_a_per_ip_limit(client, clock):
    practice = team(client)
    created = create_consent(client, practice)
    patient_ip, neighbour = fresh_ip(), fresh_ip()
    for attempt in range(60):  # unknown tokens count too: the limit is there against floods
        token = created["token"] if attempt % 2 else secrets.token_urlsafe(32)
        assert _open(client, token, ip=patient_ip).status_code in (200, 404)

    refused = _open(client, created["token"], ip=patient_ip)
    error = assert_error(refused, 429, "rate_limited")["error"]
    assert refused.headers["Retry-After"] == "60" and error["details"] == {"retryAfterSeconds": 60}
    body = submit_body(practice.practice, patient_body(practice.practice))
    assert_error(submit(client, created["token"], body, ip=patient_ip), 429, "rate_limited")
    assert_error(_withdraw(client, created["token"], ip=patient_ip), 429, "rate_limited")
    assert consent_row(created["id"]).status == "PENDING"

    assert _open(client, created["token"], ip=neighbour).status_code == 200
    staff = call(client, "GET", "/api/consent/practice", token=practice.token(), ip=patient_ip)
    assert staff.status_code == 200  # staff endpoints are not in this bucket
    clock.advance(seconds=61)
    assert _open(client, created["token"], ip=patient_ip).status_code == 200
