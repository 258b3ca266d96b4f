"""JSON log lines on stdout, one per event, for journald. Never bodies, tokens or personal data.

Only the appliance's own loggers follow `log.level` down to DEBUG. Libraries stay at INFO:
at DEBUG the database library logs every statement with its parameters (staff e-mails, IP
addresses, token hashes), which must not reach the journal. `log.library_debug` lifts that
for a debugging session, and says so loudly in the log itself.

Under systemd, where stdout is the journal, each line starts with the syslog priority
(`<3>` error ... `<7>` debug), which journald takes as the entry's priority and strips; so
`journalctl -p warning` works. Elsewhere the lines are plain JSON.

Lines at INFO and below are written in batches, at most `BATCH_SECONDS` after they were
logged, like nginx's buffered access log: a write per line is a system call, and a hand-over
of the GIL, in every request. Warnings and worse are written at once, after the lines before
them; logging's shutdown at exit writes what waits. A process killed outright loses at most
the lines of its last `BATCH_SECONDS`.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import logging
import os
import sys
import threading
import time
import weakref
from typing import Any, TextIO

#: Attributes of a LogRecord that are not "extra" fields.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: The appliance's own loggers; everything else is a library.
OWN_LOGGER = "appliance"
#: syslog priorities (RFC 5424 severities) by logging level.
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
DEBUG_PRIORITY = 7
#: One encoder for every line: `json.dumps` with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))
#: The longest an INFO or DEBUG line waits for its batch.
BATCH_SECONDS = 0.1
#: Past this many waiting lines the logging thread writes them itself: a stalled journal
#: slows requests down rather than filling memory.
MAX_PENDING = 10_000


def priority(levelno: int) -> int:
    return next((value for level, value in _PRIORITIES if levelno >= level), DEBUG_PRIORITY)


class JsonFormatter(logging.Formatter):
    def __init__(self, *, syslog_prefix: bool = False) -> None:
        super().__init__()
        self._prefix = syslog_prefix

    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        return self.line(record.created, record.levelno, record.name, record.getMessage(), extra)

    def line(self, created: float, levelno: int, name: str, msg: str, extra: dict[str, Any]) -> str:
        """The JSON line of one event: what `format` writes for a record with these fields."""
        line = {
            "ts": _timestamp(created),
            "level": logging.getLevelName(levelno).lower(),
            "logger": name,
            "msg": msg,
        }
        line.update(extra)
        text = _ENCODER.encode(line)
        return f"<{priority(levelno)}>{text}" if self._prefix else text


def _timestamp(created: float) -> str:
    """ISO 8601 in UTC to the millisecond, as `isoformat(timespec="milliseconds")` writes it."""
    whole = int(created)
    micros = round((created - whole) * 1_000_000)  # rounded to the microsecond first, as datetime does
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return f"{_up_to_the_second(whole)}.{micros // 1000:03d}+00:00"


@functools.lru_cache(maxsize=2)
def _up_to_the_second(whole: int) -> str:
    """Formatted once per second, not once per line."""
    return dt.datetime.fromtimestamp(whole, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def log_fields(logger: logging.Logger, level: int, msg: str, extra: dict[str, Any]) -> None:
    """Logs `msg` with `extra` fields, as `logger.log(level, msg, extra=extra)` would.

    Meant for lines written on every request: when the one handler on the line's way out is
    the JSON lines handler (the served app, see `configure`), the line goes to it directly: a
    LogRecord, with its look-ups of process, thread and source file, and logging's dispatch
    were a third of a health check's time in the app. Any other set-up (a test's capture
    handler, a filter) takes logging's own path.
    """
    if logger.disabled or not logger.isEnabledFor(level):
        return
    handler = _only_json_lines(logger, level)
    if handler is None:
        logger.handle(logger.makeRecord(logger.name, level, __file__, 0, msg, (), None, extra=extra))
        return
    try:
        handler.add(handler.formatter.line(time.time(), level, logger.name, msg, extra), level)
    except Exception:  # as logging does: a line that cannot be written never fails the caller
        handler.handleError(logger.makeRecord(logger.name, level, __file__, 0, msg, (), None, extra=extra))


def _only_json_lines(logger: logging.Logger, level: int) -> JsonLinesHandler | None:
    """The handler that alone would write a `level` line of `logger`, if it is a JSON lines
    handler and no logger or handler on the way filters."""
    found: JsonLinesHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if level < handler.level:
                continue
            if found is not None or not isinstance(handler, JsonLinesHandler) or handler.filters:
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


class JsonLinesHandler(logging.StreamHandler):
    """JSON lines to a stream, written in batches by a thread of its own (see the module)."""

    formatter: JsonFormatter

    def __init__(self, stream: TextIO, batch_seconds: float = BATCH_SECONDS) -> None:
        super().__init__(stream)
        self.setFormatter(formatter(stream))
        self._batch_seconds = batch_seconds
        self._pending: collections.deque[str] = collections.deque()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._closed = False
        _BATCHING.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.add(self.format(record), record.levelno)
        except Exception:
            self.handleError(record)

    def add(self, line: str, levelno: int) -> None:
        """Queues a formatted line; any thread may call it, without the handler's lock."""
        self._pending.append(line)
        if levelno >= logging.WARNING or len(self._pending) >= MAX_PENDING:
            self.flush()
        elif not self._wake.is_set():
            if self._writer is None:
                self._start_writer()
            self._wake.set()

    def flush(self) -> None:
        """Writes every waiting line now (logging's shutdown calls it at exit)."""
        with self.lock:
            lines = []
            while self._pending:
                lines.append(self._pending.popleft())  # only here, under the lock
            if lines:
                self.stream.write(self.terminator.join(lines) + self.terminator)
            if hasattr(self.stream, "flush"):
                self.stream.flush()

    def close(self) -> None:
        self.flush()
        self._closed = True
        self._wake.set()  # the writer ends
        super().close()

    def _start_writer(self) -> None:
        with self.lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_batches, name="log-lines",
                                                daemon=True)
                self._writer.start()

    def _write_batches(self) -> None:
        while not self._closed:
            self._wake.wait()
            # Not a timed wait: under libfaketime (`make test-dates`) those never time out.
            time.sleep(self._batch_seconds)
            self._wake.clear()  # before the write: a line queued during it wakes the next round
            try:
                self.flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": "a batch of log lines"}))

    def _forget_after_fork(self) -> None:
        """In a forked child: the parent writes the lines it queued; the child has no writer."""
        self._pending.clear()
        self._wake = threading.Event()
        self._writer = None


