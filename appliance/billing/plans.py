"""Plans, limits and statuses (domain.md, "Plans and limits"): the rules, free of I/O.

A practice's standing is its plan and status at a moment. A practice on FREE_TRIAL is TRIALING
until 30 days after it was founded and EXPIRED afterwards, computed from the clock, so no job
has to flip it. Paid plans take their status from Stripe (webhooks).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from appliance.settings import BillingSection

FREE_TRIAL, STARTER, PROFESSIONAL, ENTERPRISE = "FREE_TRIAL", "STARTER", "PROFESSIONAL", "ENTERPRISE"
PLANS = (FREE_TRIAL, STARTER, PROFESSIONAL, ENTERPRISE)
PAID_PLANS = (STARTER, PROFESSIONAL, ENTERPRISE)
TRIALING, ACTIVE, PAST_DUE, CANCELLED, EXPIRED = "TRIALING", "ACTIVE", "PAST_DUE", "CANCELLED", "EXPIRED"
STATUSES = (TRIALING, ACTIVE, PAST_DUE, CANCELLED, EXPIRED)
#: Staff may work in these; PAST_DUE is the grace time while Stripe retries the payment.
WORKING_STATUSES = frozenset({TRIALING, ACTIVE, PAST_DUE})
INTERVALS = ("monthly", "yearly")
TRIAL_DAYS = 30


@dataclass(frozen=True)
class Limits:
    """None means unlimited."""

    consents_per_month: int | None
    members: int | None


LIMITS = {
    FREE_TRIAL: Limits(consents_per_month=25, members=2),
    STARTER: Limits(consents_per_month=100, members=3),
    PROFESSIONAL: Limits(consents_per_month=None, members=None),
    ENTERPRISE: Limits(consents_per_month=None, members=None),
}

#: Stripe subscription status -> ours. None: nothing to act on yet (the first payment of a
#: new subscription is unfinished; a practice keeps what it had until Stripe decides).
STRIPE_STATUSES: dict[str, str | None] = {
    "active": ACTIVE,
    "trialing": TRIALING,
    "past_due": PAST_DUE,
    "unpaid": PAST_DUE,
    "canceled": CANCELLED,
    "paused": EXPIRED,
    "incomplete": None,
    "incomplete_expired": None,
}


class PriceList:
    """The configured Stripe price ids, both ways: (plan, interval) <-> price id."""

    def __init__(self, billing: BillingSection):
        self._by_key: dict[tuple[str, str], str] = {}
        for name, price in billing.prices.items():
            _, plan, interval = name.split("_")
            self._by_key[(plan.upper(), interval)] = price
        self._by_price = {price: key for key, price in self._by_key.items()}

    def price_for(self, plan: str, interval: str) -> str | None:
        return self._by_key.get((plan, interval))

    def plan_of(self, price_id: str | None) -> tuple[str, str] | None:
        """(plan, interval) of a price id, or None for a price this appliance does not sell."""
        return self._by_price.get(price_id) if price_id else None

    def offered(self) -> list[dict[str, str]]:
        return [{"plan": plan, "interval": interval}
                for plan in PAID_PLANS for interval in INTERVALS if (plan, interval) in self._by_key]


@dataclass(frozen=True)
class Standing:
    """A practice's plan and status now, with what a subscription row adds to it."""

    plan: str
    status: str
    trial_ends_at: dt.datetime
    interval: str | None = None
    current_period_start: dt.datetime | None = None
    current_period_end: dt.datetime | None = None
    cancel_at_period_end: bool = False
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None

    @property
    def limits(self) -> Limits:
        return LIMITS[self.plan]

    @property
    def may_work(self) -> bool:
        return self.status in WORKING_STATUSES

    @property
    def live_subscription(self) -> bool:
        """A Stripe subscription that a plan change can modify (not one that has ended)."""
        return self.stripe_subscription_id is not None and self.plan != FREE_TRIAL and self.may_work


def trial_end(practice_created_at: dt.datetime) -> dt.datetime:
    return practice_created_at + dt.timedelta(days=TRIAL_DAYS)


def standing(row, practice_created_at: dt.datetime, now: dt.datetime) -> Standing:
    """The standing from a subscription row (or None: never subscribed) at `now`."""
    if row is None:
        ends = trial_end(practice_created_at)
        return Standing(FREE_TRIAL, TRIALING if now < ends else EXPIRED, ends)
    status = row.status
    if row.plan == FREE_TRIAL and status == TRIALING and now >= row.trial_ends_at:
        status = EXPIRED
    return Standing(
        plan=row.plan, status=status, trial_ends_at=row.trial_ends_at, interval=row.billing_interval,
        current_period_start=row.current_period_start, current_period_end=row.current_period_end,
        cancel_at_period_end=row.cancel_at_period_end, stripe_customer_id=row.stripe_customer_id,
        stripe_subscription_id=row.stripe_subscription_id,
    )


def month_bounds(now: dt.datetime, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month around `now` (naive UTC) in the practice's time zone, as naive UTC."""
    zone = zoneinfo.ZoneInfo(timezone)
    local = now.replace(tzinfo=dt.UTC).astimezone(zone)
    following = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    start = dt.datetime(local.year, local.month, 1, tzinfo=zone)
    end = dt.datetime(*following, 1, tzinfo=zone)
    return (start.astimezone(dt.UTC).replace(tzinfo=None), end.astimezone(dt.UTC).replace(tzinfo=None))
