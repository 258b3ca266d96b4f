"""Multipart upload parts sent so that the store writes one part while the next one arrives.

The SDK's part call returns when the store has answered, and only then could the one part buffer
be refilled: the store wrote part N while nothing else happened. Here a part's request is sent
(its bytes are in the kernel once `request` returns, so the buffer is free again), and its answer
is awaited in a thread while the caller refills the buffer and sends the next part on a second
connection: at most two parts in flight, still one buffer (bench/upload.py).

The price: a part is not sent again (its bytes are gone once the buffer refills), so a part that
fails fails the upload (503, nothing stored) where the SDK would have retried; the client sends
the photo again. urllib3's pool still drops kept-alive connections the store has closed before
one is used.
"""

from __future__ import annotations

import contextlib
import threading
from urllib.parse import urlunsplit
from xml.etree import ElementTree

import urllib3
from minio import Minio
from minio.datatypes import Part
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.signer import sign_v4_s3


class PartAnswer:
    """The store's answer to one sent part, awaited in its own thread."""

    def __init__(self, pool: urllib3.HTTPConnectionPool, conn: urllib3.connection.HTTPConnection,
                 number: int):
        self._pool, self._conn, self._number = pool, conn, number
        self._etag: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._wait, name=f"s3-part-{number}", daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        conn, self._conn = self._conn, None
        try:
            response = conn.getresponse()
            if response.status != 200:
                raise _error(response)
            etag = response.headers.get("ETag")
            if not etag:
                raise InvalidResponseError(response.status, response.headers.get("Content-Type"),
                                           "a part's answer without an ETag")
            self._etag = etag.replace('"', "")
        except BaseException as exc:  # handed to the caller's thread by part()
            self._error = exc
            conn.close()
            self._pool._put_conn(None)
        else:
            self._pool._put_conn(conn)

    def part(self) -> Part:
        """Waits for the answer; raises what the store or the network raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return Part(self._number, self._etag)


def send_part(client: Minio, http: urllib3.PoolManager, bucket: str, key: str, upload_id: str,
              number: int, body: memoryview) -> PartAnswer:
    """Sends part `number` signed as the SDK signs it; returns once `body` may be reused."""
    region = client._get_region(bucket)
    url = client._base_url.build(method="PUT", region=region, bucket_name=bucket,
                                 object_name=key,
                                 query_params={"partNumber": str(number), "uploadId": upload_id})
    creds = client._provider.retrieve()
    headers, date = client._build_headers(url.netloc, {}, body, creds)
    headers = sign_v4_s3(method="PUT", url=url, region=region, headers=headers, credentials=creds,
                         content_sha256=headers["x-amz-content-sha256"], date=date)
    pool = http.connection_from_url(urlunsplit(url))
    target = f"{url.path}?{url.query}"
    conn = pool._get_conn()
    try:
        conn.request("PUT", target, body=body, headers=headers)
    except BaseException:
        conn.close()
        pool._put_conn(None)
        raise
    return PartAnswer(pool, conn, number)


def _error(response: urllib3.BaseHTTPResponse) -> Exception:
    """The SDK's own error for a refused part, so the store translates it as any other; an
    answer that is no S3 error document is the server failing."""
    if "xml" in response.headers.get("Content-Type", "") and response.data:
        with contextlib.suppress(ElementTree.ParseError):
            return S3Error.fromxml(response)
    return ServerError(f"server failed with HTTP status code {response.status}", response.status)
