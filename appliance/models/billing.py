"""Billing: a practice's subscription, the Stripe events already handled, and payments."""

from __future__ import annotations

import peewee

from appliance.models.base import BaseModel, TenantModel


class Subscription(TenantModel):
    """At most one per practice; a practice without one is in its free trial."""

    plan = peewee.TextField()
    billing_interval = peewee.TextField(null=True)
    status = peewee.TextField()
    trial_ends_at = peewee.DateTimeField()
    current_period_start = peewee.DateTimeField(null=True)
    current_period_end = peewee.DateTimeField(null=True)
    cancel_at_period_end = peewee.BooleanField(default=False)
    stripe_customer_id = peewee.TextField(null=True, unique=True)
    stripe_subscription_id = peewee.TextField(null=True)
    #: `created` (epoch seconds) of the newest subscription event applied.
    last_event_created = peewee.BigIntegerField(null=True)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()


class StripeEvent(BaseModel):
    """A verified Stripe event that was handled; its unique id makes redeliveries no-ops."""

    event_id = peewee.TextField(unique=True)
    type = peewee.TextField()
    created = peewee.BigIntegerField()
    outcome = peewee.TextField()
    processed_at = peewee.DateTimeField()


class Payment(TenantModel):
    """One paid Stripe invoice: what the practice paid, for revenue figures."""

    stripe_invoice_id = peewee.TextField(unique=True)
    stripe_subscription_id = peewee.TextField(null=True)
    plan = peewee.TextField(null=True)
    amount_cents = peewee.BigIntegerField()
    refunded_cents = peewee.BigIntegerField(default=0)
    currency = peewee.TextField()
    paid_at = peewee.DateTimeField()
    created_at = peewee.DateTimeField()
