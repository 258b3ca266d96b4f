"""The Stripe webhook: signatures verified over the raw body, each event id once, older events
never overwriting newer state, and everything unknown acknowledged instead of retried forever."""

from __future__ import annotations

import copy
import logging
import threading
import time

import pytest

from appliance.models import StripeEvent
from tests.conftest import make_settings
from tests.support.api import assert_error, audit_entries, call, fresh_ip, row_counts
from tests.support.billing import (
    PRICES,
    WEBHOOK_SECRET,
    billing_section,
    billing_view,
    checkout,
    deliver,
    deliver_ok,
    payments_of,
    session_id_of,
    stripe_event,
    subscribe,
    subscription_row,
)
from tests.support.consent import create_consent, team
from tests.support.stripe_stub import event, signed

T0 = 1_800_000_000  # `created` of the first events of a test; later ones count up from here


@pytest.fixture
def settings(tmp_path, app_database_url, stripe_stub):
    return make_settings(tmp_path, app_database_url, billing=billing_section(stripe_stub))


@pytest.fixture
def paying(client, stripe_stub):
    """A practice on STARTER monthly, told by Stripe at T0; returns (team, subscription)."""
    practice = team(client)
    return practice, subscribe(client, stripe_stub, practice.token(), "STARTER", "monthly", created=T0)


def _with_price(subscription: dict, price_id: str, **fields) -> dict:
    changed = copy.deepcopy(subscription)
    changed["items"]["data"][0]["plan"]["id"] = price_id
    changed.update(fields)
    return changed


def _state(practice_id: str) -> tuple:
    row = subscription_row(practice_id)
    return row.plan, row.status, row.billing_interval, row.last_event_created


