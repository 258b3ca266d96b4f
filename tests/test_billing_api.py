"""Billing endpoints against Stripe offline (localstripe and the stand-in, through the real SDK):
the trial, Checkout, plan changes, the Customer Portal, and Stripe failing or slow."""

from __future__ import annotations

import datetime as dt
import threading
import time

import falcon.testing
import pytest

from appliance.app import create_app
from appliance.db import open_database
from appliance.storage import open_store
from tests.conftest import make_settings
from tests.support.api import assert_error, audit_entries, call, problem_fields, row_counts
from tests.support.billing import (
    CANCEL_URL,
    PRICES,
    RETURN_URL,
    SUCCESS_URL,
    billing_section,
    billing_view,
    checkout,
    deliver_ok,
    session_id_of,
    subscribe,
    subscription_row,
)
from tests.support.consent import create_consent, team
from tests.support.ports import free_port


@pytest.fixture
def settings(tmp_path, app_database_url, stripe_stub):
    return make_settings(tmp_path, app_database_url, billing=billing_section(stripe_stub))


@pytest.fixture
def billing_client(tmp_path, database, database_url, app_database_url, clock, stripe_stub):
    """Builds the app with other `billing` settings, connected like the `app` fixture."""
    opened = []

    def build(**overrides) -> falcon.testing.TestClient:
        section = billing_section(stripe_stub, **overrides)
        settings = make_settings(tmp_path, app_database_url, billing=section)
        app_database = database
        if app_database_url != database_url:
            app_database = open_database(app_database_url, pool_size=10)
            opened.append(app_database)
        return falcon.testing.TestClient(create_app(settings, app_database, store=open_store(settings),
                                                    clock=clock))

    yield build
    for app_database in opened:
        app_database.close_all()


@pytest.mark.calendar(dt.datetime(2026, 11, 30, 9, 0, 0))  # usage: November in Berlin
def test_a_new_practice_is_in_its_30_day_trial_without_any_write_or_stripe_call(client, clock, stripe_stub):
    practice = team(client, "ARZT")
    create_consent(client, practice)
    before, calls = row_counts(), len(stripe_stub.requests)
    view = billing_view(client, practice.token())
    assert view["plan"] == "FREE_TRIAL" and view["status"] == "TRIALING" and view["interval"] is None
    created = dt.datetime.fromisoformat(practice.practice["createdAt"].rstrip("Z"))
    assert view["trialEndsAt"] == (created + dt.timedelta(days=30)).isoformat(timespec="milliseconds") + "Z"
    assert view["usage"] == {"from": "2026-10-31T23:00:00.000Z", "to": "2026-11-30T23:00:00.000Z",
                             "consents": 1, "consentLimit": 25, "members": 2, "memberLimit": 2}
    assert view["hasBillingAccount"] is False and view["cancelAtPeriodEnd"] is False
    assert {(o["plan"], o["interval"]) for o in view["offered"]} == {
        (plan, interval) for plan in ("STARTER", "PROFESSIONAL") for interval in ("monthly", "yearly")}
    assert row_counts() == before and subscription_row(practice.practice_id) is None
    assert len(stripe_stub.requests) == calls
    as_arzt = call(client, "GET", "/api/billing/subscription", token=practice.token("ARZT"))
    assert_error(as_arzt, 403, "forbidden")


def test_checkout_creates_the_customer_once_and_a_subscription_session(client, stripe_stub):
    practice = team(client)
    first = checkout(client, practice.token(), "STARTER", "yearly")
    assert first.status_code == 200, first.text
    assert first.json["mode"] == "checkout" and first.json["plan"] == "STARTER"
    session = stripe_stub.checkout_sessions[session_id_of(first.json["url"])]
    assert first.json["url"] == session["url"]
    customers = stripe_stub.customers(practice.practice_id)
    assert [c["id"] for c in customers] == [session["customer"]]
    assert customers[0]["email"] == practice.practice["contactEmail"]
    assert session["_price"] == PRICES["price_starter_yearly"][0]
    assert session["client_reference_id"] == practice.practice_id
    assert session["metadata"] == {"practice_id": practice.practice_id, "plan": "STARTER",
                                   "interval": "yearly"}
    assert (session["success_url"], session["cancel_url"]) == (SUCCESS_URL, CANCEL_URL)
    row = subscription_row(practice.practice_id)
    assert row.stripe_customer_id == session["customer"] and row.plan == "FREE_TRIAL"
    assert billing_view(client, practice.token())["hasBillingAccount"] is True

    again = checkout(client, practice.token(), "PROFESSIONAL", "monthly")
    assert again.status_code == 200 and again.json["mode"] == "checkout"
    assert stripe_stub.checkout_sessions[session_id_of(again.json["url"])]["customer"] == session["customer"]
    assert len(stripe_stub.customers(practice.practice_id)) == 1
    # Every POST to Stripe carried an idempotency key of its own.
    keys = [r.idempotency_key for r in stripe_stub.seen("/v1/checkout/sessions")[-2:]]
    assert all(keys) and keys[0] != keys[1]


