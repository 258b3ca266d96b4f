"""Consent forms, the patient's side: the link's token is the only credential. Open, submit
once, withdraw; expired and revoked links are gone; the public endpoints are rate limited."""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from nacl.utils import random as random_bytes

from appliance.client import lookup
from appliance.client.api import Identity
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

PUBLIC_KEYS = {"id", "type", "status", "expiresAt", "signedAt", "locale", "practice", "publicKey",
               "lookupSalt", "form", "locales"}
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
    assert (form.pop("form")["formId"], form.pop("locales")) == ("chemical-peel", ["de", "en"])
    assert form == {
        "id": created["id"], "type": "CHEMICAL_PEEL", "status": "PENDING", "expiresAt": created["expiresAt"],
        "signedAt": None,
        "locale": "en", "practice": {"name": "Praxis Dr. Berger", "brandColor": "#aa3366", "logoUrl": None,
                                     "impressumUrl": None, "privacyUrl": None},
        "publicKey": practice.practice["publicKey"], "lookupSalt": practice.practice["lookupSalt"],
    }

    body = submit_body(client, practice.practice, created)
    assert submit(client, created["token"], body, ip="198.51.100.77",
                  headers={"User-Agent": BROWSER}).status_code == 200
    signed = _open(client, created["token"])
    assert signed.status_code == 200, signed.text
    assert set(signed.json) == PUBLIC_KEYS
    assert (signed.json["status"], signed.json["signedAt"]) == ("SIGNED", ts(clock.now()))
    assert patient_rows() == []
    for secret in (practice.practice_id, practice.user_id(),
                   "198.51.100.77", BROWSER, body["encryptedAnswers"][:40], body["wrappedKey"],
                   body["lookupHash"], body["identity"]["encryptedLastName"], created["token"],
                   created["signature"], created["linkCommitment"]):
        assert secret not in signed.text


def test_the_page_links_the_practices_impressum_and_privacy_notice_else_the_operators(
        tmp_path, database_url, database, clock):
    """German law wants both reachable from the patient pages (issue 21.5)."""
    operator = {"impressum_url": "https://betreiber.example/impressum",
                "privacy_url": "https://betreiber.example/datenschutz"}
    client = app_client(tmp_path, database_url, database, clock, app=operator)
    practice = team(client)
    token = create_consent(client, practice)["token"]
    links = ("impressumUrl", "privacyUrl")
    opened = _open(client, token).json["practice"]
    assert [opened[key] for key in links] == [operator["impressum_url"], operator["privacy_url"]]
    own = {"impressumUrl": "https://praxis-berger.de/impressum", "privacyUrl": "https://praxis-berger.de/ds"}
    changed = call(client, "PATCH", "/api/settings", token=practice.token(), json=own)
    assert changed.status_code == 200, changed.text
    assert {key: changed.json[key] for key in own} == own
    opened = _open(client, token).json["practice"]
    assert {key: opened[key] for key in links} == own
    for bad in ("http://praxis-berger.de/impressum", "javascript:alert(1)", "https://x.de/\"><script>",
                "https://user:pw@x.de/i", "/impressum"):
        refused = call(client, "PATCH", "/api/settings", token=practice.token(), json={"impressumUrl": bad})
        assert_error(refused, 400, "validation_failed")
        assert problem_fields(refused) == {"impressumUrl"}
    reset = call(client, "PATCH", "/api/settings", token=practice.token(), json={"impressumUrl": None})
    assert reset.status_code == 200
    assert _open(client, token).json["practice"]["impressumUrl"] == operator["impressum_url"]


def test_unknown_or_malformed_tokens_are_not_found(client):
    practice = team(client)
    created = create_consent(client, practice)
    body = submit_body(client, practice.practice, created)
    for token in (secrets.token_urlsafe(32), created["token"][:-1], created["token"] + "A",
                  "!" * 43, created["id"]):
        assert_error(_open(client, token), 404, "not_found")
        assert_error(submit(client, token, body), 404, "not_found")
        assert_error(_withdraw(client, token), 404, "not_found")
    assert consent_row(created["id"]).status == "PENDING"


def test_an_expired_link_is_gone_without_any_job_having_run(client, clock):
    practice = team(client)
    created = create_consent(client, practice)
    body = submit_body(client, practice.practice, created)
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
    body = submit_body(client, practice.practice, created)
    assert_error(submit(client, created["token"], body), 410, "consent_revoked")
    row = consent_row(created["id"])
    assert (row.status, row.encrypted_answers, row.patient_id) == ("REVOKED", None, None)
    assert patient_rows() == []


