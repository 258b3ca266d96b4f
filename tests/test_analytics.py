"""Analytics on hand-built data sets: each expected number is worked out next to its data.

The clock stands at 2026-11-30 09:00 UTC (10:00 in Berlin). Practices are in Europe/Berlin
unless a test moves one: CET is UTC+1, CEST (29 March to 25 October 2026) UTC+2.
"""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.models import CONSENT_TYPES
from tests.support.analytics import add_form, add_patient, add_payment, add_signed, analytics, figures
from tests.support.api import assert_error, call, member_with_role, problem_fields
from tests.support.consent import team

T = dt.datetime
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)

#: Every expected figure is worked out for this moment (see the module docstring).
pytestmark = pytest.mark.calendar(T(2026, 11, 30, 9, 0, 0))


@pytest.fixture
def staff(client):
    return team(client, "ARZT")


@pytest.fixture
def other(client):
    """A second practice with data of its own, which no figure of `staff` may contain."""
    practice = team(client)
    for day in range(1, 6):
        add_signed(practice.practice_id, T(2026, 11, day, 10), 30 * MINUTE)
        add_form(practice.practice_id, T(2026, 3, 29, 12), kind="LASER", status="REVOKED")
        add_patient(practice.practice_id, T(2026, 11, day, 10))
        add_payment(practice.practice_id, T(2026, 11, day, 10), 100_000)
    return practice


# ----- overview -----


def test_overview_counts_every_status_as_staff_sees_it(client, staff, other, clock):
    pid = staff.practice_id
    now = clock.now()
    add_form(pid, T(2026, 11, 29, 10))                                    # pending (expires 6 Dec)
    add_form(pid, T(2026, 11, 1, 10))                                     # PENDING past expiry: expired
    add_form(pid, now - 7 * DAY)                                          # expires exactly now: expired
    add_form(pid, T(2026, 10, 1, 10), status="EXPIRED")                   # expired by the job
    add_signed(pid, T(2026, 11, 10, 10), H)                               # signed
    add_signed(pid, T(2026, 11, 11, 10), H, status="PAID")                # signed
    add_signed(pid, T(2026, 11, 12, 10), H, status="COMPLETED")           # signed and completed
    add_form(pid, T(2026, 11, 13, 10), status="REVOKED", signed_at=T(2026, 11, 13, 11),
             revoked_at=T(2026, 11, 14, 9))                               # revoked after signing
    add_patient(pid, T(2026, 2, 1, 10))
    add_patient(pid, T(2026, 11, 29, 10))

    body = figures(client, staff.token("ARZT"), "overview")
    assert body == {
        "from": None, "to": None, "timezone": "Europe/Berlin",
        "total": 8, "pending": 1, "signed": 3, "completed": 1, "revoked": 1, "expired": 3,
        "patients": 2, "thisMonth": None,  # billing is disabled
    }
    # The other practice sees its own five signed forms, five revoked ones and five patients.
    theirs = figures(client, other.token(), "overview")
    assert (theirs["total"], theirs["signed"], theirs["revoked"], theirs["patients"]) == (10, 5, 5, 5)


def test_from_and_to_are_whole_local_days(client, staff, other):
    """from=2026-11-01 starts at 00:00 in Berlin (31 Oct 23:00 UTC); to=2026-11-12 ends at
    13 Nov 00:00 in Berlin (12 Nov 23:00 UTC)."""
    pid = staff.practice_id
    add_form(pid, T(2026, 10, 31, 22, 59, 59))          # 31 Oct 23:59:59 local: before
    add_form(pid, T(2026, 10, 31, 23, 0, 0))            # 1 Nov 00:00 local: first instant inside
    add_form(pid, T(2026, 11, 12, 22, 59, 59, 999999))  # 12 Nov 23:59:59.999999 local: inside
    add_form(pid, T(2026, 11, 12, 23, 0, 0))            # 13 Nov 00:00 local: after
    add_patient(pid, T(2026, 10, 31, 22, 59, 59))       # before
    add_patient(pid, T(2026, 10, 31, 23, 0, 0))         # inside

    body = figures(client, staff.token(), "overview", from_="2026-11-01", to="2026-11-12")
    assert (body["from"], body["to"], body["total"], body["patients"]) == ("2026-11-01", "2026-11-12", 2, 1)
    assert figures(client, staff.token(), "overview", from_="2026-11-13")["total"] == 1
    assert figures(client, staff.token(), "overview", to="2026-10-31")["total"] == 1
    assert figures(client, staff.token(), "overview", from_="2026-11-12", to="2026-11-12")["total"] == 1


