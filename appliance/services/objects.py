"""Keeps the object store and the database consistent through failures, crashes and outages.

The store and the database cannot share a transaction, so every object that might outlive
its row is written down in `object_cleanup` first:

* Upload: `begin_upload` commits an UPLOAD entry before the first byte is stored; the
  transaction that commits the row removes it again (`claim_upload`). A failed upload removes
  its object at once (`abandon_upload`); an entry left by a crash is found by the sweep once
  its grace period is over.
* Delete: the transaction that deletes rows adds a DELETE entry per object (`bury`); after
  the commit the objects are removed (`purge`). What the store refused then stays queued.

`sweep` retries every due entry and never removes an object that a committed row names. The
scheduler runs it periodically; until then it also runs, at most once a minute per process,
after a successful store operation. The scheduled sweep also aborts what the store keeps of
puts that never finished (S3's incomplete multipart uploads, which no key lists), once they
are older than the upload grace period.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import peewee

from appliance import tenancy
from appliance.clock import Clock
from appliance.http.errors import ApiError
from appliance.models import ConsentArchive, ObjectCleanup, Photo, PracticeLogo
from appliance.storage import (
    ObjectNotFound,
    ObjectStore,
    StoredObject,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from appliance.storage import keys as object_keys

log = logging.getLogger("appliance.objects")

#: How long an upload may take before the sweep treats its object as left by a crash.
UPLOAD_GRACE = dt.timedelta(hours=1)
#: Pause before the sweep retries an entry whose removal failed.
RETRY_DELAY = dt.timedelta(minutes=5)
SWEEP_BATCH = 100
OPPORTUNISTIC_BATCH = 20
OPPORTUNISTIC_INTERVAL = 60.0  # seconds, per process


def store_unavailable(exc: StoreUnavailable) -> ApiError:
    """The answer for a store failure, logged with its cause: a full store is 507 (an operator
    must free space, retrying soon does not help), anything else 503."""
    if isinstance(exc, StoreFull):
        log.error("object store full: uploads fail until space is freed", extra={"cause": str(exc)})
        return ApiError(507, "storage_full", "the object store has no space left; nothing was"
                        " written. The clinic's IT must free space")
    log.warning("object store unavailable", extra={"cause": str(exc)})
    return ApiError(
        503, "object_store_unavailable", "the object store is not reachable; try again shortly",
        headers={"Retry-After": "10"},
    )


def audited_read(db: peewee.Database, store: ObjectStore, key: str, missing: ApiError,
                 record: Callable[[], None]) -> StoredObject:
    """The stored object as a stream, handed out only once `record` (the audit entry) has
    committed: what was read is always on record, and a failed audit closes the stream."""
    try:
        content = store.get(key)
    except StoreUnavailable as exc:
        raise store_unavailable(exc) from exc
    except ObjectNotFound as exc:
        raise missing from exc
    try:
        with db.atomic():
            record()
    except BaseException:
        content.close()
        raise
    return content


class UploadExpired(Exception):
    """The sweep claimed the upload's object before its row was committed."""


@dataclass(frozen=True)
class SweepResult:
    removed: int = 0
    kept: int = 0
    failed: int = 0
    aborted: int = 0


