"""Mail leaves the request (appliance/outbox.py): a hanging SMTP server holds no request, the
mail goes out in the background with retries and back-off, and staff see per consent and per
invite whether it went out. The link token rests nowhere in clear while a mail waits."""

from __future__ import annotations

import json
import logging
import time

from appliance import outbox, tenancy
from appliance.models import ConsentForm
from tests.support.api import call
from tests.support.consent import app_client, create_consent, raw_dump, team
from tests.support.smtp import SmtpSink, hanging_smtp
from tests.support.team import invite

PATIENT_EMAIL = "erika.mustermann@example.org"
#: The SMTP timeout of these tests: a request that waited for the server would take this long.
SMTP_TIMEOUT = 10


def smtp(port: int) -> dict:
    return {"host": "127.0.0.1", "port": port, "security": "none", "sender": "praxis@example.test",
            "timeout": SMTP_TIMEOUT}


def eventually(read, done, timeout: float = 20):
    """What `read` gives once `done` accepts it, polled (the outbox works on its own thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = read()
        if done(answer):
            return answer
        time.sleep(0.05)
    raise AssertionError(f"the outbox did not get there in time: {answer}")


def consent_mail(client, practice, consent_id: str) -> dict | None:
    return call(client, "GET", f"/api/consent/practice/{consent_id}", token=practice.token()).json["mail"]


def invite_mail(client, practice, invite_id: str) -> dict:
    items = call(client, "GET", "/api/team/invites", token=practice.token()).json["items"]
    return next(item for item in items if item["id"] == invite_id)


def test_a_hanging_smtp_server_holds_no_request(tmp_path, database_url, database, clock):
    with hanging_smtp() as port:
        client = app_client(tmp_path, database_url, database, clock, smtp=smtp(port))
        practice = team(client)
        started = time.monotonic()
        created = [create_consent(client, practice, patientEmail=PATIENT_EMAIL) for _ in range(4)]
        invited = [invite(client, practice.token(), f"kollegin{i}@praxis.example") for i in range(4)]
        assert call(client, "GET", "/api/health").status_code == 200
        # Eight mails to a server that never answers: none of them waited for its timeout.
        assert time.monotonic() - started < SMTP_TIMEOUT
        for consent in created:
            assert consent["emailSent"] is True and consent["mail"]["status"] == "pending"
            assert consent_mail(client, practice, consent["id"])["status"] == "pending"
        for result in invited:
            assert result.status_code == 201 and result.json["mail"]["status"] == "pending"
            assert result.json["emailSentAt"] is None


def test_the_mail_goes_out_in_the_background_and_staff_see_it_sent(tmp_path, database_url, database, clock):
    with SmtpSink() as sink:
        client = app_client(tmp_path, database_url, database, clock, smtp=smtp(sink.port))
        practice = team(client)
        consent = create_consent(client, practice, patientEmail=PATIENT_EMAIL)
        invited = invite(client, practice.token(), "kollegin@praxis.example").json
        received = sink.wait_for(2)
    assert sorted(r.rcpt_tos[0] for r in received) == sorted([PATIENT_EMAIL, "kollegin@praxis.example"])
    sent = eventually(lambda: consent_mail(client, practice, consent["id"]), lambda m: m["status"] == "sent")
    assert sent["reason"] is None and sent["updatedAt"]
    listed = eventually(lambda: invite_mail(client, practice, invited["id"]),
                        lambda i: i["mail"]["status"] == "sent")
    assert listed["emailSentAt"] is not None
    without = create_consent(client, practice)  # no address, no mail
    assert without["mail"] is None and consent_mail(client, practice, without["id"]) is None


def test_a_server_that_comes_back_gets_the_mail_on_a_retry(
        tmp_path, database_url, database, clock, quick_retries):
    sink = SmtpSink()  # its port is chosen, nothing listens yet
    client = app_client(tmp_path, database_url, database, clock, smtp=smtp(sink.port))
    practice = team(client)
    consent = create_consent(client, practice, patientEmail=PATIENT_EMAIL)
    waiting = eventually(lambda: consent_mail(client, practice, consent["id"]), lambda m: m["reason"])
    assert waiting["status"] == "pending" and "unreachable" in waiting["reason"]
    with sink:
        (received,) = sink.wait_for(1)
        eventually(lambda: consent_mail(client, practice, consent["id"]), lambda m: m["status"] == "sent")
    assert received.rcpt_tos == [PATIENT_EMAIL]


def test_a_refused_mail_is_failed_with_its_reason_and_the_token_rests_nowhere_in_clear(
        tmp_path, database_url, database, clock, quick_retries, caplog):
    caplog.set_level(logging.DEBUG, logger="appliance")
    with SmtpSink(refuse_recipients=True) as sink:
        client = app_client(tmp_path, database_url, database, clock, smtp=smtp(sink.port))
        practice = team(client)
        consent = create_consent(client, practice, patientEmail=PATIENT_EMAIL)
        failed = eventually(lambda: consent_mail(client, practice, consent["id"]),
                            lambda m: m["status"] == "failed")
    assert failed["reason"].endswith("recipient refused (550)")
    assert sink.messages == []
    logged = "\n".join(f"{r.getMessage()} {json.dumps(r.__dict__, default=str)}" for r in caplog.records)
    (gave_up,) = [r for r in caplog.records if r.getMessage() == "e-mail not sent"]
    assert gave_up.attempts == len(outbox.DELAYS) + 1
    for secret in (consent["token"], PATIENT_EMAIL):
        assert secret not in logged and secret.encode() not in raw_dump(database)


def test_without_smtp_or_after_a_restart_the_mail_says_failed(client, clock):
    practice = team(client)
    consent = create_consent(client, practice, patientEmail=PATIENT_EMAIL)
    assert consent["emailSent"] is False
    assert consent["mail"]["status"] == "failed" and consent["mail"]["reason"] == "e-mail is not configured"
    # A mail still pending an hour later was lost with the process that had it in memory.
    with tenancy.unscoped("test: what a crashed process leaves"):
        ConsentForm.update(mail_status="pending", mail_error=None, mail_updated_at=clock.now()).execute()
    assert consent_mail(client, practice, consent["id"])["status"] == "pending"
    clock.advance(hours=1, minutes=1)
    lost = consent_mail(client, practice, consent["id"])
    assert (lost["status"], lost["reason"]) == ("failed", outbox.LOST)
