"""When each job runs, and the scheduler process itself (`appliance scheduler`).

Times are wall-clock times in the configured time zone. Nightly work runs at 04:15, which no
daylight-saving change in Europe skips or repeats (they happen between 02:00 and 03:00), and
its run key is the local date, so even a doubled trigger cannot run it twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from appliance.scheduler import jobs
from appliance.scheduler.runner import JobRunner
from appliance.services.container import Services

log = logging.getLogger("appliance.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    work: Callable[[Services], dict]
    #: CronTrigger fields, in the configured time zone.
    cron: dict = field(default_factory=dict)
    #: True: one run per local day (key = date); False: one run per cron slot (key = minute).
    daily: bool = False


JOBS = (
    Job("expire-consents", jobs.expire_consents, {"minute": "*/5"}),
    Job("prune", jobs.prune, {"minute": "7"}),
    Job("object-sweep", jobs.sweep_objects, {"minute": "*/10"}),
    Job("gdt-import", jobs.gdt_import, {"minute": "*"}),
    Job("purge-invites", jobs.purge_invites, {"hour": "3", "minute": "40"}, daily=True),
    Job("audit-exports", jobs.audit_exports, {"hour": "4", "minute": "15"}, daily=True),
)


def run_key(job: Job, moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """The same key in every process for the same scheduled slot."""
    local = moment.replace(tzinfo=dt.UTC).astimezone(zone)
    if job.daily:
        return local.date().isoformat()
    return local.replace(second=0, microsecond=0).isoformat(timespec="minutes")


def trigger(job: Job, zone: zoneinfo.ZoneInfo) -> CronTrigger:
    return CronTrigger(timezone=zone, **job.cron)


class Scheduler:
    def __init__(self, ctx: Services, zone: zoneinfo.ZoneInfo, holder: str | None = None):
        self._ctx = ctx
        self._zone = zone
        self.runner = JobRunner(ctx.database, ctx.clock, holder or f"{socket.gethostname()}:{os.getpid()}")

    def run(self, job: Job) -> str | None:
        key = run_key(job, self._ctx.clock.now(), self._zone)
        try:
            return self.runner.run(job.name, key, lambda: job.work(self._ctx))
        finally:
            if not self._ctx.database.is_closed():
                self._ctx.database.close()

    def run_all_once(self) -> dict[str, str | None]:
        """Every job for the current slot: what `appliance scheduler --once` does."""
        return {job.name: self.run(job) for job in JOBS}

    def serve(self) -> None:
        scheduler = BlockingScheduler(timezone=self._zone)
        for job in JOBS:
            scheduler.add_job(self.run, trigger(job, self._zone), args=[job], id=job.name,
                              max_instances=1, coalesce=True, misfire_grace_time=600)
        log.info("scheduler started", extra={"jobs": [job.name for job in JOBS]})
        scheduler.start()
