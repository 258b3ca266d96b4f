"""Analytics: figures about a practice's consent forms and payments, computed by the database.

Every figure is a SQL aggregate over the tenant-scoped models (TenantModel adds the practice
filter) that reads the (practice_id, created_at / signed_at / paid_at) indexes, so a practice's
figures cost what its own rows cost, whatever other practices store. Python only turns local
dates into UTC boundaries (a handful of values, never rows) and shapes the aggregate rows.

Dates are calendar days in the practice's time zone; stored times are naive UTC, so each local
day, ISO week or month becomes a [start, end) interval in UTC computed here with zoneinfo. That
works the same on PostgreSQL and SQLite (which has no time zone database) and gets the 23- and
25-hour days of the daylight-saving changes right.

Reads run without a transaction: each figure is one statement, and on SQLite a transaction
would take the write lock.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import peewee
from peewee import SQL, fn

from appliance.billing import plans
from appliance.billing.enforcement import PlanEnforcement
from appliance.clock import Clock, isoformat
from appliance.db import engine_of
from appliance.http.errors import ApiError, bad_request
from appliance.models import CONSENT_TYPES, SIGNED_STATUSES, ConsentForm, Patient, Payment, Practice
from appliance.principal import Principal

GRANULARITIES = ("day", "week", "month")
#: More buckets than this answer 400: a year of days fits, a decade of days does not.
MAX_BUCKETS = 400
#: Buckets of by-period when the range is not given: 30 days, 12 ISO weeks, 12 months.
DEFAULT_BUCKETS = {"day": 30, "week": 12, "month": 12}


@dataclass(frozen=True)
class Period:
    """Inclusive local dates from the query; None leaves that side open."""

    first: dt.date | None = None
    last: dt.date | None = None


@dataclass(frozen=True)
class _Window:
    """A Period resolved in the practice's zone: [start, end) in naive UTC, None when open."""

    zone: zoneinfo.ZoneInfo
    period: Period
    start: dt.datetime | None
    end: dt.datetime | None

    def conditions(self, column: peewee.Field) -> list[peewee.Expression]:
        found = []
        if self.start is not None:
            found.append(column >= self.start)
        if self.end is not None:
            found.append(column < self.end)
        return found

    def describe(self) -> dict:
        return {
            "from": self.period.first.isoformat() if self.period.first else None,
            "to": self.period.last.isoformat() if self.period.last else None,
            "timezone": self.zone.key,
        }


