"""Billing use cases: the practice's subscription, Stripe Checkout and Customer Portal, and the
Stripe webhook that keeps the local subscription in step with Stripe.

Stripe is never called inside a database transaction: a slow or unreachable Stripe holds no
locks, and when it fails (503) nothing was written. Webhooks act on the event payload (no call
back to Stripe); each event id takes effect once, and `last_event_created` keeps an older
subscription event from overwriting what a newer one said.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

import peewee

from appliance import tenancy
from appliance.billing import plans
from appliance.billing.enforcement import PlanEnforcement
from appliance.billing.stripe_gateway import (
    InvalidWebhook,
    PaymentGateway,
    ProviderRejected,
    ProviderUnavailable,
)
from appliance.clock import Clock, isoformat
from appliance.db import engine_of
from appliance.http.errors import ApiError, bad_request, conflict
from appliance.models import Payment, Practice, StripeEvent, Subscription
from appliance.principal import Principal
from appliance.services.accounts import Caller
from appliance.services.audit import Audit
from appliance.settings import BillingSection

log = logging.getLogger("appliance.billing")
SUBSCRIPTION_EVENTS = ("customer.subscription.created", "customer.subscription.updated",
                       "customer.subscription.deleted")
#: Outcomes that need an operator's look (configuration or data drift), logged as warnings.
NOTABLE = ("ignored:unknown_customer", "ignored:unknown_price", "ignored:other_subscription",
           "ignored:practice_mismatch", "ignored:malformed")


def _timestamp(epoch: Any) -> dt.datetime | None:
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


def _id_of(value: Any) -> str | None:
    """A Stripe reference is an id, or the object itself when it was expanded."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _first_item(sub: dict) -> dict:
    items = (sub.get("items") or {}).get("data") or [{}]
    return items[0] if isinstance(items[0], dict) else {}


def _price_of(sub: dict) -> str | None:
    item = _first_item(sub)
    return _id_of(item.get("price")) or _id_of(item.get("plan")) or _id_of(sub.get("plan"))