def test_a_submit_records_server_time_client_ip_user_agent_and_keeps_the_identity_with_the_form(
        client, clock):
    practice = team(client)
    created = create_consent(client, practice, "MICRONEEDLING")
    clock.advance(hours=3, minutes=21)
    body = submit_body(client, practice.practice, created)

    result = submit(client, created["token"], body, ip="198.51.100.4", headers={"User-Agent": BROWSER})
    assert result.status_code == 200, result.text
    assert result.json == {"status": "SIGNED", "signedAt": ts(clock.now())}
    row = consent_row(created["id"])
    assert (row.status, row.signed_at) == ("SIGNED", clock.now())
    assert (row.signature_ip, row.signature_user_agent) == ("198.51.100.4", BROWSER)
    assert bytes(row.encrypted_answers) == base64.b64decode(body["encryptedAnswers"])
    assert row.wrapped_key == body["wrappedKey"]
    assert row.identity == body["identity"] and row.lookup_hash == body["lookupHash"]
    assert row.patient_id is None and patient_rows() == []  # staff decide who it is
    (audited,) = audit_entries("CONSENT_SUBMITTED")
    assert (audited.user_id, audited.ip, audited.entity_id) == (None, "198.51.100.4", created["id"])
    assert audited.metadata == {"type": "MICRONEEDLING", "patientLinked": False}

    other = create_consent(client, practice)
    for extra in ({"signedAt": "2020-01-01T00:00:00Z"}, {"comprehension": {"passed": True}},
                  {"patient": body["identity"]}):
        with_more = submit_body(client, practice.practice, other, **extra)
        assert_error(submit(client, other["token"], with_more), 400, "validation_failed")


def test_a_retried_submit_with_its_idempotency_key_answers_as_the_first_time(client, clock):
    """The page's connection dropped after the commit (a worker died, the network went): the
    repeat with the same key gets the first answer, and nothing is recorded twice."""
    practice = team(client)
    created = create_consent(client, practice)
    body = submit_body(client, practice.practice, created)
    key = {"Idempotency-Key": secrets.token_urlsafe(24)}
    for bad in ("short", "x" * 129, "no spaces or dots."):
        assert_error(submit(client, created["token"], body, headers={"Idempotency-Key": bad}),
                     400, "validation_failed")
    assert consent_row(created["id"]).status == "PENDING"

    first = submit(client, created["token"], body, headers=key)
    assert first.status_code == 200, first.text
    clock.advance(seconds=40)
    again = submit(client, created["token"], body, headers=key)
    assert (again.status_code, again.json) == (200, first.json)
    row = consent_row(created["id"])
    assert row.submit_key_hash not in (None, key["Idempotency-Key"])  # kept hashed only
    assert len(audit_entries("CONSENT_SUBMITTED")) == 1
    # Anyone else's submit (another key, or none) is still the second one.
    for other in ({"Idempotency-Key": secrets.token_urlsafe(24)}, {}):
        assert_error(submit(client, created["token"], body, headers=other), 409, "already_submitted")


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
        body = submit_body(proxied, practice.practice, created)
        result = submit(proxied, created["token"], body, ip=remote, headers={"X-Forwarded-For": forwarded})
        assert result.status_code == 200, result.text
        assert consent_row(created["id"]).signature_ip == stored, (remote, forwarded)
    assert [e.ip for e in audit_entries("CONSENT_SUBMITTED")] == [stored for *_, stored in cases]


def test_a_submit_is_never_attached_to_the_patient_with_the_same_lookup_hash(client):
    """Anyone with a link, a name and a birth date computes the hash (the salt is public): a
    match proves nothing, so the submission stays with the form until staff decide."""
    practice = team(client)
    existing = create_patient(client, practice, patient_body(practice.practice, IDENTITY))
    created = create_consent(client, practice)
    body = submit_body(client, practice.practice, created, IDENTITY)
    assert body["lookupHash"] == existing["lookupHash"]

    result = submit(client, created["token"], body)
    assert result.status_code == 200, result.text
    row = consent_row(created["id"])
    assert row.patient_id is None and row.lookup_hash == existing["lookupHash"]
    assert [str(p.id) for p in patient_rows()] == [existing["id"]]
    (audited,) = audit_entries("CONSENT_SUBMITTED")
    assert audited.metadata["patientLinked"] is False


