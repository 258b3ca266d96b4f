"""Billing endpoints: the ADMIN's subscription, checkout and portal, and Stripe's webhook."""

from __future__ import annotations

import falcon

from appliance.billing.plans import INTERVALS, PAID_PLANS, PLANS, STATUSES
from appliance.http.body import json_body, read_raw
from appliance.http.operation import ADMIN, operation, roles
from appliance.resources.auth import caller
from appliance.resources.schemas import TIMESTAMP, obj
from appliance.services.billing import Billing

TAGS = ("Billing",)
ADMIN_ONLY = roles(ADMIN)
NULLABLE_TS = {"type": ["string", "null"], "format": "date-time"}
LIMIT = {"type": ["integer", "null"], "minimum": 0, "description": "null: unlimited"}
DISABLED = "billing is not configured on this appliance (billing_disabled)"
PROVIDER_ERRORS = {
    502: "Stripe refused the request: the billing configuration needs checking (payment_provider_error)",
    503: "Stripe cannot be reached; nothing was changed (payment_provider_unavailable)",
}
OFFER = obj(["plan", "interval"], {"plan": {"enum": list(PAID_PLANS)}, "interval": {"enum": list(INTERVALS)}})
SUBSCRIPTION = obj(
    ["plan", "status", "interval", "trialEndsAt", "currentPeriodStart", "currentPeriodEnd",
     "cancelAtPeriodEnd", "hasBillingAccount", "usage", "offered"],
    {
        "plan": {"enum": list(PLANS)},
        "status": {"enum": list(STATUSES)},
        "interval": {"enum": [*INTERVALS, None]},
        "trialEndsAt": TIMESTAMP,
        "currentPeriodStart": NULLABLE_TS,
        "currentPeriodEnd": NULLABLE_TS,
        "cancelAtPeriodEnd": {"type": "boolean"},
        "hasBillingAccount": {"type": "boolean"},
        "usage": obj(
            ["from", "to", "consents", "consentLimit", "members", "memberLimit"],
            {"from": TIMESTAMP, "to": TIMESTAMP, "consents": {"type": "integer"}, "consentLimit": LIMIT,
             "members": {"type": "integer"}, "memberLimit": LIMIT},
        ),
        "offered": {"type": "array", "items": OFFER},
    },
)
CHECKOUT = obj(
    ["mode", "url", "plan", "interval"],
    {"mode": {"enum": ["checkout", "plan_change"]}, "url": {"type": ["string", "null"]},
     "plan": {"enum": list(PAID_PLANS)}, "interval": {"enum": list(INTERVALS)}},
)


class BillingSubscription:
    def __init__(self, billing: Billing):
        self._billing = billing

    @operation(
        "The practice's plan, status and this month's usage against the plan's limits",
        roles=ADMIN_ONLY, tags=TAGS, response=SUBSCRIPTION, errors={404: DISABLED},
        description="Usage counts the consent forms created in the current calendar month (in the"
        " practice's time zone) and the team's members. `offered` lists what a checkout accepts.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._billing.subscription(req.context.principal)


class BillingCheckout:
    def __init__(self, billing: Billing):
        self._billing = billing

    @operation(
        "Start a Stripe Checkout for a plan, or change the plan of the live subscription",
        roles=ADMIN_ONLY, tags=TAGS, request=OFFER, response=CHECKOUT,
        errors={400: "invalid, or the plan is not offered with this interval (plan_not_offered)",
                404: DISABLED, 409: "the practice already has this plan (already_on_plan)",
                **PROVIDER_ERRORS},
        description="Without a live subscription: creates the Stripe customer when missing and a"
        " Checkout Session in subscription mode; `url` is where the ADMIN pays. The practice's"
        " other open Checkout Sessions are expired, so it never pays for two subscriptions. With"
        " one: the subscription moves to the new price (`mode` plan_change, no URL); the change"
        " shows once Stripe confirms it by webhook.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req)
        resp.media = self._billing.checkout(req.context.principal, body["plan"], body["interval"],
                                            caller(req))


class BillingPortal:
    def __init__(self, billing: Billing):
        self._billing = billing

    @operation(
        "A Stripe Customer Portal session: payment methods, invoices, cancellation",
        roles=ADMIN_ONLY, tags=TAGS, response=obj(["url"], {"url": {"type": "string"}}),
        errors={404: f"the practice has no Stripe customer yet (no_billing_account); or {DISABLED}",
                **PROVIDER_ERRORS},
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._billing.portal(req.context.principal)


#: Per client address; Stripe retries a 429 later with back-off, so nothing is lost.
WEBHOOK_RATE_LIMIT = "webhook"


class BillingWebhook:
    def __init__(self, billing: Billing):
        self._billing = billing

    @operation(
        "Stripe webhook: checkout, subscription and invoice events",
        auth="public", rate_limit=WEBHOOK_RATE_LIMIT, tags=TAGS, request_media="application/json",
        response=obj(["received", "outcome"], {"received": {"const": True}, "outcome": {"type": "string"}}),
        errors={400: "the Stripe-Signature does not verify the body (invalid_signature), or the event"
                     " is malformed (invalid_event); nothing was changed",
                404: DISABLED, 411: "no Content-Length", 413: "the body is too large"},
        description="The body is verified byte for byte against `Stripe-Signature` with the"
        " configured webhook secret (signatures older than 5 minutes are refused). Each event id"
        " takes effect once; an event older than the newest one applied does not overwrite its"
        " state. Unknown event types, customers and prices are acknowledged (200, see `outcome`)"
        " and logged.",
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        # The raw bytes, before any JSON parsing: the signature covers exactly these.
        payload = read_raw(req, req.context.max_body)
        resp.media = self._billing.webhook(payload, req.get_header("Stripe-Signature"), caller(req))