def test_the_practice_time_zone_decides(client, staff):
    """In New York (EDT UTC-4 until 1 Nov 2026 02:00, then EST UTC-5) 1 Nov starts at 04:00 UTC
    and lasts 25 hours."""
    result = call(client, "PATCH", "/api/settings", token=staff.token(),
                  json={"timezone": "America/New_York"})
    assert result.status_code == 200, result.text
    pid = staff.practice_id
    add_form(pid, T(2026, 11, 1, 3, 59, 59))   # 31 Oct 23:59:59 EDT
    add_form(pid, T(2026, 11, 1, 4, 0, 0))     # 1 Nov 00:00 EDT
    add_form(pid, T(2026, 11, 2, 4, 59, 59))   # 1 Nov 23:59:59 EST
    add_form(pid, T(2026, 11, 2, 5, 0, 0))     # 2 Nov 00:00 EST

    body = figures(client, staff.token(), "by-period", from_="2026-10-31", to="2026-11-02")
    assert body["timezone"] == "America/New_York"
    assert [(b["period"], b["start"], b["end"], b["created"]) for b in body["buckets"]] == [
        ("2026-10-31", "2026-10-31T04:00:00.000Z", "2026-11-01T04:00:00.000Z", 1),
        ("2026-11-01", "2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z", 2),
        ("2026-11-02", "2026-11-02T05:00:00.000Z", "2026-11-03T05:00:00.000Z", 1),
    ]
    assert figures(client, staff.token(), "overview", from_="2026-11-01", to="2026-11-01")["total"] == 2


# ----- by type -----


def test_by_type_lists_all_six_types_with_zeros(client, staff, other):
    pid = staff.practice_id
    add_signed(pid, T(2026, 11, 2, 10), H, kind="BOTOX")
    add_signed(pid, T(2026, 11, 3, 10), H, kind="BOTOX", status="COMPLETED")
    add_form(pid, T(2026, 11, 4, 10), kind="BOTOX", status="REVOKED", revoked_at=T(2026, 11, 4, 11))
    add_form(pid, T(2026, 11, 5, 10), kind="BOTOX")                               # pending
    add_signed(pid, T(2026, 11, 6, 10), H, kind="FILLER", status="PAID")
    add_form(pid, T(2026, 11, 7, 10), kind="FILLER", status="EXPIRED")
    add_form(pid, T(2026, 11, 8, 10), kind="PRP", status="REVOKED", signed_at=T(2026, 11, 8, 11),
             revoked_at=T(2026, 11, 9, 10))                                       # revoked after signing
    add_signed(pid, T(2026, 5, 1, 10), H, kind="LASER")                           # before the range

    body = figures(client, staff.token(), "by-type", from_="2026-11-01", to="2026-11-30")
    assert body["items"] == [
        {"type": "BOTOX", "total": 4, "signed": 2, "revoked": 1},
        {"type": "FILLER", "total": 2, "signed": 1, "revoked": 0},
        {"type": "LASER", "total": 0, "signed": 0, "revoked": 0},
        {"type": "CHEMICAL_PEEL", "total": 0, "signed": 0, "revoked": 0},
        {"type": "MICRONEEDLING", "total": 0, "signed": 0, "revoked": 0},
        {"type": "PRP", "total": 1, "signed": 0, "revoked": 1},
    ]
    assert [item["type"] for item in body["items"]] == list(CONSENT_TYPES)
    all_time = figures(client, staff.token(), "by-type")["items"]
    assert all_time[2] == {"type": "LASER", "total": 1, "signed": 1, "revoked": 0}


# ----- by period: buckets in the practice's zone, across both daylight-saving changes -----


