"""Consent forms, the practice's side: create (with the link, optionally mailed), list and
filter, read the ciphertext, revoke; and nothing of another practice is reachable."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import time
import uuid

import pytest

from appliance import envelopes, tenancy
from appliance.client import crypto
from appliance.models import Practice
from tests.support.api import assert_error, audit_entries, call, problem_fields
from tests.support.consent import (
    app_client,
    assert_like_unknown,
    consent_body,
    consent_row,
    consent_rows,
    create_consent,
    create_patient,
    link_body,
    raw_dump,
    submit,
    submit_body,
    team,
)
from tests.support.forms import FORM, fill
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
PATIENT_EMAIL = "erika.patientin@example.org"


def ts(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def _settings(client, practice, **changes):
    result = call(client, "PATCH", "/api/settings", token=practice.token(), json=changes)
    assert result.status_code == 200, result.text


def _list(client, practice, role="ADMIN", **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return call(client, "GET", "/api/consent/practice" + (f"?{query}" if query else ""),
                token=practice.token(role))


def _ids(result) -> list[str]:
    assert result.status_code == 200, result.text
    return [item["id"] for item in result.json["items"]]


# --- create --------------------------------------------------------------------------------


def test_admin_and_arzt_create_forms_with_an_unguessable_link(client, clock):
    practice = team(client, "ARZT", "EMPFANG")
    by_admin = create_consent(client, practice, "BOTOX")
    by_arzt = create_consent(client, practice, "FILLER", role="ARZT", locale="en")

    assert {k: by_admin[k] for k in ("type", "status", "patientId", "locale", "createdAt", "expiresAt")} == {
        "type": "BOTOX", "status": "PENDING", "patientId": None, "locale": "de",
        "createdAt": ts(clock.now()), "expiresAt": ts(clock.now() + dt.timedelta(days=7)),
    }
    assert by_arzt["locale"] == "en" and by_arzt["type"] == "FILLER"
    for created in (by_admin, by_arzt):
        assert TOKEN.match(created["token"])
        assert created["link"] == f"https://consent.example.test/consent/{created['token']}"
        assert "emailSent" not in created
        row = consent_row(created["id"])
        assert row.token_hash == hashlib.sha256(created["token"].encode()).hexdigest()
        assert created["token"] not in json.dumps(row.__data__, default=str)
    assert by_admin["token"] != by_arzt["token"]
    assert str(consent_row(by_arzt["id"]).created_by) == practice.user_id("ARZT")
    audited = {e.entity_id: e for e in audit_entries("CONSENT_CREATED")}
    assert audited[by_arzt["id"]].metadata == {"type": "FILLER", "emailRequested": False}
    assert str(audited[by_arzt["id"]].user_id) == practice.user_id("ARZT")

    refused = call(client, "POST", "/api/consent", token=practice.token("EMPFANG"),
                   json=consent_body(practice.practice))
    assert_error(refused, 403, "forbidden")
    assert len(consent_rows()) == 2


def test_only_types_enabled_in_the_settings_can_be_created(client):
    practice = team(client)
    _settings(client, practice, enabledConsentTypes=["BOTOX", "PRP"])
    refused = call(client, "POST", "/api/consent", token=practice.token(),
                   json=consent_body(practice.practice, "LASER"))
    assert_error(refused, 400, "consent_type_disabled")
    assert problem_fields(refused) == {"type"}
    unknown = call(client, "POST", "/api/consent", token=practice.token(),
                   json=consent_body(practice.practice, "TATTOO"))
    assert_error(unknown, 400, "validation_failed")
    assert consent_rows() == []
    assert create_consent(client, practice, "PRP")["type"] == "PRP"
    _settings(client, practice, enabledConsentTypes=["LASER"])
    assert create_consent(client, practice, "LASER")["type"] == "LASER"
    assert_error(call(client, "POST", "/api/consent", token=practice.token(),
                      json=consent_body(practice.practice, "PRP")), 400, "consent_type_disabled")


def test_the_expiry_follows_the_practice_setting(client, clock):
    practice = team(client)
    _settings(client, practice, defaultConsentExpiry=3)
    clock.advance(hours=5, minutes=7)
    created = create_consent(client, practice)
    assert created["createdAt"] == ts(clock.now())
    assert created["expiresAt"] == ts(clock.now() + dt.timedelta(days=3))
    assert consent_row(created["id"]).expires_at == clock.now() + dt.timedelta(days=3)


def test_the_link_uses_the_practices_base_url_when_it_has_one(client):
    practice = team(client)
    _settings(client, practice, publicBaseUrl="https://praxis-berger.example/einwilligung/")
    created = create_consent(client, practice)
    assert created["link"] == f"https://praxis-berger.example/einwilligung/consent/{created['token']}"
    _settings(client, practice, publicBaseUrl=None)
    again = create_consent(client, practice)
    assert again["link"] == f"https://consent.example.test/consent/{again['token']}"


def test_a_form_for_a_known_patient_or_none_at_all(client):
    practice = team(client)
    patient = create_patient(client, practice)
    created = create_consent(client, practice, patientId=patient["id"])
    assert created["patientId"] == patient["id"]
    assert str(consent_row(created["id"]).patient_id) == patient["id"]
    unknown = call(client, "POST", "/api/consent", token=practice.token(),
                   json=consent_body(practice.practice, patient_id=str(uuid.uuid4())))
    assert_error(unknown, 404, "not_found")
    malformed = call(client, "POST", "/api/consent", token=practice.token(),
                     json=consent_body(practice.practice, patient_id="patient-1"))
    assert_error(malformed, 400, "validation_failed")
    assert problem_fields(malformed) == {"patientId"}
    assert len(consent_rows()) == 1


def test_an_address_that_is_not_one_mailbox_is_refused_before_anything_is_stored(client):
    practice = team(client)
    for address in ("a@praxis.example\r\nBcc: viele@example.org", "a@praxis.example\n",
                    "zwei worte@example.org", "@"):
        result = call(client, "POST", "/api/consent", token=practice.token(),
                      json=consent_body(practice.practice, patientEmail=address))
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {"patientEmail"}
    assert consent_rows() == [] and audit_entries("CONSENT_CREATED") == []


#: What an attacker typed to reach more mailboxes or rewrite the To header (issue 21.13), and
#: an address smtplib itself refuses (an encoded word hiding CR LF, issue 21.14).
NOT_ONE_MAILBOX = ["postmaster,victim@example.org", "victim@example.org>,<root",
                   "Erika <erika@example.org>", "=?utf-8?q?a=0D=0ABcc:_x?=@example.org",
                   '"a,b"@example.org', "erika@localhost", "erika@exa_mple.org"]


@pytest.mark.parametrize("address", NOT_ONE_MAILBOX)
def test_only_one_mailbox_is_accepted_and_nothing_is_committed_otherwise(tmp_path, database_url, database,
                                                                           clock, address):
    with SmtpSink() as sink:
        client = app_client(tmp_path, database_url, database, clock, smtp=_smtp(sink.port))
        practice = team(client)
        result = call(client, "POST", "/api/consent", token=practice.token(),
                      json=consent_body(practice.practice, patientEmail=address))
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {"patientEmail"}
        pending = create_consent(client, practice)
        relinked = call(client, "POST", f"/api/consent/practice/{pending['id']}/link", token=practice.token(),
                        json=link_body(practice.practice, pending, patientEmail=address))
        assert_error(relinked, 400, "validation_failed")
    assert sink.messages == []
    assert [row.id for row in consent_rows()] == [uuid.UUID(pending["id"])]
    assert audit_entries("CONSENT_LINK_ISSUED") == []
    # The link of the form was not replaced: the one shown at creation still works.
    assert call(client, "GET", f"/api/consent/{pending['token']}").status_code == 200


def test_an_international_domain_goes_to_exactly_that_mailbox(tmp_path, database_url, database, clock):
    with SmtpSink() as sink:
        client = app_client(tmp_path, database_url, database, clock, smtp=_smtp(sink.port))
        practice = team(client)
        created = create_consent(client, practice, patientEmail=" Erika.Muster@Bäckerei-Straße.de ")
        assert created["emailSent"] is True
        (received,) = sink.wait_for(1)
    # The A-label as Python's own punycode codec spells it (ß stays a letter: IDNA 2008, as DENIC).
    assert "bäckerei-straße".encode("punycode") == b"bckerei-strae-mdb7d"
    assert received.rcpt_tos == ["Erika.Muster@xn--bckerei-strae-mdb7d.de"]
    assert received.message["To"] == "Erika.Muster@xn--bckerei-strae-mdb7d.de"


@pytest.mark.parametrize("name", ["Praxis Dr. Berger\u2028Bcc: x@example.org", "Praxis\r\nBcc: x@example.org",
                                  "Praxis\x85Berger"])
def test_a_practice_name_that_would_break_a_mail_header_is_refused(client, name):
    practice = team(client)
    result = call(client, "PATCH", "/api/practice", token=practice.token(), json={"name": name})
    assert_error(result, 400, "validation_failed")
    assert problem_fields(result) == {"name"}


def test_a_mail_that_cannot_be_built_never_costs_the_committed_form(tmp_path, database_url, database, clock):
    """A practice name stored before names were checked can still break the subject: the form,
    its audit entry and (for a new link) the rotated token are committed, so the answer is the
    created form with emailSent false, never a 500 that loses the token."""
    with SmtpSink() as sink:
        client = app_client(tmp_path, database_url, database, clock, smtp=_smtp(sink.port))
        practice = team(client)
        with tenancy.unscoped("test setup: a name stored before the check existed"):
            Practice.update(name="Praxis\u2028Bcc: x@example.org").where(
                Practice.id == uuid.UUID(practice.practice_id)).execute()
        created = create_consent(client, practice, patientEmail=PATIENT_EMAIL)
        assert created["emailSent"] is False
        relinked = call(client, "POST", f"/api/consent/practice/{created['id']}/link", token=practice.token(),
                        json=link_body(practice.practice, created, patientEmail=PATIENT_EMAIL))
        assert relinked.status_code == 201, relinked.text
        assert relinked.json["emailSent"] is False
    assert sink.messages == []
    assert call(client, "GET", f"/api/consent/{relinked.json['token']}").status_code == 200


def test_without_smtp_the_form_is_created_and_says_the_mail_did_not_go_out(client):
    practice = team(client)
    created = create_consent(client, practice, patientEmail=PATIENT_EMAIL)
    assert created["emailSent"] is False
    assert len(consent_rows()) == 1
    (audited,) = audit_entries("CONSENT_CREATED")
    assert audited.metadata == {"type": "BOTOX", "emailRequested": True}


# --- the link by e-mail ---------------------------------------------------------------------


def _log_text(caplog) -> str:
    """Every log record but the test SMTP server's own (aiosmtpd logs as "mail.log"), with its
    extra fields; DEBUG includes peewee's SQL with its parameters."""
    return "\n".join(
        f"{record.getMessage()} {json.dumps(record.__dict__, default=str)}"
        for record in caplog.records if not record.name.startswith("mail.")
    )