_BATCHING: weakref.WeakSet[JsonLinesHandler] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for handler in list(_BATCHING):
        handler._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def writes_to_journal(stream: TextIO) -> bool:
    """systemd sets JOURNAL_STREAM=<device>:<inode> for a service whose stdout is the journal."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{info.st_dev}:{info.st_ino}"


def formatter(stream: TextIO | None = None) -> JsonFormatter:
    """The formatter for lines written to `stream` (stdout by default)."""
    return JsonFormatter(syslog_prefix=writes_to_journal(stream or sys.stdout))


def configure(level: str = "INFO", *, library_debug: bool = False, stream: TextIO | None = None) -> None:
    """One handler on the root logger, writing to `stream` (stdout by default)."""
    level = level.upper()
    stream = stream or sys.stdout
    handler = JsonLinesHandler(stream)
    root = logging.getLogger()
    for replaced in root.handlers:
        if isinstance(replaced, JsonLinesHandler):
            replaced.close()
    root.handlers[:] = [handler]
    library_level = level if library_debug or logging.getLevelName(level) >= logging.INFO else "INFO"
    root.setLevel(library_level)
    logging.getLogger(OWN_LOGGER).setLevel(level)
    if library_debug and level == "DEBUG":
        logging.getLogger(f"{OWN_LOGGER}.logs").warning(
            "log.library_debug is on: libraries log at DEBUG, the database library every SQL"
            " statement with its parameters, which may hold personal data; turn it off after"
            " debugging and clear the journal of this period"
        )