def _spring(pid: str) -> None:
    """Around 29 March 2026, when Berlin skips 02:00-03:00 (that day is 23 hours long):
    28 Mar = [27 Mar 23:00, 28 Mar 23:00) UTC, 29 Mar = [28 Mar 23:00, 29 Mar 22:00) UTC,
    30 Mar = [29 Mar 22:00, 30 Mar 22:00) UTC."""
    add_form(pid, T(2026, 3, 28, 22, 59, 59))    # 28 Mar 23:59:59 CET               -> created 28 Mar
    add_form(pid, T(2026, 3, 28, 23, 0, 0))      # 29 Mar 00:00 CET (UTC date: 28th) -> created 29 Mar
    add_form(pid, T(2026, 3, 29, 21, 59, 59))    # 29 Mar 23:59:59 CEST              -> created 29 Mar
    add_form(pid, T(2026, 3, 29, 22, 0, 0))      # 30 Mar 00:00 CEST (UTC+1: 29th)   -> created 30 Mar
    # Created on Friday 20 March (ISO week 12), signed 29 Mar 23:30 CEST, revoked since: it
    # still counts as signed on the 29th, where the signature happened.
    add_form(pid, T(2026, 3, 20, 10), status="REVOKED", signed_at=T(2026, 3, 29, 21, 30),
             revoked_at=T(2026, 4, 2, 10))
    # Created 29 Mar 03:00 CEST, signed 30 Mar 00:30 CEST.
    add_form(pid, T(2026, 3, 29, 1, 0), status="COMPLETED", signed_at=T(2026, 3, 29, 22, 30))


def _autumn(pid: str) -> None:
    """Around 25 October 2026, when Berlin lives 02:00-03:00 twice (25 hours):
    24 Oct = [23 Oct 22:00, 24 Oct 22:00) UTC, 25 Oct = [24 Oct 22:00, 25 Oct 23:00) UTC,
    26 Oct = [25 Oct 23:00, 26 Oct 23:00) UTC."""
    add_form(pid, T(2026, 10, 24, 21, 59, 59))   # 24 Oct 23:59:59 CEST              -> created 24 Oct
    add_form(pid, T(2026, 10, 24, 22, 0, 0), signed_at=T(2026, 10, 25, 23, 0, 0),
             status="SIGNED")                    # 25 Oct 00:00 CEST, signed 26 Oct 00:00 CET
    add_form(pid, T(2026, 10, 25, 0, 30), signed_at=T(2026, 10, 25, 22, 59, 59),
             status="SIGNED")                    # 02:30 CEST (first pass), signed 25 Oct 23:59:59 CET
    add_form(pid, T(2026, 10, 25, 1, 30))        # 02:30 CET (second pass)           -> created 25 Oct
    add_form(pid, T(2026, 10, 25, 22, 30))       # 25 Oct 23:30 CET (UTC+2: 26th)    -> created 25 Oct
    add_form(pid, T(2026, 10, 25, 23, 0, 0))     # 26 Oct 00:00 CET                  -> created 26 Oct


def _buckets(body: dict) -> list[tuple]:
    """(period, start, end, created, signed) per bucket; start and end in UTC to the minute."""
    return [(b["period"], b["start"].removesuffix(":00.000Z"), b["end"].removesuffix(":00.000Z"),
             b["created"], b["signed"]) for b in body["buckets"]]


def _days(body: dict) -> list[tuple[str, str]]:
    return [(b["from"], b["to"]) for b in body["buckets"]]


def test_day_buckets_across_the_spring_change(client, staff, other):
    _spring(staff.practice_id)
    body = figures(client, staff.token(), "by-period", granularity="day", from_="2026-03-28",
                   to="2026-03-30")
    assert body["granularity"] == "day" and (body["from"], body["to"]) == ("2026-03-28", "2026-03-30")
    assert _days(body) == [("2026-03-28", "2026-03-28"), ("2026-03-29", "2026-03-29"),
                           ("2026-03-30", "2026-03-30")]
    assert _buckets(body) == [
        ("2026-03-28", "2026-03-27T23:00", "2026-03-28T23:00", 1, 0),
        ("2026-03-29", "2026-03-28T23:00", "2026-03-29T22:00", 3, 1),
        ("2026-03-30", "2026-03-29T22:00", "2026-03-30T22:00", 1, 1),
    ]


def test_day_buckets_across_the_autumn_change(client, staff, other):
    _autumn(staff.practice_id)
    body = figures(client, staff.token(), "by-period", from_="2026-10-24", to="2026-10-26")
    assert _buckets(body) == [
        ("2026-10-24", "2026-10-23T22:00", "2026-10-24T22:00", 1, 0),
        ("2026-10-25", "2026-10-24T22:00", "2026-10-25T23:00", 4, 1),
        ("2026-10-26", "2026-10-25T23:00", "2026-10-26T23:00", 1, 1),
    ]


