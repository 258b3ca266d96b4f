"""Analytics endpoints: overview, by type, by period and conversion (ADMIN, ARZT), revenue (ADMIN).

The definitions of every figure live in the operation descriptions, which become the OpenAPI
document; the service computes them (appliance.services.analytics).
"""

from __future__ import annotations

import datetime as dt
import re

import falcon

from appliance.http import query
from appliance.http.errors import bad_request
from appliance.http.operation import ADMIN, ARZT, operation, roles
from appliance.models import CONSENT_TYPES
from appliance.resources.schemas import TIMESTAMP, obj
from appliance.services.analytics import GRANULARITIES, MAX_BUCKETS, Analytics, Period

TAGS = ("Analytics",)
STAFF = roles(ADMIN, ARZT)
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
#: Dates outside these bounds cannot be turned into UTC instants on every engine.
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(9998, 12, 31)

COMMON = (
    "Counts only the caller's practice. `from` and `to` are calendar dates (YYYY-MM-DD),"
    " inclusive, in the practice's time zone (settings: timezone): `from` starts at local"
    " midnight, `to` ends at the next local midnight. A reversed range or an invalid date"
    " answers 400."
)
STATUS_RULES = (
    " Statuses are the ones staff see: SIGNED, PAID and COMPLETED count as signed, and a PENDING"
    " form past its expiresAt counts as expired even before the expiry job has run."
)
RANGE_PARAMETERS = (
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "first day, inclusive, in the practice's time zone (YYYY-MM-DD)"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "last day, inclusive, in the practice's time zone (YYYY-MM-DD)"},
)
COUNT = {"type": "integer", "minimum": 0}
DAY = {"type": ["string", "null"], "format": "date"}
RANGE = {"from": DAY, "to": DAY, "timezone": {"type": "string"}}
PERCENT = {"type": ["number", "null"], "minimum": 0, "maximum": 100}
SECONDS = {"type": ["integer", "null"], "minimum": 0}
ERRORS = {400: "invalid date, or a reversed range (from after to)"}


def local_date(req: falcon.Request, name: str) -> dt.date | None:
    """A query parameter that must be a calendar date, YYYY-MM-DD."""
    value = req.get_param(name)
    if value is None:
        return None
    day = None
    if DATE.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None or not EARLIEST <= day <= LATEST:
        raise bad_request(f"query parameter {name} is invalid",
                          [{"field": name, "problem": "must be a date YYYY-MM-DD between"
                            f" {EARLIEST.isoformat()} and {LATEST.isoformat()}"}])
    return day


def period_of(req: falcon.Request) -> Period:
    return Period(local_date(req, "from"), local_date(req, "to"))


