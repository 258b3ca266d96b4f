"""Analytics with billing enabled: this month's consents against the plan limit, and revenue.

No Stripe call is involved: the configured Stripe address is a closed port, so one would fail.
The clock stands at 2026-11-30 09:00 UTC; November in Berlin is [31 Oct 23:00, 30 Nov 23:00) UTC.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from appliance import tenancy
from appliance.models import Subscription
from tests.conftest import make_settings
from tests.support.analytics import add_form, add_payment, figures
from tests.support.consent import create_consent, team
from tests.support.ports import free_port

T = dt.datetime

#: Every expected figure is worked out for this moment (see the module docstring).
pytestmark = pytest.mark.calendar(T(2026, 11, 30, 9, 0, 0))


@pytest.fixture
def settings(tmp_path, app_database_url):
    return make_settings(tmp_path, app_database_url, billing={
        "stripe_secret_key": "sk_test_analytics",
        "stripe_webhook_secret": "whsec_test_analytics",
        "stripe_api_base": f"http://127.0.0.1:{free_port()}",
        "price_starter_monthly": "price_test_starter_monthly",
        "success_url": "https://consent.example.test/billing?ok",
        "cancel_url": "https://consent.example.test/billing?cancel",
        "portal_return_url": "https://consent.example.test/billing",
        "request_timeout": 1,
    })


def test_overview_shows_this_months_consents_against_the_plan_limit(client, clock):
    staff = team(client, "ARZT")
    other = team(client)
    pid = staff.practice_id
    add_form(pid, T(2026, 10, 31, 22, 59, 59))   # 31 Oct 23:59:59 in Berlin: last month
    add_form(pid, T(2026, 10, 31, 23, 0, 0))     # 1 Nov 00:00 in Berlin
    add_form(pid, T(2026, 11, 30, 8, 0, 0), status="REVOKED", revoked_at=T(2026, 11, 30, 8, 30))
    create_consent(client, staff)                # now, through the API
    add_form(other.practice_id, T(2026, 11, 15, 10))

    # from/to narrow the counts, never the month's usage: 3 consents in November (any status).
    body = figures(client, staff.token("ARZT"), "overview", from_="2026-10-01", to="2026-10-31")
    assert body["total"] == 1
    assert body["thisMonth"] == {
        "plan": "FREE_TRIAL", "status": "TRIALING", "start": "2026-10-31T23:00:00.000Z",
        "end": "2026-11-30T23:00:00.000Z", "consents": 3, "consentLimit": 25,
    }

    with tenancy.practice_scope(uuid.UUID(pid)):
        Subscription.insert(
            id=uuid.uuid4(), plan="PROFESSIONAL", billing_interval="monthly", status="ACTIVE",
            trial_ends_at=clock.now(), created_at=clock.now(), updated_at=clock.now(),
        ).execute()
    usage = figures(client, staff.token(), "overview")["thisMonth"]
    assert (usage["plan"], usage["status"], usage["consents"], usage["consentLimit"]) == (
        "PROFESSIONAL", "ACTIVE", 3, None)


def test_revenue_sums_the_practices_payments_by_payment_time(client):
    staff = team(client)
    other = team(client)
    pid = staff.practice_id
    add_payment(pid, T(2026, 10, 31, 22, 30), 9900)                    # 31 Oct 23:30 local: before
    add_payment(pid, T(2026, 10, 31, 23, 30), 9900)                    # 1 Nov 00:30 local
    add_payment(pid, T(2026, 11, 5, 10), 4900)
    add_payment(pid, T(2026, 11, 20, 10), 4900, refunded_cents=1000)
    add_payment(pid, T(2026, 11, 15, 10), 1000, currency="usd")
    add_payment(pid, T(2026, 11, 30, 23, 30), 4900)                    # 1 Dec 00:30 local: after
    add_payment(other.practice_id, T(2026, 11, 10, 10), 100_000)

    body = figures(client, staff.token(), "revenue", from_="2026-11-01", to="2026-11-30")
    # eur: 9900 + 4900 + 4900 = 19700 gross, 1000 refunded, 18700 net over 3: 6233.33 -> 6233.
    assert body == {
        "from": "2026-11-01", "to": "2026-11-30", "timezone": "Europe/Berlin",
        "billingEnabled": True, "payments": 4,
        "totals": [
            {"currency": "eur", "payments": 3, "grossCents": 19700, "refundedCents": 1000,
             "netCents": 18700, "averageNetCents": 6233},
            {"currency": "usd", "payments": 1, "grossCents": 1000, "refundedCents": 0,
             "netCents": 1000, "averageNetCents": 1000},
        ],
    }
    # All time: 5 eur payments, 34500 gross, 33500 net, 6700 on average.
    eur = figures(client, staff.token(), "revenue")["totals"][0]
    assert (eur["payments"], eur["grossCents"], eur["netCents"], eur["averageNetCents"]) == (
        5, 34500, 33500, 6700)
    # A practice that never paid: zero.
    assert figures(client, other.token(), "revenue", to="2026-11-01")["totals"] == []
