"""Objects as files below one directory, for the embedded single-server default.

A put writes a temporary file in `.incoming/` (same file system), syncs it and renames it
into place, so readers see the old object or the whole new one, never a part. Keys cannot
start a segment with '.', so `.incoming` is never an object, and every path is checked to
stay below the root even if someone placed a symlink there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

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

INCOMING = ".incoming"
#: What the file system says when the disk (or the service user's quota) is full.
FULL = (errno.ENOSPC, errno.EDQUOT)


class DirectoryStore:
    def __init__(self, root: Path):
        self._root = Path(root)
        self._root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._real_root = os.path.realpath(self._root)
        self._incoming = self._root / INCOMING

    def _path(self, key: str) -> Path:
        path = self._root.joinpath(*check_key(key).split("/"))
        if not os.path.realpath(path).startswith(self._real_root + os.sep):
            raise ValueError(f"object key {key!r} leaves the store directory")
        return path

    def put(self, key: str, source: Readable, content_type: str = "application/octet-stream") -> int:
        """The content type is not kept: callers that need it know it from their own rows."""
        path = self._path(key)
        try:
            self._incoming.mkdir(exist_ok=True, mode=0o700)
            fd, temporary = tempfile.mkstemp(dir=self._incoming, prefix="put-")
        except OSError as exc:
            raise _failure(exc, "cannot create a file in the store directory") from exc
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while piece := source.read(CHUNK_BYTES):  # errors of the source pass through
                    _write(out, piece)
                    size += len(piece)
                _sync(out)
            _publish(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return size

    def get(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by StoredObject.close
            size = os.fstat(handle.fileno()).st_size
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StoreUnavailable("cannot read from the store directory") from exc

        def chunks() -> Iterator[bytes]:
            try:
                while piece := handle.read(CHUNK_BYTES):
                    yield piece
            except OSError as exc:
                raise StoreUnavailable("reading an object failed") from exc

        return StoredObject(key, size, chunks(), handle.close)

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            result = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StoreUnavailable("cannot read the store directory") from exc
        return ObjectInfo(key, result.st_size) if stat.S_ISREG(result.st_mode) else None

    def delete(self, key: str) -> None:
        """Empty directories stay: removing them could race with a put into them."""
        try:
            os.unlink(self._path(key))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except OSError as exc:
            raise StoreUnavailable("cannot delete from the store directory") from exc

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        folder, _, _ = prefix.rpartition("/")
        start = self._root.joinpath(*folder.split("/")) if folder else self._root
        found = []
        for directory, subdirectories, files in os.walk(start):
            subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
            relative = Path(directory).relative_to(self._root).as_posix()
            for name in files:
                if name.startswith("."):
                    continue
                key = name if relative == "." else f"{relative}/{name}"
                if key.startswith(prefix):
                    found.append(key)
        for key in sorted(found):
            info = self.stat(key)
            if info is not None:
                yield info

    def abort_stale_uploads(self, started_before: datetime, owned: Callable[[str], bool]) -> int:
        """Removes temporary files of puts that a crash interrupted, older than `started_before`
        (they carry no key, and nothing else writes to `.incoming`, so `owned` is not asked)."""
        cutoff = as_utc(started_before).timestamp()
        removed = 0
        try:
            entries = list(os.scandir(self._incoming))
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise StoreUnavailable("cannot read the store directory") from exc
        for entry in entries:
            try:
                if entry.name.startswith("put-") and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreUnavailable("cannot clean the store directory") from exc
        return removed

    def ping(self) -> None:
        """Readiness: the directory exists and a file can be written and removed there."""
        self._incoming.mkdir(exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(prefix="ready-", dir=self._incoming)
        os.close(fd)
        os.unlink(name)

    def free_bytes(self) -> int:
        """Space the service user can still write below the root."""
        return shutil.disk_usage(self._root).free


def _failure(exc: OSError, message: str) -> StoreUnavailable:
    """A full disk is told apart: it needs an operator, not a retry in ten seconds."""
    if exc.errno in FULL:
        return StoreFull(f"{message}: {os.strerror(exc.errno)}")
    return StoreUnavailable(f"{message}: {exc.strerror or type(exc).__name__}")


def _write(out, piece: bytes) -> None:
    try:
        out.write(piece)
    except OSError as exc:
        raise _failure(exc, "writing to the store directory failed") from exc


def _sync(out) -> None:
    try:
        out.flush()
        os.fsync(out.fileno())
    except OSError as exc:
        raise _failure(exc, "writing to the store directory failed") from exc


def _publish(temporary: str, path: Path) -> None:
    """Renames the finished file into place and syncs the directory entry."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(temporary, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _failure(exc, "writing to the store directory failed") from exc
