"""The practice's own text block per consent type: immutable revisions that forms name."""

from __future__ import annotations

import peewee

from appliance.models.base import JSONField, TenantModel


class PracticeFormText(TenantModel):
    """One revision of a practice's text for a type; a NULL title means the text was removed.
    Rows are never changed (on PostgreSQL the application role may not): a consent form made
    while a revision was current keeps naming it."""

    type = peewee.TextField()
    revision = peewee.IntegerField()
    title = peewee.TextField(null=True)
    paragraphs = JSONField(null=True)
    created_by = peewee.UUIDField(null=True)
    created_at = peewee.DateTimeField()
