"""Objects in an S3 bucket through the minio SDK: MinIO on the clinic server in production.

The bucket is created on first use when it is missing, so a fresh MinIO works without manual
steps, and the appliance starts even while MinIO is still down (readiness reports it). Every
failure to reach or use the server becomes `StoreUnavailable`; callers answer 503.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from urllib3.util import Retry, Timeout

from appliance.storage.base import (
    CHUNK_BYTES,
    ObjectInfo,
    ObjectNotFound,
    Readable,
    StoredObject,
    StoreUnavailable,
    check_key,
    check_prefix,
    read_full,
)

#: Multipart part size for streams of unknown length: S3's minimum. Parts go one after the
#: other (the SDK's default uploads three in parallel, which holds three parts in memory), so
#: one upload holds about two parts at a time, whatever the size of the file.
PART_BYTES = 5 * 1024 * 1024
MISSING = ("NoSuchKey", "NoSuchObject")
#: What the network and the SDK raise when the server is down, slow or misbehaving.
UNREACHABLE = (urllib3.exceptions.HTTPError, OSError, ServerError, InvalidResponseError)


class _Counting:
    """Hands the SDK full reads (it concatenates what it gets) and counts the bytes."""

    def __init__(self, source: Readable):
        self._source = source
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        piece = read_full(self._source, size if size >= 0 else CHUNK_BYTES)
        self.size += len(piece)
        return piece


class S3Store:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, *,
                 secure: bool = True, region: str = "", timeout: float = 10):
        http = urllib3.PoolManager(
            timeout=Timeout(connect=timeout, read=timeout),
            maxsize=16,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self._client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                             secure=secure, region=region or None, http_client=http)
        self._bucket = bucket
        self._bucket_ready = False
        self._lock = threading.Lock()

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._lock, _translated():
            if not self._client.bucket_exists(self._bucket):
                try:
                    self._client.make_bucket(self._bucket)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._bucket_ready = True

    def put(self, key: str, source: Readable, content_type: str = "application/octet-stream") -> int:
        """Streams in parts; a failed put aborts its multipart upload, so nothing appears."""
        check_key(key)
        self._ensure_bucket()
        counting = _Counting(source)
        with _translated():
            self._client.put_object(self._bucket, key, counting, length=-1, part_size=PART_BYTES,
                                    content_type=content_type, num_parallel_uploads=1)
        return counting.size

    def get(self, key: str) -> StoredObject:
        check_key(key)
        self._ensure_bucket()
        with _translated(key):
            response = self._client.get_object(self._bucket, key)
        size = int(response.headers.get("Content-Length", "0"))

        def chunks() -> Iterator[bytes]:
            with _translated(key):
                yield from response.stream(CHUNK_BYTES)

        def close() -> None:
            response.close()
            with contextlib.suppress(Exception):
                response.release_conn()

        return StoredObject(key, size, chunks(), close)

    def stat(self, key: str) -> ObjectInfo | None:
        check_key(key)
        self._ensure_bucket()
        try:
            with _translated(key):
                result = self._client.stat_object(self._bucket, key)
        except ObjectNotFound:
            return None
        return ObjectInfo(key, result.size or 0)

    def delete(self, key: str) -> None:
        check_key(key)
        self._ensure_bucket()
        with _translated():
            self._client.remove_object(self._bucket, key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        self._ensure_bucket()
        with _translated():
            for item in self._client.list_objects(self._bucket, prefix=prefix, recursive=True):
                yield ObjectInfo(item.object_name, item.size or 0)

    def ping(self) -> None:
        """Ready when the server answers with these credentials and the bucket exists."""
        self._bucket_ready = False
        self._ensure_bucket()


@contextlib.contextmanager
def _translated(key: str | None = None):
    """SDK and network errors -> ObjectNotFound or StoreUnavailable; others pass through."""
    try:
        yield
    except S3Error as exc:
        if key is not None and exc.code in MISSING:
            raise ObjectNotFound(key) from exc
        # Wrong credentials, a vanished bucket, a full disk: the store is not usable.
        raise StoreUnavailable(f"object store refused the request ({exc.code})") from exc
    except UNREACHABLE as exc:
        raise StoreUnavailable(f"object store unreachable ({type(exc).__name__})") from exc
    except MinioException as exc:
        raise StoreUnavailable(f"object store error ({type(exc).__name__})") from exc
