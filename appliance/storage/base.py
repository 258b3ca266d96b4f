"""The object-store interface both backends implement, and the errors callers act on.

Keys are built by the server only (see `appliance.storage.keys`); the stores still refuse any
key that could name something outside their namespace, so a bug cannot escape it either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

#: Slash-separated segments of letters, digits, '.', '_' and '-', each starting with a letter
#: or digit: no empty segment, no '.' or '..', no absolute path, no backslash.
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
MAX_KEY_LENGTH = 512
#: Size of the pieces a get yields and a put reads.
CHUNK_BYTES = 1024 * 1024


class StoreError(Exception):
    """Something went wrong in the object store."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or refused to work; callers answer 503 and write nothing."""


class StoreFull(StoreUnavailable):
    """The store has no space left: reads still work, writes need an operator to free space."""


class ObjectNotFound(StoreError):
    """No object under this key."""


class SourceError(Exception):
    """Reading the data to be stored failed (the client went away, it was too large, ...).

    Stores let it through unchanged, so callers can tell a client's fault from the store's.
    """


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class StoredObject:
    """An object being read: its size, its bytes as an iterator of chunks, and `close()`.

    Falcon hands an iterable with `close()` to the WSGI server, which closes it after
    sending (or when the client goes away), so a download never holds the whole object.
    """

    def __init__(self, key: str, size: int, chunks: Iterator[bytes], close: Callable[[], None]):
        self.key = key
        self.size = size
        self._chunks = chunks
        self._close = close
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def read_all(self) -> bytes:
        """The whole object, for small ones (tests, logos) only."""
        try:
            return b"".join(self._chunks)
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()


class ObjectStore(Protocol):
    def put(self, key: str, source: Readable, content_type: str = "application/octet-stream") -> int:
        """Stores everything `source.read()` yields until it returns b''; returns the size.

        The length need not be known in advance. Either the whole object becomes visible
        under `key` (replacing an older one) or, when reading or writing fails, nothing
        changes. A source signals its own failures with `SourceError`, which passes through
        unchanged; every failure of the store itself is `StoreUnavailable`.
        """

    def get(self, key: str) -> StoredObject: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def delete(self, key: str) -> None:
        """Removes the object; removing a missing object is not an error."""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, in key order."""

    def ping(self) -> None:
        """Raises unless the store is reachable and usable (readiness)."""

    def free_bytes(self) -> int | None:
        """Free space where objects are written, or None when the store cannot tell (S3)."""

    def abort_stale_uploads(self, started_before: datetime, owned: Callable[[str], bool]) -> int:
        """Drops the remains of puts that never finished (a crash, the store killed mid-upload)
        begun before `started_before` (naive means UTC), for keys `owned` accepts; returns how many. They are
        invisible to `list`, so the key sweep alone never frees their space."""


def as_utc(moment: datetime) -> datetime:
    """Aware UTC: the appliance's clock gives naive UTC, S3 and file times are aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_key(key: str) -> str:
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not KEY.fullmatch(key):
        raise ValueError(f"invalid object key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A list prefix: empty, or a key, optionally ending in '/'."""
    if prefix and not (KEY.fullmatch(prefix.removesuffix("/")) and len(prefix) <= MAX_KEY_LENGTH):
        raise ValueError(f"invalid object key prefix {prefix!r}")
    return prefix


def read_full(source: Readable, size: int) -> bytes:
    """Reads until `size` bytes or the end: streams may return less than asked for. A read
    that returns everything at once is passed on without a copy (parts are megabytes)."""
    first = source.read(size)
    if len(first) >= size or not first:
        return first
    pieces, missing = [first], size - len(first)
    while missing > 0:
        piece = source.read(missing)
        if not piece:
            break
        pieces.append(piece)
        missing -= len(piece)
    return b"".join(pieces)
