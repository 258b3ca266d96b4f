"""JSON log lines on stdout, one per event, for journald. Never bodies, tokens or personal data.

Only the appliance's own loggers follow `log.level` down to DEBUG. Libraries stay at INFO:
at DEBUG the database library logs every statement with its parameters (staff e-mails, IP
addresses, token hashes), which must not reach the journal. `log.library_debug` lifts that
for a debugging session, and says so loudly in the log itself.

Under systemd, where stdout is the journal, each line starts with the syslog priority
(`<3>` error ... `<7>` debug), which journald takes as the entry's priority and strips; so
`journalctl -p warning` works. Elsewhere the lines are plain JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from typing import TextIO

#: Attributes of a LogRecord that are not "extra" fields.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: The appliance's own loggers; everything else is a library.
OWN_LOGGER = "appliance"
#: syslog priorities (RFC 5424 severities) by logging level.
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
DEBUG_PRIORITY = 7


def priority(levelno: int) -> int:
    return next((value for level, value in _PRIORITIES if levelno >= level), DEBUG_PRIORITY)


class JsonFormatter(logging.Formatter):
    def __init__(self, *, syslog_prefix: bool = False) -> None:
        super().__init__()
        self._prefix = syslog_prefix

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        text = json.dumps(line, default=str, separators=(",", ":"))
        return f"<{priority(record.levelno)}>{text}" if self._prefix else text


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
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(stream))
    root = logging.getLogger()
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
