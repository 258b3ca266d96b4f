"""GDT: a practice's exchange settings and the incoming PVS files the import acted on."""

from __future__ import annotations

import peewee

from appliance.models.base import BaseModel, JSONField, TenantModel


class PracticeGdt(BaseModel):
    """The GDT columns of the `practice` row (the practice is the tenant, keyed by its id)."""

    gdt_exchange_dir = peewee.TextField(null=True)
    gdt_sender_id = peewee.TextField(default="EINW")
    gdt_receiver_id = peewee.TextField(default="PVS")
    gdt_charset = peewee.TextField(default="ISO-8859-1")
    #: [{"procedure": 8402 or null, "test": 8410 or null, "consentType": ...}, ...]
    gdt_request_map = JSONField(default=list)
    gdt_default_type = peewee.TextField(null=True)
    #: The quirks of PVS files the import accepts (appliance.gdt.record.QUIRKS).
    gdt_tolerate = JSONField(default=list)
    updated_at = peewee.DateTimeField()

    class Meta:
        table_name = "practice"


class GdtImport(TenantModel):
    """One incoming file acted on; `file_key` is unique per practice, so each is acted on once."""

    file_key = peewee.TextField()
    file_name = peewee.TextField()
    record_type = peewee.TextField()
    consent_count = peewee.IntegerField()
    created_at = peewee.DateTimeField()