def _open_sessions(stub, customer: str) -> list[dict]:
    return [s for s in stub.checkout_sessions.values() if s["customer"] == customer and s["status"] == "open"]


def test_a_new_checkout_expires_the_practices_older_open_ones(client, stripe_stub):
    """Two open checkouts could both be paid: two subscriptions for one practice."""
    other = team(client)
    theirs = session_id_of(checkout(client, other.token()).json["url"])
    practice = team(client)
    first = session_id_of(checkout(client, practice.token(), "STARTER", "yearly").json["url"])
    second = session_id_of(checkout(client, practice.token(), "PROFESSIONAL", "monthly").json["url"])
    customer = stripe_stub.checkout_sessions[second]["customer"]
    assert [s["id"] for s in _open_sessions(stripe_stub, customer)] == [second]
    assert stripe_stub.checkout_sessions[first]["status"] == "expired"
    with pytest.raises(ValueError, match="expired"):
        stripe_stub.complete_checkout(first)
    assert stripe_stub.complete_checkout(second)[0]["status"] == "complete"
    assert stripe_stub.checkout_sessions[theirs]["status"] == "open"  # another practice's


def test_concurrent_checkouts_never_leave_two_open(client, stripe_stub):
    """Each expires every other: at most one of them can be paid (possibly none; the ADMIN then
    starts again)."""
    practice = team(client)
    checkout(client, practice.token())  # the customer exists before the race
    start, urls = threading.Barrier(5), []

    def begin() -> None:
        start.wait(30)
        result = checkout(client, practice.token(), "PROFESSIONAL", "yearly")
        assert result.status_code == 200, result.text
        urls.append(result.json["url"])

    threads = [threading.Thread(target=begin) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    made = [stripe_stub.checkout_sessions[session_id_of(url)] for url in urls]
    assert len({s["id"] for s in made}) == 5
    assert len(_open_sessions(stripe_stub, made[0]["customer"])) <= 1
    again = session_id_of(checkout(client, practice.token(), "PROFESSIONAL", "yearly").json["url"])
    assert [s["id"] for s in _open_sessions(stripe_stub, made[0]["customer"])] == [again]


def test_when_older_checkouts_cannot_be_expired_the_new_one_still_works(client, stripe_stub, caplog):
    practice = team(client)
    first = session_id_of(checkout(client, practice.token()).json["url"])
    stripe_stub.fault(f"/v1/checkout/sessions/{first}/expire", "down", times=3)
    second = checkout(client, practice.token(), "PROFESSIONAL", "monthly")
    assert second.status_code == 200, second.text
    assert stripe_stub.checkout_sessions[session_id_of(second.json["url"])]["status"] == "open"
    assert stripe_stub.checkout_sessions[first]["status"] == "open"
    assert "older checkout sessions were not expired" in caplog.text


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"plan": "FREE_TRIAL", "interval": "monthly"}, "plan", "validation_failed"),
        ({"plan": "STARTER", "interval": "weekly"}, "interval", "validation_failed"),
        ({"plan": "STARTER"}, "interval", "validation_failed"),
        ({"plan": "STARTER", "interval": "monthly", "coupon": "FREE"}, "(body)", "validation_failed"),
        ({"plan": "ENTERPRISE", "interval": "monthly"}, "plan", "plan_not_offered"),
    ],
)
def test_checkout_takes_only_a_configured_plan_and_interval(client, stripe_stub, body, field, code):
    practice = team(client)
    before, calls = row_counts(), len(stripe_stub.requests)
    result = call(client, "POST", "/api/billing/checkout", token=practice.token(), json=body)
    assert_error(result, 400, code)
    assert field in problem_fields(result)
    assert row_counts() == before and subscription_row(practice.practice_id) is None
    assert len(stripe_stub.requests) == calls


