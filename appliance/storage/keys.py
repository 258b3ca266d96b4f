"""Object keys, derived on the server only: every object lives under its practice's prefix.

A client never names a key; it names a photo or logo id that the tenant filter has already
checked, and the key follows from the row.
"""

from __future__ import annotations

import uuid


def practice_prefix(practice_id: uuid.UUID) -> str:
    return f"{practice_id}/"


def photo_key(practice_id: uuid.UUID, photo_id: uuid.UUID) -> str:
    return f"{practice_id}/photos/{photo_id}"


def logo_key(practice_id: uuid.UUID, logo_id: uuid.UUID) -> str:
    """Each uploaded logo gets its own key, so replacing one never overwrites an object that a
    committed row still names; the old object is removed after the new row is committed."""
    return f"{practice_id}/logo/{logo_id}"


def archive_key(practice_id: uuid.UUID, archive_id: uuid.UUID) -> str:
    """Each upload gets its own id, so a failed attempt never collides with the next one."""
    return f"{practice_id}/archives/{archive_id}"


def parse(key: str) -> tuple[uuid.UUID, str, uuid.UUID] | None:
    """(practice id, kind, id) of a key made here, or None for anything else."""
    parts = key.split("/")
    if len(parts) != 3 or parts[1] not in ("photos", "logo", "archives"):
        return None
    try:
        return uuid.UUID(parts[0]), parts[1], uuid.UUID(parts[2])
    except ValueError:
        return None


def is_appliance_key(key: str) -> bool:
    """Whether a key has the shape of one made here (practice id, then a known kind), so a
    bucket shared with something else keeps that other thing's objects."""
    parts = key.split("/")
    if len(parts) != 3 or parts[1] not in ("photos", "logo", "audit-exports"):
        return False
    try:
        uuid.UUID(parts[0])
    except ValueError:
        return False
    return True


def audit_export_key(practice_id: uuid.UUID, export_id: uuid.UUID) -> str:
    return f"{practice_id}/audit-exports/{export_id}"
