"""Encrypted payloads uploaded into the object store (photos, consent archives): the reader
that checks what a server can check while the bytes stream through, and the answers to a
failed upload."""

from __future__ import annotations

from appliance import envelopes
from appliance.http.errors import ApiError, bad_request
from appliance.services.objects import UploadExpired, store_unavailable
from appliance.storage import SourceError, StoreUnavailable
from appliance.storage.base import CHUNK_BYTES, Readable


class UploadTooLarge(SourceError):
    pass


class NotAPayload(SourceError):
    pass


class PayloadReader:
    """Reads an uploaded secretstream payload for the store.

    `start()` waits for the 24-byte header before anything reaches the store; every read
    counts, and one byte past `limit` stops the upload. Failures of the client's stream
    (cut connection, broken form) become `SourceError`, never a store error.
    """

    def __init__(self, stream: Readable, limit: int):
        self._stream = stream
        self._limit = limit
        self._head = b""
        self.size = 0

    def _pull(self, size: int) -> bytes:
        try:
            piece = self._stream.read(size)
        except Exception as exc:
            raise SourceError("the upload ended before it was complete") from exc
        self.size += len(piece)
        if self.size > self._limit:
            raise UploadTooLarge(f"more than {self._limit} bytes")
        return piece

    def start(self) -> None:
        head = b""
        while len(head) < envelopes.STREAM_HEADER_BYTES:
            piece = self._pull(envelopes.STREAM_HEADER_BYTES - len(head))
            if not piece:
                break
            head += piece
        if not envelopes.stream_header_ok(head):
            raise NotAPayload("does not start with a secretstream header")
        self._head = head

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._pull(size if size > 0 else CHUNK_BYTES)

    def finish(self) -> None:
        if self.size < envelopes.STREAM_MIN_BYTES:
            raise NotAPayload(f"must be at least {envelopes.STREAM_MIN_BYTES} bytes")


def upload_refusal(exc: BaseException, what: str, max_bytes: int) -> ApiError | None:
    """The answer for an upload that failed on the client's side or the store's, or None when
    the failure is the caller's to judge."""
    if isinstance(exc, UploadTooLarge):
        return ApiError(413, "payload_too_large", f"the {what} exceeds {max_bytes} bytes")
    if isinstance(exc, NotAPayload):
        return bad_request("the file is not an encrypted payload",
                           [{"field": "file", "problem": str(exc)}], code="invalid_payload")
    if isinstance(exc, SourceError):
        return bad_request("the upload ended before it was complete", code="upload_incomplete")
    if isinstance(exc, StoreUnavailable):
        return store_unavailable(exc)
    if isinstance(exc, UploadExpired):
        return ApiError(408, "upload_too_slow", "the upload took too long; send it again")
    return None