def test_a_paying_practice_gets_a_plan_change_instead_of_a_second_subscription(client, stripe_stub):
    practice = team(client)
    subscription = subscribe(client, stripe_stub, practice.token(), "STARTER", "monthly")
    view = billing_view(client, practice.token())
    assert (view["plan"], view["status"], view["interval"]) == ("STARTER", "ACTIVE", "monthly")
    sessions = len(stripe_stub.checkout_sessions)

    result = checkout(client, practice.token(), "PROFESSIONAL", "monthly")
    assert result.status_code == 200, result.text
    assert result.json == {"mode": "plan_change", "url": None, "plan": "PROFESSIONAL", "interval": "monthly"}
    assert len(stripe_stub.checkout_sessions) == sessions
    changed = stripe_stub.subscription(subscription["id"])
    assert changed["items"]["data"][0]["plan"]["id"] == PRICES["price_professional_monthly"][0]
    assert stripe_stub.seen(f"/v1/subscriptions/{subscription['id']}")[-1].idempotency_key
    requested = [e.metadata for e in audit_entries("SUBSCRIPTION_CHANGED") if e.user_id is not None]
    assert requested == [{"change": "plan_change_requested",
                          "from": {"plan": "STARTER", "interval": "monthly"},
                          "to": {"plan": "PROFESSIONAL", "interval": "monthly"}}]
    # Shown once Stripe confirms it.
    assert billing_view(client, practice.token())["plan"] == "STARTER"
    assert deliver_ok(client, "customer.subscription.updated", changed, created=1_800_000_100) == "applied"
    view = billing_view(client, practice.token())
    usage = view["usage"]
    assert (view["plan"], usage["consentLimit"], usage["memberLimit"]) == ("PROFESSIONAL", None, None)

    assert_error(checkout(client, practice.token(), "PROFESSIONAL", "monthly"), 409, "already_on_plan")


def test_the_portal_needs_a_stripe_customer(client, stripe_stub):
    practice = team(client)
    portal = call(client, "POST", "/api/billing/portal", token=practice.token())
    assert_error(portal, 404, "no_billing_account")
    assert checkout(client, practice.token()).status_code == 200
    result = call(client, "POST", "/api/billing/portal", token=practice.token())
    assert result.status_code == 200, result.text
    portal = stripe_stub.portal_sessions[session_id_of(result.json["url"])]
    assert portal["customer"] == subscription_row(practice.practice_id).stripe_customer_id
    assert portal["return_url"] == RETURN_URL


#: The SDK's back-off before its retries is at most 0.5 s, then 1 s (with jitter below that).
RETRY_BACKOFF = 1.5
ATTEMPTS = 3  # the first and MAX_RETRIES retries


def test_stripe_unreachable_answers_503_and_changes_nothing(billing_client, client):
    practice = team(client)
    timeout = 1
    offline = billing_client(stripe_api_base=f"http://127.0.0.1:{free_port()}", request_timeout=timeout)
    before = row_counts()
    started = time.perf_counter()
    result = checkout(offline, practice.token())
    elapsed = time.perf_counter() - started
    assert_error(result, 503, "payment_provider_unavailable")
    assert result.headers["Retry-After"] == "30"
    assert row_counts() == before and subscription_row(practice.practice_id) is None
    # A refused connection waits for no timeout: even twice every attempt's full timeout plus the
    # back-off is a wide margin (the SDK's default timeout of 80 s would blow it).
    limit = 2 * (ATTEMPTS * timeout + RETRY_BACKOFF)
    assert elapsed < limit, f"two retries with back-off took {elapsed:.1f} s (limit {limit} s)"
    portal = call(offline, "POST", "/api/billing/portal", token=practice.token())
    assert_error(portal, 404, "no_billing_account")


def test_a_hanging_stripe_times_out_into_503(billing_client, client, stripe_stub):
    practice = team(client)
    timeout = 1
    hang = 10 * timeout  # each attempt hangs far longer than the timeout that must cut it
    slow = billing_client(request_timeout=timeout)
    stripe_stub.fault("/v1/customers", "hang", times=ATTEMPTS, delay=hang)
    try:
        started = time.perf_counter()
        result = checkout(slow, practice.token())
        elapsed = time.perf_counter() - started
    finally:
        stripe_stub.clear_faults()
    assert_error(result, 503, "payment_provider_unavailable")
    keys = {r.idempotency_key for r in stripe_stub.seen("/v1/customers")[-3:]}
    assert keys == {f"appliance-customer-{practice.practice_id}"}, "three attempts, one key"
    # Three attempts each waited for the timeout; had one not been cut, it alone would have
    # taken the whole hang.
    assert ATTEMPTS * timeout <= elapsed < hang, f"{elapsed:.1f} s for three {timeout} s attempts"
    assert subscription_row(practice.practice_id) is None


def test_a_lost_response_is_retried_with_the_same_key_and_makes_one_customer(billing_client, client,
                                                                             stripe_stub):
    practice = team(client)
    slow = billing_client(request_timeout=1)
    stripe_stub.fault("/v1/customers", "lost", delay=1.5)
    try:
        result = checkout(slow, practice.token())
    finally:
        stripe_stub.clear_faults()
    assert result.status_code == 200, result.text
    attempts = stripe_stub.seen("/v1/customers")[-2:]
    assert attempts[0].idempotency_key == attempts[1].idempotency_key
    assert len(stripe_stub.customers(practice.practice_id)) == 1


def test_stripe_refusing_a_request_is_a_502_not_a_client_error(billing_client, client):
    practice = team(client)
    misconfigured = billing_client(price_starter_monthly="price_that_stripe_does_not_know")
    assert_error(checkout(misconfigured, practice.token()), 502, "payment_provider_error")
