"""The arithmetic behind the analytics figures: rounding, local days, bucket calendars."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from appliance.services.analytics import (
    bucket_count,
    bucket_label,
    day_start,
    default_first,
    percent,
    rounded_div,
)

D = dt.date


@pytest.mark.parametrize(("part", "whole", "expected"), [
    (1, 16, 6.3),    # 6.25 rounds half up, not to even
    (1, 8, 12.5),
    (1, 3, 33.3),
    (2, 3, 66.7),
    (5, 9, 55.6),
    (1, 1, 100.0),
    (0, 7, 0.0),
    (1, 2001, 0.0),  # 0.04997..
    (1, 1999, 0.1),  # 0.05002..
    (0, 0, None),
])
def test_percent_has_one_decimal_rounded_half_up(part, whole, expected):
    assert percent(part, whole) == expected


def test_averages_round_halves_away_from_zero():
    assert [rounded_div(n, 2) for n in (5, 4, 3, -3, -5)] == [3, 2, 2, -2, -3]
    assert rounded_div(18700, 3) == 6233 and rounded_div(18701, 2) == 9351


def test_a_day_begins_at_its_first_instant_even_when_midnight_is_skipped():
    """Santiago de Chile springs from 00:00 to 01:00 on 6 September 2026 (UTC-4 -> UTC-3):
    that day starts at 01:00 local = 04:00 UTC and lasts 23 hours."""
    zone = zoneinfo.ZoneInfo("America/Santiago")
    start, end = day_start(D(2026, 9, 6), zone), day_start(D(2026, 9, 7), zone)
    assert (start, end) == (dt.datetime(2026, 9, 6, 4), dt.datetime(2026, 9, 7, 3))
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    assert day_start(D(2026, 3, 30), berlin) - day_start(D(2026, 3, 29), berlin) == dt.timedelta(hours=23)
    assert day_start(D(2026, 10, 26), berlin) - day_start(D(2026, 10, 25), berlin) == dt.timedelta(hours=25)


def test_bucket_calendars():
    assert bucket_count(D(2026, 1, 1), D(2026, 1, 1), "day") == 1
    assert bucket_count(D(2025, 1, 1), D(2026, 2, 4), "day") == 400
    # Sunday 29 March and Monday 30 March are in two ISO weeks; 1 Jan 2021 is in 2020-W53.
    assert bucket_count(D(2026, 3, 29), D(2026, 3, 30), "week") == 2
    assert bucket_label(D(2021, 1, 1), "week") == "2020-W53"
    assert bucket_count(D(2025, 12, 31), D(2026, 1, 1), "month") == 2
    assert bucket_label(D(2026, 3, 1), "month") == "2026-03"
    assert default_first(D(2026, 11, 30), "day") == D(2026, 11, 1)
    assert default_first(D(2026, 11, 30), "week") == D(2026, 9, 14)
    assert default_first(D(2026, 2, 10), "month") == D(2025, 3, 1)