def test_a_form_created_for_a_patient_keeps_that_patient_and_the_identity_given(client):
    practice = team(client)
    patient = create_patient(client, practice)
    form = create_consent(client, practice, patientId=patient["id"])
    someone_else = Identity("Eva", "Andere", "1990-01-01")

    body = submit_body(client, practice.practice, form, someone_else)
    assert submit(client, form["token"], body).status_code == 200
    row = consent_row(form["id"])
    assert str(row.patient_id) == patient["id"]
    assert row.lookup_hash == lookup.lookup_hash(practice.practice["lookupSalt"], "Andere", "Eva",
                                                 "1990-01-01")
    assert [str(p.id) for p in patient_rows()] == [patient["id"]]


def _canonical_but_padding_bits(value: str) -> str:
    """The same bytes in a non-canonical spelling: the unused bits of the last character set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stripped = value.rstrip("=")
    assert stripped != value, "only a padded spelling has unused bits"
    last = alphabet.index(stripped[-1]) | (0b1111 if value.endswith("==") else 0b11)
    return stripped[:-1] + alphabet[last] + "=" * (len(value) - len(stripped))


def test_bad_submissions_are_refused_and_the_form_stays_pending(client):
    practice = team(client)
    created = create_consent(client, practice)
    good = submit_body(client, practice.practice, created)
    identity = good["identity"]
    answers = good["encryptedAnswers"]
    if not answers.endswith("="):  # make the ciphertext length leave unused bits
        good = submit_body(client, practice.practice, created, Identity("Jürgen", "Müller", "1980-02-29"))
        answers = good["encryptedAnswers"]
    assert answers.endswith("=")
    padded = next(name for name, value in identity.items() if value.endswith("="))
    cases = [
        (good | {"encryptedAnswers": "das ist kein base64!"}, "encryptedAnswers"),
        (good | {"encryptedAnswers": _canonical_but_padding_bits(answers)}, "encryptedAnswers"),
        (good | {"encryptedAnswers": answers.rstrip("=")}, "encryptedAnswers"),
        (good | {"encryptedAnswers": _b64(40)}, "encryptedAnswers"),  # shorter than header + one chunk
        (good | {"wrappedKey": _b64(79)}, "wrappedKey"),
        (good | {"wrappedKey": _canonical_but_padding_bits(good["wrappedKey"])}, "wrappedKey"),
        (good | {"lookupHash": good["lookupHash"].upper()}, "lookupHash"),
        (good | {"lookupHash": good["lookupHash"][:-1]}, "lookupHash"),
        ({k: v for k, v in good.items() if k != "lookupHash"}, "lookupHash"),
        ({k: v for k, v in good.items() if k != "identity"}, "identity"),
        (good | {"identity": {**identity, "encryptedLastName": _b64(10)}}, "identity.encryptedLastName"),
        (good | {"identity": {**identity, padded: _canonical_but_padding_bits(identity[padded])}},
         f"identity.{padded}"),
        (good | {"identity": {k: v for k, v in identity.items() if k != "encryptedDateOfBirth"}},
         "identity.encryptedDateOfBirth"),
        ({k: v for k, v in good.items() if k != "encryptedAnswers"}, "encryptedAnswers"),
        (good | {"formHash": "0" * 63}, "formHash"),
    ]
    for body, field in cases:
        result = submit(client, created["token"], body)
        assert_error(result, 400, "validation_failed")
        assert field in problem_fields(result), (field, result.json)
    row = consent_row(created["id"])
    assert (row.status, row.signed_at, row.encrypted_answers, row.identity) == ("PENDING", None, None, None)
    assert audit_entries("CONSENT_SUBMITTED") == []
    assert submit(client, created["token"], good).status_code == 200


def test_a_signed_consent_is_withdrawn_once_at_any_time(client, clock, settings):
    practice = team(client)
    created = create_consent(client, practice)
    assert_error(_withdraw(client, created["token"]), 409, "not_signed")
    assert submit(client, created["token"], submit_body(client, practice.practice,
                                                        created)).status_code == 200
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
    by_practice = create_consent(client, practice, patientId=create_patient(client, practice)["id"])
    assert submit(client, by_practice["token"], submit_body(client, practice.practice,
                                                            by_practice)).status_code == 200
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
    body = submit_body(client, practice.practice, created)
    assert_error(submit(client, created["token"], body, ip=patient_ip), 429, "rate_limited")
    assert_error(_withdraw(client, created["token"], ip=patient_ip), 429, "rate_limited")
    assert consent_row(created["id"]).status == "PENDING"

    assert _open(client, created["token"], ip=neighbour).status_code == 200
    staff = call(client, "GET", "/api/consent/practice", token=practice.token(), ip=patient_ip)
    assert staff.status_code == 200  # staff endpoints are not in this bucket
    clock.advance(seconds=61)
    assert _open(client, created["token"], ip=patient_ip).status_code == 200
