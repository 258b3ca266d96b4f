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
import itertools
import zoneinfo
from dataclasses import dataclass

import peewee
from peewee import SQL, fn

from appliance import tenancy
from appliance.billing import plans
from appliance.billing.enforcement import PlanEnforcement
from appliance.clock import Clock, isoformat
from appliance.db import engine_of
from appliance.http.errors import ApiError, bad_request
from appliance.models import CONSENT_TYPES, SIGNED_STATUSES, ConsentForm, Patient, Payment, Practice
from appliance.prepared import Prepared
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


def _within(column: peewee.Field, shape: tuple[bool, bool],
            bounds: tuple[dt.datetime, ...]) -> list[peewee.Expression]:
    """A window's conditions on `column`, of the window's `shape` (`_shape`), with `bounds`
    (its start and end, those present) standing for the values: what a Prepared statement is
    composed from."""
    found, rest = [], list(bounds)
    has_start, has_end = shape
    if has_start:
        found.append(column >= rest.pop(0))
    if has_end:
        found.append(column < rest.pop(0))
    return found


def _shape(window: _Window) -> tuple[bool, bool]:
    """Which bounds the window has (start, end): the key of its statements."""
    return window.start is not None, window.end is not None


def _bounds(window: _Window) -> tuple[dt.datetime, ...]:
    return tuple(v for v in (window.start, window.end) if v is not None)


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
    """Each figure's statements are Prepared: composed by peewee once per shape (which bounds
    are given, how many buckets), then only bound to the call's values."""

    def __init__(self, database: peewee.Database, clock: Clock, enforcement: PlanEnforcement | None):
        self._db = database
        self._postgres = engine_of(database) == "postgresql"
        self._clock = clock
        #: None when billing is disabled: no plan usage, no revenue.
        self._enforcement = enforcement
        self._practice_sql = Prepared(
            lambda _: Practice.select(Practice.id, Practice.timezone).where(Practice.id == tenancy.current()))
        self._statements: dict[str, Prepared] = {}

    def _prepared(self, name: str, build) -> Prepared:
        found = self._statements.get(name)
        if found is None:
            found = self._statements.setdefault(name, Prepared(build))
        return found

    def _window(self, practice: Practice, period: Period) -> _Window:
        if period.first and period.last and period.first > period.last:
            raise bad_request("the range is reversed: from is after to",
                              [{"field": "from", "problem": "must not be after to"}])
        zone = zoneinfo.ZoneInfo(practice.timezone)
        start = day_start(period.first, zone) if period.first else None
        end = day_start(period.last + dt.timedelta(days=1), zone) if period.last else None
        return _Window(zone, period, start, end)

    def _practice(self, principal: Principal) -> Practice:
        """The caller's practice (the scope's, which is the principal's) with what the figures
        need: its id and time zone."""
        row = self._practice_sql.execute(self._db, "practice").fetchone()
        if row is None or Practice.id.python_value(row[0]) != principal.practice_id:
            raise Practice.DoesNotExist
        return Practice(id=principal.practice_id, timezone=row[1])

    # ----- overview -----

    def overview(self, principal: Principal, period: Period) -> dict:
        practice = self._practice(principal)
        window = self._window(practice, period)
        now = self._clock.now()

        def forms(shape: tuple[bool, bool], now: dt.datetime, *bounds: dt.datetime) -> peewee.Query:
            effective = ConsentForm.effective_status(now)
            query = ConsentForm.select(
                fn.COUNT(SQL("*")),
                _count_if(effective == "PENDING"),
                _count_if(ConsentForm.status.in_(SIGNED_STATUSES)),
                _count_if(ConsentForm.status == "COMPLETED"),
                _count_if(ConsentForm.status == "REVOKED"),
                _count_if(effective == "EXPIRED"),
            )
            return _where(query, _within(ConsentForm.created_at, shape, bounds))

        def patients(shape: tuple[bool, bool], *bounds: dt.datetime) -> peewee.Query:
            return _where(Patient.select(fn.COUNT(SQL("*"))), _within(Patient.created_at, shape, bounds))

        total, pending, signed, completed, revoked, expired = self._prepared("overview", forms).execute(
            self._db, _shape(window), now, *_bounds(window)).fetchone()
        (count,) = self._prepared("patients", patients).execute(
            self._db, _shape(window), *_bounds(window)).fetchone()
        return {
            **window.describe(),
            "total": total, "pending": pending, "signed": signed, "completed": completed,
            "revoked": revoked, "expired": expired, "patients": count,
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

        def build(shape: tuple[bool, bool], *bounds: dt.datetime) -> peewee.Query:
            query = ConsentForm.select(
                ConsentForm.type,
                fn.COUNT(SQL("*")),
                _count_if(ConsentForm.status.in_(SIGNED_STATUSES)),
                _count_if(ConsentForm.status == "REVOKED"),
            )
            return _where(query, _within(ConsentForm.created_at, shape, bounds)).group_by(ConsentForm.type)

        rows = self._prepared("by_type", build).execute(self._db, _shape(window), *_bounds(window))
        found = {kind: counts for kind, *counts in rows.fetchall()}
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
        days = [first]  # each bucket's first local day, then the day after the range
        after = last + dt.timedelta(days=1)
        while days[-1] < after:
            days.append(min(next_bucket(bucket_start(days[-1], granularity), granularity), after))
        edges = [day_start(day, zone) for day in days]  # each edge once: a bucket's end is the next's start
        stamps = [isoformat(edge) for edge in edges]
        counts = self._counts_per_interval(list(itertools.pairwise(edges)))
        one_day = dt.timedelta(days=1)
        return {
            **window.describe(),
            "granularity": granularity,
            "buckets": [
                {"period": bucket_label(days[i], granularity), "from": days[i].isoformat(),
                 "to": (days[i + 1] - one_day).isoformat(), "start": stamps[i], "end": stamps[i + 1],
                 "created": created, "signed": signed}
                for i, (created, signed) in enumerate(counts)
            ],
        }

    def _counts_per_interval(self, intervals: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[int, int]]:
        """(forms created, forms signed) in each [start, end): one statement joining the
        intervals (a VALUES list) with two index range counts each."""

        def build(count: int, *bounds: dt.datetime) -> peewee.Query:
            pairs = zip(bounds[::2], bounds[1::2], strict=True)
            values = peewee.ValuesList([(i, start, end) for i, (start, end) in enumerate(pairs)])
            buckets = values.cte("bucket", columns=("idx", "lo", "hi"))

            def within(column: peewee.Field) -> peewee.Select:
                return (ConsentForm.select(fn.COUNT(SQL("*")))
                        .where(column >= buckets.c.lo, column < buckets.c.hi))

            return (
                peewee.Select(from_list=[buckets], columns=[
                    buckets.c.idx, within(ConsentForm.created_at), within(ConsentForm.signed_at)
                ])
                .with_cte(buckets)
                .order_by(buckets.c.idx)
                .bind(self._db)
            )

        bounds = [value for interval in intervals for value in interval]
        rows = self._prepared("by_period", build).execute(self._db, len(intervals), *bounds)
        return [(created, signed) for _, created, signed in rows.fetchall()]

    # ----- conversion -----

    def _epoch_seconds(self, column: peewee.Field) -> peewee.Node:
        """Whole seconds since 1970 of a naive-UTC column, as an integer on either engine."""
        if self._postgres:
            return fn.date_part("epoch", fn.date_trunc("second", column)).cast("BIGINT")
        return fn.strftime("%s", column).cast("INTEGER")

    def conversion(self, principal: Principal, period: Period) -> dict:
        window = self._window(self._practice(principal), period)

        def counts(shape: tuple[bool, bool], now: dt.datetime, *bounds: dt.datetime) -> peewee.Query:
            effective = ConsentForm.effective_status(now)
            query = ConsentForm.select(
                fn.COUNT(SQL("*")),
                _count_if(ConsentForm.signed_at.is_null(False)),
                _count_if(effective == "EXPIRED"),
                _count_if(ConsentForm.status == "REVOKED"),
            )
            return _where(query, _within(ConsentForm.created_at, shape, bounds))

        created, signed_count, expired, revoked = self._prepared("conversion", counts).execute(
            self._db, _shape(window), self._clock.now(), *_bounds(window)).fetchone()
        median, p90 = self._seconds_to_sign(window)
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

    def _seconds_to_sign(self, window: _Window) -> tuple[int | None, int | None]:
        """Nearest-rank median and 90th percentile of the whole seconds from creation to
        signature: the values at ranks ceil(n/2) and ceil(9n/10) of the n sorted durations,
        picked by the database (ROW_NUMBER over the sorted durations), identical on both engines."""

        def build(shape: tuple[bool, bool], *bounds: dt.datetime) -> peewee.Query:
            seconds = self._epoch_seconds(ConsentForm.signed_at) - self._epoch_seconds(ConsentForm.created_at)
            ranked = ConsentForm.select(
                seconds.alias("seconds"),
                fn.ROW_NUMBER().over(order_by=[seconds]).alias("pos"),
                fn.COUNT(SQL("*")).over().alias("n"),
            ).where(*_within(ConsentForm.created_at, shape, bounds), ConsentForm.signed_at.is_null(False)
                    ).alias("ranked")
            median_rank = (ranked.c.n + 1) / 2  # integer division on both engines: ceil(n / 2)
            p90_rank = (ranked.c.n * 9 + 9) / 10  # ceil(9n / 10)
            return peewee.Select(from_list=[ranked], columns=[
                ranked.c.seconds, ranked.c.pos == median_rank, ranked.c.pos == p90_rank,
            ]).where((ranked.c.pos == median_rank) | (ranked.c.pos == p90_rank)).bind(self._db)

        median = p90 = None
        rows = self._prepared("seconds_to_sign", build).execute(self._db, _shape(window), *_bounds(window))
        for value, is_median, is_p90 in rows.fetchall():  # at most two rows
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
            def build(shape: tuple[bool, bool], *bounds: dt.datetime) -> peewee.Query:
                query = Payment.select(Payment.currency, fn.COUNT(SQL("*")), fn.SUM(Payment.amount_cents),
                                       fn.SUM(Payment.refunded_cents))
                return (_where(query, _within(Payment.paid_at, shape, bounds))
                        .group_by(Payment.currency).order_by(Payment.currency))

            rows = self._prepared("revenue", build).execute(self._db, _shape(window), *_bounds(window))
            for currency, count, gross, refunded in rows.fetchall():  # per currency
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
