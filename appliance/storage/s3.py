"""Objects in an S3 bucket through the minio SDK: MinIO on the clinic server in production.

The bucket is created on first use when it is missing, so a fresh MinIO works without manual
steps, and the appliance starts even while MinIO is still down (readiness reports it). Every
failure to reach or use the server becomes `StoreUnavailable`; callers answer 503.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

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
    StoreFull,
    StoreUnavailable,
    as_utc,
    check_key,
    check_prefix,
)
from appliance.storage.s3_parts import PartAnswer, send_part

#: Multipart part size for streams of unknown length: S3's minimum. One upload fills one buffer
#: of this size again and again and sends it part after part, so it holds about one part in
#: memory, whatever the size of the file.
PART_BYTES = 5 * 1024 * 1024
#: What one read of the source asks for while a part fills.
FILL_BYTES = 64 * 1024
#: Pages of 1000 incomplete uploads one sweep looks at; the next sweep goes on.
UPLOAD_PAGES = 10
MISSING = ("NoSuchKey", "NoSuchObject")
#: MinIO's answer (HTTP 507) when its drives have no space left.
FULL = ("XMinioStorageFull", "StorageFull")
#: What the network and the SDK raise when the server is down, slow or misbehaving (parts read
#: their answers through http.client itself, which raises HTTPException for a garbled one).
UNREACHABLE = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ServerError,
               InvalidResponseError)


def _fill(source: Readable, view: memoryview) -> int:
    """Reads into `view` until it is full or the stream ends; returns how much it holds. Reads
    are small (FILL_BYTES): the layers below (gunicorn's body reader, Falcon's form parser) copy
    what one read asks for a few times over (bench/upload.py: 1 MiB reads grew the worker by
    2.6x the part size, 64 KiB reads by 1.7x)."""
    filled = 0
    while filled < len(view):
        piece = source.read(min(FILL_BYTES, len(view) - filled))
        if not piece:
            break
        view[filled:filled + len(piece)] = piece
        filled += len(piece)
    return filled


class S3Store:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, *,
                 secure: bool = True, region: str = "", timeout: float = 10):
        self._http = urllib3.PoolManager(
            timeout=Timeout(connect=timeout, read=timeout),
            maxsize=16,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self._client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                             secure=secure, region=region or None, http_client=self._http)
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
        """Streams in parts; a failed put aborts its multipart upload, so nothing appears.

        The SDK's put_object for a stream of unknown length builds each part by concatenation
        and slices off a look-ahead byte: three copies of a part at its peak (bench/upload.py
        measured 3.9x the part size). This loop fills one buffer and sends it part after part,
        signed as the SDK signs (minio is pinned below 8 for its internal calls); a part's answer
        is awaited while the buffer fills again."""
        check_key(key)
        self._ensure_bucket()
        headers = {"Content-Type": content_type}
        view = memoryview(bytearray(PART_BYTES))
        client, upload_id, parts, size = self._client, None, [], 0
        answer: PartAnswer | None = None
        with _translated():
            try:
                while True:
                    filled = _fill(source, view)
                    size += filled
                    if upload_id is None and filled < PART_BYTES:
                        client._put_object(self._bucket, key, view[:filled], headers)
                        return size
                    if filled == 0:
                        break
                    if upload_id is None:
                        upload_id = client._create_multipart_upload(self._bucket, key, headers)
                    # Part N+1 goes out while the store still writes part N (s3_parts.py).
                    number = len(parts) + (2 if answer is not None else 1)
                    previous, answer = answer, send_part(client, self._http, self._bucket, key,
                                                         upload_id, number, view[:filled])
                    if previous is not None:
                        parts.append(previous.part())
                    if filled < PART_BYTES:
                        break
                if answer is not None:
                    parts.append(answer.part())
                    answer = None
                client._complete_multipart_upload(self._bucket, key, upload_id, parts)
            except BaseException:
                if answer is not None:
                    with contextlib.suppress(BaseException):
                        answer.part()
                if upload_id is not None:
                    with contextlib.suppress(Exception):
                        client._abort_multipart_upload(self._bucket, key, upload_id)
                raise
        return size

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

    def abort_stale_uploads(self, started_before: datetime, owned: Callable[[str], bool]) -> int:
        """Aborts incomplete multipart uploads begun before `started_before` (S3 keeps their
        parts, unlisted, until aborted). The minio SDK exposes ListMultipartUploads and
        AbortMultipartUpload only as internal methods (stable through 7.x; setup.cfg pins <8)."""
        self._ensure_bucket()
        aborted, cutoff = 0, as_utc(started_before)
        marker = None
        with _translated():
            for _ in range(UPLOAD_PAGES):
                page = self._client._list_multipart_uploads(self._bucket, key_marker=marker,
                                                            max_uploads=1000)
                for upload in page.uploads:
                    started = upload.initiated_time
                    if started is not None and as_utc(started) < cutoff and owned(upload.object_name):
                        self._client._abort_multipart_upload(self._bucket, upload.object_name,
                                                             upload.upload_id)
                        aborted += 1
                if not page.is_truncated or not page.next_key_marker:
                    break
                marker = page.next_key_marker
        return aborted

    def free_bytes(self) -> None:
        """S3 does not tell; MinIO's own monitoring watches its drives."""
        return None

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
        if exc.code in FULL:
            raise StoreFull(f"object store has no space left ({exc.code})") from exc
        # Wrong credentials, a vanished bucket, a full disk: the store is not usable.
        raise StoreUnavailable(f"object store refused the request ({exc.code})") from exc
    except UNREACHABLE as exc:
        raise StoreUnavailable(f"object store unreachable ({type(exc).__name__})") from exc
    except MinioException as exc:
        raise StoreUnavailable(f"object store error ({type(exc).__name__})") from exc
