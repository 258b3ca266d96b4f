"""The PVS exchange directory: records written atomically, incoming requests read and moved aside.

The directory is a share the PVS reads and writes too. A file for the PVS is named after
receiver and sender id, `<receiver><sender>.gdt`; it appears under that name only when it is
complete (written under a hidden temporary name, then linked into place) and never replaces a
file the PVS has not picked up yet. Files the PVS addresses to us, `<our id>*.gdt` or, as
many PVS number them, `<our id>*.001` ... `.999`, are read once they have not changed for a
moment, and moved to `processed/`, or to `rejected/` with a `.reason.txt` next to them.
Every other file is skipped and reported once (`Skipped`), so nothing is ignored silently.
Nothing here knows about the database or HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from appliance.gdt.consent import NO_MAPPING, Request, RequestMapping, read_request
from appliance.gdt.record import MAX_RECORD_BYTES, GdtError, parse_record

SUFFIX = ".gdt"
#: GDT file names: `.gdt`, or a 3-digit sequence number (EINWPVS.001), as many PVS write them.
INCOMING_SUFFIX = re.compile(r"\.(gdt|[0-9]{3})", re.IGNORECASE)
#: A name that says nothing about a patient, so it may appear in the log; others are counted.
SHOWABLE_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}(\.[A-Za-z0-9]{1,4})?")
PROCESSED, REJECTED = "processed", "rejected"
#: A file younger than this may still be being written by the PVS.
SETTLE_SECONDS = 2.0
#: Group-readable and -writable: the PVS usually reaches the share as another user of the
#: share's group. Set explicitly after creation: the service's umask (0077) would take the
#: group's rights away (docs/gdt.md, "Setting up the share").
FILE_MODE = 0o660
#: processed/ and rejected/: the group may read and clean them up; setgid keeps the share's
#: group on everything created inside.
DIR_MODE = 0o2770


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
            os.fchmod(fd, FILE_MODE)  # open() applied the umask
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


def set_share_mode(path: Path, *, directory: bool = False) -> None:
    """The share's modes on what the import creates, whatever the process's umask."""
    os.chmod(path, DIR_MODE if directory else FILE_MODE)


@dataclass(frozen=True)
class Incoming:
    path: Path
    name: str
    data: bytes
    #: Same file, same key: name, modification time and content. Lets the database notice a
    #: file that two runs read at once, or that a run recorded but could not move aside.
    key: str


@dataclass(frozen=True)
class Skipped:
    """A file in the directory the import does not read, and why."""

    #: The file name as it may be logged (`shown_name`).
    name: str
    reason: str
    #: Name and modification time: the same file is reported once, not on every run.
    key: str


def _skip(entry: os.DirEntry, reason: str) -> Skipped:
    try:
        mtime = entry.stat(follow_symlinks=False).st_mtime_ns
    except FileNotFoundError:
        mtime = 0
    return Skipped(shown_name(entry.name), reason, f"{entry.name}|{mtime}")


def shown_name(name: str) -> str:
    """The name for the log, unless it is more than a plain GDT-like name (it might name a patient)."""
    return name if SHOWABLE_NAME.fullmatch(name) else "(a name that is not shown)"


def addressed_to(name: str, own_id: str) -> bool:
    """Whether a file name is a GDT file for us: our id first, a GDT suffix last."""
    stem, suffix = os.path.splitext(name)
    return (name.upper().startswith(own_id.upper()) and INCOMING_SUFFIX.fullmatch(suffix) is not None
            and len(stem) >= len(own_id))


def scan(directory: Path, own_id: str, *,
         settle_seconds: float = SETTLE_SECONDS) -> tuple[list[Incoming], list[Skipped]]:
    """The settled regular files addressed to `own_id`, oldest name first, and every other
    file with the reason it is not read. Our own files waiting for the PVS
    (`<receiver><own_id>.gdt`), hidden temporary files, files still being written and our
    folders are not reported."""
    now = time.time()
    found: list[Incoming] = []
    skipped: list[Skipped] = []
    ours_outgoing = f"{own_id}{SUFFIX}".upper()
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        name = entry.name
        if name.startswith(".") or name in (PROCESSED, REJECTED) or name.upper().endswith(ours_outgoing):
            continue
        try:
            if not addressed_to(name, own_id):
                if entry.is_file(follow_symlinks=False):
                    skipped.append(_skip(entry, f"not a GDT file for this appliance's GDT id {own_id}"
                                                " (<id>*.gdt or <id>*.001)"))
                elif not entry.is_dir(follow_symlinks=False):
                    skipped.append(_skip(entry, "not a regular file"))
                continue
            if not entry.is_file(follow_symlinks=False):
                skipped.append(_skip(entry, "a symbolic link or special file; only regular files are read"))
                continue
            stat = entry.stat(follow_symlinks=False)
            if now - stat.st_mtime < settle_seconds:
                continue  # the PVS may still be writing it: the next run reads it
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(MAX_RECORD_BYTES + 1)
        except FileNotFoundError:
            continue  # another run took it
        digest = hashlib.sha256(f"{name}|{stat.st_mtime_ns}|".encode() + data).hexdigest()
        found.append(Incoming(Path(entry.path), name, data, digest))
    return found, skipped


def _move_aside(directory: Path, item: Incoming, folder: str, stamp: str) -> Path | None:
    target_dir = directory / folder
    try:
        target_dir.mkdir()
        set_share_mode(target_dir, directory=True)
    except FileExistsError:
        pass  # clinic IT's or ours, with the modes it has
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
    #: Of the imported files, those read only because a quirk was tolerated.
    tolerated: int = 0
    skipped: list[Skipped] = field(default_factory=list, compare=False)


def run_import(
    directory: Path,
    own_id: str,
    apply: Callable[[Incoming, tuple[str, ...], Request], None],
    *,
    stamp: str,
    mapping: RequestMapping = NO_MAPPING,
    tolerate: Collection[str] = (),
    settle_seconds: float = SETTLE_SECONDS,
) -> ImportResult:
    """Parses each incoming file and hands the request to `apply`, then moves the file aside.

    A file that is not a usable request (or that `apply` refuses with a GdtError) goes to
    `rejected/` with its reason. Any other error stops the run and leaves the file where it
    is, to be tried again: a database that is down must not cost the PVS its request.
    """
    found, skipped = scan(directory, own_id, settle_seconds=settle_seconds)
    result = ImportResult(skipped=skipped)
    for item in found:
        try:
            record = parse_record(item.data, tolerate)
            apply(item, record.tolerated, read_request(record, own_id, mapping))
        except GdtError as exc:
            moved = _move_aside(directory, item, REJECTED, stamp)
            if moved is not None:
                reason = moved.with_name(moved.name + ".reason.txt")
                reason.write_text(f"{exc}\n", encoding="utf-8")
                set_share_mode(reason)
            result.rejected += 1
            continue
        _move_aside(directory, item, PROCESSED, stamp)
        result.imported += 1
        result.tolerated += bool(record.tolerated)
    return result