def test_week_and_month_buckets(client, staff, other):
    _spring(staff.practice_id)
    _autumn(staff.practice_id)
    add_form(staff.practice_id, T(2026, 3, 24, 10))  # Tuesday of week 13, before the cut below
    # ISO week 13 is Monday 23 to Sunday 29 March (167 hours: it loses one); the form created
    # on Friday 20 March is in week 12, outside the range.
    weeks = figures(client, staff.token(), "by-period", granularity="week", from_="2026-03-23",
                    to="2026-04-05")
    assert _buckets(weeks) == [
        ("2026-W13", "2026-03-22T23:00", "2026-03-29T22:00", 5, 1),
        ("2026-W14", "2026-03-29T22:00", "2026-04-05T22:00", 1, 1),
    ]
    assert _days(weeks) == [("2026-03-23", "2026-03-29"), ("2026-03-30", "2026-04-05")]
    # Cut to the range at both ends: from a Wednesday to a Tuesday.
    cut = figures(client, staff.token(), "by-period", granularity="week", from_="2026-03-25",
                  to="2026-03-31")
    assert _buckets(cut) == [
        ("2026-W13", "2026-03-24T23:00", "2026-03-29T22:00", 4, 1),
        ("2026-W14", "2026-03-29T22:00", "2026-03-31T22:00", 1, 1),
    ]
    assert _days(cut) == [("2026-03-25", "2026-03-29"), ("2026-03-30", "2026-03-31")]
    # March holds the seven forms above (the one of 20 March included) and both signatures;
    # October holds the six autumn forms, one signed on the 25th, the other on 26 October.
    months = figures(client, staff.token(), "by-period", granularity="month", from_="2026-03-01",
                     to="2026-10-31")
    assert [(b["period"], b["created"], b["signed"]) for b in months["buckets"]] == [
        ("2026-03", 7, 2), ("2026-04", 0, 0), ("2026-05", 0, 0), ("2026-06", 0, 0),
        ("2026-07", 0, 0), ("2026-08", 0, 0), ("2026-09", 0, 0), ("2026-10", 6, 2),
    ]
    assert (months["buckets"][0]["start"], months["buckets"][0]["end"]) == (
        "2026-02-28T23:00:00.000Z", "2026-03-31T22:00:00.000Z")
    assert (months["buckets"][-1]["start"], months["buckets"][-1]["end"]) == (
        "2026-09-30T22:00:00.000Z", "2026-10-31T23:00:00.000Z")


def test_default_ranges_end_today(client, staff):
    """Today is Monday 30 November 2026 in Berlin."""
    days = figures(client, staff.token(), "by-period")
    assert (days["granularity"], days["from"], days["to"]) == ("day", "2026-11-01", "2026-11-30")
    assert len(days["buckets"]) == 30
    weeks = figures(client, staff.token(), "by-period", granularity="week")
    assert (weeks["from"], len(weeks["buckets"])) == ("2026-09-14", 12)
    assert (weeks["buckets"][0]["period"], weeks["buckets"][-1]["period"]) == ("2026-W38", "2026-W49")
    assert (weeks["buckets"][-1]["from"], weeks["buckets"][-1]["to"]) == ("2026-11-30", "2026-11-30")
    months = figures(client, staff.token(), "by-period", granularity="month")
    assert [b["period"] for b in months["buckets"]][::11] == ["2025-12", "2026-11"]
    assert len(months["buckets"]) == 12
    ending = figures(client, staff.token(), "by-period", granularity="month", to="2026-03-15")
    assert (ending["from"], ending["buckets"][0]["period"], ending["buckets"][-1]["to"]) == (
        "2025-04-01", "2025-04", "2026-03-15")


# ----- conversion -----


