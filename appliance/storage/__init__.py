"""Object storage behind a small interface: a local directory (embedded) or S3 (MinIO)."""

from __future__ import annotations

from appliance.settings import Settings
from appliance.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    SourceError,
    StoredObject,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from appliance.storage.directory import DirectoryStore

__all__ = [
    "DirectoryStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "SourceError",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "StoredObject",
    "open_store",
]


def open_store(settings: Settings) -> ObjectStore:
    """The store the settings name; opening does not contact S3 (readiness does)."""
    storage = settings.storage
    if storage.backend == "s3":
        # Imported only here: the minio SDK costs every worker start-up time and memory.
        from appliance.storage.s3 import S3Store

        return S3Store(storage.s3_endpoint, storage.s3_access_key, storage.s3_secret_key,
                       storage.s3_bucket, secure=storage.s3_secure, region=storage.s3_region,
                       timeout=storage.s3_timeout)
    return DirectoryStore(settings.storage_directory)
