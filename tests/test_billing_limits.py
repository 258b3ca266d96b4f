"""Plan enforcement: the monthly consent limit (calendar month in the practice's time zone),
the team limit, and the 402 gate once the trial or subscription has ended."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest

from appliance import tenancy
from appliance.models import TeamInvite, User
from tests.conftest import make_settings
from tests.support.api import (
    PASSWORD,
    assert_error,
    audit_actions,
    call,
    founder,
    fresh_email,
    row_counts,
)
from tests.support.billing import billing_section, billing_view, checkout, subscribe
from tests.support.consent import (
    consent_body,
    consent_rows,
    create_consent,
    patient_body,
    submit,
    submit_body,
    team,
)
from tests.support.team import accept, invite, invited, joined_member, stored_invite


@pytest.fixture
def settings(tmp_path, app_database_url, stripe_stub):
    return make_settings(tmp_path, app_database_url, billing=billing_section(stripe_stub))


def _new_consent(client, practice, role: str = "ARZT"):
    return call(client, "POST", "/api/consent", token=practice.token(role),
                json=consent_body(practice.practice))


@pytest.mark.calendar(dt.datetime(2026, 11, 30, 9, 0, 0))  # the month's end is one day ahead of 30 Nov 2026
def test_the_26th_consent_of_a_trial_month_is_refused_until_the_next_month(client, clock, settings):
    practice = team(client, "ARZT")
    for _ in range(25):
        create_consent(client, practice, role="ARZT")
    before, audited = row_counts(), audit_actions()["CONSENT_CREATED"]
    body = assert_error(_new_consent(client, practice), 402, "plan_limit_reached")
    assert body["error"]["details"] == {"limit": "consents per month", "plan": "FREE_TRIAL",
                                        "allowed": 25, "used": 25}
    assert len(consent_rows()) == 25 and row_counts() == before
    assert audit_actions()["CONSENT_CREATED"] == audited
    assert billing_view(client, practice.token())["usage"]["consents"] == 25
    # 23:30 UTC on 30 November is 00:30 on 1 December in Berlin: the practice's new month.
    clock.advance(hours=14, minutes=30)
    practice.renew(settings, clock)
    assert _new_consent(client, practice).status_code == 201
    assert billing_view(client, practice.token())["usage"]["consents"] == 1


def test_concurrent_creations_cannot_pass_the_limit_together(client):
    practice = team(client, "ARZT")
    for _ in range(23):
        create_consent(client, practice, role="ARZT")
    statuses: list[int] = []
    start = threading.Barrier(6)

    def create() -> None:
        start.wait()
        statuses.append(_new_consent(client, practice).status_code)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(statuses) == {201: 2, 402: 4}
    assert len(consent_rows()) == 25


def test_the_third_member_of_a_trial_practice_is_refused(client):
    admin = founder(client)
    joined_member(client, admin.token, "ARZT")
    with tenancy.unscoped("test inspection"):
        invites = TeamInvite.select().count()
    body = assert_error(invite(client, admin.token, fresh_email()), 402, "plan_limit_reached")
    assert body["error"]["details"] == {"limit": "members", "plan": "FREE_TRIAL", "allowed": 2, "used": 2}
    with tenancy.unscoped("test inspection"):
        assert TeamInvite.select().count() == invites


def test_with_one_seat_left_the_first_invite_accepted_takes_it(client):
    admin = founder(client)
    first, second = invited(client, admin.token, fresh_email()), invited(client, admin.token, fresh_email())
    # Open invites hold no seat, so one can be resent while a seat is free.
    resent = call(client, "POST", f"/api/team/invites/{first['id']}/resend", token=admin.token)
    assert resent.status_code == 200, resent.text
    assert accept(client, resent.json["token"], name="Dr. Eins", password=PASSWORD).status_code == 200
    refused = accept(client, second["token"], name="Dr. Zwei", password=PASSWORD)
    assert_error(refused, 402, "plan_limit_reached")
    assert stored_invite(second["id"]).accepted_at is None
    with tenancy.unscoped("test inspection"):
        assert not User.select().where(User.email == second["email"]).exists()
    full = call(client, "POST", f"/api/team/invites/{second['id']}/resend", token=admin.token)
    assert_error(full, 402, "plan_limit_reached")


def test_a_paid_plan_raises_the_limits(client, stripe_stub):
    admin = founder(client)
    joined_member(client, admin.token, "ARZT")
    subscribe(client, stripe_stub, admin.token, "STARTER", "monthly")
    joined_member(client, admin.token, "EMPFANG")
    body = assert_error(invite(client, admin.token, fresh_email()), 402, "plan_limit_reached")
    assert body["error"]["details"]["allowed"] == 3
    usage = billing_view(client, admin.token)["usage"]
    assert (usage["members"], usage["memberLimit"], usage["consentLimit"]) == (3, 3, 100)


def test_after_the_trial_staff_get_402_while_billing_and_patients_carry_on(client, clock, settings):
    practice = team(client, "ARZT")
    clock.advance(days=29)
    practice.renew(settings, clock)
    link = create_consent(client, practice, role="ARZT")  # sent to the patient during the trial
    clock.advance(days=1, seconds=1)
    practice.renew(settings, clock)

    before = row_counts()
    staff_calls = [
        ("GET", "/api/patients", "ARZT", None),
        ("POST", "/api/patients", "ARZT", patient_body(practice.practice)),
        ("POST", "/api/consent", "ARZT", consent_body(practice.practice)),
        ("GET", "/api/consent/practice", "ADMIN", None),
        ("GET", "/api/team/members", "ADMIN", None),
        ("POST", "/api/team/invite", "ADMIN", {"email": fresh_email(), "role": "ARZT"}),
        ("PATCH", "/api/settings", "ADMIN", {"defaultConsentExpiry": 14}),
    ]
    for method, path, role, body in staff_calls:
        refused = call(client, method, path, token=practice.token(role), json=body)
        error = assert_error(refused, 402, "subscription_required")
        assert error["error"]["details"] == {"plan": "FREE_TRIAL", "status": "EXPIRED"}, path
    assert row_counts() == before

    assert billing_view(client, practice.token())["status"] == "EXPIRED"
    assert checkout(client, practice.token()).status_code == 200
    for path in ("/api/auth/me", "/api/practice"):
        assert call(client, "GET", path, token=practice.token("ARZT")).status_code == 200
    # The patient opens and signs the link sent before the trial ended.
    assert call(client, "GET", f"/api/consent/{link['token']}").status_code == 200
    signed = submit(client, link["token"], submit_body(client, practice.practice, link))
    assert signed.status_code == 200, signed.text


def test_a_paid_subscription_reopens_the_practice(client, clock, settings, stripe_stub):
    practice = team(client)
    clock.advance(days=31)
    practice.renew(settings, clock)
    assert_error(call(client, "GET", "/api/patients", token=practice.token()), 402, "subscription_required")
    subscribe(client, stripe_stub, practice.token(), "PROFESSIONAL", "monthly")
    assert call(client, "GET", "/api/patients", token=practice.token()).status_code == 200
    assert billing_view(client, practice.token())["usage"]["consentLimit"] is None
