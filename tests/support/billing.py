"""Helpers for the billing tests: settings against the Stripe stub, signed webhook deliveries,
a practice that pays through Checkout, and the rows behind the billing API."""

from __future__ import annotations

import uuid
from typing import Any

import falcon.testing

from appliance import tenancy
from appliance.models import Payment, StripeEvent, Subscription
from tests.support.api import call, fresh_ip
from tests.support.stripe_stub import StripeStub, event, signed

SECRET_KEY = "sk_test_appliance_billing"
WEBHOOK_SECRET = "whsec_test_appliance_billing_0123456789"
#: setting -> (Stripe price id, amount in cents, Stripe interval). ENTERPRISE is not offered.
PRICES = {
    "price_starter_monthly": ("price_test_starter_monthly", 4900, "month"),
    "price_starter_yearly": ("price_test_starter_yearly", 49000, "year"),
    "price_professional_monthly": ("price_test_professional_monthly", 9900, "month"),
    "price_professional_yearly": ("price_test_professional_yearly", 99000, "year"),
}
SUCCESS_URL = "https://consent.example.test/billing?checkout=success"
CANCEL_URL = "https://consent.example.test/billing?checkout=cancelled"
RETURN_URL = "https://consent.example.test/billing"


def billing_section(stub: StripeStub, **overrides: Any) -> dict[str, Any]:
    """The `billing` settings of an appliance whose Stripe is the stub."""
    for price_id, amount, interval in PRICES.values():
        stub.ensure_price(price_id, amount, interval)
    return {
        "stripe_secret_key": SECRET_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": stub.api_base,
        **{key: price_id for key, (price_id, _, _) in PRICES.items()},
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "portal_return_url": RETURN_URL,
        "request_timeout": 2,
        **overrides,
    }


def deliver(client: falcon.testing.TestClient, payload: dict | bytes, *, secret: str = WEBHOOK_SECRET,
            timestamp: int | None = None, headers: dict[str, str] | None = None) -> falcon.testing.Result:
    """POSTs a webhook delivery signed with `secret` (headers= replaces the signed ones)."""
    body, signed_headers = signed(payload, secret, timestamp=timestamp)
    return client.simulate_post("/api/billing/webhook", body=body,
                                headers=headers if headers is not None else signed_headers,
                                remote_addr=fresh_ip())


def deliver_ok(client: falcon.testing.TestClient, kind: str, obj: dict, **options: Any) -> str:
    """Delivers one event and returns the outcome the webhook reported."""
    result = deliver(client, event(kind, obj, **options))
    assert result.status_code == 200, result.text
    return result.json["outcome"]


def checkout(client: falcon.testing.TestClient, token: str, plan: str = "STARTER",
             interval: str = "monthly") -> falcon.testing.Result:
    return call(client, "POST", "/api/billing/checkout", token=token,
                json={"plan": plan, "interval": interval})


def session_id_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def subscribe(client: falcon.testing.TestClient, stub: StripeStub, token: str, plan: str = "STARTER",
              interval: str = "monthly", *, created: int = 1_800_000_000) -> dict:
    """The ADMIN pays through Checkout and Stripe tells the appliance, as in production:
    checkout.session.completed and customer.subscription.created. Returns the subscription."""
    result = checkout(client, token, plan, interval)
    assert result.status_code == 200 and result.json["mode"] == "checkout", result.text
    session, subscription = stub.complete_checkout(session_id_of(result.json["url"]))
    assert deliver_ok(client, "checkout.session.completed", session, created=created) == "applied"
    assert deliver_ok(client, "customer.subscription.created", subscription, created=created) == "applied"
    return subscription


def billing_view(client: falcon.testing.TestClient, token: str) -> dict:
    result = call(client, "GET", "/api/billing/subscription", token=token)
    assert result.status_code == 200, result.text
    return result.json


# --- rows behind the API -------------------------------------------------------------------


def subscription_row(practice_id: str) -> Subscription | None:
    with tenancy.unscoped("test inspection"):
        return Subscription.get_or_none(Subscription.practice_id == uuid.UUID(practice_id))


def payments_of(practice_id: str) -> list[Payment]:
    with tenancy.unscoped("test inspection"):
        return list(Payment.select().where(Payment.practice_id == uuid.UUID(practice_id)))


def stripe_event(event_id: str) -> StripeEvent | None:
    return StripeEvent.get_or_none(StripeEvent.event_id == event_id)