def _smtp(port: int) -> dict:
    return {"host": "127.0.0.1", "port": port, "security": "none", "sender": "praxis@example.test",
            "timeout": 5}


def test_the_link_is_mailed_and_the_address_is_kept_nowhere(tmp_path, database_url, database, clock, caplog):
    caplog.set_level(logging.DEBUG)
    with SmtpSink() as sink:
        client = app_client(tmp_path, database_url, database, clock, smtp=_smtp(sink.port))
        practice = team(client)
        fingerprint = envelopes.key_fingerprint(practice.practice["publicKey"])
        created = create_consent(client, practice, patientEmail=PATIENT_EMAIL, keyFingerprint=fingerprint)
        assert created["emailSent"] is True
        (received,) = sink.wait_for(1)
    assert received.rcpt_tos == [PATIENT_EMAIL]
    assert received.mail_from == "praxis@example.test"
    assert "Praxis Dr. Berger" in received.message["Subject"]
    # the fingerprint the staff client computed travels in the fragment, never to the server
    assert f"{created['link']}#k={fingerprint}" in received.message.get_content()
    assert "#k=" not in created["link"]
    assert PATIENT_EMAIL.encode() not in raw_dump(database)
    assert PATIENT_EMAIL not in _log_text(caplog)


def _failed_mail(client, practice, consent_id: str) -> dict:
    """The form's mail once the outbox gave up (tests shorten its back-off)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mail = call(client, "GET", f"/api/consent/practice/{consent_id}", token=practice.token()).json["mail"]
        if mail["status"] == "failed":
            return mail
        time.sleep(0.05)
    raise AssertionError(f"the mail did not fail in time: {mail}")


def test_a_mail_failure_keeps_the_form_and_names_no_address(tmp_path, database_url, database, clock, caplog,
                                                             quick_retries):
    caplog.set_level(logging.DEBUG)
    client = app_client(tmp_path, database_url, database, clock, smtp=_smtp(free_port()))
    practice = team(client)
    created = create_consent(client, practice, patientEmail=PATIENT_EMAIL)
    assert created["emailSent"] is True  # queued; the outbox finds the server away
    assert "unreachable" in _failed_mail(client, practice, created["id"])["reason"]
    assert _ids(_list(client, practice)) == [created["id"]]
    public = call(client, "GET", f"/api/consent/{created['token']}")
    assert public.status_code == 200, public.text
    assert any(r.getMessage() == "e-mail not sent" for r in caplog.records)
    assert PATIENT_EMAIL.encode() not in raw_dump(database)
    assert PATIENT_EMAIL not in _log_text(caplog)


def test_a_refused_recipient_is_not_named_in_the_logs(tmp_path, database_url, database, clock, caplog,
                                                      quick_retries):
    caplog.set_level(logging.DEBUG)
    with SmtpSink(refuse_recipients=True) as sink:  # answers 550 quoting the address, as Postfix does
        client = app_client(tmp_path, database_url, database, clock, smtp=_smtp(sink.port))
        practice = team(client)
        created = create_consent(client, practice, patientEmail=PATIENT_EMAIL)
        assert "550" in _failed_mail(client, practice, created["id"])["reason"]
    assert consent_row(created["id"]).status == "PENDING"
    (warning,) = [r for r in caplog.records if r.getMessage() == "e-mail not sent"]
    assert "550" in warning.reason
    assert PATIENT_EMAIL not in _log_text(caplog)
    assert PATIENT_EMAIL.encode() not in raw_dump(database)


# --- list ----------------------------------------------------------------------------------


@pytest.fixture
def four_forms(client, clock, settings):
    """Nov 30 BOTOX (expired, no job ran), Dec 1 LASER (pending), Dec 2 BOTOX (revoked),
    Dec 2 09:01 FILLER (signed); the clock then stands at Dec 7 12:00."""
    practice = team(client)
    expired = create_consent(client, practice, "BOTOX")
    clock.advance(days=1)
    practice.renew(settings, clock)
    pending = create_consent(client, practice, "LASER")
    clock.advance(days=1)
    practice.renew(settings, clock)
    revoked = create_consent(client, practice, "BOTOX")
    assert _revoke(client, practice, revoked["id"]).status_code == 200
    clock.advance(minutes=1)
    signed = create_consent(client, practice, "FILLER")
    sent = submit(client, signed["token"], submit_body(client, practice.practice, signed))
    assert sent.status_code == 200, sent.text
    clock.advance(days=5, hours=2, minutes=59)
    practice.renew(settings, clock)
    return practice, {"expired": expired, "pending": pending, "revoked": revoked, "signed": signed}


def test_forms_are_listed_newest_first_with_their_effective_status(client, four_forms):
    practice, forms = four_forms
    result = _list(client, practice)
    assert _ids(result) == [forms[k]["id"] for k in ("signed", "revoked", "pending", "expired")]
    assert [i["status"] for i in result.json["items"]] == ["SIGNED", "REVOKED", "PENDING", "EXPIRED"]
    assert result.json["total"] == 4
    for item in result.json["items"]:
        assert not {"token", "encryptedAnswers", "wrappedKey", "signatureIp"} & set(item)
    assert consent_row(forms["expired"]["id"]).status == "PENDING"  # only listed as EXPIRED

    page = _list(client, practice, limit=3, page=2).json
    assert [i["id"] for i in page["items"]] == [forms["expired"]["id"]]
    assert (page["total"], page["page"], page["limit"]) == (4, 2, 3)


FILTERS = [
    ({"status": "EXPIRED"}, ["expired"]),
    ({"status": "PENDING"}, ["pending"]),
    ({"status": "SIGNED"}, ["signed"]),
    ({"status": "REVOKED"}, ["revoked"]),
    ({"status": "PAID"}, []),
    ({"type": "BOTOX"}, ["revoked", "expired"]),
    ({"type": "BOTOX", "status": "EXPIRED"}, ["expired"]),
    ({"from": "2026-12-01"}, ["signed", "revoked", "pending"]),
    ({"to": "2026-12-01"}, ["pending", "expired"]),  # a bare date includes the whole day
    ({"from": "2026-12-01", "to": "2026-12-01"}, ["pending"]),
    ({"from": "2026-12-02T09:00:30Z"}, ["signed"]),
    ({"to": "2026-12-02T09:00:00Z"}, ["revoked", "pending", "expired"]),
    ({"from": "2026-12-02T10:00:00%2B01:00"}, ["signed", "revoked"]),
]


@pytest.mark.calendar(dt.datetime(2026, 11, 30, 9, 0, 0))  # four_forms dates
def test_forms_are_filtered_by_status_type_and_creation_time(client, four_forms):
    practice, forms = four_forms
    for params, expected in FILTERS:
        result = _list(client, practice, **params)
        assert _ids(result) == [forms[name]["id"] for name in expected], params
        assert result.json["total"] == len(expected), params


def test_invalid_list_filters_are_refused(client):
    practice = team(client)
    create_consent(client, practice)
    for name, value in [("status", "pending"), ("status", "DONE"), ("type", "TATTOO"),
                        ("from", "yesterday"), ("from", "2026-02-30"), ("to", "2026-13-01"),
                        ("to", "30.11.2026"), ("limit", "0"), ("page", "0")]:
        result = _list(client, practice, **{name: value})
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {name}, (name, value)


# --- read one ------------------------------------------------------------------------------


def test_one_form_is_read_with_its_ciphertext_and_audited_once_answered(client):
    practice = team(client, "ARZT")
    patient = create_patient(client, practice)
    answered_form = create_consent(client, practice, "LASER", patientId=patient["id"])
    path = f"/api/consent/practice/{answered_form['id']}"
    unanswered = call(client, "GET", path, token=practice.token())
    assert unanswered.status_code == 200, unanswered.text
    assert unanswered.json["status"] == "PENDING"
    assert (unanswered.json["encryptedAnswers"], unanswered.json["wrappedKey"]) == (None, None)
    assert audit_entries("CONSENT_VIEWED") == []

    body = submit_body(client, practice.practice, answered_form)
    sent = submit(client, answered_form["token"], body, ip="203.0.113.50",
                  headers={"User-Agent": "Mozilla/5.0 (iPhone) Safari"})
    assert sent.status_code == 200, sent.text

    result = call(client, "GET", path, token=practice.token("ARZT"))
    assert result.status_code == 200, result.text
    form = result.json
    assert form["status"] == "SIGNED" and form["patientId"] == patient["id"]
    assert (form["encryptedAnswers"], form["wrappedKey"]) == (body["encryptedAnswers"], body["wrappedKey"])
    assert form["signatureIp"] == "203.0.113.50"
    assert form["signatureUserAgent"] == "Mozilla/5.0 (iPhone) Safari"
    assert (form["identity"], form["lookupHash"]) == (body["identity"], body["lookupHash"])
    assert form["signature"] == answered_form["signature"]
    plain = crypto.decrypt_payload(practice.admin.keys, form["wrappedKey"],
                                   base64.b64decode(form["encryptedAnswers"]),
                                   envelopes.PURPOSE_CONSENT_ANSWERS, answered_form["id"])
    document = json.loads(plain)
    shown = call(client, "GET", f"/api/consent/{answered_form['token']}").json.get("form") or FORM
    filled = fill(shown)
    assert (document["answers"], document["comprehension"]) == (filled["answers"], filled["comprehension"])
    assert document["formHash"] == shown["formHash"]
    assert document["linkProof"] == envelopes.link_proof(answered_form["token"])
    (viewed,) = audit_entries("CONSENT_VIEWED")
    assert (viewed.entity_type, viewed.entity_id) == ("consent", answered_form["id"])
    assert str(viewed.user_id) == practice.user_id("ARZT")
    call(client, "GET", path, token=practice.token())
    assert len(audit_entries("CONSENT_VIEWED")) == 2
    assert_error(call(client, "GET", f"/api/consent/practice/{uuid.uuid4()}", token=practice.token()),
                 404, "not_found")


# --- revoke --------------------------------------------------------------------------------


def _revoke(client, practice, key, reason=None, role="ADMIN"):
    return call(client, "PATCH", f"/api/consent/{key}/revoke", token=practice.token(role),
                json={"reason": reason} if reason is not None else None)


def test_pending_and_signed_forms_are_revoked_by_token_or_id(client, clock):
    practice = team(client, "ARZT")
    pending = create_consent(client, practice)
    signed = create_consent(client, practice, patientId=create_patient(client, practice)["id"])
    assert submit(client, signed["token"], submit_body(client, practice.practice, signed)).status_code == 200
    clock.advance(hours=1)

    by_token = _revoke(client, practice, pending["token"], "falscher Behandlungstyp")
    assert by_token.status_code == 200, by_token.text
    assert {k: by_token.json[k] for k in ("id", "status", "revokedAt", "revokedBy")} == {
        "id": pending["id"], "status": "REVOKED", "revokedAt": ts(clock.now()), "revokedBy": "PRACTICE",
    }
    assert consent_row(pending["id"]).revoke_reason == "falscher Behandlungstyp"

    by_id = _revoke(client, practice, signed["id"], role="ARZT")
    assert by_id.status_code == 200, by_id.text
    assert by_id.json["status"] == "REVOKED" and by_id.json["signedAt"] is not None
    row = consent_row(signed["id"])
    assert (row.status, row.revoke_reason, row.revoked_by) == ("REVOKED", None, "PRACTICE")
    assert row.encrypted_answers is not None  # the record of the consent stays

    audited = {e.entity_id: e for e in audit_entries("CONSENT_REVOKED")}
    assert audited[pending["id"]].metadata == {"previousStatus": "PENDING", "by": "PRACTICE"}
    assert audited[signed["id"]].metadata == {"previousStatus": "SIGNED", "by": "PRACTICE"}
    assert str(audited[signed["id"]].user_id) == practice.user_id("ARZT")
    gone = call(client, "GET", f"/api/consent/{pending['token']}")
    assert_error(gone, 410, "consent_revoked")


def test_revoked_and_expired_forms_cannot_be_revoked_and_stay_as_they_are(client, clock, settings):
    practice = team(client)
    revoked = create_consent(client, practice)
    assert _revoke(client, practice, revoked["id"], "erste Begründung").status_code == 200
    expiring = create_consent(client, practice)
    before = {c.id: dict(c.__data__) for c in consent_rows()}
    clock.advance(days=7)  # the second form expires now (expiresAt <= now)
    practice.renew(settings, clock)

    for key in (revoked["id"], revoked["token"], expiring["id"], expiring["token"]):
        assert_error(_revoke(client, practice, key, "zweite Begründung"), 409, "consent_not_revocable")
    assert {c.id: dict(c.__data__) for c in consent_rows()} == before
    assert [e.entity_id for e in audit_entries("CONSENT_REVOKED")] == [revoked["id"]]


def test_a_signed_form_stays_revocable_after_its_link_expired(client, clock, settings):
    practice = team(client)
    signed = create_consent(client, practice)
    body = submit_body(client, practice.practice, signed)
    assert submit(client, signed["token"], body).status_code == 200
    clock.advance(days=30)
    practice.renew(settings, clock)
    result = _revoke(client, practice, signed["token"])
    assert result.status_code == 200, result.text
    assert consent_row(signed["id"]).status == "REVOKED"


def test_revoking_an_unknown_form_or_with_an_overlong_reason(client):
    practice = team(client)
    created = create_consent(client, practice)
    for key in (secrets.token_urlsafe(32), str(uuid.uuid4()), "kurz", created["token"][:-1]):
        assert_error(_revoke(client, practice, key), 404, "not_found")
    too_long = _revoke(client, practice, created["id"], "x" * 501)
    assert_error(too_long, 400, "validation_failed")
    assert consent_row(created["id"]).status == "PENDING"
    assert _revoke(client, practice, created["id"], "x" * 500).status_code == 200


# --- another practice ----------------------------------------------------------------------


def test_another_practices_forms_and_patients_answer_like_ones_that_do_not_exist(client):
    mine, theirs = team(client), team(client)
    patient = create_patient(client, theirs)
    answered = create_consent(client, theirs, patientId=patient["id"])
    assert submit(client, answered["token"], submit_body(client, theirs.practice,
                                                         answered)).status_code == 200
    pending = create_consent(client, theirs)
    before = {c.id: dict(c.__data__) for c in consent_rows()}
    token = mine.token()

    def get(key):
        return call(client, "GET", f"/api/consent/practice/{key}", token=token)

    def create(patient_id):
        return call(client, "POST", "/api/consent", token=token,
                    json=consent_body(mine.practice, patient_id=patient_id))

    assert_like_unknown(get(answered["id"]), get(uuid.uuid4()))
    for form in (answered, pending):
        assert_like_unknown(_revoke(client, mine, form["id"]), _revoke(client, mine, uuid.uuid4()))
        assert_like_unknown(_revoke(client, mine, form["token"]),
                            _revoke(client, mine, secrets.token_urlsafe(32)))
    assert_like_unknown(create(patient["id"]), create(str(uuid.uuid4())))

    assert {c.id: dict(c.__data__) for c in consent_rows()} == before
    assert _list(client, mine).json["total"] == 0
    assert audit_entries("CONSENT_VIEWED") == [] and audit_entries("CONSENT_REVOKED") == []