def _period_of(sub: dict) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Current API versions keep the period on the item, older ones on the subscription."""
    item = _first_item(sub)
    start = item.get("current_period_start", sub.get("current_period_start"))
    end = item.get("current_period_end", sub.get("current_period_end"))
    return _timestamp(start), _timestamp(end)


def _invoice_subscription(invoice: dict) -> str | None:
    details = ((invoice.get("parent") or {}).get("subscription_details") or {})
    return _id_of(details.get("subscription")) or _id_of(invoice.get("subscription"))


def _invoice_price(invoice: dict) -> str | None:
    for line in (invoice.get("lines") or {}).get("data") or []:
        pricing = (line.get("pricing") or {}).get("price_details") or {}
        price = _id_of(pricing.get("price")) or _id_of(line.get("price")) or _id_of(line.get("plan"))
        if price:
            return price
    return None


def _event_parts(event: dict) -> tuple[str, str, int, dict]:
    event_id, kind, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 255 and isinstance(kind, str)
            and isinstance(created, int) and not isinstance(created, bool) and isinstance(obj, dict)):
        raise bad_request("the event lacks id, type, created or data.object", code="invalid_event")
    return event_id, kind, created, obj


def _is_live(row: Subscription) -> bool:
    return row.plan != plans.FREE_TRIAL and row.status in plans.WORKING_STATUSES


class Billing:
    def __init__(self, database: peewee.Database, audit: Audit, clock: Clock, settings: BillingSection,
                 gateway: PaymentGateway | None, enforcement: PlanEnforcement | None):
        self._db = database
        self._postgres = engine_of(database) == "postgresql"
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._gateway = gateway
        self._enforcement = enforcement
        self._prices = plans.PriceList(settings)
        self._handlers: dict[str, Callable[[str, str, int, dict, Caller], str]] = {
            "checkout.session.completed": self._on_checkout_completed,
            **dict.fromkeys(SUBSCRIPTION_EVENTS, self._on_subscription),
            "invoice.paid": self._on_invoice_paid,
            "invoice.payment_failed": self._on_payment_failed,
        }

    def _require_enabled(self) -> tuple[PaymentGateway, PlanEnforcement]:
        if self._gateway is None or self._enforcement is None:
            raise ApiError(404, "billing_disabled", "billing is not configured on this appliance")
        return self._gateway, self._enforcement

    @staticmethod
    def _provider(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A Stripe call, its failures answered for the client; nothing local changed yet."""
        try:
            return call(*args, **kwargs)
        except ProviderUnavailable as exc:
            log.warning("stripe unavailable", extra={"reason": str(exc)})
            raise ApiError(503, "payment_provider_unavailable",
                           "the payment provider cannot be reached; try again shortly",
                           headers={"Retry-After": "30"}) from exc
        except ProviderRejected as exc:
            log.error("stripe refused a request", extra={"reason": str(exc)})
            raise ApiError(502, "payment_provider_error",
                           "the payment provider refused the request; the billing configuration"
                           " needs checking") from exc

    # ----- the ADMIN's side (inside the practice scope) -----

    def subscription(self, principal: Principal) -> dict:
        _, enforcement = self._require_enabled()
        practice = Practice.get_by_id(principal.practice_id)
        standing = enforcement.standing(practice.id)
        limits = standing.limits
        month_start, month_end = plans.month_bounds(self._clock.now(), practice.timezone)
        return {
            "plan": standing.plan,
            "status": standing.status,
            "interval": standing.interval,
            "trialEndsAt": isoformat(standing.trial_ends_at),
            "currentPeriodStart": isoformat(standing.current_period_start),
            "currentPeriodEnd": isoformat(standing.current_period_end),
            "cancelAtPeriodEnd": standing.cancel_at_period_end,
            "hasBillingAccount": standing.stripe_customer_id is not None,
            "usage": {
                "from": isoformat(month_start),
                "to": isoformat(month_end),
                "consents": enforcement.consents_this_month(practice),
                "consentLimit": limits.consents_per_month,
                "members": enforcement.members(practice.id),
                "memberLimit": limits.members,
            },
            "offered": self._prices.offered(),
        }

    def checkout(self, principal: Principal, plan: str, interval: str, caller: Caller) -> dict:
        """A Checkout Session for a new subscription, or a plan change of the live one."""
        gateway, enforcement = self._require_enabled()
        price = self._prices.price_for(plan, interval)
        if price is None:
            raise bad_request("this plan is not offered with this interval",
                              [{"field": "plan", "problem": f"{plan} is not offered {interval}"}],
                              code="plan_not_offered")
        practice = Practice.get_by_id(principal.practice_id)
        standing = enforcement.standing(practice.id)
        if standing.live_subscription:
            if (standing.plan, standing.interval) == (plan, interval):
                raise conflict("already_on_plan", "the practice already has this plan")
            self._provider(gateway.change_subscription_plan, standing.stripe_subscription_id, price)
            with self._db.atomic():
                self._audit.record(
                    "SUBSCRIPTION_CHANGED", ip=caller.ip, user_id=principal.user_id,
                    practice_id=practice.id, entity_type="practice", entity_id=practice.id,
                    metadata={"change": "plan_change_requested",
                              "from": {"plan": standing.plan, "interval": standing.interval},
                              "to": {"plan": plan, "interval": interval}},
                )
            return {"mode": "plan_change", "url": None, "plan": plan, "interval": interval}
        customer_id = standing.stripe_customer_id or self._create_customer(gateway, practice)
        session = self._provider(
            gateway.create_checkout_session, customer_id=customer_id, price_id=price,
            practice_id=practice.id, plan=plan, interval=interval,
            success_url=self._settings.success_url, cancel_url=self._settings.cancel_url,
        )
        try:
            gateway.expire_other_checkout_sessions(customer_id, session)
        except (ProviderUnavailable, ProviderRejected) as exc:
            # The new session works; an older one left open could still be paid as well.
            log.warning("older checkout sessions were not expired", extra={"reason": str(exc)})
        return {"mode": "checkout", "url": session.url, "plan": plan, "interval": interval}

    def _create_customer(self, gateway: PaymentGateway, practice: Practice) -> str:
        """Stored as soon as Stripe has it: it mirrors Stripe even if the session then fails."""
        customer_id = self._provider(gateway.create_customer, practice.id, practice.name,
                                     practice.contact_email)
        with self._db.atomic():
            row = self._row_of(practice)
            Subscription.update(stripe_customer_id=customer_id, updated_at=self._clock.now()).where(
                Subscription.id == row.id, Subscription.stripe_customer_id.is_null()
            ).execute()
            return Subscription.get_by_id(row.id).stripe_customer_id

    def _row_of(self, practice: Practice) -> Subscription:
        """The practice's subscription row, made (as the trial) the first time it is needed."""
        now = self._clock.now()
        with tenancy.practice_scope(practice.id):
            Subscription.insert(
                id=uuid.uuid4(), practice_id=practice.id, plan=plans.FREE_TRIAL, status=plans.TRIALING,
                trial_ends_at=plans.trial_end(practice.created_at), created_at=now, updated_at=now,
            ).on_conflict_ignore().execute()
            return Subscription.get(Subscription.practice_id == practice.id)

    def portal(self, principal: Principal) -> dict:
        gateway, enforcement = self._require_enabled()
        customer_id = enforcement.standing(principal.practice_id).stripe_customer_id
        if customer_id is None:
            raise ApiError(404, "no_billing_account",
                           "the practice has no Stripe customer yet: start with a checkout")
        return {"url": self._provider(gateway.create_portal_session, customer_id,
                                      self._settings.portal_return_url)}

    # ----- the Stripe webhook (public: the signature is the credential) -----

    def webhook(self, payload: bytes, signature: str | None, caller: Caller) -> dict:
        gateway, _ = self._require_enabled()
        try:
            event = gateway.verify_webhook(payload, signature)
        except InvalidWebhook as exc:
            log.warning("stripe webhook refused", extra={"reason": str(exc)})
            raise ApiError(400, "invalid_signature",
                           "the Stripe-Signature header does not verify this body") from exc
        event_id, kind, created, obj = _event_parts(event)
        reason = "a Stripe event names its practice by the Stripe customer"
        try:
            with tenancy.unscoped(reason), self._db.atomic():
                if StripeEvent.select().where(StripeEvent.event_id == event_id).exists():
                    outcome = "duplicate"
                else:
                    handler = self._handlers.get(kind)
                    outcome = (handler(kind, event_id, created, obj, caller) if handler
                               else "ignored:unhandled_type")
                    StripeEvent.create(id=uuid.uuid4(), event_id=event_id, type=kind, created=created,
                                       outcome=outcome, processed_at=self._clock.now())
        except peewee.IntegrityError:
            # A concurrent delivery of the same event committed first; this one rolled back.
            with tenancy.unscoped(reason):
                if not StripeEvent.select().where(StripeEvent.event_id == event_id).exists():
                    raise
            outcome = "duplicate"
        log.log(logging.WARNING if outcome in NOTABLE else logging.INFO, "stripe event",
                extra={"event_id": event_id, "event_type": kind, "outcome": outcome})
        return {"received": True, "outcome": outcome}

    def _locked_row(self, customer: Any) -> Subscription | None:
        """The subscription row of a Stripe customer, locked until the transaction ends
        (SQLite: every transaction holds the write lock from BEGIN)."""
        customer_id = _id_of(customer)
        if customer_id is None:
            return None
        query = Subscription.select().where(Subscription.stripe_customer_id == customer_id)
        return (query.for_update() if self._postgres else query).first()

    def _change(self, row: Subscription, changes: dict, kind: str, event_id: str, caller: Caller) -> str:
        before = {"plan": row.plan, "status": row.status, "interval": row.billing_interval,
                  "cancelAtPeriodEnd": row.cancel_at_period_end}
        Subscription.update({**changes, "updated_at": self._clock.now()}).where(
            Subscription.id == row.id
        ).execute()
        fresh = Subscription.get_by_id(row.id)
        after = {"plan": fresh.plan, "status": fresh.status, "interval": fresh.billing_interval,
                 "cancelAtPeriodEnd": fresh.cancel_at_period_end}
        if after != before:
            self._audit.record(
                "SUBSCRIPTION_CHANGED", ip=caller.ip, practice_id=row.practice_id,
                entity_type="practice", entity_id=row.practice_id,
                metadata={"event": kind, "stripeEvent": event_id, "from": before, "to": after},
            )
        return "applied"

    def _on_checkout_completed(self, kind: str, event_id: str, created: int, session: dict,
                               caller: Caller) -> str:
        if session.get("mode") != "subscription":
            return "ignored:not_subscription"
        row = self._locked_row(session.get("customer"))
        if row is None:
            return "ignored:unknown_customer"
        if session.get("client_reference_id") not in (None, str(row.practice_id)):
            return "ignored:practice_mismatch"
        if row.last_event_created is not None and created < row.last_event_created:
            return "stale"
        subscription_id = _id_of(session.get("subscription"))
        if subscription_id is None:
            return "ignored:malformed"
        if row.stripe_subscription_id not in (None, subscription_id) and _is_live(row):
            return "ignored:other_subscription"
        metadata = session.get("metadata") or {}
        plan, interval = metadata.get("plan"), metadata.get("interval")
        if self._prices.price_for(plan, interval) is None:
            return "ignored:unknown_price"
        changes: dict[str, Any] = {"plan": plan, "billing_interval": interval,
                                   "stripe_subscription_id": subscription_id, "last_event_created": created}
        if row.stripe_subscription_id != subscription_id:
            changes.update(current_period_start=None, current_period_end=None, cancel_at_period_end=False)
        if session.get("payment_status") in ("paid", "no_payment_required"):
            changes["status"] = plans.ACTIVE
        return self._change(row, changes, kind, event_id, caller)

    def _on_subscription(self, kind: str, event_id: str, created: int, sub: dict, caller: Caller) -> str:
        row = self._locked_row(sub.get("customer"))
        if row is None:
            return "ignored:unknown_customer"
        if row.last_event_created is not None and created < row.last_event_created:
            return "stale"
        subscription_id = _id_of(sub)
        deleted = kind == "customer.subscription.deleted"
        if row.stripe_subscription_id != subscription_id and (
            deleted or (row.stripe_subscription_id is not None and _is_live(row))
        ):
            # An old subscription ending, or a second one beside the live one: not this practice's
            # current subscription, whose state it must not change.
            return "ignored:other_subscription"
        status = plans.CANCELLED if deleted else plans.STRIPE_STATUSES.get(sub.get("status"))
        if status is None:
            return "ignored:status"
        plan_interval = self._prices.plan_of(_price_of(sub))
        if plan_interval is None and not deleted:
            return "ignored:unknown_price"
        plan, interval = plan_interval or (row.plan, row.billing_interval)
        start, end = _period_of(sub)
        changes: dict[str, Any] = {
            "plan": plan, "billing_interval": interval, "status": status,
            "current_period_start": start, "current_period_end": end,
            "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
            "stripe_subscription_id": subscription_id, "last_event_created": created,
        }
        trial_end = _timestamp(sub.get("trial_end"))
        if status == plans.TRIALING and trial_end is not None:
            changes["trial_ends_at"] = trial_end
        return self._change(row, changes, kind, event_id, caller)

    def _on_invoice_paid(self, kind: str, event_id: str, created: int, invoice: dict, caller: Caller) -> str:
        """Records the payment (a fact, whatever the order); ends PAST_DUE of the current
        subscription. Invoice events carry no full state, so they do not move last_event_created."""
        row = self._locked_row(invoice.get("customer"))
        if row is None:
            return "ignored:unknown_customer"
        invoice_id, amount, currency = invoice.get("id"), invoice.get("amount_paid"), invoice.get("currency")
        if not (isinstance(invoice_id, str) and isinstance(amount, int) and amount >= 0
                and isinstance(currency, str)):
            return "ignored:malformed"
        subscription_id = _invoice_subscription(invoice)
        if amount > 0 and not Payment.select().where(Payment.stripe_invoice_id == invoice_id).exists():
            paid_plan = self._prices.plan_of(_invoice_price(invoice))
            paid_at = _timestamp((invoice.get("status_transitions") or {}).get("paid_at"))
            Payment.insert(
                id=uuid.uuid4(), practice_id=row.practice_id, stripe_invoice_id=invoice_id,
                stripe_subscription_id=subscription_id, plan=paid_plan[0] if paid_plan else row.plan,
                amount_cents=amount, currency=currency.lower(), paid_at=paid_at or _timestamp(created),
                created_at=self._clock.now(),
            ).execute()
        current = subscription_id is not None and subscription_id == row.stripe_subscription_id
        newest = row.last_event_created is None or created >= row.last_event_created
        if current and newest and row.status == plans.PAST_DUE:
            return self._change(row, {"status": plans.ACTIVE}, kind, event_id, caller)
        return "applied"

    def _on_payment_failed(self, kind: str, event_id: str, created: int, invoice: dict,
                           caller: Caller) -> str:
        row = self._locked_row(invoice.get("customer"))
        if row is None:
            return "ignored:unknown_customer"
        if row.last_event_created is not None and created < row.last_event_created:
            return "stale"
        if _invoice_subscription(invoice) != row.stripe_subscription_id or row.status != plans.ACTIVE:
            return "ignored:not_current"
        return self._change(row, {"status": plans.PAST_DUE}, kind, event_id, caller)
