"""The scheduled jobs. Each takes the app's services, does one bounded piece of work, and
returns counts for the job record (never personal data)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zlib
import zoneinfo
from collections.abc import Iterable, Iterator

from appliance import envelopes, tenancy
from appliance.client.crypto import encrypt_payload_stream
from appliance.models import (
    AuditEntry,
    AuditExport,
    AuthSession,
    ConsentForm,
    LoginLockout,
    Practice,
    RateLimitHit,
    TeamInvite,
    VaultChallenge,
)
from appliance.services.accounts import FAILURES_FORGOTTEN_AFTER
from appliance.services.audit import chain_of
from appliance.services.audit_log import AuditFilter, all_chains, anchor_text, audit_csv
from appliance.services.container import Services
from appliance.storage import keys

log = logging.getLogger("appliance.scheduler")
BATCH = 500
#: Closed or expired invites keep the invited address; it goes after this long.
INVITE_RETENTION = dt.timedelta(days=30)


def expire_consents(ctx: Services) -> dict:
    """PENDING forms past their deadline become EXPIRED (reads treat them so already)."""
    now, expired = ctx.clock.now(), 0
    with tenancy.unscoped("expiry runs across all practices"):
        while True:
            due = list(
                ConsentForm.select(ConsentForm.id, ConsentForm.practice_id)
                .where(ConsentForm.status == "PENDING", ConsentForm.expires_at <= now)
                .limit(BATCH)
            )
            for form in due:
                with ctx.database.atomic():
                    changed = ConsentForm.update(status="EXPIRED", updated_at=now).where(
                        ConsentForm.id == form.id, ConsentForm.status == "PENDING"
                    ).execute()
                    if changed:
                        ctx.audit.record("CONSENT_EXPIRED", ip=None, practice_id=form.practice_id,
                                         entity_type="consent", entity_id=form.id)
                        expired += changed
            if len(due) < BATCH:
                return {"expired": expired}


def prune(ctx: Services) -> dict:
    """Removes rows that only served a short while: rate-limit hits, ended sessions, challenges,
    and failed-login counts a day old with no lock in force."""
    now = ctx.clock.now()
    with ctx.database.atomic(), tenancy.unscoped("pruning spans all practices"):
        hits = RateLimitHit.delete().where(RateLimitHit.at < now - dt.timedelta(hours=1)).execute()
        sessions = AuthSession.delete().where(
            (AuthSession.expires_at < now - dt.timedelta(days=1))
            | (AuthSession.revoked_at < now - dt.timedelta(days=1))
        ).execute()
        challenges = VaultChallenge.delete().where(
            VaultChallenge.expires_at < now - dt.timedelta(hours=1)
        ).execute()
        lockouts = LoginLockout.delete().where(
            LoginLockout.updated_at < now - FAILURES_FORGOTTEN_AFTER,
            LoginLockout.locked_until.is_null() | (LoginLockout.locked_until < now),
        ).execute()
    return {"rateLimitHits": hits, "sessions": sessions, "vaultChallenges": challenges,
            "loginLockouts": lockouts}


class _IteratorReader:
    """A `read(size)` view of an iterator of byte chunks, for the object store's `put`."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._chunks, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            size = len(self._buffer)
        piece, self._buffer = self._buffer[:size], self._buffer[size:]
        return piece


def _gzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    for chunk in chunks:
        if out := compressor.compress(chunk):
            yield out
    yield compressor.flush()


def export_practice_audit(ctx: Services, practice: Practice) -> int:
    """Exports the entries since the last export as gzip CSV, encrypted to the practice key.

    Only the practice can read it (zero knowledge holds for exports too). Returns the rows.
    """
    with tenancy.practice_scope(practice.id):
        last = AuditExport.select().order_by(AuditExport.last_seq.desc()).first()
        after = last.last_seq if last else 0
        head = (AuditEntry.select(AuditEntry.seq, AuditEntry.hash)
                .where(AuditEntry.chain == chain_of(practice.id))
                .order_by(AuditEntry.seq.desc()).first())
        if head is None or head.seq <= after:
            return 0
        export_id = uuid.uuid4()
        key = keys.audit_export_key(practice.id, export_id)
        zone = zoneinfo.ZoneInfo(practice.timezone)
        plain = _gzip(audit_csv(AuditFilter(upto_seq=head.seq), "de", zone, after_seq=after))
        wrapped, ciphertext = encrypt_payload_stream(
            practice.public_key, plain, envelopes.PURPOSE_AUDIT_EXPORT, str(export_id)
        )
        size = ctx.store.put(key, _IteratorReader(ciphertext))
        try:
            with ctx.database.atomic():
                AuditExport.create(
                    id=export_id, object_key=key, range_start=last.range_end if last else None,
                    range_end=ctx.clock.now(), first_seq=after + 1, last_seq=head.seq,
                    row_count=head.seq - after, head_hash=head.hash, size_bytes=size,
                    wrapped_key=wrapped, created_at=ctx.clock.now(),
                )
        except Exception:
            ctx.store.delete(key)  # no object without its row
            raise
        return head.seq - after


def audit_exports(ctx: Services) -> dict:
    """Exports every practice's new entries, then logs the head of every chain: the journal
    keeps that line outside the database, as an anchor that `appliance audit verify --anchor`
    compares the chain with (removing the newest entries leaves a chain that still links up)."""
    with tenancy.unscoped("the nightly export visits every practice"):
        practices = list(Practice.select())
    rows = sum(export_practice_audit(ctx, practice) for practice in practices)
    for chain in all_chains():
        with tenancy.unscoped("the head of one chain"):
            head = (AuditEntry.select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.chain == chain)
                    .order_by(AuditEntry.seq.desc()).first())
        log.info("audit chain head", extra={"chain": chain, "seq": head.seq,
                                            "anchor": anchor_text(chain, head.seq, head.hash)})
    return {"practices": len(practices), "rows": rows}


def purge_invites(ctx: Services) -> dict:
    """Invites that were accepted, revoked or expired a month ago: the address is not needed."""
    cutoff = ctx.clock.now() - INVITE_RETENTION
    with ctx.database.atomic(), tenancy.unscoped("invite clean-up spans all practices"):
        removed = TeamInvite.delete().where(
            (TeamInvite.expires_at < cutoff)
            | (TeamInvite.accepted_at < cutoff)
            | (TeamInvite.revoked_at < cutoff)
        ).execute()
    return {"invitesRemoved": removed}


def sweep_objects(ctx: Services) -> dict:
    """Objects whose row never committed (crashed uploads) or whose delete was queued, and
    the store's remains of puts that never finished."""
    result = ctx.objects.sweep()
    return {"removed": result.removed, "kept": result.kept, "failed": result.failed,
            "aborted": result.aborted}


def gdt_import(ctx: Services) -> dict:
    """Reads what the practice management systems wrote into the exchange directories; the
    counts say how it went, so a run that rejected every file does not look like a good one."""
    results = ctx.gdt.import_all()
    done = [result for result in results.values() if not isinstance(result, str)]
    return {"practices": len(results), "problems": len(results) - len(done),
            "imported": sum(r.imported for r in done), "rejected": sum(r.rejected for r in done),
            "tolerated": sum(r.tolerated for r in done), "skipped": sum(len(r.skipped) for r in done)}
