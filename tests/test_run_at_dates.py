"""The moments `make test-dates` runs at are derived from today and hit what they name."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from tests.run_at_dates import moments

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("now", [
    dt.datetime(2026, 12, 2, 17, 0, tzinfo=dt.UTC),
    dt.datetime(2027, 3, 28, 0, 30, tzinfo=dt.UTC),
    dt.datetime(2030, 12, 31, 23, 59, 45, tzinfo=dt.UTC),
    dt.datetime(2031, 1, 1, 0, 0, 1, tzinfo=dt.UTC),
])
def test_each_moment_is_a_minute_before_what_it_names(now):
    chosen = moments(now)
    assert chosen["in 400 days"] - now == dt.timedelta(days=400)
    for name in ("spring DST change", "autumn DST change"):
        moment = chosen[name]
        assert moment.year == now.year + 1 and moment.weekday() == 6, name
        before, after = (moment.astimezone(BERLIN).utcoffset(),
                         (moment + dt.timedelta(minutes=2)).astimezone(BERLIN).utcoffset())
        assert before != after, f"{name}: Berlin's offset does not change within the run's first minutes"
    eve = chosen["new year's eve"]
    assert (eve.month, eve.day, eve.hour, eve.minute, eve.second) == (12, 31, 23, 59, 30)
    assert dt.timedelta(0) <= eve - now <= dt.timedelta(days=366), "the coming new year's eve"
