"""The PVS exchange directory: records written atomically, incoming requests read and moved aside.

The directory is a share the PVS reads and writes too. A file for the PVS is named after
receiver and sender id, `<receiver><sender>.gdt`; it appears under that name only when it is
complete (written under a hidden temporary name, then linked into place) and never replaces a
file the PVS has not picked up yet. Files the PVS addresses to us, `<our id>*.gdt`, are read
once they have not changed for a moment, and moved to `processed/`, or to `rejected/` with a
`.reason.txt` next to them. Nothing here knows about the database or HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from appliance.gdt.consent import Request, read_request
from appliance.gdt.record import MAX_RECORD_BYTES, GdtError, parse_record

SUFFIX = ".gdt"
PROCESSED, REJECTED = "processed", "rejected"
#: A file younger than this may still be being written by the PVS.
SETTLE_SECONDS = 2.0
#: Group-readable and -writable: the PVS usually reaches the share as another user.
FILE_MODE = 0o660


class DirectoryRefused(ValueError):
    """A path that may not be used as an exchange directory (or no longer exists)."""


class ExchangeUnavailable(OSError):
    """The directory exists in the settings but cannot be written right now."""


class ExchangeBusy(Exception):
    """The PVS has not picked up the previous file of that name yet."""


def resolve_directory(path: str, root: str) -> Path:
    """The real path of an exchange directory, refused unless it lies strictly inside `root`.

    Symbolic links and `..` are resolved first, so a path that only looks as if it were
    inside the root (or a link swapped later) is refused too.
    """
    if not root:
        raise DirectoryRefused("this server has no GDT exchange root (gdt.exchange_root); ask clinic IT")
    if not os.path.isabs(path):
        raise DirectoryRefused("must be an absolute path")
    real, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    if real_root not in real.parents:
        raise DirectoryRefused(f"must be a directory inside {root}")
    if not real.is_dir():
        raise DirectoryRefused("does not exist or is not a directory")
    if not os.access(real, os.R_OK | os.W_OK | os.X_OK):
        raise DirectoryRefused("the server may not read and write it")
    return real


def outgoing_name(receiver: str, sender: str) -> str:
    return f"{receiver}{sender}{SUFFIX}"


def write_file(directory: Path, name: str, data: bytes) -> Path:
    """Puts `data` into `directory/name` all at once; ExchangeBusy if that name exists."""
    target = directory / name
    temporary = directory / f".{name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            # link() never replaces an existing name, unlike rename(): the PVS's unread file stays.
            os.link(temporary, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    except FileExistsError:
        raise ExchangeBusy(name) from None
    except OSError as exc:
        raise ExchangeUnavailable(exc.errno, exc.strerror) from None
    return target


@dataclass(frozen=True)
class Incoming:
    path: Path
    name: str
    data: bytes
    #: Same file, same key: name, modification time and content. Lets the database notice a
    #: file that two runs read at once, or that a run recorded but could not move aside.
    key: str


def incoming(directory: Path, own_id: str, *, settle_seconds: float = SETTLE_SECONDS) -> Iterator[Incoming]:
    """The settled regular files addressed to `own_id`, oldest name first; links are skipped."""
    now = time.time()
    prefix = own_id.upper()
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        name = entry.name
        if not (name.upper().startswith(prefix) and name.lower().endswith(SUFFIX)):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
            if now - stat.st_mtime < settle_seconds:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(MAX_RECORD_BYTES + 1)
        except FileNotFoundError:
            continue  # another run took it
        digest = hashlib.sha256(f"{name}|{stat.st_mtime_ns}|".encode() + data).hexdigest()
        yield Incoming(Path(entry.path), name, data, digest)


def _move_aside(directory: Path, item: Incoming, folder: str, stamp: str) -> Path | None:
    target_dir = directory / folder
    target_dir.mkdir(exist_ok=True)
    target = target_dir / f"{stamp}_{item.key[:8]}_{item.name}"
    try:
        os.rename(item.path, target)
    except FileNotFoundError:
        return None  # another run moved it first
    return target


@dataclass
class ImportResult:
    imported: int = 0
    rejected: int = 0


def run_import(
    directory: Path,
    own_id: str,
    apply: Callable[[Incoming, Request], None],
    *,
    stamp: str,
    settle_seconds: float = SETTLE_SECONDS,
) -> ImportResult:
    """Parses each incoming file and hands the request to `apply`, then moves the file aside.

    A file that is not a usable request (or that `apply` refuses with a GdtError) goes to
    `rejected/` with its reason. Any other error stops the run and leaves the file where it
    is, to be tried again: a database that is down must not cost the PVS its request.
    """
    result = ImportResult()
    for item in incoming(directory, own_id, settle_seconds=settle_seconds):
        try:
            apply(item, read_request(parse_record(item.data), own_id))
        except GdtError as exc:
            moved = _move_aside(directory, item, REJECTED, stamp)
            if moved is not None:
                moved.with_name(moved.name + ".reason.txt").write_text(f"{exc}\n", encoding="utf-8")
            result.rejected += 1
            continue
        _move_aside(directory, item, PROCESSED, stamp)
        result.imported += 1
    return result
