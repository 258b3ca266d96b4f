"""Scheduled job runs and the nightly audit exports they produce."""

from __future__ import annotations

import peewee

from appliance.models.base import BaseModel, JSONField, TenantModel


class JobRun(BaseModel):
    job = peewee.TextField()
    run_key = peewee.TextField()
    holder = peewee.TextField()
    started_at = peewee.DateTimeField()
    lease_until = peewee.DateTimeField()
    finished_at = peewee.DateTimeField(null=True)
    outcome = peewee.TextField(null=True)
    counts = JSONField(default=dict)
    attempts = peewee.IntegerField(default=1)


class AuditExport(TenantModel):
    object_key = peewee.TextField()
    range_start = peewee.DateTimeField(null=True)
    range_end = peewee.DateTimeField()
    first_seq = peewee.BigIntegerField(null=True)
    last_seq = peewee.BigIntegerField(null=True)
    row_count = peewee.IntegerField()
    head_hash = peewee.TextField()
    size_bytes = peewee.BigIntegerField()
    wrapped_key = peewee.TextField()
    created_at = peewee.DateTimeField()
