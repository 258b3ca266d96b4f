"""Object storage behind a small interface: a local directory (embedded) or S3 (MinIO)."""

from __future__ import annotations

from appliance.settings import Settings
from appliance.storage.directory import DirectoryStore


def open_store(settings: Settings):
    """The store the settings name. The S3 backend arrives with the photo storage work."""
    if settings.storage.backend == "directory":
        return DirectoryStore(settings.storage_directory)
    raise NotImplementedError("storage.backend 's3' is not available in this release")
