"""Runs a job exactly once per run key, whatever the number of scheduler processes.

The database decides: the first process to insert (job, run_key) holds the run; the others
skip it. A holder that dies leaves an unfinished run whose lease expires; the next process
that tries takes it over. Every run is recorded with its outcome and counts.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

import peewee

from appliance.clock import Clock
from appliance.models import JobRun

log = logging.getLogger("appliance.scheduler")


class JobRunner:
    def __init__(self, database: peewee.Database, clock: Clock, holder: str):
        self._db = database
        self._clock = clock
        self.holder = holder

    def _claim(self, job: str, run_key: str, lease: dt.timedelta) -> uuid.UUID | None:
        now = self._clock.now()
        run_id = uuid.uuid4()
        try:
            with self._db.atomic():
                JobRun.insert(id=run_id, job=job, run_key=run_key, holder=self.holder, started_at=now,
                              lease_until=now + lease).execute()
            return run_id
        except peewee.IntegrityError:
            pass
        with self._db.atomic():
            taken = JobRun.update(
                holder=self.holder, started_at=now, lease_until=now + lease,
                attempts=JobRun.attempts + 1,
            ).where(
                JobRun.job == job, JobRun.run_key == run_key, JobRun.finished_at.is_null(),
                JobRun.lease_until < now,
            ).execute()
            if not taken:
                return None
            return JobRun.get((JobRun.job == job) & (JobRun.run_key == run_key)).id

    def run(self, job: str, run_key: str, work: Callable[[], dict],
            lease: dt.timedelta = dt.timedelta(minutes=30)) -> str | None:
        """'ok' or 'error' when this process ran it; None when another holds or held the run."""
        run_id = self._claim(job, run_key, lease)
        if run_id is None:
            return None
        outcome, counts = "ok", {}
        try:
            counts = work()
        except Exception as exc:  # recorded and logged; the scheduler keeps running
            outcome, counts = "error", {"error": type(exc).__name__}
            log.exception("job failed", extra={"job": job, "run_key": run_key})
        with self._db.atomic():
            JobRun.update(finished_at=self._clock.now(), outcome=outcome, counts=counts).where(
                JobRun.id == run_id, JobRun.holder == self.holder
            ).execute()
        log.info("job finished", extra={"job": job, "run_key": run_key, "outcome": outcome, "counts": counts})
        return outcome


def recent_runs(limit: int = 50) -> list[JobRun]:
    return list(JobRun.select().order_by(JobRun.started_at.desc()).limit(limit))