def test_conversion_shares_and_time_to_sign(client, staff, other):
    pid = staff.practice_id
    base = T(2026, 11, 2, 10)
    add_form(pid, base, status="SIGNED", signed_at=T(2026, 11, 2, 10, 1, 0, 100000))  # 60 s (see below)
    add_signed(pid, base, dt.timedelta(seconds=3600), status="PAID")
    add_signed(pid, base, dt.timedelta(days=1), status="COMPLETED")                 # 86400 s
    add_form(pid, base, status="REVOKED", signed_at=base + dt.timedelta(seconds=120),
             revoked_at=base + 2 * DAY)                                             # signed, then revoked
    add_signed(pid, base, dt.timedelta(seconds=7200))
    add_form(pid, T(2026, 11, 28, 10))                                              # pending
    add_form(pid, T(2026, 11, 3, 10))                                               # expired (past expiry)
    add_form(pid, T(2026, 11, 4, 10), status="EXPIRED")                             # expired
    add_form(pid, T(2026, 11, 5, 10), status="REVOKED", revoked_at=T(2026, 11, 5, 11))
    add_signed(pid, T(2026, 10, 15, 10), dt.timedelta(seconds=5))                   # before the range

    body = figures(client, staff.token(), "conversion", from_="2026-11-01", to="2026-11-30")
    # 9 created; signed: 5 (60, 3600, 86400, 120, 7200 s); expired 2; revoked 2 (one after signing).
    # Shares: 5/9 = 55.55..% -> 55.6, 2/9 = 22.22..% -> 22.2.
    # Sorted durations 60, 120, 3600, 7200, 86400: median at rank ceil(5/2) = 3, p90 at ceil(4.5) = 5.
    # The first form: created 10:00:00.000, signed 10:01:00.100: whole seconds 60 (not 60.1).
    assert body == {
        "from": "2026-11-01", "to": "2026-11-30", "timezone": "Europe/Berlin",
        "created": 9, "signed": 5, "expired": 2, "revoked": 2,
        "signedPercent": 55.6, "expiredPercent": 22.2, "revokedPercent": 22.2,
        "medianSecondsToSign": 3600, "p90SecondsToSign": 86400,
    }
    # All time adds the 5-second form: 10 created, 6 signed (60.0 %);
    # sorted 5, 60, 120, 3600, 7200, 86400: median rank 3 (120 s, the lower middle), p90 rank 6.
    everything = figures(client, staff.token(), "conversion")
    assert (everything["created"], everything["signed"], everything["signedPercent"]) == (10, 6, 60.0)
    assert (everything["medianSecondsToSign"], everything["p90SecondsToSign"]) == (120, 86400)


def test_conversion_percentiles_for_small_counts(client, staff):
    pid = staff.practice_id
    add_signed(pid, T(2026, 6, 1, 10), dt.timedelta(seconds=42))
    one = figures(client, staff.token(), "conversion", from_="2026-06-01", to="2026-06-01")
    # n = 1: both ranks are 1.
    assert (one["signedPercent"], one["medianSecondsToSign"], one["p90SecondsToSign"]) == (100.0, 42, 42)
    for seconds in (40, 10, 30, 20, 50, 60, 70, 80, 90, 100):
        add_signed(pid, T(2026, 7, 1, 10), dt.timedelta(seconds=seconds))
    add_form(pid, T(2026, 7, 1, 10))  # pending
    july = figures(client, staff.token(), "conversion", from_="2026-07-01", to="2026-07-31")
    # n = 10 (10 .. 100 s): median rank 5 (50 s), p90 rank 9 (90 s); 10 of 11 signed = 90.9 %.
    assert (july["signedPercent"], july["medianSecondsToSign"], july["p90SecondsToSign"]) == (90.9, 50, 90)


# ----- revenue -----


def test_revenue_is_zero_without_billing(client, staff):
    add_payment(staff.practice_id, T(2026, 11, 5, 10), 4900)
    body = figures(client, staff.token(), "revenue")
    assert body == {"from": None, "to": None, "timezone": "Europe/Berlin", "billingEnabled": False,
                    "payments": 0, "totals": []}


# ----- a practice without data -----


def test_a_practice_without_data(client, staff, other):
    token = staff.token()
    assert figures(client, token, "overview") == {
        "from": None, "to": None, "timezone": "Europe/Berlin", "total": 0, "pending": 0, "signed": 0,
        "completed": 0, "revoked": 0, "expired": 0, "patients": 0, "thisMonth": None,
    }
    assert all(item["total"] == item["signed"] == item["revoked"] == 0
               for item in figures(client, token, "by-type")["items"])
    days = figures(client, token, "by-period", from_="2026-11-01", to="2026-11-05")
    assert [(b["created"], b["signed"]) for b in days["buckets"]] == [(0, 0)] * 5
    assert figures(client, token, "conversion") == {
        "from": None, "to": None, "timezone": "Europe/Berlin", "created": 0, "signed": 0, "expired": 0,
        "revoked": 0, "signedPercent": None, "expiredPercent": None, "revokedPercent": None,
        "medianSecondsToSign": None, "p90SecondsToSign": None,
    }