def day_start(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant of a local day as naive UTC (after a gap at midnight: its first instant)."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC).replace(tzinfo=None)


def _count_if(condition: peewee.Expression) -> peewee.Node:
    return fn.COALESCE(fn.SUM(peewee.Case(None, [(condition, 1)], 0)), 0)


def _where(query: peewee.Select, conditions: list[peewee.Expression]) -> peewee.Select:
    return query.where(*conditions) if conditions else query


def rounded_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in exact integer arithmetic."""
    quotient, remainder = divmod(abs(numerator), denominator)
    quotient += 2 * remainder >= denominator
    return quotient if numerator >= 0 else -quotient


def percent(part: int, whole: int) -> float | None:
    """100 * part / whole with one decimal (half up); None when there is no whole."""
    return None if whole == 0 else rounded_div(1000 * part, whole) / 10


# ----- calendar buckets (dates, not rows) -----


def bucket_start(day: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    if granularity == "month":
        return day.replace(day=1)
    return day


def _months_after(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def next_bucket(start: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return start + dt.timedelta(days=7)
    if granularity == "month":
        return _months_after(start, 1)
    return start + dt.timedelta(days=1)


def bucket_count(first: dt.date, last: dt.date, granularity: str) -> int:
    if granularity == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    step = 7 if granularity == "week" else 1
    return (bucket_start(last, granularity) - bucket_start(first, granularity)).days // step + 1


def bucket_label(start: dt.date, granularity: str) -> str:
    if granularity == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "month":
        return f"{start.year}-{start.month:02d}"
    return start.isoformat()


def default_first(last: dt.date, granularity: str) -> dt.date:
    """The first day of the default range ending on `last`: DEFAULT_BUCKETS whole buckets."""
    back = DEFAULT_BUCKETS[granularity] - 1
    if granularity == "month":
        return _months_after(last.replace(day=1), -back)
    if granularity == "week":
        return bucket_start(last, "week") - dt.timedelta(weeks=back)
    return last - dt.timedelta(days=back)


class Analytics:
    def __init__(self, database: peewee.Database, clock: Clock, enforcement: PlanEnforcement | None):
        self._db = database
        self._postgres = engine_of(database) == "postgresql"
        self._clock = clock
        #: None when billing is disabled: no plan usage, no revenue.
        self._enforcement = enforcement

    def _window(self, practice: Practice, period: Period) -> _Window:
        if period.first and period.last and period.first > period.last:
            raise bad_request("the range is reversed: from is after to",
                              [{"field": "from", "problem": "must not be after to"}])
        zone = zoneinfo.ZoneInfo(practice.timezone)
        start = day_start(period.first, zone) if period.first else None
        end = day_start(period.last + dt.timedelta(days=1), zone) if period.last else None
        return _Window(zone, period, start, end)

    @staticmethod
    def _practice(principal: Principal) -> Practice:
        """The caller's practice with what the figures need: its id and time zone."""
        query = Practice.select(Practice.id, Practice.timezone)
        return query.where(Practice.id == principal.practice_id).get()

    # ----- overview -----

    def overview(self, principal: Principal, period: Period) -> dict:
        practice = self._practice(principal)
        window = self._window(practice, period)
        now = self._clock.now()
        effective = ConsentForm.effective_status(now)
        query = ConsentForm.select(
            fn.COUNT(SQL("*")),
            _count_if(effective == "PENDING"),
            _count_if(ConsentForm.status.in_(SIGNED_STATUSES)),
            _count_if(ConsentForm.status == "COMPLETED"),
            _count_if(ConsentForm.status == "REVOKED"),
            _count_if(effective == "EXPIRED"),
        )
        total, pending, signed, completed, revoked, expired = (
            _where(query, window.conditions(ConsentForm.created_at)).tuples().get()
        )
        patients = _where(Patient.select(), window.conditions(Patient.created_at)).count()
        return {
            **window.describe(),
            "total": total, "pending": pending, "signed": signed, "completed": completed,
            "revoked": revoked, "expired": expired, "patients": patients,
            "thisMonth": self._plan_usage(practice, now),
        }

    def _plan_usage(self, practice: Practice, now: dt.datetime) -> dict | None:
        """This calendar month's consents against the plan limit; None without billing."""
        if self._enforcement is None:
            return None
        standing = self._enforcement.standing(practice.id)
        start, end = plans.month_bounds(now, practice.timezone)
        return {
            "plan": standing.plan,
            "status": standing.status,
            "start": isoformat(start),
            "end": isoformat(end),
            "consents": self._enforcement.consents_this_month(practice),
            "consentLimit": standing.limits.consents_per_month,
        }

    # ----- by type -----

    def by_type(self, principal: Principal, period: Period) -> dict:
        window = self._window(self._practice(principal), period)
        query = ConsentForm.select(
            ConsentForm.type,
            fn.COUNT(SQL("*")),
            _count_if(ConsentForm.status.in_(SIGNED_STATUSES)),
            _count_if(ConsentForm.status == "REVOKED"),
        )
        rows = _where(query, window.conditions(ConsentForm.created_at)).group_by(ConsentForm.type)
        found = {kind: counts for kind, *counts in rows.tuples()}
        return {
            **window.describe(),
            "items": [
                dict(zip(("type", "total", "signed", "revoked"), (kind, *found.get(kind, (0, 0, 0))),
                         strict=True))
                for kind in CONSENT_TYPES
            ],
        }

    # ----- by period -----

    def by_period(self, principal: Principal, period: Period, granularity: str) -> dict:
        practice = self._practice(principal)
        zone = zoneinfo.ZoneInfo(practice.timezone)
        today = self._clock.now().replace(tzinfo=dt.UTC).astimezone(zone).date()
        last = period.last or today
        first = period.first or default_first(last, granularity)
        window = self._window(practice, Period(first, last))
        if bucket_count(first, last, granularity) > MAX_BUCKETS:
            raise ApiError(400, "range_too_large",
                           f"the range holds more than {MAX_BUCKETS} {granularity} buckets",
                           [{"field": "from", "problem": f"at most {MAX_BUCKETS} buckets per request"}])
        buckets = []  # (label, first day, last day, start, end): one per period, not per row
        start = first
        while start <= last:
            following = min(next_bucket(bucket_start(start, granularity), granularity),
                            last + dt.timedelta(days=1))
            buckets.append((bucket_label(start, granularity), start, following - dt.timedelta(days=1),
                            day_start(start, zone), day_start(following, zone)))
            start = following
        counts = self._counts_per_interval([(b[3], b[4]) for b in buckets])
        return {
            **window.describe(),
            "granularity": granularity,
            "buckets": [
                {"period": label, "from": first_day.isoformat(), "to": last_day.isoformat(),
                 "start": isoformat(begin), "end": isoformat(end), "created": created, "signed": signed}
                for (label, first_day, last_day, begin, end), (created, signed)
                in zip(buckets, counts, strict=True)
            ],
        }

    def _counts_per_interval(self, intervals: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[int, int]]:
        """(forms created, forms signed) in each [start, end): one statement joining the
        intervals (a VALUES list) with two index range counts each."""
        bounds = peewee.ValuesList([(i, start, end) for i, (start, end) in enumerate(intervals)]).cte(
            "bucket", columns=("idx", "lo", "hi")
        )

        def within(column: peewee.Field) -> peewee.Select:
            return ConsentForm.select(fn.COUNT(SQL("*"))).where(column >= bounds.c.lo, column < bounds.c.hi)

        query = (
            peewee.Select(from_list=[bounds], columns=[
                bounds.c.idx, within(ConsentForm.created_at), within(ConsentForm.signed_at)
            ])
            .with_cte(bounds)
            .order_by(bounds.c.idx)
            .bind(self._db)
        )
        return [(created, signed) for _, created, signed in query.tuples()]

    # ----- conversion -----

    def _epoch_seconds(self, column: peewee.Field) -> peewee.Node:
        """Whole seconds since 1970 of a naive-UTC column, as an integer on either engine."""
        if self._postgres:
            return fn.date_part("epoch", fn.date_trunc("second", column)).cast("BIGINT")
        return fn.strftime("%s", column).cast("INTEGER")

    def conversion(self, principal: Principal, period: Period) -> dict:
        window = self._window(self._practice(principal), period)
        created_in = window.conditions(ConsentForm.created_at)
        signed = ConsentForm.signed_at.is_null(False)
        effective = ConsentForm.effective_status(self._clock.now())
        query = ConsentForm.select(
            fn.COUNT(SQL("*")),
            _count_if(signed),
            _count_if(effective == "EXPIRED"),
            _count_if(ConsentForm.status == "REVOKED"),
        )
        created, signed_count, expired, revoked = _where(query, created_in).tuples().get()
        median, p90 = self._seconds_to_sign([*created_in, signed])
        return {
            **window.describe(),
            "created": created,
            "signed": signed_count,
            "expired": expired,
            "revoked": revoked,
            "signedPercent": percent(signed_count, created),
            "expiredPercent": percent(expired, created),
            "revokedPercent": percent(revoked, created),
            "medianSecondsToSign": median,
            "p90SecondsToSign": p90,
        }

    def _seconds_to_sign(self, conditions: list[peewee.Expression]) -> tuple[int | None, int | None]:
        """Nearest-rank median and 90th percentile of the whole seconds from creation to
        signature: the values at ranks ceil(n/2) and ceil(9n/10) of the n sorted durations,
        picked by the database (ROW_NUMBER over the sorted durations), identical on both engines."""
        seconds = self._epoch_seconds(ConsentForm.signed_at) - self._epoch_seconds(ConsentForm.created_at)
        ranked = ConsentForm.select(
            seconds.alias("seconds"),
            fn.ROW_NUMBER().over(order_by=[seconds]).alias("pos"),
            fn.COUNT(SQL("*")).over().alias("n"),
        ).where(*conditions).alias("ranked")
        median_rank = (ranked.c.n + 1) / 2  # integer division on both engines: ceil(n / 2)
        p90_rank = (ranked.c.n * 9 + 9) / 10  # ceil(9n / 10)
        query = peewee.Select(from_list=[ranked], columns=[
            ranked.c.seconds, ranked.c.pos == median_rank, ranked.c.pos == p90_rank,
        ]).where((ranked.c.pos == median_rank) | (ranked.c.pos == p90_rank)).bind(self._db)
        median = p90 = None
        for value, is_median, is_p90 in query.tuples():  # at most two rows
            if is_median:
                median = int(value)
            if is_p90:
                p90 = int(value)
        return median, p90

    # ----- revenue -----

    def revenue(self, principal: Principal, period: Period) -> dict:
        window = self._window(self._practice(principal), period)
        totals = []
        if self._enforcement is not None:
            query = Payment.select(Payment.currency, fn.COUNT(SQL("*")), fn.SUM(Payment.amount_cents),
                                   fn.SUM(Payment.refunded_cents))
            rows = _where(query, window.conditions(Payment.paid_at)).group_by(Payment.currency)
            for currency, count, gross, refunded in rows.order_by(Payment.currency).tuples():  # per currency
                net = int(gross) - int(refunded)
                totals.append({"currency": currency, "payments": count, "grossCents": int(gross),
                               "refundedCents": int(refunded), "netCents": net,
                               "averageNetCents": rounded_div(net, count)})
        return {
            **window.describe(),
            "billingEnabled": self._enforcement is not None,
            "payments": sum(t["payments"] for t in totals),
            "totals": totals,
        }
