"""Runs the date-sensitive tests (`pytest --date-sensitive`) at other dates under faketime.

The suite must pass whatever today's date is. This runs the tests that read the real clock (a
live server, or the clock fixture) at moments chosen from today, so the check moves with the
calendar and never bakes in a date:

- 400 days from now;
- a minute before the clocks change in Europe/Berlin next spring and next autumn (01:00 UTC on
  the last Sunday of March and of October), so the change happens while the tests run;
- 30 seconds before the year turns (23:59:30 UTC on 31 December; Berlin is already in the new
  year, so practice months and UTC months differ).

The processes also run with TZ=Europe/Berlin, as a clinic's server may be set: code that reads
local time instead of UTC shows up here. faketime shifts the clock of every child process
(PostgreSQL and gunicorn too) and lets it tick; SeaweedFS cannot be shifted, so the S3 tests
skip themselves (see the s3_server fixture). Two dates run at a time, each in two pytest-xdist
workers (as in `make test`, the tests that change the machine share one); each writes its own log.

    python tests/run_at_dates.py [pytest arguments...]
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARALLEL = 2
#: pytest-xdist workers per date.
WORKERS = 2
LOG_TAIL_LINES = 60


def _last_sunday(year: int, month: int) -> dt.date:
    day = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
    return day - dt.timedelta(days=(day.weekday() - 6) % 7)


def moments(now: dt.datetime) -> dict[str, dt.datetime]:
    """The moments to run at, by name, as aware UTC datetimes derived from `now`."""
    next_year = now.year + 1
    new_year_eve = dt.datetime(now.year, 12, 31, 23, 59, 30, tzinfo=dt.UTC)
    if new_year_eve < now:
        new_year_eve = new_year_eve.replace(year=next_year)
    return {
        "in 400 days": now + dt.timedelta(days=400),
        "spring DST change": dt.datetime.combine(
            _last_sunday(next_year, 3), dt.time(0, 59, 0), tzinfo=dt.UTC),
        "autumn DST change": dt.datetime.combine(
            _last_sunday(next_year, 10), dt.time(0, 59, 0), tzinfo=dt.UTC),
        "new year's eve": new_year_eve,
    }


def _run(name: str, moment: dt.datetime, offset: int, pytest_args: list[str], log: Path) -> int:
    env = {**os.environ, "TZ": "Europe/Berlin"}
    command = ["faketime", "-f", f"{offset:+d}", sys.executable, "-m", "pytest", "-q",
               "-p", "no:cacheprovider", "-n", str(WORKERS), "--dist", "loadgroup", "--date-sensitive",
               *pytest_args]
    with log.open("wb") as out:
        print(f"==> {name}: {moment:%Y-%m-%d %H:%M:%S} UTC (offset {offset:+d} s)", flush=True)
        return subprocess.call(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _summary(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()
    return next((line for line in reversed(lines) if " in " in line and ("passed" in line or
                 "failed" in line or "error" in line or "no tests ran" in line)), "(no summary)")


def main(pytest_args: list[str]) -> int:
    if shutil.which("faketime") is None:
        print("error: faketime is missing (Debian package faketime)", file=sys.stderr)
        return 2
    now = dt.datetime.now(dt.UTC)
    planned = {name: (moment, int((moment - now).total_seconds()))
               for name, moment in moments(now).items()}
    logs = Path(tempfile.mkdtemp(prefix="appliance-dates-"))
    log_of = {name: logs / f"{name.replace(' ', '-').replace(chr(39), '')}.log" for name in planned}
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {name: pool.submit(_run, name, moment, offset, pytest_args, log_of[name])
                   for name, (moment, offset) in planned.items()}
        results = {name: future.result() for name, future in futures.items()}
    failed = []
    for name, code in results.items():
        print(f"--- {name}: {_summary(log_of[name])}")
        if code != 0:  # 5 (no tests ran) fails too
            failed.append(name)
            print("\n".join(log_of[name].read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]))
    if failed:
        print(f"error: the date-sensitive tests failed at: {', '.join(failed)} (logs in {logs})",
              file=sys.stderr)
        return 1
    shutil.rmtree(logs, ignore_errors=True)
    print("==> the date-sensitive tests pass at every date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
