"""Streaming multipart/form-data bodies for the reference client's uploads.

The appliance needs a Content-Length on uploads, and a photo should never sit in the client's
memory whole either: the body is built from the text fields and an iterator of file chunks
whose total length is known in advance (`ciphertext_size`), so `requests` sends it with a
length while the file is still being read and encrypted.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Iterator

from appliance import envelopes


def ciphertext_size(plain_size: int) -> int:
    """The exact length of a payload (docs/crypto.md) for `plain_size` bytes of plaintext."""
    chunks = max(1, math.ceil(plain_size / envelopes.CHUNK_BYTES))
    return envelopes.STREAM_HEADER_BYTES + plain_size + chunks * envelopes.STREAM_CHUNK_OVERHEAD


class MultipartBody:
    """Fields first, then small binary parts (`parts`, e.g. a photo's thumbnail), then one file
    part named `file`; iterable, with a length (`len()`)."""

    def __init__(self, fields: dict[str, str], file_chunks: Iterable[bytes], file_size: int,
                 filename: str = "upload.bin", parts: dict[str, bytes] | None = None):
        boundary = secrets.token_hex(16)
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode() + b"\r\n"
            for name, value in fields.items()
        )
        head += b"".join(
            (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.enc"'
             "\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
            for name, data in (parts or {}).items()
        )
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
                 "\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        self._head = head
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self._chunks = file_chunks
        self._length = len(head) + file_size + len(self._tail)
        self.content_type = f"multipart/form-data; boundary={boundary}"

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        yield from self._chunks
        yield self._tail