def test_checkout_and_subscription_events_put_the_practice_on_its_plan(client, stripe_stub):
    practice = team(client)
    result = checkout(client, practice.token(), "PROFESSIONAL", "yearly")
    session, subscription = stripe_stub.complete_checkout(session_id_of(result.json["url"]))
    assert deliver_ok(client, "checkout.session.completed", session, created=T0) == "applied"
    row = subscription_row(practice.practice_id)
    assert (row.plan, row.status, row.billing_interval) == ("PROFESSIONAL", "ACTIVE", "yearly")
    assert row.stripe_subscription_id == subscription["id"]
    assert deliver_ok(client, "customer.subscription.created", subscription, created=T0) == "applied"
    view = billing_view(client, practice.token())
    assert (view["plan"], view["status"], view["interval"]) == ("PROFESSIONAL", "ACTIVE", "yearly")
    start = time.gmtime(subscription["current_period_start"])
    assert view["currentPeriodStart"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", start))
    assert view["currentPeriodEnd"] > view["currentPeriodStart"]
    changes = audit_entries("SUBSCRIPTION_CHANGED")
    assert len(changes) == 1 and changes[0].user_id is None  # the second event changed nothing
    assert changes[0].metadata["from"]["plan"] == "FREE_TRIAL"
    assert changes[0].metadata["to"] == {"plan": "PROFESSIONAL", "status": "ACTIVE", "interval": "yearly",
                                         "cancelAtPeriodEnd": False}
    assert changes[0].metadata["event"] == "checkout.session.completed"


@pytest.mark.parametrize("forgery", ["no_signature", "wrong_secret", "body_changed", "old_timestamp",
                                     "garbage_header"])
def test_forged_or_stale_deliveries_are_refused_and_change_nothing(client, paying, forgery):
    practice, subscription = paying
    cancelled = event("customer.subscription.deleted", {**subscription, "status": "canceled"},
                      created=T0 + 10)
    body, headers = signed(cancelled, WEBHOOK_SECRET)
    if forgery == "no_signature":
        headers.pop("Stripe-Signature")
    elif forgery == "wrong_secret":
        body, headers = signed(cancelled, "whsec_someone_else")
    elif forgery == "body_changed":
        body = body.replace(b'"canceled"', b'"cancelled"')
    elif forgery == "old_timestamp":
        body, headers = signed(cancelled, WEBHOOK_SECRET, timestamp=int(time.time()) - 600)
    else:
        headers["Stripe-Signature"] = "t=abc,v1=="
    before = (row_counts(), _state(practice.practice_id), StripeEvent.select().count())
    result = deliver(client, body, headers=headers)
    assert_error(result, 400, "invalid_signature")
    assert (row_counts(), _state(practice.practice_id), StripeEvent.select().count()) == before


def test_a_signed_but_malformed_event_is_a_400(client, paying):
    before = StripeEvent.select().count()
    no_object = {"id": "evt_x", "type": "invoice.paid", "created": T0}
    assert_error(deliver(client, no_object), 400, "invalid_event")
    assert_error(deliver(client, b"[1, 2]"), 400, "invalid_signature")
    assert StripeEvent.select().count() == before


def test_a_replayed_event_takes_effect_once(client, stripe_stub, paying):
    practice, subscription = paying
    invoice = stripe_stub.latest_invoice(subscription["id"])
    paid = event("invoice.paid", invoice, created=T0 + 5)
    first = deliver(client, paid)
    assert first.status_code == 200 and first.json["outcome"] == "applied"
    replay = deliver(client, paid)
    assert replay.status_code == 200 and replay.json == {"received": True, "outcome": "duplicate"}
    # The same invoice in another event (Stripe sends invoice.paid and e.g. a retry) pays once too.
    assert deliver_ok(client, "invoice.paid", invoice, created=T0 + 6) == "applied"
    [payment] = payments_of(practice.practice_id)
    assert (payment.stripe_invoice_id, payment.amount_cents, payment.currency, payment.plan) == (
        invoice["id"], PRICES["price_starter_monthly"][1], "eur", "STARTER")
    assert payment.stripe_subscription_id == subscription["id"] and payment.refunded_cents == 0
    assert stripe_event(paid["id"]).outcome == "applied"


def test_concurrent_deliveries_of_one_event_apply_it_once(client, paying):
    practice, subscription = paying
    professional = _with_price(subscription, PRICES["price_professional_monthly"][0])
    updated = event("customer.subscription.updated", professional, created=T0 + 5)
    body, headers = signed(updated, WEBHOOK_SECRET)
    outcomes: list[tuple[int, str]] = []
    start = threading.Barrier(5)

    def send() -> None:
        start.wait()
        result = deliver(client, body, headers=headers)
        outcomes.append((result.status_code, (result.json or {}).get("outcome")))

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == [(200, "applied")] + [(200, "duplicate")] * 4
    assert _state(practice.practice_id)[0] == "PROFESSIONAL"
    changes = [e for e in audit_entries("SUBSCRIPTION_CHANGED") if e.metadata["event"].endswith("updated")]
    assert len(changes) == 1


def test_an_older_event_never_overwrites_newer_state(client, paying):
    practice, subscription = paying
    professional = _with_price(subscription, PRICES["price_professional_monthly"][0])
    assert deliver_ok(client, "customer.subscription.updated", professional, created=T0 + 20) == "applied"
    starter_again = _with_price(subscription, PRICES["price_starter_yearly"][0])
    assert deliver_ok(client, "customer.subscription.updated", starter_again, created=T0 + 10) == "stale"
    assert _state(practice.practice_id) == ("PROFESSIONAL", "ACTIVE", "monthly", T0 + 20)

    deleted = {**professional, "status": "canceled"}
    assert deliver_ok(client, "customer.subscription.deleted", deleted, created=T0 + 40) == "applied"
    assert deliver_ok(client, "customer.subscription.updated", professional, created=T0 + 30) == "stale"
    assert deliver_ok(client, "invoice.payment_failed", {"customer": subscription["customer"],
                                                          "subscription": subscription["id"]},
                      created=T0 + 35) == "stale"
    assert _state(practice.practice_id) == ("PROFESSIONAL", "CANCELLED", "monthly", T0 + 40)
    # An older checkout completion arriving last changes nothing either.
    session = {"object": "checkout.session", "mode": "subscription", "customer": subscription["customer"],
               "subscription": subscription["id"], "payment_status": "paid",
               "client_reference_id": practice.practice_id,
               "metadata": {"plan": "STARTER", "interval": "monthly"}}
    assert deliver_ok(client, "checkout.session.completed", session, created=T0 + 1) == "stale"
    assert _state(practice.practice_id)[1] == "CANCELLED"


def test_unknown_types_customers_and_prices_are_acknowledged_and_logged(client, paying, caplog):
    practice, subscription = paying
    before = _state(practice.practice_id)
    caplog.set_level(logging.INFO, logger="appliance.billing")
    unknown_price = _with_price(subscription, "price_from_another_product")
    stranger = {**subscription, "customer": "cus_not_ours"}
    cases = [
        ("charge.dispute.created", {"id": "dp_1"}, "ignored:unhandled_type"),
        ("customer.subscription.updated", unknown_price, "ignored:unknown_price"),
        ("customer.subscription.updated", stranger, "ignored:unknown_customer"),
        ("invoice.paid", {"id": "in_1", "customer": "cus_not_ours", "amount_paid": 100, "currency": "eur"},
         "ignored:unknown_customer"),
    ]
    for kind, obj, outcome in cases:
        delivered = event(kind, obj, created=T0 + 50)
        result = deliver(client, delivered)
        assert result.status_code == 200 and result.json["outcome"] == outcome, (kind, result.text)
        assert stripe_event(delivered["id"]).outcome == outcome
    assert _state(practice.practice_id) == before
    logged = {(r.levelname, getattr(r, "outcome", None)) for r in caplog.records if r.msg == "stripe event"}
    assert ("WARNING", "ignored:unknown_price") in logged and ("INFO", "ignored:unhandled_type") in logged
    assert practice.practice["contactEmail"] not in caplog.text


def test_a_failed_payment_is_past_due_until_an_invoice_is_paid(client, stripe_stub, paying):
    practice, subscription = paying
    invoice = stripe_stub.latest_invoice(subscription["id"])
    failed = {**invoice, "id": "in_failed_renewal", "status": "open", "amount_paid": 0}
    assert deliver_ok(client, "invoice.payment_failed", failed, created=T0 + 100) == "applied"
    assert billing_view(client, practice.token())["status"] == "PAST_DUE"
    # Grace time: staff keep working while Stripe retries the payment.
    assert call(client, "GET", "/api/patients", token=practice.token()).status_code == 200
    create_consent(client, practice)
    paid = {**failed, "status": "paid", "amount_paid": 4900}
    assert deliver_ok(client, "invoice.paid", paid, created=T0 + 200) == "applied"
    assert billing_view(client, practice.token())["status"] == "ACTIVE"
    assert {p.stripe_invoice_id for p in payments_of(practice.practice_id)} == {"in_failed_renewal"}
    statuses = [(e.metadata["from"]["status"], e.metadata["to"]["status"])
                for e in audit_entries("SUBSCRIPTION_CHANGED")][-2:]
    assert statuses == [("ACTIVE", "PAST_DUE"), ("PAST_DUE", "ACTIVE")]


def test_a_deleted_subscription_ends_staff_work_and_a_new_checkout_starts_over(client, stripe_stub, paying):
    practice, subscription = paying
    assert deliver_ok(client, "customer.subscription.deleted", {**subscription, "status": "canceled"},
                      created=T0 + 10) == "applied"
    assert_error(call(client, "GET", "/api/patients", token=practice.token()), 402, "subscription_required")
    assert billing_view(client, practice.token())["status"] == "CANCELLED"
    again = checkout(client, practice.token(), "STARTER", "monthly")
    assert again.status_code == 200 and again.json["mode"] == "checkout"
    session, renewed = stripe_stub.complete_checkout(session_id_of(again.json["url"]))
    # The old subscription's late news is not about the practice's current subscription.
    assert deliver_ok(client, "customer.subscription.created", renewed, created=T0 + 20) == "applied"
    assert deliver_ok(client, "customer.subscription.deleted", {**subscription, "status": "canceled"},
                      created=T0 + 30) == "ignored:other_subscription"
    assert deliver_ok(client, "checkout.session.completed", session, created=T0 + 20) == "applied"
    row = subscription_row(practice.practice_id)
    assert (row.status, row.stripe_subscription_id) == ("ACTIVE", renewed["id"])
    assert call(client, "GET", "/api/patients", token=practice.token()).status_code == 200


def test_the_current_api_shape_with_prices_and_item_periods_is_understood(client, paying):
    practice, subscription = paying
    modern = {
        "id": subscription["id"], "object": "subscription", "customer": subscription["customer"],
        "status": "active", "cancel_at_period_end": True,
        "items": {"object": "list", "data": [{
            "id": "si_modern", "object": "subscription_item",
            "price": {"id": PRICES["price_professional_yearly"][0], "object": "price"},
            "current_period_start": 1_800_000_000, "current_period_end": 1_831_536_000,
        }]},
    }
    assert deliver_ok(client, "customer.subscription.updated", modern, created=T0 + 60) == "applied"
    view = billing_view(client, practice.token())
    assert (view["plan"], view["interval"], view["cancelAtPeriodEnd"]) == ("PROFESSIONAL", "yearly", True)
    assert (view["currentPeriodStart"], view["currentPeriodEnd"]) == ("2027-01-15T08:00:00.000Z",
                                                                      "2028-01-15T08:00:00.000Z")
    invoice = {"id": "in_modern", "object": "invoice", "customer": subscription["customer"],
               "amount_paid": 99000, "currency": "eur",
               "status_transitions": {"paid_at": 1_800_000_100},
               "parent": {"type": "subscription_details",
                          "subscription_details": {"subscription": subscription["id"]}},
               "lines": {"data": [{"pricing": {"price_details": {
                   "price": PRICES["price_professional_yearly"][0]}}}]}}
    assert deliver_ok(client, "invoice.paid", invoice, created=T0 + 61) == "applied"
    payment = next(p for p in payments_of(practice.practice_id) if p.stripe_invoice_id == "in_modern")
    assert (payment.plan, payment.amount_cents, payment.stripe_subscription_id) == (
        "PROFESSIONAL", 99000, subscription["id"])
    assert payment.paid_at.isoformat() == "2027-01-15T08:01:40"


def test_events_for_one_practice_never_touch_another(client, stripe_stub):
    first, second = team(client), team(client)
    subscription = subscribe(client, stripe_stub, first.token(), created=T0)
    assert checkout(client, second.token()).status_code == 200
    assert deliver_ok(client, "customer.subscription.deleted", {**subscription, "status": "canceled"},
                      created=T0 + 1) == "applied"
    assert subscription_row(first.practice_id).status == "CANCELLED"
    # A completed checkout of one practice's customer that names another practice is not applied.
    session = {"object": "checkout.session", "mode": "subscription", "payment_status": "paid",
               "customer": subscription_row(second.practice_id).stripe_customer_id,
               "subscription": "sub_elsewhere", "client_reference_id": first.practice_id,
               "metadata": {"plan": "STARTER", "interval": "monthly"}}
    outcome = deliver_ok(client, "checkout.session.completed", session, created=T0 + 2)
    assert outcome == "ignored:practice_mismatch"
    assert _state(second.practice_id)[:2] == ("FREE_TRIAL", "TRIALING")


def test_one_address_gets_sixty_deliveries_a_minute(client, clock):
    """Stripe retries a 429 later; a flood from one address stops at the limiter."""
    flood, other = fresh_ip(), fresh_ip()
    body = b'{"id": "evt_flood", "type": "invoice.paid"}'
    headers = {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"}

    def send(ip: str):
        return client.simulate_post("/api/billing/webhook", body=body, headers=headers, remote_addr=ip)

    assert {send(flood).status_code for _ in range(60)} == {400}
    limited = send(flood)
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert send(other).status_code == 400
    clock.advance(seconds=60)
    assert send(flood).status_code == 400
