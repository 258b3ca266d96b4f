"""Photos (ciphertext in the object store, clear facts in the row), the practice logo, and the
queue of objects that must be removed unless a committed row names them."""

from __future__ import annotations

import peewee

from appliance.models.base import TenantModel

PHOTO_TYPES = ("BEFORE", "AFTER")
LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")


class Photo(TenantModel):
    patient_id = peewee.UUIDField()
    consent_form_id = peewee.UUIDField(null=True)
    treatment_plan_id = peewee.UUIDField(null=True)
    type = peewee.TextField()
    body_region = peewee.TextField()
    taken_at = peewee.DateTimeField()
    wrapped_key = peewee.TextField()
    encrypted_metadata = peewee.TextField(null=True)
    signature = peewee.TextField(null=True)
    photo_consent_granted = peewee.BooleanField(default=False)
    size_bytes = peewee.BigIntegerField()
    uploaded_by = peewee.UUIDField(null=True)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()


class PhotoThumbnail(TenantModel):
    """A photo's encrypted thumbnail; `id` is the photo's id (docs/crypto.md, photo.thumbnail)."""

    wrapped_key = peewee.TextField()
    signature = peewee.TextField()
    ciphertext = peewee.BlobField()
    size_bytes = peewee.IntegerField()


class PracticeLogo(TenantModel):
    content_type = peewee.TextField()
    size_bytes = peewee.BigIntegerField()
    uploaded_by = peewee.UUIDField(null=True)
    created_at = peewee.DateTimeField()


class ObjectCleanup(TenantModel):
    object_key = peewee.TextField(unique=True)
    reason = peewee.TextField()
    not_before = peewee.DateTimeField()
    attempts = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField()