class Objects:
    def __init__(self, database: peewee.Database, store: ObjectStore, clock: Clock, *,
                 upload_grace: dt.timedelta = UPLOAD_GRACE):
        self._db = database
        self._store = store
        self._clock = clock
        self._grace = upload_grace
        self._last_sweep = 0.0
        self._sweep_lock = threading.Lock()

    # ----- uploads -----

    def begin_upload(self, practice_id: uuid.UUID, key: str) -> None:
        """Commits the UPLOAD entry in a transaction of its own, before the upload starts."""
        now = self._clock.now()
        with self._db.atomic():
            ObjectCleanup.insert(
                id=uuid.uuid4(), practice_id=practice_id, object_key=key, reason="UPLOAD",
                not_before=now + self._grace, attempts=0, created_at=now,
            ).execute()

    def claim_upload(self, key: str) -> None:
        """Inside the transaction that commits the row: the entry leaves with it.

        Only an entry the sweep has not claimed counts, so a row is never committed for an
        object that the sweep is removing.
        """
        claimed = ObjectCleanup.delete().where(
            ObjectCleanup.object_key == key, ObjectCleanup.reason == "UPLOAD",
            ObjectCleanup.attempts == 0,
        ).execute()
        if claimed != 1:
            raise UploadExpired(key)

    def abandon_upload(self, key: str) -> None:
        """After a failed upload: the object goes now, or the sweep removes it soon."""
        try:
            self._store.delete(key)
        except StoreError:
            log.warning("object of a failed upload not removed; the sweep retries",
                        extra={"object_key": key})
            self._due_now(key)
            return
        try:
            with self._db.atomic():
                ObjectCleanup.delete().where(
                    ObjectCleanup.object_key == key, ObjectCleanup.reason == "UPLOAD"
                ).execute()
        except peewee.PeeweeException:
            log.warning("cleanup entry of a failed upload kept; the sweep removes it",
                        extra={"object_key": key})

    def _due_now(self, key: str) -> None:
        try:
            with self._db.atomic():
                ObjectCleanup.update(not_before=self._clock.now()).where(
                    ObjectCleanup.object_key == key, ObjectCleanup.attempts == 0
                ).execute()
        except peewee.PeeweeException:
            pass  # the entry becomes due after its grace period instead

    # ----- deletes -----

    def bury(self, practice_id: uuid.UUID, keys: Iterable[str]) -> None:
        """Inside the transaction that deletes the rows: queues their objects for removal."""
        now = self._clock.now()
        rows = [
            {"id": uuid.uuid4(), "practice_id": practice_id, "object_key": key, "reason": "DELETE",
             "not_before": now, "attempts": 0, "created_at": now}
            for key in keys
        ]
        if rows:
            ObjectCleanup.insert_many(rows).execute()

    def purge(self, keys: Iterable[str]) -> bool:
        """After the commit: removes the buried objects; False when some are left queued."""
        for key in keys:
            try:
                self._store.delete(key)
                with self._db.atomic():
                    ObjectCleanup.delete().where(
                        ObjectCleanup.object_key == key, ObjectCleanup.reason == "DELETE"
                    ).execute()
            except (StoreError, peewee.PeeweeException) as exc:
                log.warning("object removal deferred to the sweep",
                            extra={"object_key": key, "error_type": type(exc).__name__})
                return False
        self.maybe_sweep()
        return True

    # ----- the sweep -----

    def sweep(self, limit: int = SWEEP_BATCH, *, unfinished: bool = True) -> SweepResult:
        """Removes the objects of due entries, across practices; stops when the store fails.
        With `unfinished`, then aborts the store's unfinished puts older than the grace."""
        now = self._clock.now()
        removed = kept = failed = 0
        with tenancy.unscoped("the object sweep works across practices"):
            due = list(
                ObjectCleanup.select()
                .where(ObjectCleanup.not_before <= now)
                .order_by(ObjectCleanup.not_before)
                .limit(limit)
            )
            for entry in due:
                with self._db.atomic():
                    claimed = ObjectCleanup.update(
                        attempts=ObjectCleanup.attempts + 1, not_before=now + RETRY_DELAY
                    ).where(ObjectCleanup.id == entry.id, ObjectCleanup.not_before <= now).execute()
                if not claimed:
                    continue  # another process has it, or its upload just committed
                if self._referenced(entry.object_key):
                    kept += 1
                else:
                    try:
                        self._store.delete(entry.object_key)
                    except StoreError:
                        failed += 1
                        log.warning("object sweep stopped: the store failed",
                                    extra={"object_key": entry.object_key})
                        break
                    removed += 1
                with self._db.atomic():
                    ObjectCleanup.delete().where(ObjectCleanup.id == entry.id).execute()
        aborted = self._abort_unfinished(now) if unfinished and not failed else 0
        if removed or failed or aborted:
            log.info("object sweep", extra={"removed": removed, "kept": kept, "failed": failed,
                                            "aborted": aborted})
        return SweepResult(removed, kept, failed, aborted)

    def _abort_unfinished(self, now: dt.datetime) -> int:
        try:
            return self._store.abort_stale_uploads(now - self._grace, object_keys.is_appliance_key)
        except StoreError:
            log.warning("object sweep: unfinished uploads not aborted, the store failed")
            return 0

    def maybe_sweep(self) -> None:
        """A small sweep at most once a minute per process, after the store just worked."""
        if time.monotonic() - self._last_sweep < OPPORTUNISTIC_INTERVAL:
            return
        if not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._last_sweep = time.monotonic()
            self.sweep(OPPORTUNISTIC_BATCH, unfinished=False)
        except (StoreError, peewee.PeeweeException) as exc:
            log.warning("opportunistic object sweep failed", extra={"error_type": type(exc).__name__})
        finally:
            self._sweep_lock.release()

    @staticmethod
    def _referenced(key: str) -> bool:
        """Whether a committed row names the object: then only the entry goes."""
        parsed = object_keys.parse(key)
        if parsed is None:
            return False
        practice_id, kind, object_id = parsed
        model = {"photos": Photo, "logo": PracticeLogo, "archives": ConsentArchive}[kind]
        with tenancy.practice_scope(practice_id):
            return model.select().where(model.id == object_id).exists()
