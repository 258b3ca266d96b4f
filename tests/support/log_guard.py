"""No personal data and no secrets in logs, checked on every line every test writes.

An autouse fixture (tests/conftest.py) reads each record of the `appliance` loggers at every
level, formatted as production writes it, and the live servers' logs when they stop. What
gives a line away: an e-mail address (staff, patient or invitee; also a URL with credentials),
a JWT, or a link token (256 bits, URL-safe base64). Names and answers are not recognisable by
shape; the tests that handle them check the logs for them by value.
"""

from __future__ import annotations

import logging
import re

from appliance.logs import JsonFormatter

GIVEAWAY = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"            # an e-mail address, or user@host in a URL
    r"|eyJ[\w-]+\.[\w-]+\.[\w-]+"              # a JWT
    r"|(?<![\w-])[A-Za-z0-9_-]{43}(?![\w-])"   # a link token
)


def giveaways(lines: list[str]) -> list[str]:
    return [line for line in lines if GIVEAWAY.search(line)]


class LogGuard(logging.Handler):
    """Collects the formatted lines of every record it sees."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
