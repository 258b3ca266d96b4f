"""The only module that talks to Stripe: a small interface over the `stripe` SDK.

Every call has a timeout per attempt and is retried by the SDK (network errors, 409, 5xx)
with the same idempotency key, so a retry never creates a second customer or session. What
leaves this module are plain strings and dicts, and three kinds of failure the service can
answer: Stripe unreachable (503), Stripe refusing the request (502), and a webhook that
fails verification (400).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

MAX_RETRIES = 2
#: Seconds a webhook signature stays valid (Stripe's own default): older replays are refused.
SIGNATURE_TOLERANCE = 300


class ProviderUnavailable(Exception):
    """Stripe did not answer in time, could not be reached, or failed on its side."""


class ProviderRejected(Exception):
    """Stripe refused the request (unknown price or customer, wrong key): a configuration matter."""


class InvalidWebhook(Exception):
    """The body does not carry a valid, recent Stripe signature for the configured secret."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


class PaymentGateway(Protocol):
    def create_customer(self, practice_id: uuid.UUID, name: str, email: str) -> str: ...

    def create_checkout_session(self, *, customer_id: str, price_id: str, practice_id: uuid.UUID,
                                plan: str, interval: str, success_url: str,
                                cancel_url: str) -> CheckoutSession: ...

    def expire_other_checkout_sessions(self, customer_id: str, keep: CheckoutSession) -> None: ...

    def create_portal_session(self, customer_id: str, return_url: str) -> str: ...

    def change_subscription_plan(self, subscription_id: str, price_id: str) -> None: ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict: ...


def _idempotency_key(purpose: str) -> str:
    return f"appliance-{purpose}-{uuid.uuid4()}"


def _sdk() -> ModuleType:
    """The SDK (and aiohttp with it) is imported on first use: with billing off, the default,
    no worker pays for it at start-up or in memory."""
    import stripe

    return stripe


class StripeGateway:
    def __init__(self, secret_key: str, webhook_secret: str, *, api_base: str = "", timeout: float = 10,
                 max_retries: int = MAX_RETRIES):
        stripe = _sdk()
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=max_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self._webhook_secret = webhook_secret

    @staticmethod
    def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        stripe = _sdk()
        try:
            return method(*args, **kwargs)
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from exc
        except stripe.StripeError as exc:
            if exc.http_status is None or exc.http_status >= 500:
                raise ProviderUnavailable(type(exc).__name__) from exc
            # The message may quote request parameters; the code and status are enough.
            raise ProviderRejected(f"{exc.http_status} {exc.code or type(exc).__name__}") from exc

    def create_customer(self, practice_id: uuid.UUID, name: str, email: str) -> str:
        """Keyed by the practice: two concurrent first checkouts get the same customer."""
        customer = self._call(
            self._client.v1.customers.create,
            {"name": name, "email": email, "metadata": {"practice_id": str(practice_id)}},
            {"idempotency_key": f"appliance-customer-{practice_id}"},
        )
        return customer.id

    def create_checkout_session(self, *, customer_id: str, price_id: str, practice_id: uuid.UUID,
                                plan: str, interval: str, success_url: str,
                                cancel_url: str) -> CheckoutSession:
        metadata = {"practice_id": str(practice_id), "plan": plan, "interval": interval}
        session = self._call(
            self._client.v1.checkout.sessions.create,
            {
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": str(practice_id),
                "line_items": [{"price": price_id, "quantity": 1}],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": metadata,
                "subscription_data": {"metadata": {"practice_id": str(practice_id)}},
            },
            {"idempotency_key": _idempotency_key("checkout")},
        )
        return CheckoutSession(session.id, session.url)

    def expire_other_checkout_sessions(self, customer_id: str, keep: CheckoutSession) -> None:
        """Expires the customer's open Checkout Sessions but `keep`, so that a practice never
        has two it could pay: two subscriptions. (Stripe dates sessions to the second, so the
        older of two cannot be told; two checkouts started at once may expire each other, and
        the next attempt works.) A session that completed or expired meanwhile is skipped."""
        listed = self._call(self._client.v1.checkout.sessions.list,
                            {"customer": customer_id, "status": "open", "limit": 100}).to_dict()["data"]
        for session in listed:
            if session["id"] == keep.id:
                continue
            with contextlib.suppress(ProviderRejected):  # no longer open since it was listed
                self._call(self._client.v1.checkout.sessions.expire, session["id"], None,
                           {"idempotency_key": f"appliance-expire-{session['id']}"})

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        session = self._call(
            self._client.v1.billing_portal.sessions.create,
            {"customer": customer_id, "return_url": return_url},
            {"idempotency_key": _idempotency_key("portal")},
        )
        return session.url

    def change_subscription_plan(self, subscription_id: str, price_id: str) -> None:
        """Swaps the subscription's one item to the new price; Stripe prorates by default."""
        current = self._call(self._client.v1.subscriptions.retrieve, subscription_id).to_dict()
        item_id = current["items"]["data"][0]["id"]
        self._call(
            self._client.v1.subscriptions.update,
            subscription_id,
            {"items": [{"id": item_id, "price": price_id}]},
            {"idempotency_key": _idempotency_key("plan-change")},
        )

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict:
        """The event as a plain dict, once its signature and timestamp were checked."""
        stripe = _sdk()
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"), signature, self._webhook_secret, SIGNATURE_TOLERANCE
            )
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidWebhook(type(exc).__name__) from exc
        if not isinstance(event, dict):
            raise InvalidWebhook("not a JSON object")
        return event
