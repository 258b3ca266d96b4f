"""Mail leaves the request: consent links and invites are queued here and sent by a background
thread, with retries and back-off, so a slow or hanging SMTP server never holds a request.

Each queued mail belongs to one row (a consent form or a team invite) whose `mail_status`
says what became of it: `pending`, `sent`, or `failed` with a reason staff can act on. The
queue lives in this process's memory only, because a mail carries its link token in clear
and the database keeps only token hashes. A crash or restart loses what was still queued:
its row stays `pending`, and a `pending` older than `LOST_AFTER` is shown as `failed` ("not
sent before the server restarted"), so staff resend the link. Nothing about the mail's
recipient or text is logged or stored.

A mail is dropped unsent when its row no longer carries the token it was made for (a new
link or a resent invite replaced it, the invite was revoked): the old link would not open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable

import peewee

from appliance import tenancy
from appliance.clock import Clock, isoformat
from appliance.mail import Mailer, MailUnavailable, OutgoingMail

log = logging.getLogger("appliance.mail")

#: Seconds before each retry: six attempts over about three quarters of an hour.
DELAYS = (5.0, 30.0, 120.0, 600.0, 1800.0)
#: A mail pending this long was lost with the process that queued it.
LOST_AFTER = dt.timedelta(hours=1)
LOST = "not sent before the server restarted; send the link again"
PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclasses.dataclass(order=True)
class _Job:
    due: float
    order: int
    model: type[peewee.Model] = dataclasses.field(compare=False)
    row_id: uuid.UUID = dataclasses.field(compare=False)
    practice_id: uuid.UUID = dataclasses.field(compare=False)
    token_hash: str = dataclasses.field(compare=False)
    mail: OutgoingMail = dataclasses.field(compare=False)
    attempt: int = dataclasses.field(default=0, compare=False)
    on_sent: Callable[[], dict] = dataclasses.field(default=dict, compare=False)


def mail_view(row, now: dt.datetime) -> dict | None:
    """What staff see of a row's mail: None when none was asked for."""
    status = row.mail_status
    if status is None:
        return None
    reason = row.mail_error
    if status == PENDING and row.mail_updated_at is not None and now - row.mail_updated_at > LOST_AFTER:
        status, reason = FAILED, LOST
    return {"status": status, "reason": reason, "updatedAt": isoformat(row.mail_updated_at)}


MAIL_SCHEMA = {
    "type": ["object", "null"],
    "required": ["status", "reason", "updatedAt"],
    "properties": {
        "status": {"enum": [PENDING, SENT, FAILED]},
        "reason": {"type": ["string", "null"]},
        "updatedAt": {"type": ["string", "null"], "format": "date-time"},
    },
    "additionalProperties": False,
}


class Outbox:
    """One sender thread per process, started on the first mail (after a fork too)."""

    def __init__(self, mailer: Mailer, database: peewee.Database, clock: Clock):
        self._mailer = mailer
        self._db = database
        self._clock = clock
        self._queue: list[_Job] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def enabled(self) -> bool:
        return getattr(self._mailer, "enabled", True)

    def queue(self, model: type[peewee.Model], row, practice_id: uuid.UUID,
              build: Callable[[], OutgoingMail], on_sent: Callable[[], dict] = dict) -> bool:
        """Inside the request, after the row was committed: records `pending` and queues the
        mail; False (recorded `failed`) when it cannot be sent at all. `on_sent` gives extra
        columns to set when it went out."""
        if not self.enabled:
            self._record(model, row.id, practice_id, row.token_hash, FAILED, "e-mail is not configured")
            return False
        try:
            mail = build()
        except ValueError:
            self._record(model, row.id, practice_id, row.token_hash, FAILED,
                         "the message could not be built")
            return False
        self._record(model, row.id, practice_id, row.token_hash, PENDING, None)
        self._push(_Job(time.monotonic(), next(self._order), model, row.id, practice_id,
                        row.token_hash, mail, on_sent=on_sent))
        return True

    def _push(self, job: _Job) -> None:
        with self._wake:
            heapq.heappush(self._queue, job)
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="mail-outbox", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue or self._queue[0].due > time.monotonic():
                    self._wake.wait(self._queue[0].due - time.monotonic() if self._queue else None)
                job = heapq.heappop(self._queue)
            try:
                self._attempt(job)
            except Exception as exc:  # the thread must outlive a database outage
                log.warning("mail outbox: status not recorded", extra={"error_type": type(exc).__name__})

    def _attempt(self, job: _Job) -> None:
        if not self._current(job):
            return  # replaced or revoked: its link would not open
        try:
            self._mailer.send(job.mail)
        except MailUnavailable as exc:
            job.attempt += 1
            reason = str(exc)
            if job.attempt > len(DELAYS):
                log.warning("e-mail not sent", extra={"record_id": str(job.row_id), "reason": reason,
                                                     "attempts": job.attempt})
                self._record(job.model, job.row_id, job.practice_id, job.token_hash, FAILED, reason)
                return
            log.info("e-mail not sent yet; retrying", extra={"record_id": str(job.row_id),
                                                              "reason": reason, "attempts": job.attempt})
            self._record(job.model, job.row_id, job.practice_id, job.token_hash, PENDING, reason)
            job.due = time.monotonic() + DELAYS[job.attempt - 1]
            self._push(job)
            return
        self._record(job.model, job.row_id, job.practice_id, job.token_hash, SENT, None, job.on_sent())

    def _current(self, job: _Job) -> bool:
        model = job.model
        with tenancy.practice_scope(job.practice_id), self._db.atomic():
            return model.select().where(model.id == job.row_id, model.token_hash == job.token_hash).exists()

    def _record(self, model, row_id, practice_id, token_hash, status, reason, extra=None) -> None:
        with tenancy.practice_scope(practice_id), self._db.atomic():
            model.update(mail_status=status, mail_error=reason, mail_updated_at=self._clock.now(),
                         **(extra or {})).where(
                model.id == row_id, model.token_hash == token_hash).execute()