class Overview:
    def __init__(self, analytics: Analytics):
        self._analytics = analytics

    @operation(
        "Dashboard overview: consent forms by status, patients, this month's plan usage",
        roles=STAFF, tags=TAGS, query=RANGE_PARAMETERS, errors=ERRORS,
        response=obj(
            ["from", "to", "timezone", "total", "pending", "signed", "completed", "revoked", "expired",
             "patients", "thisMonth"],
            {**RANGE, "total": COUNT, "pending": COUNT, "signed": COUNT, "completed": COUNT,
             "revoked": COUNT, "expired": COUNT, "patients": COUNT,
             "thisMonth": {"oneOf": [{"type": "null"}, obj(
                 ["plan", "status", "start", "end", "consents", "consentLimit"],
                 {"plan": {"type": "string"}, "status": {"type": "string"}, "start": TIMESTAMP,
                  "end": TIMESTAMP, "consents": COUNT, "consentLimit": {"type": ["integer", "null"]}},
             )]}},
        ),
        description=COMMON + " Without from/to: all time." + STATUS_RULES
        + " `total` counts the forms created in the range; pending, signed (SIGNED, PAID or"
        " COMPLETED), completed, revoked and expired split them by their status now (completed"
        " is also in signed). `patients` counts the patients created in the range."
        " `thisMonth` is null when billing is disabled; with billing it is the plan, its status"
        " and the consents created in the current calendar month of the practice's time zone"
        " ([start, end) in UTC, whatever from/to say) against the plan's monthly limit"
        " (consentLimit null: unlimited).",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._analytics.overview(req.context.principal, period_of(req))


class ByType:
    def __init__(self, analytics: Analytics):
        self._analytics = analytics

    @operation(
        "Consent forms per consent type", roles=STAFF, tags=TAGS, query=RANGE_PARAMETERS, errors=ERRORS,
        response=obj(["from", "to", "timezone", "items"], {**RANGE, "items": {
            "type": "array", "minItems": len(CONSENT_TYPES), "maxItems": len(CONSENT_TYPES),
            "items": obj(["type", "total", "signed", "revoked"],
                         {"type": {"enum": list(CONSENT_TYPES)}, "total": COUNT, "signed": COUNT,
                          "revoked": COUNT}),
        }}),
        description=COMMON + " Without from/to: all time." + STATUS_RULES
        + " One item for each of the six consent types, in a fixed order, zeros included: the"
        " forms created in the range (`total`), of them those signed now (SIGNED, PAID or"
        " COMPLETED) and those revoked.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._analytics.by_type(req.context.principal, period_of(req))


class ByPeriod:
    def __init__(self, analytics: Analytics):
        self._analytics = analytics

    @operation(
        "Consent forms created and signed per day, ISO week or month", roles=STAFF, tags=TAGS,
        query=(*RANGE_PARAMETERS, {"name": "granularity", "in": "query",
                                   "schema": {"enum": list(GRANULARITIES), "default": "day"}}),
        errors={400: "invalid date or granularity, a reversed range, or more than"
                     f" {MAX_BUCKETS} buckets (range_too_large)"},
        response=obj(["from", "to", "timezone", "granularity", "buckets"], {
            **RANGE, "granularity": {"enum": list(GRANULARITIES)},
            "buckets": {"type": "array", "items": obj(
                ["period", "from", "to", "start", "end", "created", "signed"],
                {"period": {"type": "string"}, "from": {"type": "string", "format": "date"},
                 "to": {"type": "string", "format": "date"}, "start": TIMESTAMP, "end": TIMESTAMP,
                 "created": COUNT, "signed": COUNT},
            )},
        }),
        description=COMMON + " Without `to`: today in the practice's time zone. Without `from`:"
        " the last 30 days, 12 ISO weeks or 12 months up to `to`, counting its own (partial)"
        " bucket. Every bucket of the range is present, oldest first, zeros included: calendar"
        " days, ISO weeks (Monday to Sunday, labelled 2026-W13) or months (labelled 2026-03) of"
        " the practice's time zone, cut to the range at both ends (`from`/`to` are the bucket's"
        " first and last local day, `start`/`end` the same as a [start, end) interval in UTC; a"
        " day with a daylight-saving change is 23 or 25 hours long). `created` counts the forms"
        " created in the bucket; `signed` counts the forms whose signature time (signedAt) is in"
        " the bucket, whatever their status is now (a form signed and later revoked still counts"
        f" where it was signed). At most {MAX_BUCKETS} buckets per request.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        granularity = query.choice(req, "granularity", GRANULARITIES) or "day"
        resp.media = self._analytics.by_period(req.context.principal, period_of(req), granularity)


class Conversion:
    def __init__(self, analytics: Analytics):
        self._analytics = analytics

    @operation(
        "Conversion of consent links into signatures, and the time patients take to sign",
        roles=STAFF, tags=TAGS, query=RANGE_PARAMETERS, errors=ERRORS,
        response=obj(
            ["from", "to", "timezone", "created", "signed", "expired", "revoked", "signedPercent",
             "expiredPercent", "revokedPercent", "medianSecondsToSign", "p90SecondsToSign"],
            {**RANGE, "created": COUNT, "signed": COUNT, "expired": COUNT, "revoked": COUNT,
             "signedPercent": PERCENT, "expiredPercent": PERCENT, "revokedPercent": PERCENT,
             "medianSecondsToSign": SECONDS, "p90SecondsToSign": SECONDS},
        ),
        description=COMMON + " Without from/to: all time. Of the forms created in the range"
        " (`created`): `signed` were signed by the patient (they have a signature time, whatever"
        " happened after), `expired` are expired now (a PENDING form past its expiresAt"
        " included), `revoked` are revoked now (before or after signing, so signed + expired +"
        " revoked can exceed created). Each share is 100 * count / created rounded half up to"
        " one decimal, null when nothing was created. Durations are whole seconds from creation"
        " to signature (both times cut to the whole second) of the signed forms; the median and"
        " 90th percentile use the nearest-rank method: with n durations sorted ascending, the"
        " values at ranks ceil(n/2) and ceil(9n/10) (so the median of an even count is the lower"
        " middle value); null when nothing was signed.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._analytics.conversion(req.context.principal, period_of(req))


class Revenue:
    def __init__(self, analytics: Analytics):
        self._analytics = analytics

    @operation(
        "What the practice paid for its subscription", roles=roles(ADMIN), tags=TAGS,
        query=RANGE_PARAMETERS, errors=ERRORS,
        response=obj(["from", "to", "timezone", "billingEnabled", "payments", "totals"], {
            **RANGE, "billingEnabled": {"type": "boolean"}, "payments": COUNT,
            "totals": {"type": "array", "items": obj(
                ["currency", "payments", "grossCents", "refundedCents", "netCents", "averageNetCents"],
                {"currency": {"type": "string"}, "payments": COUNT, "grossCents": {"type": "integer"},
                 "refundedCents": {"type": "integer"}, "netCents": {"type": "integer"},
                 "averageNetCents": {"type": "integer"}},
            )},
        }),
        description=COMMON + " Without from/to: all time. The payments recorded for the practice"
        " (paid Stripe invoices) whose payment time is in the range, one total per currency"
        " (ISO code, lower case), in integer cents: gross, refunded (a refund counts with its"
        " payment), net = gross - refunded, the number of payments and the average net amount"
        " per payment rounded to the nearest cent (halves away from zero). `payments` counts"
        " them over all currencies."
        " Zero (no totals) when billing is disabled or nothing was paid.",
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._analytics.revenue(req.context.principal, period_of(req))