# ----- input and access -----


INVALID_RANGES = [
    ({"from_": "2026-13-01"}, "from"),
    ({"from_": "2026-3-1"}, "from"),
    ({"from_": "20260301"}, "from"),
    ({"to": "2026-02-30"}, "to"),
    ({"to": "2026-03-01T10:00:00"}, "to"),
    ({"to": "9999-12-31"}, "to"),
    ({"from_": "2026-03-02", "to": "2026-03-01"}, "from"),
]


@pytest.mark.parametrize("what", ["overview", "by-type", "by-period", "conversion", "revenue"])
def test_invalid_or_reversed_ranges_answer_400(client, staff, what):
    for params, field in INVALID_RANGES:
        result = analytics(client, staff.token(), what, **params)
        assert_error(result, 400, "validation_failed")
        assert problem_fields(result) == {field}, params


def test_by_period_refuses_a_bad_granularity_and_too_many_buckets(client, staff):
    token = staff.token()
    result = analytics(client, token, "by-period", granularity="year")
    assert_error(result, 400, "validation_failed")
    assert problem_fields(result) == {"granularity"}
    # 2025-01-01 .. 2026-02-04 are 400 days, one more day is one bucket too many.
    assert len(figures(client, token, "by-period", from_="2025-01-01", to="2026-02-04")["buckets"]) == 400
    too_many = analytics(client, token, "by-period", from_="2025-01-01", to="2026-02-05")
    assert_error(too_many, 400, "range_too_large")
    # Friday 1 January 2021 is in ISO week 53 of 2020.
    weeks = figures(client, token, "by-period", granularity="week", from_="2021-01-01", to="2021-01-10")
    assert [(b["period"], b["from"], b["to"]) for b in weeks["buckets"]] == [
        ("2020-W53", "2021-01-01", "2021-01-03"), ("2021-W01", "2021-01-04", "2021-01-10")]
    # Without `to` the range ends today, so a `from` after today is a reversed range.
    assert_error(analytics(client, token, "by-period", from_="2026-12-01"), 400, "validation_failed")


def test_roles(client, staff):
    reception = member_with_role(client, staff.practice_id, "EMPFANG")
    for what in ("overview", "by-type", "by-period", "conversion"):
        assert analytics(client, staff.token("ARZT"), what).status_code == 200
        assert_error(analytics(client, reception.token, what), 403, "forbidden")
    assert_error(analytics(client, staff.token("ARZT"), "revenue"), 403, "forbidden")
    assert analytics(client, staff.token("ADMIN"), "revenue").status_code == 200
    assert analytics(client, None, "overview").status_code == 401


def test_statements_prepared_for_one_practice_and_window_serve_the_next(client, staff, other):
    """The statements are composed once per shape: what the other practice asked first (other
    windows, the same shapes) must not show in the answers of the next."""
    pid = staff.practice_id
    add_form(pid, T(2026, 11, 2, 10))
    add_signed(pid, T(2026, 11, 3, 10), H)
    add_patient(pid, T(2026, 11, 3, 10))
    queries = [("overview", {}), ("overview", {"from_": "2026-11-01"}), ("overview", {"to": "2026-11-30"}),
               ("by-type", {"from_": "2026-11-01", "to": "2026-11-30"}), ("conversion", {}),
               ("by-period", {"granularity": "day"})]
    first = {(what, str(params)): figures(client, other.token(), what, **params) for what, params in queries}
    mine = {(what, str(params)): figures(client, staff.token(), what, **params) for what, params in queries}
    overview = mine[("overview", "{}")]
    assert (overview["total"], overview["signed"], overview["patients"]) == (2, 1, 1)
    assert mine[("overview", "{'from_': '2026-11-01'}")]["total"] == 2
    assert first[("overview", "{}")]["total"] == 10  # the other practice's own: 5 signed, 5 revoked
    assert sum(b["created"] for b in mine[("by-period", "{'granularity': 'day'}")]["buckets"]) == 2
